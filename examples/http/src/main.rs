//! `ordu-http`: Nomad's job API (`/v1/jobs`, `/v1/job/<id>`, nodes,
//! evaluations, allocations) served over an embedded ordu [`Store`].
//!
//! ```text
//! ordu-http [--addr 127.0.0.1:4646] [--region global] [--demo-nodes N] [--data-dir DIR]
//! ```
//!
//! The contract it serves is `docs/http-api.md`. It prints
//! `ordu-http listening on http://ADDR` once it accepts connections (with
//! `--addr 127.0.0.1:0` the port is the one the system chose), and shuts down
//! cleanly on Ctrl-C or SIGTERM: open long-polls answer with the current state,
//! then connections close.
//!
//! It serves from `--threads` threads (by default half the CPUs, at least
//! one), each with its own single-threaded runtime: the first accepts
//! connections and deals them out in turn, and a connection is then served
//! start to end on one thread. Writes are applied one at a time whatever the
//! count, and a client on the same machine needs CPU too: on a 2-CPU machine
//! with the client beside it, one thread served more than two (whose
//! hand-offs of the write turn cost a cross-CPU wake-up each), and one
//! runtime with two work-stealing workers did worse still (figures in
//! `docs/benchmarks.md`, from `bench/load.sh`). A serving
//! thread that runs out of requests spins a little before it sleeps
//! (`--spin`, [`spin`]).

mod args;
mod cluster;
mod events;
mod limits;
mod log;
mod params;
mod routes;
mod server;
mod spin;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, Method, Request, Uri};
use ordu::{Config, SchedulingMode, Store};
use tokio::sync::{mpsc, watch};

use args::{parse_args, Args, MAX_THREADS, USAGE};

/// jemalloc, set up so that a blocked long-poll's read buffer is not
/// resident.
///
/// An open HTTP/1 connection holds hyper's two 8 KB buffers, for reading and
/// for writing; the write buffer's first page holds the last answer's head.
/// The read buffer a long-poll waits with is one hyper took while the request
/// head still pointed into the old one (see [`Detached`]), and nothing is
/// written to it while the long-poll waits: it costs no memory if its pages
/// are fresh. jemalloc keeps no headers inside an allocation and gives an
/// 8 KB one two pages of its own. The options:
///
/// - `dirty_decay_ms:0,muzzy_decay_ms:0`: pages of freed blocks that no
///   thread keeps for reuse go back to the kernel at once, so the blocks
///   handed out after them are fresh;
/// - `tcache_nslots_small_min:2`: a thread keeps at most 2 free blocks of the
///   sizes with few blocks per slab (about 1.5 to 14 KB) for reuse, rather
///   than 20, so few written buffers come back as long-polls' new ones.
///
/// With glibc's allocator, whose chunk headers sit inside the pages, 10,000
/// long-polls took half as much again at their peak (docs/benchmarks.md). The
/// price is a system call, and page faults when the pages are used again,
/// for each freed block above 32 KB (a large answer) and each slab that
/// empties; `bench/load.sh` showed no change in gets or re-registers.
/// `_RJEM_MALLOC_CONF` in the environment overrides these options.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options (see [`ALLOCATOR`]), read when it starts, before
/// `main`, through the symbol jemalloc looks for.
#[cfg(not(target_env = "msvc"))]
#[export_name = "_rjem_malloc_conf"]
static ALLOCATOR_CONF: Option<&u8> =
    Some(&b"dirty_decay_ms:0,muzzy_decay_ms:0,tcache_nslots_small_min:2\0"[0]);

/// The machine's name, as Nomad names a server by default; `ordu` when the
/// system does not say.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "ordu".to_string())
}

/// Unix nanoseconds `ago` before now (0 if the clock is before that).
fn unix_nanos_before(ago: Duration) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    now.saturating_sub(ago).as_nanos().min(i64::MAX as u128) as i64
}

/// One demo node: ready, generous, with the common drivers.
fn demo_node(n: usize, dc: &str) -> serde_json::Value {
    let ip = format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
    serde_json::json!({"Node": {
        "ID": format!("de000000-0000-4000-8000-{n:012x}"),
        "Name": format!("demo-{dc}-{n}"),
        "Datacenter": dc,
        "Attributes": {
            "kernel.name": "linux", "kernel.os": "linux", "kernel.arch": "amd64",
            "arch": "amd64", "os.name": "debian",
            "driver.docker": "1", "driver.exec": "1", "driver.java": "1",
            "java.version": "17.0.2", "docker.version": "24.0.7",
        },
        "Resources": {
            "CPU": 64000, "MemoryMB": 262144, "DiskMB": 2000000, "IOPS": 100000,
            "Networks": [{"Device": "eth0", "CIDR": format!("{ip}/32"), "IP": ip, "MBits": 10000}],
        },
        "Reserved": {"CPU": 0, "MemoryMB": 0, "DiskMB": 0, "IOPS": 0},
        "Meta": {"demo": "true"},
        "Status": "ready",
    }})
}

fn register_demo_nodes(store: &Store, count: usize) -> Result<(), String> {
    if count == 0 {
        return Ok(());
    }
    let dcs = (0..count).map(|_| "dc1").chain(["us2", "eu1"]).enumerate();
    for (i, dc) in dcs {
        let body = demo_node(i + 1, dc).to_string();
        ordu::host::register_node_at(store, None, body.as_bytes(), None)
            .map_err(|e| format!("demo node {}: {e}", i + 1))?;
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Serving threads: `--threads`, else half the CPUs (at least one).
fn thread_count(asked: Option<usize>) -> usize {
    asked
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() / 2))
        .clamp(1, MAX_THREADS)
}

/// A listener with a deep accept queue: thousands of clients that connect at
/// once (long-poll watchers after a restart) are not dropped and retried a
/// second later, as they are with the default backlog of 128 (the kernel caps
/// it at `net.core.somaxconn`).
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// A connection handed from the accepting thread to another serving
/// thread, with its place under the connection cap.
type Handed = (std::net::TcpStream, limits::ConnSlot);

/// What a connection past `--max-conns` is told before it is closed.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Length: 52\r\nConnection: close\r\n\
Retry-After: 1\r\n\r\nserver busy: too many open connections (--max-conns)";

/// How long the accepting thread waits after `accept` fails (out of
/// descriptors, say) before it tries again: the connection waits in the
/// backlog meanwhile, and the open ones are served.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// Where a serving thread's connections come from.
enum Source {
    /// Thread 0: the listener. Of every `peers.len() + 1` connections it
    /// keeps one and hands the others, in turn, to the other threads. A
    /// connection past the cap of `conns` is answered 503 and closed.
    Listener {
        listener: tokio::net::TcpListener,
        peers: Vec<mpsc::UnboundedSender<Handed>>,
        next: usize,
        conns: Arc<limits::Conns>,
        /// When a failed `accept` was last reported (once a second at most).
        complained: Option<Instant>,
    },
    /// Another thread: what thread 0 hands it.
    Handed(mpsc::UnboundedReceiver<Handed>),
}

impl Source {
    /// The next connection for this thread, with its place under the cap;
    /// `None` when no more will come.
    async fn next(&mut self) -> Option<(tokio::net::TcpStream, limits::ConnSlot)> {
        match self {
            Source::Listener {
                listener,
                peers,
                next,
                conns,
                complained,
            } => loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of descriptors or memory: say so, back off, go on.
                        if complained.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                            eprintln!("ordu-http: accept: {e}; retrying");
                            *complained = Some(Instant::now());
                        }
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                let Some(slot) = conns.open() else {
                    // Told at once rather than left to wait: the socket's
                    // buffer takes these few bytes whole, or the client
                    // sees the connection close.
                    let _ = stream.try_write(TOO_MANY_CONNECTIONS);
                    continue;
                };
                let turn = *next;
                *next = (turn + 1) % (peers.len() + 1);
                if turn == 0 {
                    return Some((stream, slot));
                }
                // Out of this runtime, into the other thread's.
                match stream.into_std() {
                    Ok(s) => match peers[turn - 1].send((s, slot)) {
                        Ok(()) => {}
                        // That thread is gone: serve it here.
                        Err(mpsc::error::SendError((s, slot))) => {
                            if let Ok(s) = tokio::net::TcpStream::from_std(s) {
                                return Some((s, slot));
                            }
                        }
                    },
                    Err(e) => eprintln!("ordu-http: handing a connection over: {e}"),
                }
            },
            Source::Handed(rx) => loop {
                let (s, slot) = rx.recv().await?;
                match tokio::net::TcpStream::from_std(s) {
                    Ok(s) => return Some((s, slot)),
                    Err(e) => eprintln!("ordu-http: taking a connection over: {e}"),
                }
            },
        }
    }
}

/// Starts serving thread `n`: its own single-threaded runtime, serving the
/// connections `handed` to it.
fn spawn_serving_thread(
    n: usize,
    handed: mpsc::UnboundedReceiver<Handed>,
    app: server::Service,
    down: watch::Receiver<bool>,
    spin: Duration,
    read_timeout: Duration,
) -> Result<std::thread::JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name(format!("ordu-http-{n}"))
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("ordu-http: serving thread {n}: cannot start a runtime: {e}");
                    return;
                }
            };
            let source = Source::Handed(handed);
            rt.block_on(serve(source, app, down, spin, read_timeout));
        })
        .map_err(|e| format!("cannot start serving thread {n}: {e}"))
}

/// Scheduler threads of a durable server's groups of evaluations.
const DURABLE_SCHEDULER_WORKERS: usize = 8;

/// The store kept in `dir`: its snapshot restored and its log replayed, with
/// every write going to that log before it is answered.
fn recover(
    dir: &std::path::Path,
    args: &Args,
    config: Config,
) -> Result<(Arc<Store>, ordu_durable::Durable), String> {
    let started = Instant::now();
    let opts = ordu_durable::Options {
        snapshot_every: args.snapshot_every,
        snapshot_bytes: args.snapshot_bytes,
        commit_delay: args.commit_delay,
        report: Some(Arc::new(|line: &str| eprintln!("ordu-http: {line}"))),
        ..ordu_durable::Options::default()
    };
    let durable = ordu_durable::Durable::open(dir, opts).map_err(|e| e.to_string())?;
    let r = durable.store(config).map_err(|e| e.to_string())?;
    eprintln!(
        "ordu-http: recovered {}: index {} (snapshot at {}, {} entries replayed) in {:?}",
        durable.file().display(),
        r.index,
        r.snapshot_index,
        r.replayed,
        started.elapsed()
    );
    for note in &r.notes {
        eprintln!("ordu-http: {note}");
    }
    Ok((r.store, durable))
}

async fn run(args: Args) -> Result<(), String> {
    // Queued mode: a write answers once applied, its evaluations queued; a
    // task processes them in groups, and a read processes what is queued
    // first (see `App::queue_processing`).
    let config = Config {
        region: args.region.clone(),
        mode: SchedulingMode::Queued,
        deregister: args.deregister,
        job_tracked_versions: args.job_tracked_versions,
        event_buffer_size: args.event_buffer_size,
        // With a durable log each plan waits for a sync: plans made side by
        // side share one (in memory, one thread plans faster than several).
        scheduler_workers: if args.data_dir.is_some() {
            DURABLE_SCHEDULER_WORKERS
        } else {
            1
        },
        ..Config::default()
    };
    let (store, durable) = match (&args.data_dir, args.server_id) {
        (Some(dir), Some(id)) => {
            let opts = ordu_cluster::Options {
                snapshot_every: args.snapshot_every.max(1),
                ..ordu_cluster::Options::new(
                    id,
                    dir,
                    args.raft_addr.expect("checked with --server-id"),
                    args.servers.clone(),
                )
            };
            let c = ordu_cluster::Cluster::start(opts, config).await?;
            eprintln!(
                "ordu-http: server {id} of a cluster of {}, Raft on {}",
                args.servers.len(),
                args.raft_addr.expect("checked")
            );
            let store = c.store().clone();
            cluster::set(c);
            (store, None)
        }
        (None, _) => (Arc::new(Store::new(config)), None),
        (Some(dir), None) => {
            let (store, durable) = recover(dir, &args, config)?;
            (store, Some(durable))
        }
    };
    if cluster::get().is_some() {
        // The leader registers them, once it leads; Raft gives them to the others.
        let (store, n) = (store.clone(), args.demo_nodes);
        if n > 0 {
            tokio::spawn(async move {
                while !store.is_leader() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let _ = tokio::task::spawn_blocking(move || register_demo_nodes(&store, n)).await;
            });
        }
    } else {
        register_demo_nodes(&store, args.demo_nodes)?;
    }
    store.process_queued();

    let threads = thread_count(args.threads);
    let listener = listen(args.addr).map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("listener address: {e}"))?;
    let (down_tx, down_rx) = watch::channel(false);
    let agent = ordu::Agent {
        name: host_name(),
        datacenter: args.datacenter.clone(),
        addr: local.ip(),
        port: local.port(),
    };
    let descriptors = limits::descriptor_limit();
    let max_conns = match (args.max_conns, descriptors) {
        (Some(n), Some(fds)) if n as u64 > fds => {
            eprintln!(
                "ordu-http: --max-conns {n} is above the descriptor limit ({fds}): \
                 past it, connections wait for one to close"
            );
            n
        }
        (Some(n), _) => n,
        (None, fds) => limits::default_max_conns(fds, threads),
    };
    let conns = limits::Conns::new(max_conns);
    let body_limits = limits::BodyLimits {
        bytes_in_flight: args.bytes_in_flight,
        read_timeout: args.read_timeout,
    };
    let app = server::service(store.clone(), down_rx.clone(), agent, body_limits);
    // Thread 0 is this one.
    let mut others = Vec::new();
    let mut peers = Vec::new();
    for n in 1..threads {
        let (tx, rx) = mpsc::unbounded_channel();
        others.push(spawn_serving_thread(
            n,
            rx,
            app.clone(),
            down_rx.clone(),
            args.spin,
            args.read_timeout,
        )?);
        peers.push(tx);
    }
    let source = Source::Listener {
        listener,
        peers,
        next: 0,
        conns,
        complained: None,
    };
    let serving = serve(source, app, down_rx.clone(), args.spin, args.read_timeout);
    let mut serving = tokio::spawn(serving);

    // Delayed evaluations (rolling-update follow-ups, ...) become due with
    // time, not with a write: look for them every second. Once a minute,
    // collect what finished long ago, so a long-running server does not grow
    // with every register (each one leaves an evaluation behind).
    let ticker = {
        let store = store.clone();
        let mut down = down_rx.clone();
        let gc_after = args.gc_after;
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            for tick in 1u64.. {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = down.wait_for(|d| *d) => return,
                }
                let store = store.clone();
                let collect = gc_after.filter(|_| tick % 60 == 0);
                let _ = tokio::task::spawn_blocking(move || {
                    store.process_ready();
                    // Cheap enough each second; keeps coalesced re-registers
                    // from piling up until the hourly age threshold.
                    let _ = store.collect_canceled();
                    // Drain deadlines and drains that are done.
                    let _ = store.advance_drains();
                    if let Some(after) = collect {
                        let _ = store.garbage_collect(unix_nanos_before(after));
                    }
                })
                .await;
            }
        })
    };

    println!(
        "ordu-http listening on http://{local} (region {}, {} demo nodes, {threads} threads)",
        args.region,
        if args.demo_nodes == 0 {
            0
        } else {
            args.demo_nodes + 2
        }
    );

    tokio::select! {
        _ = shutdown_signal() => eprintln!("ordu-http: shutting down"),
        r = &mut serving => {
            return r.map_err(|e| format!("server task failed: {e}"));
        }
    }
    // Long-polls answer now; idle keep-alive connections close.
    let _ = down_tx.send(true);
    let _ = ticker.await;
    let _ = serving.await;
    let _ = tokio::task::spawn_blocking(move || {
        for t in others {
            let _ = t.join();
        }
    })
    .await;
    if let Some(d) = durable {
        // What group commit did: entries per commit is its batch.
        let s = d.stats();
        eprintln!(
            "ordu-http: durable log: {} entries in {} commits ({:.2} per commit), {} snapshots",
            s.entries,
            s.commits,
            s.entries as f64 / s.commits.max(1) as f64,
            s.snapshots
        );
    }
    Ok(())
}

/// Serves HTTP/1.1 on what `source` gives until `down` turns true, then stops
/// accepting, lets open requests finish (long-polls answer at once), closes
/// idle keep-alive connections, and returns, waiting at most 5 s for all that.
/// A request's head must arrive within `read_timeout` (a keep-alive
/// connection waiting for its next one is closed after it).
///
/// hyper's own HTTP/1 connection rather than `axum::serve`: axum's serves
/// every connection through hyper-util's HTTP/1-or-2 detection, whose sniffed
/// prefix makes hyper grow its read buffer from 8 to 16 KB on every
/// connection, a cost 10,000 open long-polls pay 10,000 times.
async fn serve(
    mut source: Source,
    app: server::Service,
    mut down: watch::Receiver<bool>,
    spin: Duration,
    read_timeout: Duration,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new());
    http.header_read_timeout(read_timeout);
    // hyper grows a connection's read buffer while reads fill it, up to
    // about 400 KB by default: a body sent fast would make every
    // connection's that large, outside the body budget.
    http.max_buf_size(MAX_READ_BUFFER);
    // A client that sends its request and then shuts down its write side
    // still gets its answer (hyper otherwise takes the EOF for a hang-up).
    http.half_close(true);
    let spinning = (!spin.is_zero()).then(|| tokio::spawn(spin::run(spin)));
    loop {
        let (stream, slot) = tokio::select! {
            s = source.next() => match s {
                Some(next) => next,
                None => break,
            },
            () = async { let _ = down.wait_for(|d| *d).await; } => break,
        };
        // Small answers go out at once; keep-alive clients wait on none.
        let _ = stream.set_nodelay(true);
        // The connection owns its slot: it is given back when it ends.
        let service = Detached {
            service: app.clone(),
            _slot: slot,
        };
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        // Spawned as it is, not awaited in an `async` block: such a block
        // keeps room for the moved-in future beside its own (a second copy
        // per connection). Its result, an error from a client that went
        // away mid-request, is that client's business.
        tokio::spawn(conn);
    }
    if let Some(s) = spinning {
        s.abort();
    }
    // Stops accepting; the other threads' hand-over channels close.
    drop(source);
    if tokio::time::timeout(Duration::from_secs(5), graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!("ordu-http: connections still open after 5 s; closing them");
    }
}

/// The service of one connection: `S`, given each request with its head
/// copied out of hyper's read buffer.
///
/// hyper parses a request in place: the URI and header values point into the
/// connection's 8 KB read buffer. Once it has called the service, it reads
/// on to notice a client that hangs up; if the head still points into the
/// buffer then, it takes a new 8 KB buffer, and the old one is freed with the
/// head. A head copied out here (a few dozen bytes) lets hyper go on with the
/// buffer it has: no 8 KB block taken and freed per request.
///
/// A long-poll wants the new buffer, which stays unwritten while it waits
/// (see [`ALLOCATOR`]), so its original head is kept in [`PILE`] a while.
/// Freed at once, the old buffer, written, would go to the thread's few
/// cached free blocks, and come back as the next long-poll's new buffer.
/// Freed [`PILE_MAX`] at a time, all but the few the thread keeps go back to
/// the kernel.
struct Detached<S> {
    service: S,
    /// Held for as long as hyper keeps the service: the connection's life.
    _slot: limits::ConnSlot,
}

/// The most a connection's read buffer grows to (see [`serve`]); a request
/// head must fit in it.
const MAX_READ_BUFFER: usize = 64 << 10;

impl<S, B> hyper::service::Service<Request<B>> for Detached<S>
where
    S: hyper::service::Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, mut req: Request<B>) -> Self::Future {
        spin::request_begun();
        let original = detach_head(&mut req);
        if blocks(&req) {
            // The heads piled up before are past hyper's read; this one is
            // not yet, so it goes in after the pile is freed.
            PILE.with_borrow_mut(|pile| {
                if pile.len() >= PILE_MAX {
                    pile.clear();
                }
                pile.push(original);
            });
        }
        self.service.call(req)
    }
}

/// A request's URI and headers as hyper parsed them.
type Head = (Uri, HeaderMap);

/// How many long-polls' original heads a serving thread keeps (see
/// [`Detached`]). More keeps more written buffers; fewer lets more of them
/// come back as new ones. 64 measured best for 10,000 long-polls.
const PILE_MAX: usize = 64;

thread_local! {
    /// Long-polls' original heads, freed [`PILE_MAX`] at a time.
    static PILE: RefCell<Vec<Head>> = const { RefCell::new(Vec::new()) };
}

/// Whether `req` is a read that may block: a GET whose parameters ask for an
/// index above 0 (read as the handler reads them).
fn blocks<B>(req: &Request<B>) -> bool {
    req.method() == Method::GET
        && params::Params::parse(req.uri().query())
            .blocking()
            .is_ok_and(|b| b.index > 0)
}

/// Gives `req` a URI and header values that own their bytes, and returns the
/// ones it had. (Header names, the method and extensions own theirs.) What
/// does not parse again, which hyper would not have let through, is kept as
/// it was.
fn detach_head<B>(req: &mut Request<B>) -> Head {
    let uri = match req.uri().to_string().parse::<Uri>() {
        Ok(owned) => std::mem::replace(req.uri_mut(), owned),
        Err(_) => req.uri().clone(),
    };
    let mut headers = HeaderMap::with_capacity(req.headers().len());
    for (name, value) in req.headers() {
        let owned = match HeaderValue::from_bytes(value.as_bytes()) {
            Ok(mut owned) => {
                owned.set_sensitive(value.is_sensitive());
                owned
            }
            Err(_) => value.clone(),
        };
        headers.append(name, owned);
    }
    (uri, std::mem::replace(req.headers_mut(), headers))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("ordu-http: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = log::init(args.log_requests) {
        eprintln!("ordu-http: {e}");
        return ExitCode::FAILURE;
    }
    // Room beside the synced writes for bodies decoded apart and for the
    // one task that processes evaluations.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(server::SYNCED_WRITES + 32)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ordu-http: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ordu-http: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_agent(addr: SocketAddr) -> ordu::Agent {
        ordu::Agent {
            name: "test".into(),
            datacenter: "dc1".into(),
            addr: addr.ip(),
            port: addr.port(),
        }
    }

    /// The accepting thread keeps one connection in three and deals the
    /// others to two peers in turn; a peer that is gone leaves its
    /// connections with the accepting thread.
    #[tokio::test]
    async fn connections_are_dealt_out_in_turn() {
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx1, mut rx1) = mpsc::unbounded_channel();
        let (tx2, mut rx2) = mpsc::unbounded_channel();
        let mut source = Source::Listener {
            listener,
            peers: vec![tx1, tx2],
            next: 0,
            conns: limits::Conns::new(100),
            complained: None,
        };
        // Accepted in the order they connect.
        let clients: Vec<_> = (0..6)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        let port = |i: usize| clients[i].local_addr().unwrap().port();
        let peer = |s: &std::net::TcpStream| s.peer_addr().unwrap().port();
        let kept = source.next().await.unwrap().0;
        assert_eq!(kept.peer_addr().unwrap().port(), port(0));
        let kept = source.next().await.unwrap().0;
        assert_eq!(kept.peer_addr().unwrap().port(), port(3));
        assert_eq!(peer(&rx1.try_recv().unwrap().0), port(1));
        assert_eq!(peer(&rx2.try_recv().unwrap().0), port(2));
        // Peer 2 is gone: its turn falls back here.
        drop(rx2);
        let back = source.next().await.unwrap().0;
        assert_eq!(back.peer_addr().unwrap().port(), port(5));
        assert_eq!(peer(&rx1.try_recv().unwrap().0), port(4));
    }

    /// A client that sends a request and shuts down its write side still
    /// reads the answer, also when the answer comes later (a long-poll).
    #[tokio::test]
    async fn a_half_closed_connection_gets_its_answer() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let (_down_tx, down) = watch::channel(false);
        let store = Store::default();
        let job = br#"{"Job":{"ID":"x","TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"exec"}]}]}}"#;
        store
            .register_job_json(job, &ordu::WriteOptions::default())
            .unwrap();
        let app = server::service(
            Arc::new(store),
            down.clone(),
            test_agent(addr),
            limits::BodyLimits::default(),
        );
        let source = Source::Listener {
            listener,
            peers: Vec::new(),
            next: 0,
            conns: limits::Conns::new(100),
            complained: None,
        };
        let timeout = limits::DEFAULT_READ_TIMEOUT;
        tokio::spawn(serve(source, app, down, Duration::ZERO, timeout));
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /v1/job/x?index=1&wait=300ms HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        c.shutdown().await.unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut got))
            .await
            .expect("the connection ends")
            .unwrap();
        let got = String::from_utf8_lossy(&got);
        assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
    }

    /// The refusal past the cap is a whole HTTP answer: its length is its
    /// body's.
    #[test]
    fn the_refusal_past_the_cap_is_well_formed() {
        let text = std::str::from_utf8(TOO_MANY_CONNECTIONS).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap();
        assert_eq!(length.parse::<usize>().unwrap(), body.len());
    }

    #[test]
    fn only_a_get_with_an_index_blocks() {
        let req = |method: Method, uri: &str| {
            Request::builder().method(method).uri(uri).body(()).unwrap()
        };
        assert!(blocks(&req(Method::GET, "/v1/job/web?index=7&wait=5m")));
        assert!(blocks(&req(Method::GET, "/v1/jobs?wait=1s&index=%31")));
        assert!(!blocks(&req(Method::GET, "/v1/job/web?index=0")));
        assert!(!blocks(&req(Method::GET, "/v1/job/web?index=")));
        assert!(!blocks(&req(Method::GET, "/v1/job/web?index=x")));
        assert!(!blocks(&req(Method::GET, "/v1/job/web?index=0&index=7")));
        assert!(!blocks(&req(Method::GET, "/v1/job/web")));
        assert!(!blocks(&req(Method::PUT, "/v1/job/web?index=7")));
    }

    #[test]
    fn a_detached_head_is_the_same_head() {
        for uri in [
            "/v1/job/a%20b?index=3&pretty",
            "http://h:4646/v1/jobs",
            "/",
            "*",
        ] {
            let mut req = Request::builder()
                .uri(uri)
                .header("host", "h:4646")
                .header("x-nomad-token", "s3cret")
                .header("accept", "a")
                .header("accept", "b")
                .body(())
                .unwrap();
            req.headers_mut()
                .get_mut("x-nomad-token")
                .unwrap()
                .set_sensitive(true);
            let before = req.clone();
            detach_head(&mut req);
            assert_eq!(req.uri(), before.uri());
            assert_eq!(req.uri().to_string(), before.uri().to_string());
            assert_eq!(req.headers(), before.headers());
            assert!(req.headers()["x-nomad-token"].is_sensitive());
            assert_eq!(req.method(), before.method());
        }
    }

    #[test]
    fn demo_nodes_register_and_place_the_seed_datacenters() {
        let store = Store::default();
        register_demo_nodes(&store, 3).unwrap();
        let nodes = store
            .nodes("", &ordu::QueryOptions::default())
            .unwrap()
            .value;
        assert_eq!(nodes.len(), 5);
        let dcs: Vec<_> = nodes.iter().map(|n| n.datacenter.as_str()).collect();
        assert_eq!(dcs.iter().filter(|d| **d == "dc1").count(), 3);
        assert!(dcs.contains(&"us2") && dcs.contains(&"eu1"));
        assert!(nodes.iter().all(|n| n.status == "ready"));
        // An ordinary job places on them.
        let job = br#"{"Job":{"ID":"web","Datacenters":["dc1"],"TaskGroups":[{"Name":"g","Count":3,
            "Tasks":[{"Name":"t","Driver":"docker","Resources":{"CPU":500,"MemoryMB":256}}]}]}}"#;
        ordu::host::register_job(&store, job, &ordu::host::write_options(None, None)).unwrap();
        let allocs = store
            .job_allocations("web", false, &ordu::QueryOptions::default())
            .unwrap()
            .value;
        assert_eq!(allocs.len(), 3);
        assert!(allocs.iter().all(|a| !a.node_id.is_empty()));
    }
}
