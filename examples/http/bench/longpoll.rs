//! Long-poll load driver for `ordu-http`: opens N connections, each blocked
//! on `GET /v1/job/<id>?index=<current>&wait=5m`, checks that they stay
//! blocked, then changes the job once per round and measures how long each
//! long-poll takes to answer after the write was sent, and the server's
//! memory (VmRSS while they are blocked, VmHWM at the end).
//!
//! ```text
//! longpoll ADDR JOB_ID [--conns 10000] [--rounds 3] [--pid SERVER_PID]
//! ```
//!
//! Every connection is kept alive across rounds, as a real watcher would.
//! Raise `ulimit -n` above N (for both this driver and the server).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Semaphore};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Opts {
    addr: String,
    job: String,
    conns: usize,
    rounds: usize,
    pid: Option<u32>,
}

fn parse_opts() -> Result<Opts, String> {
    let mut args = std::env::args().skip(1);
    let mut pos = Vec::new();
    let mut o = Opts {
        addr: String::new(),
        job: String::new(),
        conns: 10_000,
        rounds: 3,
        pid: None,
    };
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match a.as_str() {
            "--conns" => o.conns = num("--conns")? as usize,
            "--rounds" => o.rounds = num("--rounds")? as usize,
            "--pid" => o.pid = Some(num("--pid")? as u32),
            _ => pos.push(a),
        }
    }
    if pos.len() != 2 {
        return Err("usage: longpoll HOST:PORT JOB_ID [--conns N] [--rounds R] [--pid PID]".into());
    }
    o.addr = pos[0].trim_start_matches("http://").to_string();
    o.job = pos[1].clone();
    Ok(o)
}

/// One HTTP/1.1 answer: status, `X-Nomad-Index`, body length.
struct Answer {
    status: u16,
    index: u64,
    body_len: usize,
}

async fn send(stream: &mut TcpStream, head: &str, body: &[u8]) -> Result<(), BoxError> {
    let mut req = Vec::with_capacity(head.len() + body.len());
    req.extend_from_slice(head.as_bytes());
    req.extend_from_slice(body);
    stream.write_all(&req).await?;
    Ok(())
}

/// Reads one answer (Content-Length framed) from a keep-alive connection.
async fn read_answer(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Answer, BoxError> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end])?.to_ascii_lowercase();
            let status: u16 = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or("no status")?;
            let header = |name: &str| {
                head.lines()
                    .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
            };
            let len: usize = header("content-length:")
                .and_then(|v| v.parse().ok())
                .ok_or("no content-length")?;
            let index = header("x-nomad-index:")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let total = end + 4 + len;
            while buf.len() < total {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err("connection closed mid-answer".into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            buf.drain(..total);
            return Ok(Answer {
                status,
                index,
                body_len: len,
            });
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err("connection closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn request(addr: &str, method: &str, path: &str, body: &[u8]) -> Result<Answer, BoxError> {
    let mut s = TcpStream::connect(addr).await?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    send(&mut s, &head, body).await?;
    read_answer(&mut s, &mut Vec::new()).await
}

fn proc_status(pid: Option<u32>, key: &str) -> String {
    let Some(pid) = pid else {
        return "n/a".into();
    };
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        })
        .unwrap_or_else(|| "n/a".into())
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn job_body(id: &str, round: usize) -> Vec<u8> {
    serde_json::json!({"Job": {
        "ID": id, "Datacenters": ["dc1"], "Meta": {"round": round.to_string()},
        "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [{"Name": "t", "Driver": "exec",
            "Resources": {"CPU": 100, "MemoryMB": 64}}]}]
    }})
    .to_string()
    .into_bytes()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let o = parse_opts()?;
    let path = format!("/v1/job/{}", o.job);
    let first = request(&o.addr, "PUT", &path, &job_body(&o.job, 0)).await?;
    if first.status != 200 {
        return Err(format!("register answered {}", first.status).into());
    }
    let start_index = request(&o.addr, "GET", &path, b"").await?.index;
    println!(
        "{} long-polls on {path} from index {start_index}, {} rounds",
        o.conns, o.rounds
    );
    println!(
        "server before: VmRSS {} VmHWM {}",
        proc_status(o.pid, "VmRSS:"),
        proc_status(o.pid, "VmHWM:")
    );

    // Each connection waits for the round's index, sends its long-poll,
    // reports how it was answered, and goes on to the next round.
    let (round_tx, round_rx) = watch::channel(start_index);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Result<(Instant, u64), String>>();
    let sent = Arc::new(AtomicUsize::new(0));
    let connecting = Arc::new(Semaphore::new(256));
    let opened = Instant::now();
    for _ in 0..o.conns {
        let (addr, path) = (o.addr.clone(), path.clone());
        let (mut round_rx, done_tx) = (round_rx.clone(), done_tx.clone());
        let (sent, connecting) = (sent.clone(), connecting.clone());
        let rounds = o.rounds;
        tokio::spawn(async move {
            let permit = connecting.acquire_owned().await;
            let mut s = match TcpStream::connect(&addr).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = done_tx.send(Err(format!("connect: {e}")));
                    return;
                }
            };
            let _ = s.set_nodelay(true);
            drop(permit);
            let mut buf = Vec::new();
            for _ in 0..rounds {
                let index = *round_rx.borrow_and_update();
                let head =
                    format!("GET {path}?index={index}&wait=5m HTTP/1.1\r\nHost: {addr}\r\n\r\n");
                if let Err(e) = send(&mut s, &head, b"").await {
                    let _ = done_tx.send(Err(format!("send: {e}")));
                    return;
                }
                sent.fetch_add(1, Ordering::Relaxed);
                let r = match read_answer(&mut s, &mut buf).await {
                    Ok(a) if a.status == 200 && a.index > index && a.body_len > 0 => {
                        Ok((Instant::now(), a.index))
                    }
                    Ok(a) => Err(format!(
                        "answered {} with index {} (asked {index})",
                        a.status, a.index
                    )),
                    Err(e) => Err(format!("read: {e}")),
                };
                let failed = r.is_err();
                let _ = done_tx.send(r);
                if failed || round_rx.changed().await.is_err() {
                    return;
                }
            }
        });
    }
    drop(done_tx);

    let mut index = start_index;
    let mut hwm_blocked = String::new();
    for round in 1..=o.rounds {
        // Every long-poll of this round is sent; give the server a moment to
        // take them in, then check that none was answered early.
        while sent.load(Ordering::Relaxed) < o.conns * round {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if round == 1 {
            println!(
                "opened {} connections in {:.2} s",
                o.conns,
                opened.elapsed().as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        if let Ok(r) = done_rx.try_recv() {
            return Err(format!("a long-poll answered before the write: {r:?}").into());
        }
        let rss = proc_status(o.pid, "VmRSS:");
        hwm_blocked = rss.clone();

        let body = job_body(&o.job, round);
        let t0 = Instant::now();
        let w = request(&o.addr, "PUT", &path, &body).await?;
        let write_ms = t0.elapsed().as_secs_f64() * 1e3;
        if w.status != 200 {
            return Err(format!("write answered {}", w.status).into());
        }
        let mut lat = Vec::with_capacity(o.conns);
        let mut errors = 0usize;
        let mut new_index = index;
        while lat.len() + errors < o.conns {
            match done_rx.recv().await {
                Some(Ok((at, i))) => {
                    lat.push(at.saturating_duration_since(t0));
                    new_index = new_index.max(i);
                }
                Some(Err(e)) => {
                    if errors == 0 {
                        eprintln!("long-poll failed: {e}");
                    }
                    errors += 1;
                }
                None => break,
            }
        }
        lat.sort();
        println!(
            "round {round}: write {write_ms:.1} ms; {} woken, {errors} failed; wake after write: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; server VmRSS with {} blocked: {rss}",
            lat.len(),
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            pct(&lat, 1.0),
            o.conns,
        );
        if errors > 0 {
            return Err(format!("{errors} long-polls failed").into());
        }
        // Scheduling may change the job again after the wake (its Status):
        // the next round starts from the job's index now.
        index = request(&o.addr, "GET", &path, b"")
            .await?
            .index
            .max(new_index);
        let _ = round_tx.send(index);
    }
    println!(
        "server after: VmRSS {} VmHWM {} (VmRSS while blocked: {hwm_blocked})",
        proc_status(o.pid, "VmRSS:"),
        proc_status(o.pid, "VmHWM:")
    );
    Ok(())
}
