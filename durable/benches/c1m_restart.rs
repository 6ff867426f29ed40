//! Restart of a durable data directory holding the C1M state: 1,000 service
//! jobs of 1,000 allocations each on 5,000 nodes (the core's `c1m` bench
//! builds it), as a snapshot plus a tail of log entries after it.
//!
//! ```text
//! cargo bench -p ordu-durable --bench c1m_restart --no-run   # build
//! C1M_SCALE=1 target/release/deps/c1m_restart-<hash>          # full size
//! ```
//!
//! One process builds the directory (schedules the state in memory, puts
//! it in the directory, snapshots it, then writes the tail through the
//! durable log); then `C1M_RUNS` (default 3) fresh processes each open the
//! directory and recover the store, as a server starting does. Each reopen
//! is in its own process so that its peak RSS is its own. It prints each
//! reopen's wall time (split into opening the database and recovering the
//! store), CPU time of the whole process, and peak RSS, their medians, the
//! directory's size on disk, and checks that every reopened state has the
//! built one's index and counts.
//!
//! `C1M_SCALE` (default 1) scales the nodes and jobs. `C1M_DIR` keeps the
//! directory there (its figures in `<dir>.expected`) and reuses it when it
//! exists, so that two binaries can reopen the same directory in turn.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ordu::State;
use ordu_durable::{Durable, Options};

#[path = "../../core/benches/support/c1m.rs"]
mod c1m;
use c1m::{config, env_f64, job_of, node, register, run, setup, status_kb, JOBS, NODES};

/// The tail written after the snapshot: nodes joining, and small jobs
/// registered and placed (their plans are entries too).
const TAIL_NODES: usize = 50;
const TAIL_JOBS: usize = 20;
const TAIL_COUNT: i64 = 10;

/// What the reopened state must match: index, counts, and a sum over the
/// allocations that a lost or doubled one would change.
fn summary(s: &State) -> String {
    let live = s.allocs().filter(|a| !a.is_terminal()).count();
    let sum = s.allocs().fold(0u64, |acc, a| {
        acc.wrapping_add(a.create_index ^ a.name.len() as u64)
    });
    format!(
        "index {} jobs {} evals {} allocs {} live {} nodes {} sum {}",
        s.index(),
        s.job_count(),
        s.eval_count(),
        s.alloc_count(),
        live,
        s.nodes().count(),
        sum
    )
}

/// Seconds on a CPU of every thread of this process, from `/proc/self/stat`
/// (in clock ticks of 1/100 s, Linux's `USER_HZ`).
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The fields after the command's name, which is in parentheses.
    let rest = &stat[stat.rfind(')').expect("stat") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime");
    ticks as f64 / 100.0
}

fn opts() -> Options {
    Options {
        // The directory holds the one snapshot the build takes.
        snapshot_every: 0,
        snapshot_bytes: 0,
        ..Options::default()
    }
}

fn build(dir: &Path, scale: f64) {
    let nodes = ((NODES * scale).round() as usize).max(1);
    let jobs = ((JOBS * scale).round() as usize).max(1);
    let t = Instant::now();
    let built = setup(nodes, jobs, false);
    run(&built);
    let state = built.with_state(|s| s.clone());
    drop(built);
    println!(
        "built {nodes} nodes, {jobs} jobs, {} allocations in {:.1} s",
        state.alloc_count(),
        t.elapsed().as_secs_f64()
    );
    let durable = Durable::open(dir, opts()).expect("open the directory");
    let rec = durable.store(config()).expect("recover an empty directory");
    rec.store.restore(state);
    let t = Instant::now();
    let at = durable.snapshot_now().expect("snapshot");
    println!(
        "snapshot at index {at} in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    for i in 0..TAIL_NODES {
        rec.store
            .register_node(node(nodes + i))
            .expect("register node");
    }
    for i in 0..TAIL_JOBS {
        register(&rec.store, job_of(jobs + i, TAIL_COUNT));
    }
    run(&rec.store);
    let tail = durable.entry_count().expect("entries");
    assert!(tail > 0, "the log holds a tail after the snapshot");
    assert_eq!(durable.snapshot_index(), at, "no other snapshot was taken");
    println!("log tail: {tail} entries after the snapshot");
    println!("c1m-expected {}", rec.store.with_state(summary));
}

fn reopen(dir: &Path) {
    let cpu0 = cpu_s();
    let t = Instant::now();
    let durable = Durable::open(dir, Options::default()).expect("open");
    let opened = t.elapsed();
    let rec = durable.store(config()).expect("recover");
    let wall = t.elapsed();
    let cpu = cpu_s() - cpu0;
    let hwm = status_kb("VmHWM:") / 1024;
    println!(
        "c1m-reopen {:.6} {:.6} {cpu:.2} {hwm} {} {}",
        wall.as_secs_f64(),
        opened.as_secs_f64(),
        rec.replayed,
        rec.store.with_state(summary)
    );
    // The state's teardown is no part of a restart.
    std::process::exit(0);
}

/// Bytes the directory's files take on disk (allocated blocks), and their length.
fn disk_size(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(dir)
        .expect("read the directory")
        .map(|e| e.expect("entry").metadata().expect("metadata"))
        .fold((0, 0), |(b, l), m| (b + m.blocks() * 512, l + m.len()))
}

fn child(role: &str, dir: &Path) -> String {
    let out = Command::new(std::env::current_exe().expect("own path"))
        .env("C1M_RESTART_ROLE", role)
        .env("C1M_RESTART_DIR", dir)
        .output()
        .expect("run the bench again");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{role} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let scale = env_f64("C1M_SCALE", 1.0).clamp(0.0001, 10.0);
    let runs = env_f64("C1M_RUNS", 3.0).max(1.0) as usize;
    if let Ok(role) = std::env::var("C1M_RESTART_ROLE") {
        let dir = PathBuf::from(std::env::var("C1M_RESTART_DIR").expect("a directory"));
        return match role.as_str() {
            "build" => build(&dir, scale),
            _ => reopen(&dir),
        };
    }
    let tmp;
    let dir = match std::env::var("C1M_DIR") {
        Ok(d) => PathBuf::from(d),
        Err(_) => {
            tmp = tempfile::tempdir().expect("a temporary directory");
            tmp.path().join("data")
        }
    };
    let expected_file = dir.with_extension("expected");
    let expected = if dir.join(ordu_durable::DB_FILE).exists() && expected_file.exists() {
        println!("reusing {}", dir.display());
        std::fs::read_to_string(&expected_file).expect("expected figures")
    } else {
        println!("c1m restart: C1M_SCALE={scale}, building {}", dir.display());
        let text = child("build", &dir);
        print!(
            "{}",
            text.lines()
                .filter(|l| !l.starts_with("c1m-"))
                .map(|l| format!("  {l}\n"))
                .collect::<String>()
        );
        let e = text
            .lines()
            .find_map(|l| l.strip_prefix("c1m-expected "))
            .expect("the build reports its state")
            .to_string();
        std::fs::write(&expected_file, &e).expect("write the expected figures");
        e
    };
    let (blocks, len) = disk_size(&dir);
    println!(
        "data directory: {:.0} MB on disk ({:.0} MB of files)",
        mb(blocks),
        mb(len)
    );
    let (mut walls, mut cpus, mut hwm) = (Vec::new(), Vec::new(), 0u64);
    for r in 0..runs {
        let text = child("reopen", &dir);
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("c1m-reopen "))
            .expect("the reopen reports");
        let f: Vec<&str> = line.splitn(6, ' ').collect();
        let (wall, opened, cpu): (f64, f64, f64) = (
            f[0].parse().unwrap(),
            f[1].parse().unwrap(),
            f[2].parse().unwrap(),
        );
        let peak: u64 = f[3].parse().unwrap();
        assert_eq!(
            f[5], expected,
            "reopen {r}: the state recovered is the one built"
        );
        println!(
            "reopen {r}: {wall:.3} s wall (database {opened:.3} s, store {:.3} s; {} entries replayed), {cpu:.2} s CPU, peak RSS {peak} MB",
            wall - opened,
            f[4]
        );
        walls.push(wall);
        cpus.push(cpu);
        hwm = hwm.max(peak);
    }
    println!(
        "median of {runs}: {:.3} s wall, {:.2} s CPU; peak RSS (VmHWM) {hwm} MB; {:.0} MB on disk; state {expected}",
        median(walls),
        median(cpus),
        mb(blocks)
    );
}
