//! The attacks of issue 11 point 6 against the real server: large partial
//! bodies on many connections, a body sent a byte at a time, more
//! connections than descriptors. Each runs in a few seconds.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{eventually, job, read_answer, request_on, Server};

/// The store's body limit, which bodies announce here.
const BODY_LIMIT: usize = 8 << 20;

/// A PUT of a job announcing a body of `BODY_LIMIT` bytes: its head.
fn big_put_head() -> String {
    format!("PUT /v1/jobs HTTP/1.1\r\nHost: test\r\nContent-Length: {BODY_LIMIT}\r\n\r\n")
}

/// Sends `n` bytes of body on `s` in 64 KiB pieces; whether all went.
fn send_body(s: &mut TcpStream, n: usize) -> bool {
    let piece = vec![b' '; 64 << 10];
    let mut left = n;
    while left > 0 {
        let k = left.min(piece.len());
        if s.write_all(&piece[..k]).is_err() {
            return false;
        }
        left -= k;
    }
    true
}

/// Many connections each send all but the last byte of a body at the size
/// limit and stop. Without a budget each held its whole body (48 of them:
/// about 400 MB); with one of 16 MiB, two bodies are held, the others are
/// refused with 503 at once, the server's memory stays within the budget
/// and other clients are served. Once the connections close, the budget is
/// whole again.
#[test]
fn many_large_partial_bodies_stay_within_the_budget() {
    const CONNS: usize = 48;
    let server = Server::start(
        &[
            "--max-body-bytes-in-flight",
            "16MiB",
            "--read-timeout",
            "30s",
        ],
        None,
        &[],
    );
    let before = server.rss();
    let attackers: Vec<_> = (0..CONNS)
        .map(|_| {
            let mut s = server.connect();
            std::thread::spawn(move || {
                s.write_all(big_put_head().as_bytes()).unwrap();
                assert!(send_body(&mut s, BODY_LIMIT - 1), "the body was not taken");
                s
            })
        })
        .collect();
    let mut attackers: Vec<TcpStream> = attackers.into_iter().map(|t| t.join().unwrap()).collect();
    // The bodies are in; give the server a moment to have read them.
    std::thread::sleep(Duration::from_millis(300));
    let grown = server.rss().saturating_sub(before);
    eprintln!(
        "{CONNS} partial bodies of {BODY_LIMIT} bytes: VmRSS {} MB before, {} MB grown",
        before >> 20,
        grown >> 20
    );
    assert!(grown < 96 << 20, "the server grew by {} MB", grown >> 20);
    // Refused at once, all but the two the budget holds.
    let mut refused = 0;
    for s in &mut attackers {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        if let Some((status, body)) = read_answer(s) {
            assert_eq!(status, 503, "{body}");
            assert!(body.contains("--max-body-bytes-in-flight"), "{body}");
            refused += 1;
        }
    }
    assert!(refused >= CONNS - 2, "{refused} of {CONNS} refused");
    // Reads are served; a write is refused promptly.
    let started = Instant::now();
    let (status, _) = server
        .request("GET", "/v1/jobs", "")
        .expect("a read answered");
    assert_eq!(status, 200);
    let (status, _) = server
        .request("PUT", "/v1/jobs", &job("web"))
        .expect("a write answered");
    assert_eq!(status, 503);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // Their bytes come back when they go.
    drop(attackers);
    assert!(
        eventually(Duration::from_secs(5), || {
            server.request("PUT", "/v1/jobs", &job("web")).map(|a| a.0) == Some(200)
        }),
        "the budget did not come back"
    );
}

/// A body that comes a byte at a time is cut off at `--read-timeout`, with
/// a 408 (or the connection closed), and its share of the budget comes
/// back. Without the deadline it was held as long as the client went on.
#[test]
fn a_slow_body_is_timed_out_and_gives_its_bytes_back() {
    let server = Server::start(
        &["--max-body-bytes-in-flight", "8MiB", "--read-timeout", "1s"],
        None,
        &[],
    );
    let mut slow = server.connect();
    let started = Instant::now();
    slow.write_all(big_put_head().as_bytes()).unwrap();
    // Enough to hold the whole budget, then a byte at a time.
    assert!(send_body(&mut slow, 5 << 20));
    let mut writer = slow.try_clone().unwrap();
    let dripping = std::thread::spawn(move || {
        while writer.write_all(b" ").is_ok() {
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    // Meanwhile the budget is full: a write is refused at once. On a loaded
    // machine the server may take a moment to read the 5 MiB that fill it,
    // so a write may still get in first; it is asked again until refused.
    let mut refused = None;
    while refused.is_none() && started.elapsed() < Duration::from_millis(800) {
        std::thread::sleep(Duration::from_millis(50));
        let asked = Instant::now();
        let (status, _) = server
            .request("PUT", "/v1/jobs", &job("web"))
            .expect("a write answered");
        if status == 503 {
            refused = Some(asked.elapsed());
        }
    }
    let refused = refused.expect("a write refused while the budget is full");
    assert!(refused < Duration::from_millis(500), "{refused:?}");
    // The slow one is answered 408, or cut off, within the deadline.
    let answer = read_answer(&mut slow);
    let took = started.elapsed();
    eprintln!("a body sent a byte at a time was cut off after {took:?}: {answer:?}");
    if let Some((status, _)) = &answer {
        assert_eq!(*status, 408);
    }
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    drop(slow);
    dripping.join().unwrap();
    let (status, body) = server
        .request("PUT", "/v1/jobs", &job("web"))
        .expect("a write answered");
    assert_eq!(status, 200, "the budget did not come back: {body}");
}

/// An idle keep-alive connection, and one that never sends a request, are
/// closed after `--read-timeout`, so idle connections give their places
/// back.
#[test]
fn idle_connections_are_closed_after_the_read_timeout() {
    let server = Server::start(&["--read-timeout", "1s"], None, &[]);
    let mut used = server.connect();
    let silent = server.connect();
    let started = Instant::now();
    assert_eq!(request_on(&mut used, "GET", "/v1/jobs", "").unwrap().0, 200);
    for mut s in [used, silent] {
        assert!(read_answer(&mut s).is_none(), "closed, not answered");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "open for {took:?}");
    }
}

/// With 64 descriptors the cap is 30 connections (a reserve of 34 for one
/// serving thread): the ones past it are told 503 and closed at once, the
/// open ones are served, and once they close new clients are served again.
#[test]
fn connections_past_the_cap_are_refused_and_the_open_ones_served() {
    let server = Server::start(&[], Some(64), &[]);
    let mut idle: Vec<TcpStream> = (0..40).map(|_| server.connect()).collect();
    // Those past the cap: refused at once.
    let started = Instant::now();
    for s in &mut idle[30..] {
        if let Some((status, body)) = read_answer(s) {
            assert_eq!(status, 503, "{body}");
            assert!(body.contains("--max-conns"), "{body}");
        }
    }
    let fresh = server.request("GET", "/v1/jobs", "");
    assert!(fresh.as_ref().is_none_or(|a| a.0 == 503), "{fresh:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // Those within it are served.
    for s in [0, 29] {
        let got = request_on(&mut idle[s], "GET", "/v1/jobs", "");
        assert_eq!(got.map(|a| a.0), Some(200), "connection {s}");
    }
    drop(idle);
    assert!(
        eventually(Duration::from_secs(3), || {
            server.request("GET", "/v1/jobs", "").map(|a| a.0) == Some(200)
        }),
        "not served once the idle connections closed"
    );
}

/// With a cap above the descriptor limit, `accept` runs out of descriptors
/// (EMFILE): the server says so once a second at most, uses no CPU to
/// speak of while it waits, serves the connections it has, and accepts the
/// waiting ones once descriptors come back.
#[test]
fn out_of_descriptors_the_server_backs_off_and_serves_on() {
    let mut server = Server::start(&["--max-conns", "1000"], Some(64), &[]);
    let said = Arc::new(Mutex::new(Vec::new()));
    {
        let said = said.clone();
        let err = BufReader::new(server.stderr());
        std::thread::spawn(move || {
            for line in err.lines().map_while(Result::ok) {
                said.lock().unwrap().push(line);
            }
        });
    }
    let mut idle: Vec<TcpStream> = (0..80).map(|_| server.connect()).collect();
    let out_of_fds = || {
        said.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("accept") && l.contains("Too many open files"))
    };
    assert!(eventually(Duration::from_secs(3), out_of_fds), "{said:?}");
    let started = Instant::now();
    let cpu = || {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", server.child.id())).unwrap();
        let fields: Vec<u64> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        // utime and stime: fields 14 and 15 of the line, 12 and 13 after
        // the name (less the state letter, which does not parse).
        fields[10] + fields[11]
    };
    let cpu_before = cpu();
    // A connection it has is served.
    let got = request_on(&mut idle[0], "GET", "/v1/jobs", "");
    assert_eq!(got.map(|a| a.0), Some(200));
    // A new one waits in the backlog.
    let mut waiting = server.connect();
    waiting
        .write_all(b"GET /v1/jobs HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let ticks = cpu() - cpu_before;
    assert!(
        ticks <= 30,
        "{ticks} ticks of CPU in a second out of descriptors"
    );
    drop(idle);
    let got = read_answer(&mut waiting);
    assert_eq!(got.map(|a| a.0), Some(200));
    let complaints = said
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("accept"))
        .count();
    let secs = started.elapsed().as_secs() as usize;
    assert!(
        complaints <= secs + 4,
        "{complaints} complaints in {secs} s: {said:?}"
    );
}
