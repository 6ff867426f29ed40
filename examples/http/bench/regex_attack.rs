//! Costly-regexp driver for `ordu-http` (issue 11, point 5): registers jobs
//! whose `regexp` constraints are costly to compile, while another connection
//! reads `GET /v1/jobs` in a loop, and prints how long each attack took to be
//! answered and the reads' latency (median and max) while it ran.
//!
//! ```text
//! regex_attack HOST:PORT [--rounds 3]
//! ```
//!
//! The attacks: the issue's 2,000 constraints of `\w{60}x` (124 KB); 999 of
//! them (under the constraint limit); and 999 distinct patterns `\w{60}N`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Sends one request on `conn` and reads the answer: status and body.
fn request(
    conn: &mut BufReader<TcpStream>,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let s = conn.get_mut();
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut line = String::new();
    conn.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0;
    loop {
        line.clear();
        conn.read_line(&mut line)?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut out = vec![0; length];
    conn.read_exact(&mut out)?;
    Ok((status, out))
}

fn connect(addr: &str) -> std::io::Result<BufReader<TcpStream>> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    Ok(BufReader::new(s))
}

fn job(patterns: impl Iterator<Item = String>) -> Vec<u8> {
    let constraints: Vec<serde_json::Value> = patterns
        .map(|p| serde_json::json!({"LTarget": "${attr.kernel.os}", "Operand": "regexp", "RTarget": p}))
        .collect();
    serde_json::to_vec(&serde_json::json!({"Job": {
        "ID": "regex-attack", "Datacenters": ["dc1"], "Constraints": constraints,
        "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec"}]}]}}))
    .expect("a job serialises")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut addr = None;
    let mut rounds = 3;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rounds" => rounds = args.next().and_then(|v| v.parse().ok()).unwrap_or(3),
            _ => addr = Some(a.trim_start_matches("http://").to_string()),
        }
    }
    let Some(addr) = addr else {
        eprintln!("usage: regex_attack HOST:PORT [--rounds N]");
        std::process::exit(2);
    };
    let attacks: [(&str, Vec<u8>); 3] = [
        (
            r"2000 x \w{60}x",
            job(std::iter::repeat_n(r"\w{60}x".to_string(), 2000)),
        ),
        (
            r"999 x \w{60}x",
            job(std::iter::repeat_n(r"\w{60}x".to_string(), 999)),
        ),
        (
            r"999 distinct \w{60}N",
            job((0..999).map(|i| format!(r"\w{{60}}{i}"))),
        ),
    ];

    // The reader: GETs back to back; latencies recorded while `recording`.
    let recording = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let lat = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let reader = {
        let (recording, stop, lat, addr) =
            (recording.clone(), stop.clone(), lat.clone(), addr.clone());
        std::thread::spawn(move || {
            let mut conn = connect(&addr).expect("the reader connects");
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let (status, _) = request(&mut conn, "GET", "/v1/jobs", b"").expect("a read");
                assert_eq!(status, 200);
                if recording.load(Ordering::Relaxed) {
                    lat.lock().unwrap().push(t.elapsed());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };

    let mut conn = connect(&addr).expect("the attacker connects");
    println!("attack                      bytes  status  answer ms (max of {rounds})  GET median ms  GET max ms  GETs");
    for (name, body) in &attacks {
        let mut worst = Duration::ZERO;
        let mut status = 0;
        lat.lock().unwrap().clear();
        for _ in 0..rounds {
            recording.store(true, Ordering::Relaxed);
            let t = Instant::now();
            let (s, _) =
                request(&mut conn, "PUT", "/v1/jobs", body).expect("the attack is answered");
            worst = worst.max(t.elapsed());
            // Reads in flight when the answer came still count.
            std::thread::sleep(Duration::from_millis(20));
            recording.store(false, Ordering::Relaxed);
            status = s;
        }
        let mut l = lat.lock().unwrap().clone();
        l.sort();
        let median = l.get(l.len() / 2).copied().unwrap_or_default();
        let max = l.last().copied().unwrap_or_default();
        println!(
            "{name:<26} {:>6}  {status:>6}  {:>24.1}  {:>13.2}  {:>10.2}  {:>4}",
            body.len(),
            ms(worst),
            ms(median),
            ms(max),
            l.len()
        );
    }
    stop.store(true, Ordering::Relaxed);
    reader.join().expect("the reader ends");
}
