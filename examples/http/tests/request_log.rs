//! The request log (issue 11 point 14): one line per request on stderr,
//! with `--log-requests` or `RUST_LOG`, none without.

mod common;

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

use common::Server;

/// The server's stderr lines, as they come.
fn lines(server: &mut Server) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let err = BufReader::new(server.stderr());
    std::thread::spawn(move || {
        for line in err.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The first line that mentions `needle`, within a few seconds.
fn line_with(rx: &mpsc::Receiver<String>, needle: &str) -> Option<String> {
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        if line.contains(needle) {
            return Some(line);
        }
    }
    None
}

fn assert_logs_requests(args: &[&str], env: &[(&str, &str)]) {
    let mut server = Server::start(args, None, env);
    let rx = lines(&mut server);
    assert_eq!(
        server.request("GET", "/v1/jobs?prefix=w", "").unwrap().0,
        200
    );
    assert_eq!(server.request("GET", "/v1/job/nope", "").unwrap().0, 404);
    let line = line_with(&rx, "path=/v1/jobs?prefix=w").expect("a line for the request");
    assert!(line.contains("INFO ordu_http::request"), "{line}");
    assert!(line.contains("method=GET"), "{line}");
    assert!(line.contains("status=200"), "{line}");
    assert!(line.contains("duration="), "{line}");
    let line = line_with(&rx, "path=/v1/job/nope").expect("a line for the request");
    assert!(line.contains("status=404"), "{line}");
}

#[test]
fn log_requests_logs_one_line_per_request() {
    assert_logs_requests(&["--log-requests"], &[]);
}

#[test]
fn rust_log_turns_the_request_log_on() {
    assert_logs_requests(&[], &[("RUST_LOG", "ordu_http=info")]);
}

#[test]
fn without_either_nothing_is_logged() {
    let mut server = Server::start(&[], None, &[]);
    let rx = lines(&mut server);
    assert_eq!(server.request("GET", "/v1/jobs", "").unwrap().0, 200);
    // Stopped, the server writes what it had to say and closes stderr.
    let _ = server.child.kill();
    let said: Vec<String> = rx.iter().collect();
    assert!(said.iter().all(|l| !l.contains("/v1/jobs")), "{said:?}");
}
