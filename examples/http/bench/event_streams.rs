//! Re-registers against `ordu-http` with 0, 1 or 1,000 open event streams
//! (`GET /v1/event/stream`, issue 15, point 8): what the core's
//! `core/benches/events.rs` cannot show, the streams served as futures on
//! ordu-http's own serving threads, each frame encoded and written to its
//! socket there.
//!
//! For each case, on a fresh server (`--demo-nodes 3`), it opens S streams
//! (all topics, from now), each a raw HTTP/1.1 client on a small tokio
//! runtime that decodes the chunked body and counts frames and events. Then
//! one keep-alive connection re-registers one job (unchanged: each write is
//! an evaluation, and its plan result another batch): a warm-up, then
//! `--writes` back to back, then `--paced` one every `--every-us`. After
//! each phase it waits for the last evaluation's outcome and for every
//! stream to have its batch. It prints, per phase, the register's median and
//! p99 latency, writes/s, events/s taken by all streams together (first
//! write to the last stream's last batch), the server's CPU time per
//! register, and checks that every stream got every write's event, the same
//! frames as the others, in order, and no error frame (`lost` counts the
//! streams that did not).
//!
//! The cases alternate within each round (in turn, the first moving each
//! round), since the machine is shared; the summary is of the rounds'
//! medians.
//!
//! ```text
//! cargo build --release -p ordu-http --bin ordu-http --example event_streams
//! target/release/examples/event_streams [--rounds 5] [--subs 0,1,1000] [--writes 2000]
//!     [--paced 500] [--every-us 2000] [--client-threads 1] [-- SERVER FLAGS...]
//! ```
//!
//! It runs `target/release/ordu-http` (build it first), and raises its own
//! descriptor limit to the hard one (each stream is a socket here and one in
//! the server, which raises its own).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "load.rs"]
mod load;
use load::job_body;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The job every case re-registers.
const JOB: &str = "ev";
/// Registers before the measured phases (connections, allocator, caches).
const WARM_UP: usize = 200;
/// How long a phase may take to reach every stream before it counts as lost.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

struct Opts {
    rounds: usize,
    subs: Vec<usize>,
    writes: usize,
    paced: usize,
    every: Duration,
    client_threads: usize,
    server_flags: Vec<String>,
}

fn parse_opts() -> Result<Opts, String> {
    let mut o = Opts {
        rounds: 5,
        subs: vec![0, 1, 1000],
        writes: 2000,
        paced: 500,
        every: Duration::from_micros(2000),
        client_threads: 1,
        server_flags: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--" {
            o.server_flags = args.by_ref().collect();
            break;
        }
        let v = args.next().ok_or_else(|| format!("{a} needs a value"))?;
        let num = |v: &str| -> Result<usize, String> {
            v.parse().map_err(|_| format!("{a} {v:?}: want a number"))
        };
        match a.as_str() {
            "--rounds" => o.rounds = num(&v)?,
            "--subs" => o.subs = v.split(',').map(num).collect::<Result<_, _>>()?,
            "--writes" => o.writes = num(&v)?,
            "--paced" => o.paced = num(&v)?,
            "--every-us" => o.every = Duration::from_micros(num(&v)? as u64),
            "--client-threads" => o.client_threads = num(&v)?.max(1),
            _ => return Err(format!("unknown flag {a}")),
        }
    }
    Ok(o)
}

/// What one stream has taken so far.
#[derive(Default)]
struct Sub {
    frames: AtomicU64,
    events: AtomicU64,
    /// Evaluations' `JobRegistered` events: one per register.
    registered: AtomicU64,
    last_index: AtomicU64,
    /// An error frame, an I/O error, a frame out of order, or the end.
    failed: Mutex<Option<String>>,
}

impl Sub {
    fn fail(&self, why: String) {
        self.failed.lock().unwrap().get_or_insert(why);
    }

    fn is_failed(&self) -> bool {
        self.failed.lock().unwrap().is_some()
    }

    /// One NDJSON line of the stream.
    fn line(&self, line: &[u8]) -> Result<(), String> {
        if line.is_empty() || line == b"{}" {
            return Ok(()); // a heartbeat
        }
        let text = std::str::from_utf8(line).map_err(|_| "a frame not UTF-8".to_string())?;
        let Some(rest) = text.strip_prefix(r#"{"Index":"#) else {
            return Err(format!("frame: {}", &text[..text.len().min(200)]));
        };
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let index: u64 = rest[..digits].parse().map_err(|_| "a frame's Index")?;
        if index <= self.last_index.load(Ordering::Relaxed) {
            return Err(format!(
                "frame {index} after {}",
                self.last_index.load(Ordering::Relaxed)
            ));
        }
        let events = text.matches(r#""Topic":"#).count() as u64;
        let registered = text
            .matches(r#""Topic":"Evaluation","Type":"JobRegistered""#)
            .count() as u64;
        self.frames.fetch_add(1, Ordering::Relaxed);
        self.events.fetch_add(events, Ordering::Relaxed);
        self.registered.fetch_add(registered, Ordering::Relaxed);
        // Last, so that a reader who sees the index sees the counts.
        self.last_index.store(index, Ordering::Release);
        Ok(())
    }
}

/// Opens one stream and counts its frames until it ends or fails.
async fn stream(addr: SocketAddr, sub: Arc<Sub>, ready: Arc<AtomicUsize>) {
    if let Err(e) = read_stream(addr, &sub, &ready).await {
        sub.fail(e.to_string());
    }
}

async fn read_stream(addr: SocketAddr, sub: &Sub, ready: &AtomicUsize) -> Result<(), BoxError> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    s.write_all(b"GET /v1/event/stream HTTP/1.1\r\nHost: bench\r\n\r\n")
        .await?;
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err("closed before its head".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    if head.split_whitespace().nth(1) != Some("200") {
        return Err(format!("answer: {}", head.lines().next().unwrap_or("")).into());
    }
    if !head.contains("transfer-encoding: chunked") {
        return Err("not chunked".into());
    }
    buf.drain(..head_end + 4);
    ready.fetch_add(1, Ordering::Relaxed);
    // The chunked body: whole chunks out of `buf`, their bytes into `line`
    // until a newline ends a frame.
    let mut line = Vec::with_capacity(4096);
    loop {
        let mut pos = 0;
        while let Some(eol) = buf[pos..].windows(2).position(|w| w == b"\r\n") {
            let size_line = std::str::from_utf8(&buf[pos..pos + eol])?;
            let hex = size_line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(hex, 16).map_err(|_| "a chunk size")?;
            let start = pos + eol + 2;
            if buf.len() < start + size + 2 {
                break; // the rest of the chunk is still to come
            }
            if size == 0 {
                return Err("the stream ended".into());
            }
            for piece in buf[start..start + size].split_inclusive(|&b| b == b'\n') {
                match piece.strip_suffix(b"\n") {
                    Some(end) if line.is_empty() => sub.line(end)?,
                    Some(end) => {
                        line.extend_from_slice(end);
                        sub.line(&line)?;
                        line.clear();
                    }
                    None => line.extend_from_slice(piece),
                }
            }
            pos = start + size + 2;
        }
        buf.drain(..pos);
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err("closed mid-stream".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// One keep-alive connection for the writes and the checks.
struct Conn {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        Ok(Conn {
            w: s.try_clone()?,
            r: BufReader::new(s),
        })
    }

    /// Sends `req` (a whole request) and reads the answer: status, body.
    fn call(&mut self, req: &[u8]) -> std::io::Result<(u16, String)> {
        self.w.write_all(req)?;
        let mut line = String::new();
        self.r.read_line(&mut line)?;
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut len = 0usize;
        loop {
            line.clear();
            self.r.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; len];
        self.r.read_exact(&mut body)?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

fn register_request() -> Vec<u8> {
    let body = job_body(JOB);
    format!(
        "PUT /v1/job/{JOB} HTTP/1.1\r\nHost: bench\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A string field of a JSON answer, by a plain search (the answers are
/// ordu-http's own, one object deep where it matters).
fn field<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let at = body.find(&format!("\"{name}\":"))? + name.len() + 3;
    let rest = &body[at..];
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let end = rest.find(['"', ',', '}']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// `n` registers, one every `every` (back to back if zero): each one's
/// latency, and the last one's evaluation.
fn registers(conn: &mut Conn, n: usize, every: Duration) -> (Vec<Duration>, String) {
    let req = register_request();
    let mut lat = Vec::with_capacity(n);
    let mut eval = String::new();
    let start = Instant::now();
    for i in 0..n {
        if !every.is_zero() {
            let due = start + every * i as u32;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let t = Instant::now();
        let (status, body) = conn.call(&req).expect("register");
        lat.push(t.elapsed());
        assert_eq!(status, 200, "register: {body}");
        if i + 1 == n {
            eval = field(&body, "EvalID").expect("EvalID").to_string();
        }
    }
    (lat, eval)
}

/// Waits for evaluation `id`'s outcome; answers the index of that write.
fn settled(conn: &mut Conn, id: &str) -> u64 {
    let req = format!("GET /v1/evaluation/{id} HTTP/1.1\r\nHost: bench\r\n\r\n");
    loop {
        let (status, body) = conn.call(req.as_bytes()).expect("evaluation");
        assert_eq!(status, 200, "evaluation {id}: {body}");
        let state = field(&body, "Status").unwrap_or("");
        if state != "pending" && state != "blocked" {
            return field(&body, "ModifyIndex")
                .and_then(|v| v.parse().ok())
                .expect("ModifyIndex");
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Waits until every stream that has not failed holds `index`.
fn drained(subs: &[Arc<Sub>], index: u64) {
    let start = Instant::now();
    while subs
        .iter()
        .any(|s| s.last_index.load(Ordering::Acquire) < index && !s.is_failed())
    {
        if start.elapsed() > DRAIN_TIMEOUT {
            for s in subs {
                if s.last_index.load(Ordering::Acquire) < index {
                    s.fail(format!("did not reach index {index} in {DRAIN_TIMEOUT:?}"));
                }
            }
            return;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

fn delivered(subs: &[Arc<Sub>]) -> u64 {
    subs.iter().map(|s| s.events.load(Ordering::Relaxed)).sum()
}

/// CPU time of all of `pid`'s threads so far (`/proc/PID/task/*/schedstat`).
fn cpu_time(pid: &str) -> Duration {
    let mut ns = 0u64;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
                ns += s
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
            }
        }
    }
    Duration::from_nanos(ns)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// One phase's figures.
#[derive(Clone, Copy, Default)]
struct Phase {
    median: Duration,
    p99: Duration,
    writes_per_s: f64,
    events_per_s: f64,
    server_cpu_per_write: Duration,
    client_cpu_per_write: Duration,
}

/// Runs `n` registers (paced by `every`) and waits for every stream to hold
/// them.
fn phase(conn: &mut Conn, subs: &[Arc<Sub>], server: &str, n: usize, every: Duration) -> Phase {
    let (events0, server0, client0) = (delivered(subs), cpu_time(server), cpu_time("self"));
    let start = Instant::now();
    let (mut lat, eval) = registers(conn, n, every);
    let writing = start.elapsed();
    let last = settled(conn, &eval);
    drained(subs, last);
    let all = start.elapsed();
    let (server1, client1) = (cpu_time(server), cpu_time("self"));
    lat.sort();
    Phase {
        median: pct(&lat, 0.5),
        p99: pct(&lat, 0.99),
        writes_per_s: n as f64 / writing.as_secs_f64(),
        events_per_s: (delivered(subs) - events0) as f64 / all.as_secs_f64(),
        server_cpu_per_write: (server1 - server0) / n as u32,
        client_cpu_per_write: (client1 - client0) / n as u32,
    }
}

/// One case: a fresh server, `s` streams, then the phases; the streams
/// that missed a write, disagreed with the others or failed, and why.
fn case(
    bin: &Path,
    o: &Opts,
    rt: &tokio::runtime::Runtime,
    port: u16,
    s: usize,
) -> (Phase, Phase, usize, Vec<String>) {
    let server = start_server(bin, &o.server_flags, port);
    let pid = server.id().to_string();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let ready = Arc::new(AtomicUsize::new(0));
    let subs: Vec<Arc<Sub>> = (0..s).map(|_| Arc::new(Sub::default())).collect();
    let tasks: Vec<_> = subs
        .iter()
        .map(|sub| rt.spawn(stream(addr, sub.clone(), ready.clone())))
        .collect();
    let start = Instant::now();
    while ready.load(Ordering::Relaxed) + subs.iter().filter(|s| s.is_failed()).count() < s {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "streams did not open"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut conn = Conn::open(addr).expect("connect");
    phase(&mut conn, &subs, &pid, WARM_UP, Duration::ZERO);
    let back_to_back = phase(&mut conn, &subs, &pid, o.writes, Duration::ZERO);
    let paced = phase(&mut conn, &subs, &pid, o.paced, o.every);

    // Every stream opened before the first write, so each must hold every
    // write's event and the same frames as every other.
    let writes = (WARM_UP + o.writes + o.paced) as u64;
    let most = subs
        .iter()
        .map(|s| {
            (
                s.frames.load(Ordering::Relaxed),
                s.events.load(Ordering::Relaxed),
            )
        })
        .max()
        .unwrap_or_default();
    let mut lost = 0;
    let mut why = Vec::new();
    for sub in &subs {
        let got = (
            sub.frames.load(Ordering::Relaxed),
            sub.events.load(Ordering::Relaxed),
        );
        let registered = sub.registered.load(Ordering::Relaxed);
        let failed = sub.failed.lock().unwrap().clone();
        if got != most || registered != writes || failed.is_some() {
            lost += 1;
            if why.len() < 3 {
                why.push(format!(
                    "{} frames, {} events, {registered} of {writes} registers; {}",
                    got.0,
                    got.1,
                    failed.unwrap_or_default()
                ));
            }
        }
    }
    for t in tasks {
        t.abort();
    }
    stop_server(server);
    (back_to_back, paced, lost, why)
}

fn start_server(bin: &Path, flags: &[String], port: u16) -> Child {
    let mut child = Command::new(bin)
        .args(["--addr", &format!("127.0.0.1:{port}"), "--demo-nodes", "3"])
        .args(flags)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ordu-http (build it with cargo build --release -p ordu-http)");
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("ordu-http did not listen on {port}");
}

fn stop_server(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let o = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    // Each stream is a descriptor here: the soft limit up to the hard one.
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    let _ = setrlimit(
        Resource::Nofile,
        rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    );
    let bin = std::env::current_exe()
        .expect("own path")
        .parent()
        .and_then(Path::parent)
        .expect("target/release")
        .join("ordu-http");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.client_threads)
        .enable_all()
        .build()
        .expect("runtime");
    let port = 5400 + (std::process::id() % 500) as u16;

    println!(
        "{} back to back, {} paced (one every {:?}), after {WARM_UP} to warm up; latencies in µs",
        o.writes, o.paced, o.every
    );
    println!("round | streams | b2b median | p99 | writes/s | events/s | server CPU/write | client CPU/write | paced median | p99 | events/s | lost");
    // Per case: the phases of every round.
    let mut runs: Vec<Vec<(Phase, Phase, usize)>> = vec![Vec::new(); o.subs.len()];
    for round in 0..o.rounds {
        for k in 0..o.subs.len() {
            let c = (k + round) % o.subs.len();
            let s = o.subs[c];
            let (b, p, lost, why) = case(&bin, &o, &rt, port, s);
            println!(
                "{round:>5} | {s:>7} | {:>10.1} | {:>6.1} | {:>8.0} | {:>9.0} | {:>16.1} | {:>16.1} | {:>12.1} | {:>6.1} | {:>8.0} | {lost}",
                us(b.median),
                us(b.p99),
                b.writes_per_s,
                b.events_per_s,
                us(b.server_cpu_per_write),
                us(b.client_cpu_per_write),
                us(p.median),
                us(p.p99),
                p.events_per_s,
            );
            for w in why {
                println!("        lost: {w}");
            }
            runs[c].push((b, p, lost));
        }
    }

    println!();
    println!(
        "medians of {} rounds; ratio: to the median with the fewest streams",
        o.rounds
    );
    println!("| streams | register, back to back (median / p99) | ratio | writes/s | events/s to all streams | server CPU/register | register, paced (median / p99) | ratio | streams lost |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut base = None;
    for (c, r) in runs.iter().enumerate() {
        let m = |f: &dyn Fn(&(Phase, Phase, usize)) -> f64| median(r.iter().map(f).collect());
        let b_med = m(&|x| us(x.0.median));
        let p_med = m(&|x| us(x.1.median));
        let (b0, p0) = *base.get_or_insert((b_med, p_med));
        println!(
            "| {} | {b_med:.1} / {:.1} µs | {:.2} | {:.0} | {:.0} | {:.1} µs | {p_med:.1} / {:.1} µs | {:.2} | {} |",
            o.subs[c],
            m(&|x| us(x.0.p99)),
            b_med / b0,
            m(&|x| x.0.writes_per_s),
            m(&|x| x.0.events_per_s),
            m(&|x| us(x.0.server_cpu_per_write)),
            m(&|x| us(x.1.p99)),
            p_med / p0,
            r.iter().map(|x| x.2).sum::<usize>(),
        );
    }
}
