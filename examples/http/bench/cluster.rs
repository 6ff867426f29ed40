//! Writes through a three-server Raft cluster (issue 14), side by side with
//! one durable server: re-registers per second at 8 and 64 keep-alive
//! connections (each its own job), sent to the leader and dealt round all
//! three servers (followers forward); then the C1M shape (1,000 jobs of
//! 1,000 allocations on 5,000 nodes at scale 1) placed through the cluster.
//!
//! ```text
//! cargo build --release -p ordu-http --example cluster_bench && cargo build --release -p ordu-http
//! target/release/examples/cluster_bench [SECONDS_PER_STEP] [DIR] [C1M_SCALE]   # default 3, a temp dir, 0.1
//! ```
//!
//! It runs `target/release/ordu-http` (build it first). C1M_SCALE 0 skips
//! the C1M step.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "load.rs"]
mod load;
use load::throughput_on;

/// Starts a server; its stderr goes to `log`.
fn start(bin: &Path, args: &[String], log: &Path) -> Child {
    let err = std::fs::File::create(log).expect("server log");
    Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .expect("start ordu-http (build it with cargo build --release -p ordu-http)")
}

fn stop(children: Vec<Child>) {
    for c in &children {
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
    }
    for mut c in children {
        let _ = c.wait();
    }
}

/// One request on a new connection: status and body.
fn request(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(120))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split(' ').nth(1)?.parse().ok()?;
    let body = out.split_once("\r\n\r\n").map(|x| x.1.to_string())?;
    Some((status, body))
}

fn wait_listening(port: u16) {
    for _ in 0..400 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("nothing listens on {port}");
}

/// The HTTP port of the server all of `ports` name leader.
fn leader(ports: &[u16], raft_of: impl Fn(u16) -> String) -> u16 {
    for _ in 0..400 {
        let named: Vec<String> = ports
            .iter()
            .filter_map(|p| request(*p, "GET", "/v1/status/leader", ""))
            .map(|(_, b)| b.trim().trim_matches('"').to_string())
            .collect();
        if named.len() == ports.len()
            && !named[0].is_empty()
            && named.iter().all(|n| *n == named[0])
        {
            if let Some(p) = ports.iter().find(|p| raft_of(**p) == named[0]) {
                return *p;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the cluster elected no leader");
}

fn node_body(n: usize) -> String {
    format!(
        r#"{{"Node":{{"ID":"c1m00000-0000-4000-8000-{n:012x}","Name":"c1m-{n}","Datacenter":"dc1","Status":"ready","Attributes":{{"kernel.name":"linux","driver.docker":"1"}},"Resources":{{"CPU":64000,"MemoryMB":262144,"DiskMB":2000000}}}}}}"#
    )
}

fn c1m_job(n: usize, count: usize) -> String {
    format!(
        r#"{{"Job":{{"ID":"c1m-{n}","Name":"c1m-{n}","Type":"service","Datacenters":["dc1"],"TaskGroups":[{{"Name":"g","Count":{count},"Tasks":[{{"Name":"t","Driver":"docker","Resources":{{"CPU":100,"MemoryMB":64}}}}]}}]}}}}"#
    )
}

/// Writes sent again after a refusal (a leader change).
static RETRIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Sends `bodies` to `port` at `path(i)` over `conns` connections at once.
fn send_all(
    port: u16,
    conns: usize,
    n: usize,
    path: impl Fn(usize) -> String + Sync,
    body: impl Fn(usize) -> String + Sync,
) {
    std::thread::scope(|s| {
        for c in 0..conns {
            let (path, body) = (&path, &body);
            s.spawn(move || {
                for i in (c..n).step_by(conns) {
                    // A leader change refuses the writes in flight (500):
                    // sent again, as a client would.
                    let mut tries = 0;
                    loop {
                        let (status, text) =
                            request(port, "PUT", &path(i), &body(i)).expect("answered");
                        if status == 200 {
                            break;
                        }
                        tries += 1;
                        assert!(status == 500 && tries < 50, "{}: {status} {text}", path(i));
                        RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            });
        }
    });
}

/// A server's Raft term: how many elections the cluster has had.
fn term(port: u16) -> u64 {
    let Some((200, body)) = request(port, "GET", "/v1/agent/self", "") else {
        return 0;
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["stats"]["raft"]["term"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn allocations(port: u16) -> u64 {
    let Some((200, body)) = request(port, "GET", "/v1/agent/self", "") else {
        return 0;
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["stats"]["ordu"]["allocations"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(3.0);
    let dir: PathBuf = args.next().map(PathBuf::from).unwrap_or_else(|| {
        std::env::temp_dir().join(format!("ordu-cluster-bench-{}", std::process::id()))
    });
    // A directory of its own each run (the servers' logs stay there).
    let dir = dir.join(format!("run-{}", std::process::id()));
    let scale: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(0.1);
    let bin = std::env::current_exe()
        .expect("own path")
        .parent()
        .and_then(Path::parent)
        .expect("target/release")
        .join("ordu-http");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let base = 5100 + (std::process::id() % 400) as u16 * 2;

    // One durable server.
    let single = base;
    let one = start(
        &bin,
        &[
            "--addr".into(),
            format!("127.0.0.1:{single}"),
            "--demo-nodes".into(),
            "3".into(),
            "--data-dir".into(),
            dir.join("single").display().to_string(),
        ],
        &dir.join("single.log"),
    );
    wait_listening(single);
    let mut rows = Vec::new();
    for conns in [8, 64] {
        rows.push((conns, throughput_on(&[single], conns, secs)));
    }
    stop(vec![one]);

    // Three servers.
    let http: Vec<u16> = (0..3).map(|i| base + 10 + i * 10).collect();
    let raft = |p: u16| format!("127.0.0.1:{}", p + 1);
    let servers: Vec<String> = http
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            [
                "--server".to_string(),
                format!("{}={}=127.0.0.1:{p}", i + 1, raft(*p)),
            ]
        })
        .collect();
    let cluster: Vec<Child> = http
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut a = vec![
                "--addr".to_string(),
                format!("127.0.0.1:{p}"),
                "--server-id".into(),
                (i + 1).to_string(),
                "--raft-addr".into(),
                raft(*p),
                "--data-dir".into(),
                dir.join(format!("s{}", i + 1)).display().to_string(),
                "--demo-nodes".into(),
                "3".into(),
            ];
            a.extend(servers.iter().cloned());
            start(&bin, &a, &dir.join(format!("s{}.log", i + 1)))
        })
        .collect();
    for p in &http {
        wait_listening(*p);
    }
    let lead = leader(&http, raft);
    std::thread::sleep(Duration::from_millis(500));
    println!("one durable server against the three-server cluster (re-registers answered 200 per second):");
    println!("conns | one server | cluster, at the leader | cluster, round all three | leader/one");
    for (conns, single) in rows {
        let at_leader = throughput_on(&[lead], conns, secs);
        let round = throughput_on(&http, conns, secs);
        println!(
            "{conns:>5} | {single:>10.0} | {at_leader:>22.0} | {round:>24.0} | {:>10.2}",
            at_leader / single
        );
    }

    if scale > 0.0 {
        let nodes = ((5000.0 * scale) as usize).max(1);
        let jobs = ((1000.0 * scale) as usize).max(1);
        let count = 1000;
        let before = allocations(lead);
        let t = Instant::now();
        send_all(
            lead,
            16,
            nodes,
            |i| format!("/v1/node/c1m00000-0000-4000-8000-{i:012x}"),
            node_body,
        );
        let nodes_took = t.elapsed();
        send_all(
            lead,
            16,
            jobs,
            |i| format!("/v1/job/c1m-{i}"),
            |i| c1m_job(i, count),
        );
        let want = before + (jobs * count) as u64;
        while allocations(lead) < want {
            assert!(
                t.elapsed() < Duration::from_secs(1800),
                "C1M did not finish in 30 minutes"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let placed = t.elapsed();
        // Every server holds them.
        for p in &http {
            while allocations(*p) < want {
                assert!(
                    t.elapsed() < Duration::from_secs(1900),
                    "a follower never caught up"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        println!(
            "C1M shape at scale {scale}: {nodes} nodes, {jobs} jobs of {count}: nodes registered in {:.1} s, \
             {} allocations placed through the cluster in {:.1} s, on every server after {:.1} s \
             ({} writes sent again after a leader change)",
            nodes_took.as_secs_f64(),
            jobs * count,
            placed.as_secs_f64(),
            t.elapsed().as_secs_f64(),
            RETRIES.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
    println!(
        "Raft term at the end: {} (1 is no leader change)",
        term(http[0])
    );
    stop(cluster);
}
