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

mod accept;
mod args;
mod cluster;
mod conn;
mod demo;
mod events;
mod limits;
mod log;
mod params;
mod routes;
mod server;
mod spin;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ordu::{Config, SchedulingMode, Store};
use tokio::sync::{mpsc, watch};

use accept::{listen, serve, spawn_serving_thread, Source};
use args::{parse_args, Args, MAX_THREADS, USAGE};
use demo::register_demo_nodes;

/// jemalloc, set up so that a blocked long-poll's read buffer is not
/// resident.
///
/// An open HTTP/1 connection holds hyper's two 8 KB buffers, for reading and
/// for writing; the write buffer's first page holds the last answer's head.
/// The read buffer a long-poll waits with is one hyper took while the request
/// head still pointed into the old one (see [`Detached`](conn::Detached)),
/// and nothing is written to it while the long-poll waits: it costs no memory
/// if its pages are fresh. jemalloc keeps no headers inside an allocation and
/// gives an 8 KB one two pages of its own. The options:
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
