//! `--data-dir`: writes answered 200 survive a SIGKILL, and indexes never go
//! back across restarts, also under a load of several clients killed at a
//! random moment, again and again (`ORDU_CRASH_ITERATIONS`, default 20).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{job, request_on, Server};

/// Starts a server on `dir`; answers it and the index its recovery reports.
fn start(dir: &Path) -> (Server, u64) {
    let dir = dir.to_str().unwrap();
    let mut server = Server::start(&["--data-dir", dir, "--snapshot-every", "40"], None, &[]);
    // The recovery line comes before the listening line, so it is there.
    let mut err = BufReader::new(server.stderr());
    let mut line = String::new();
    let index = loop {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "no recovery line on stderr"
        );
        if let Some(rest) = line.split("ordu-http: recovered ").nth(1) {
            let n = rest
                .split(": index ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next()?.parse().ok());
            break n.unwrap_or_else(|| panic!("no index in {line:?}"));
        }
    };
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    (server, index)
}

fn write_index(body: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["Index"]
        .as_u64()
        .unwrap_or_else(|| panic!("no Index in {body}"))
}

/// Every job in `ids` is there.
fn assert_present(server: &Server, ids: &[String]) {
    let mut s = server.connect();
    for id in ids {
        let got = request_on(&mut s, "GET", &format!("/v1/job/{id}"), "");
        assert_eq!(
            got.as_ref().map(|g| g.0),
            Some(200),
            "job {id}, answered 200 before the kill, is gone: {got:?}"
        );
    }
}

fn kill(mut server: Server) {
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
}

#[test]
fn writes_answered_before_a_sigkill_are_there_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (server, index) = start(dir.path());
    assert_eq!(index, 0);
    let mut s = server.connect();
    let mut ids = Vec::new();
    let mut last = 0;
    for n in 0..30 {
        let id = format!("job-{n}");
        let (status, body) = request_on(&mut s, "PUT", "/v1/jobs", &job(&id)).unwrap();
        assert_eq!(status, 200, "{body}");
        last = write_index(&body);
        ids.push(id);
    }
    kill(server);

    let (server, index) = start(dir.path());
    assert!(index >= last, "recovered at index {index}, below {last}");
    assert_present(&server, &ids);
    let (status, body) = server.request("PUT", "/v1/jobs", &job("after")).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(write_index(&body) > index, "the index went back: {body}");
}

/// A small xorshift: the kill's moment, from a seed the test prints.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn a_crash_loop_loses_no_answered_write() {
    let iterations: usize = std::env::var("ORDU_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash loop: {iterations} iterations, seed {seed}");
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut all: Vec<String> = Vec::new();
    let mut highest = 0;
    let mut total = 0;
    for it in 0..iterations {
        let (server, index) = start(dir.path());
        assert!(
            index >= highest,
            "iteration {it}: recovered at index {index}, below {highest} answered before"
        );
        assert_present(&server, &all);
        let acked = Arc::new(Mutex::new(Vec::<(String, u64)>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..3)
            .map(|c| {
                let (acked, stop, mut s) = (acked.clone(), stop.clone(), server.connect());
                std::thread::spawn(move || {
                    for n in 0.. {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        let id = format!("i{it}-c{c}-{n}");
                        match request_on(&mut s, "PUT", "/v1/jobs", &job(&id)) {
                            Some((200, body)) => {
                                acked.lock().unwrap().push((id, write_index(&body)))
                            }
                            Some((status, body)) => panic!("{id}: {status} {body}"),
                            // Killed mid-request: not answered, either way.
                            None => return,
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(30 + next(&mut seed) % 300));
        kill(server);
        stop.store(true, Ordering::SeqCst);
        for c in clients {
            c.join().unwrap();
        }
        let acked = std::mem::take(&mut *acked.lock().unwrap());
        total += acked.len();
        for (id, index) in acked {
            highest = highest.max(index);
            all.push(id);
        }
    }
    let (server, index) = start(dir.path());
    assert!(index >= highest, "recovered at {index}, below {highest}");
    assert_present(&server, &all);
    assert!(total > 0, "no write was answered");
    eprintln!(
        "crash loop: {total} writes answered over {iterations} kills, all present, in {:?}",
        started.elapsed()
    );
}
