//! Durable write throughput against the machine's own sync rate (issue 13).
//!
//! First it measures how many small appends a second this disk can sync
//! (`fdatasync` after each 64-byte write, in the data directory's
//! filesystem); then, for 1, 8 and 64 keep-alive connections (each its own
//! job, re-registered), it runs the load on an in-memory `ordu-http` and
//! then on one with `--data-dir`, and prints writes answered 200 per second
//! for both, their ratios to each other and to the sync rate, and the
//! durable log's commits per second and entries per commit (its batch;
//! commits/s over all steps' wall time, warm-up included). Group commit is what lets the 64-connection figure pass the sync
//! rate: the writes that wait for one sync share the next.
//!
//! ```text
//! cargo build --release -p ordu-http --example durable_bench
//! target/release/examples/durable_bench [SECONDS_PER_STEP] [DIR] [FLAGS...]   # default 3, a temp dir
//! ```
//!
//! FLAGS go to the durable server (`--commit-delay 0`, to compare). The
//! "bound" column is what a durable server could answer at most if a
//! write cost nothing beyond the in-memory server's work and its share of
//! syncs (one whole sync on one connection).
//!
//! It runs `target/release/ordu-http` (build it first).

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "load.rs"]
mod load;
use load::throughput;

fn sync_rate(dir: &Path, for_how_long: Duration) -> std::io::Result<f64> {
    let path = dir.join("sync-probe");
    let mut f = std::fs::File::create(&path)?;
    let chunk = [7u8; 64];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < for_how_long {
        f.write_all(&chunk)?;
        f.sync_data()?;
        n += 1;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(rate)
}

/// Starts `ordu-http` on `port`, durable in `dir` (with `flags`) when given.
fn start_server(bin: &Path, dir: Option<(&Path, &[String])>, port: u16) -> Child {
    let mut cmd = Command::new(bin);
    cmd.args(["--addr", &format!("127.0.0.1:{port}"), "--demo-nodes", "3"]);
    if let Some((dir, flags)) = dir {
        cmd.arg("--data-dir").arg(dir).args(flags);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
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

/// Stops the server with SIGTERM; answers its commits and entries from the
/// line it prints on the way out (none for an in-memory one).
fn stop_server(child: Child) -> Option<(u64, u64)> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err.lines().find(|l| l.contains("durable log: "))?;
    let mut words = line.split("durable log: ").nth(1)?.split_whitespace();
    let entries = words.next()?.parse().ok()?;
    let commits = words.nth(2)?.parse().ok()?;
    Some((commits, entries))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(3.0);
    let dir: PathBuf = args.next().map(PathBuf::from).unwrap_or_else(|| {
        std::env::temp_dir().join(format!("ordu-durable-bench-{}", std::process::id()))
    });
    // The rest are flags of the durable server (`--commit-delay 0`, say).
    let flags: Vec<String> = args.collect();
    std::fs::create_dir_all(&dir).expect("data dir");
    let bin = std::env::current_exe()
        .expect("own path")
        .parent()
        .and_then(Path::parent)
        .expect("target/release")
        .join("ordu-http");

    let rate = sync_rate(&dir, Duration::from_secs(2)).expect("sync probe");
    println!(
        "sync rate: {rate:.0} fdatasync/s (64-byte appends, {})",
        dir.display()
    );
    println!("conns | in-memory /s | durable /s | durable/in-memory | durable/sync rate | bound/sync rate | commits/s | entries/commit");
    let port = 4900 + (std::process::id() % 500) as u16;
    for conns in [1, 8, 64] {
        // Side by side: the same load on an in-memory server, then on a
        // durable one in a fresh directory.
        let server = start_server(&bin, None, port);
        let memory = throughput(port, conns, secs);
        stop_server(server);
        let data = dir.join(format!("data-{conns}"));
        let server = start_server(&bin, Some((&data, &flags)), port);
        let started = Instant::now();
        let durable = throughput(port, conns, secs);
        let (commits, entries) = stop_server(server).unwrap_or((0, 0));
        let commit_rate = commits as f64 / started.elapsed().as_secs_f64();
        // The most a durable server could answer with no cost of its own
        // beyond the in-memory one's: on one connection each write is its
        // work then one sync, in turn; on many, group commit takes the
        // disk out of the bound and the in-memory rate is all that is left.
        let bound = if conns == 1 {
            1.0 / (1.0 / memory + 1.0 / rate)
        } else {
            memory
        };
        println!(
            "{conns:>5} | {memory:>12.0} | {durable:>10.0} | {:>17.2} | {:>17.2} | {:>15.2} | {commit_rate:>9.0} | {:>14.2}",
            durable / memory,
            durable / rate,
            bound / rate,
            entries as f64 / commits.max(1) as f64
        );
        let _ = std::fs::remove_dir_all(&data);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
