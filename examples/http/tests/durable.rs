//! `--data-dir`: writes answered 200 survive a SIGKILL, and indexes never go
//! back across restarts, also under a load of several clients killed at a
//! random moment, again and again (`ORDU_CRASH_ITERATIONS`, default 20).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{job, request_on, request_with_head, Server};

/// Starts a server on `dir`; answers it and the index its recovery reports.
fn start(dir: &Path) -> (Server, u64) {
    let (server, index, _) = start_logged(dir);
    (server, index)
}

/// [`start`], also answering what the server writes to stderr from then on.
fn start_logged(dir: &Path) -> (Server, u64, Arc<Mutex<String>>) {
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
    let log = Arc::new(Mutex::new(String::new()));
    let keep = log.clone();
    std::thread::spawn(move || {
        let mut line = String::new();
        while err.read_line(&mut line).is_ok_and(|n| n > 0) {
            keep.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    (server, index, log)
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

/// Namespaces and a namespaced job survive a SIGKILL: one namespace
/// written before a snapshot (`--snapshot-every 40`) and one after it, in
/// the log's tail, and two jobs with one ID kept apart.
#[test]
fn namespaces_and_their_jobs_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = start(dir.path());
    let mut s = server.connect();
    let mut put = |path: &str, body: &str| {
        let (status, body) = request_on(&mut s, "PUT", path, body).unwrap();
        assert_eq!(status, 200, "PUT {path}: {body}");
        body
    };
    put(
        "/v1/namespace",
        r#"{"Name":"team-a","Description":"before the snapshot"}"#,
    );
    put("/v1/job/web?namespace=team-a", &job("web"));
    put("/v1/job/web", &job("web").replace("exec", "docker"));
    // Past a snapshot, then one more namespace in the log after it.
    for n in 0..45 {
        put("/v1/jobs", &job(&format!("filler-{n}")));
    }
    put(
        "/v1/namespace/team-b",
        r#"{"Description":"after the snapshot"}"#,
    );
    kill(server);

    let (server, _) = start(dir.path());
    let (status, body) = server.request("GET", "/v1/namespaces", "").unwrap();
    assert_eq!(status, 200, "{body}");
    let names: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    let names: Vec<_> = names.iter().map(|n| n["Name"].as_str().unwrap()).collect();
    assert_eq!(names, ["default", "team-a", "team-b"]);
    let (status, body) = server.request("GET", "/v1/namespace/team-b", "").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("after the snapshot"), "{body}");
    let (status, body) = server
        .request("GET", "/v1/job/web?namespace=team-a", "")
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""Namespace":"team-a""#) && body.contains("exec"));
    let (_, body) = server.request("GET", "/v1/job/web", "").unwrap();
    assert!(body.contains(r#""Namespace":"default""#) && body.contains("docker"));
    // A namespace holding a job still cannot be deleted; an empty one can.
    let (status, _) = server
        .request("DELETE", "/v1/namespace/team-a", "")
        .unwrap();
    assert_eq!(status, 500);
    let (status, body) = server
        .request("DELETE", "/v1/namespace/team-b", "")
        .unwrap();
    assert_eq!(status, 200, "{body}");
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

/// The `X-Nomad-Index` of an answer's head.
fn head_index(head: &str) -> u64 {
    head.lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("x-nomad-index")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no X-Nomad-Index in {head}"))
}

fn get(server: &Server, path: &str) -> (u16, u64, String, Duration) {
    let mut s = server.connect();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let t = Instant::now();
    let (status, head, body) = request_with_head(&mut s, "GET", path, "").unwrap();
    (status, head_index(&head), body, t.elapsed())
}

/// A client's long-poll, sent again with the index it had before the
/// server restarted, waits for a change as it would have (the index is the
/// same, not reset), and wakes on the next write.
#[test]
fn a_long_poll_sent_again_after_a_restart_waits_for_the_next_change() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = start(dir.path());
    let (status, body) = server.request("PUT", "/v1/jobs", &job("web")).unwrap();
    assert_eq!(status, 200, "{body}");
    server.request("PUT", "/v1/jobs", &job("api")).unwrap();
    let (_, x, before, _) = get(&server, "/v1/job/web");
    kill(server);

    let (server, _) = start(dir.path());
    let (status, again, after, took) = get(&server, &format!("/v1/job/web?index={x}&wait=1s"));
    assert_eq!((status, again), (200, x), "{after}");
    assert!(
        took >= Duration::from_millis(900),
        "returned in {took:?}: no wait"
    );
    assert_eq!(before, after, "the job read differently after the restart");
    // An older index answers at once, and so does one above the store's
    // (a client that saw a newer server: a reset).
    let (_, i, _, took) = get(&server, &format!("/v1/job/web?index={}&wait=10s", x - 1));
    assert!(i == x && took < Duration::from_secs(5), "{i} {took:?}");
    let (_, _, _, took) = get(&server, "/v1/job/web?index=99999999&wait=10s");
    assert!(took < Duration::from_secs(5), "{took:?}");

    let addr = server.addr;
    let poll = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let t = Instant::now();
        let (_, head, _) = request_with_head(
            &mut s,
            "GET",
            &format!("/v1/job/web?index={x}&wait=20s"),
            "",
        )
        .unwrap();
        (head_index(&head), t.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    let changed = job("web").replace(r#""Name":"g","#, r#""Name":"g","Count":2,"#);
    let (status, body) = server.request("PUT", "/v1/jobs", &changed).unwrap();
    assert_eq!(status, 200, "{body}");
    let (woke, took) = poll.join().unwrap();
    assert!(woke > x, "woke at {woke}, not past {x}");
    assert!(
        took < Duration::from_secs(10),
        "the write did not wake it: {took:?}"
    );
}

/// A small tmpfs mounted for a test, unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    /// None when this machine does not let the test mount one (not root).
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs(dir))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.0.path())
            .status();
    }
}

/// Fills the file system under `path` with a file; answers its path.
fn fill(path: &Path) -> std::path::PathBuf {
    use std::io::Write;
    let junk = path.join("junk");
    let mut f = std::fs::File::create(&junk).unwrap();
    let block = vec![0u8; 64 << 10];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
    junk
}

/// A disk that fills: writes are refused with 500 and say why, reads go
/// on, and writes resume once space is freed, without a restart; then a
/// restart has every write answered 200 and none answered 500. On a real
/// (tmpfs) file system; the same with injected faults, and a read-only
/// file system, is in `durable/tests/durable.rs`.
#[test]
fn a_full_disk_refuses_writes_with_500_until_space_returns() {
    let Some(fs) = Tmpfs::mount("16m") else {
        eprintln!("cannot mount a tmpfs here (needs root): the injected-fault tests cover this");
        return;
    };
    let data = fs.path().join("data");
    let (server, _, log) = start_logged(&data);
    let mut s = server.connect();
    let mut ok = Vec::new();
    for n in 0..20 {
        let id = format!("before-{n}");
        assert_eq!(
            request_on(&mut s, "PUT", "/v1/jobs", &job(&id)).unwrap().0,
            200
        );
        ok.push(id);
    }
    let junk = fill(fs.path());
    let mut refused = Vec::new();
    let mut message = String::new();
    for n in 0..5000 {
        let id = format!("full-{n}");
        let (status, body) = request_on(&mut s, "PUT", "/v1/jobs", &job(&id)).unwrap();
        match status {
            200 => ok.push(id),
            500 => {
                refused.push(id);
                message = body;
                if refused.len() == 3 {
                    break;
                }
            }
            other => panic!("{id}: {other} {body}"),
        }
    }
    assert!(!refused.is_empty(), "a full disk refused no write");
    assert!(
        message.to_lowercase().contains("no space left on device"),
        "the refusal does not say why: {message}"
    );
    // Reads go on, and a refused write is not visible.
    assert_eq!(
        request_on(&mut s, "GET", "/v1/job/before-0", "").unwrap().0,
        200
    );
    assert_eq!(
        request_on(&mut s, "GET", &format!("/v1/job/{}", refused[0]), "")
            .unwrap()
            .0,
        404
    );

    std::fs::remove_file(&junk).unwrap();
    let (status, body) = request_on(&mut s, "PUT", "/v1/jobs", &job("resumed")).unwrap();
    assert_eq!(
        status, 200,
        "writes did not resume once space returned: {body}"
    );
    ok.push("resumed".into());
    eprintln!("server log during the fault:\n{}", log.lock().unwrap());
    kill(server);

    let (server, _) = start(&data);
    assert_present(&server, &ok);
    for id in &refused {
        let got = server.request("GET", &format!("/v1/job/{id}"), "").unwrap();
        assert_eq!(
            got.0, 404,
            "{id}, refused with 500, is there after a restart"
        );
    }
}

/// A data directory on a read-only file system: the server refuses to
/// start, saying which directory and why, rather than serving writes it
/// cannot keep.
#[test]
fn a_read_only_data_directory_refuses_to_start_with_a_clear_error() {
    let Some(fs) = Tmpfs::mount("4m") else {
        eprintln!("cannot mount a tmpfs here (needs root): the injected-fault tests cover this");
        return;
    };
    let data = fs.path().join("data");
    let (server, _) = start(&data);
    assert_eq!(
        server.request("PUT", "/v1/jobs", &job("web")).unwrap().0,
        200
    );
    kill(server);
    let ro = std::process::Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(fs.path())
        .status()
        .unwrap();
    assert!(ro.success());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ordu-http"))
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success(), "it started on a read-only directory");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&data.display().to_string()), "{err}");
    assert!(err.to_lowercase().contains("read-only"), "{err}");
}
