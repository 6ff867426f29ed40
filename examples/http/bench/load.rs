#![allow(dead_code)] // each benchmark uses its own part
//! The write load the durable and cluster benchmarks share: keep-alive
//! connections re-registering a job each, counting answers that are 200.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn job_body(id: &str) -> String {
    format!(
        r#"{{"Job":{{"ID":"{id}","Name":"{id}","Type":"service","Datacenters":["dc1"],"TaskGroups":[{{"Name":"g","Count":1,"Tasks":[{{"Name":"t","Driver":"docker","Resources":{{"CPU":100,"MemoryMB":64}}}}]}}]}}}}"#
    )
}

/// One keep-alive connection: PUTs `body` to `path` until `stop`, counting
/// the answers that are 200.
pub fn client(
    port: u16,
    id: String,
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
) -> std::io::Result<()> {
    let s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_nodelay(true)?;
    let mut w = s.try_clone()?;
    let mut r = BufReader::new(s);
    let body = job_body(&id);
    let req = format!(
        "PUT /v1/job/{id} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut line = String::new();
    while !stop.load(Ordering::Relaxed) {
        w.write_all(req.as_bytes())?;
        line.clear();
        r.read_line(&mut line)?;
        let status_ok = line.split(' ').nth(1) == Some("200");
        let mut len = 0usize;
        loop {
            line.clear();
            r.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut sink = vec![0u8; len];
        r.read_exact(&mut sink)?;
        if status_ok {
            ok.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

pub fn throughput(port: u16, conns: usize, secs: f64) -> f64 {
    throughput_on(&[port], conns, secs)
}

/// [`throughput`] with the connections dealt round `ports`.
pub fn throughput_on(ports: &[u16], conns: usize, secs: f64) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..conns)
        .map(|c| {
            let (stop, ok) = (stop.clone(), ok.clone());
            let port = ports[c % ports.len()];
            std::thread::spawn(move || client(port, format!("j{conns}-{c}"), stop, ok))
        })
        .collect();
    // Counted after a short warm-up, over `secs`.
    std::thread::sleep(Duration::from_millis(300));
    let start_ok = ok.load(Ordering::Relaxed);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(secs));
    let done = ok.load(Ordering::Relaxed) - start_ok;
    let rate = done as f64 / start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    rate
}
