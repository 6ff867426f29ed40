//! C1M in the shape of Nomad's "million container challenge": 5,000 nodes,
//! 1,000 service jobs of 1,000 allocations each, 1,000,000 placements.
//!
//! The nodes and jobs (and their pending evaluations) are written first, in
//! manual scheduling mode, outside the timed part. The timed part dequeues
//! every evaluation and processes it (schedule + apply the plan), as a host's
//! worker would. It prints the elapsed time, placements per second, and the
//! process's peak resident memory (`VmHWM`).
//!
//! ```text
//! cargo bench -p ordu --bench c1m --no-run        # build
//! C1M_SCALE=1 target/release/deps/c1m-<hash>      # full size
//! ```
//!
//! `C1M_SCALE` (default 0.05) scales the number of nodes and jobs; every job
//! keeps 1,000 allocations. `C1M_RUNS` (default 1) repeats the whole run, each
//! in a fresh process, and reports the medians. `C1M_IDS=sequential` uses
//! counter IDs instead of random UUIDs. After the run it snapshots the
//! state, restores it into a fresh store and reports the snapshot's size,
//! both times and the state's live heap before and after (`C1M_SNAPSHOT=0`
//! skips this).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ordu::{Config, SchedulingMode, Store};

#[path = "support/c1m.rs"]
mod c1m;
use c1m::{env_f64, run, setup, status_kb, COUNT, JOBS, NODES};

/// The system allocator, counting the bytes live on the heap, so the figures
/// tell the data's size apart from the allocator's overhead.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Nanoseconds this thread has run on a CPU (`/proc/thread-self/schedstat`):
/// on a shared machine, wall time also counts other processes' turns.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Snapshots the scheduled state, drops it, restores it into a new store,
/// and prints the snapshot's size, both times, and the live heap of the
/// state before and after (the snapshot's own bytes not counted).
fn snapshot_and_restore(store: Store) {
    let live_before = LIVE.load(Ordering::Relaxed);
    let t = Instant::now();
    let snap = store.snapshot();
    let snapshot_time = t.elapsed();
    drop(store);
    // The snapshot's buffer counts what it holds, spare room included.
    let live_empty = LIVE.load(Ordering::Relaxed) - snap.capacity();
    let t = Instant::now();
    let restored = Store::new(Config {
        mode: SchedulingMode::Manual,
        ..Config::default()
    });
    restored.restore_snapshot(&snap).expect("restore");
    let restore_time = t.elapsed();
    let live_after = LIVE.load(Ordering::Relaxed) - snap.capacity();
    let same = restored.snapshot() == snap;
    assert!(same, "the restored state snapshots to the same bytes");
    let state = |live: usize| (live - live_empty) as f64 / (1 << 20) as f64;
    println!(
        "snapshot: {:.1} MB in {:.3} s; restore {:.3} s; state heap before {:.0} MB, after restore {:.0} MB ({:.2}x); peak RSS (VmHWM) {} MB",
        snap.len() as f64 / (1 << 20) as f64,
        snapshot_time.as_secs_f64(),
        restore_time.as_secs_f64(),
        state(live_before),
        state(live_after),
        state(live_after) / state(live_before),
        status_kb("VmHWM:") / 1024,
    );
}

/// Runs each repetition in a fresh process: a second run in the same
/// process starts from the first one's fragmented heap and is slower than a
/// host starting up would be. Prints the medians and the largest peak RSS.
fn fresh_processes(runs: usize, want: usize) {
    let exe = std::env::current_exe().expect("own path");
    let (mut walls, mut cpus, mut hwm) = (Vec::new(), Vec::new(), 0u64);
    for r in 0..runs {
        let out = std::process::Command::new(&exe)
            .env("C1M_RUNS", "1")
            .output()
            .expect("run the bench again");
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines().filter(|l| l.starts_with("run ")) {
            println!(
                "run {r}:{}",
                line.split_once(':').map_or("", |(_, rest)| rest)
            );
        }
        let result = text
            .lines()
            .find_map(|l| l.strip_prefix("c1m-result "))
            .expect("the run reports its result");
        let f: Vec<&str> = result.split_whitespace().collect();
        walls.push(f[0].parse::<f64>().expect("wall"));
        cpus.push(f[1].parse::<f64>().expect("cpu"));
        hwm = hwm.max(f[2].parse().expect("hwm"));
    }
    walls.sort_by(f64::total_cmp);
    cpus.sort_by(f64::total_cmp);
    let (wall, cpu) = (walls[runs / 2], cpus[runs / 2]);
    println!(
        "median of {runs} fresh processes: {wall:.3} s wall ({:.0} placements/s), {cpu:.3} s on CPU ({:.0} placements/s); peak RSS (VmHWM) {hwm} MB",
        want as f64 / wall,
        want as f64 / cpu,
    );
}

fn main() {
    let scale = env_f64("C1M_SCALE", 0.05).clamp(0.0001, 10.0);
    let runs = env_f64("C1M_RUNS", 1.0).max(1.0) as usize;
    let nodes = ((NODES * scale).round() as usize).max(1);
    let jobs = ((JOBS * scale).round() as usize).max(1);
    let want = jobs * COUNT as usize;
    // Random UUIDs as Nomad mints them, unless C1M_IDS=sequential.
    let sequential = std::env::var("C1M_IDS").is_ok_and(|v| v == "sequential");
    println!(
        "c1m: {nodes} nodes, {jobs} jobs x {COUNT} allocations = {want} placements, {runs} run(s)"
    );
    if runs > 1 {
        return fresh_processes(runs, want);
    }
    let mut times = Vec::new();
    let mut cpus = Vec::new();
    for r in 0..runs {
        let t = Instant::now();
        let store = setup(nodes, jobs, sequential);
        let setup_time = t.elapsed();
        let rss_before = status_kb("VmRSS:");
        let t = Instant::now();
        let cpu0 = cpu_ns();
        run(&store);
        let elapsed = t.elapsed();
        let cpu = Duration::from_nanos(cpu_ns() - cpu0);
        let placed = store.with_state(|s| s.allocs().filter(|a| !a.is_terminal()).count());
        assert_eq!(placed, want, "every allocation placed");
        let failed = store.with_state(|s| {
            s.evals()
                .filter(|e| !e.failed_tg_allocs.is_empty() || e.status != "complete")
                .count()
        });
        assert_eq!(failed, 0, "every evaluation complete without failures");
        println!(
            "run {r}: setup {:.2?}, scheduled {placed} in {:.3} s wall, {:.3} s on CPU ({:.0} placements/s); RSS before {} MB, after {} MB; heap live {} MB",
            setup_time,
            elapsed.as_secs_f64(),
            cpu.as_secs_f64(),
            placed as f64 / elapsed.as_secs_f64(),
            rss_before / 1024,
            status_kb("VmRSS:") / 1024,
            LIVE.load(Ordering::Relaxed) >> 20,
        );
        let (evaluated, exhausted) = store.with_state(|s| {
            s.allocs().fold((0u64, 0u64), |(e, x), a| {
                (e + a.metrics.nodes_evaluated, x + a.metrics.nodes_exhausted)
            })
        });
        println!(
            "  per placement: {:.1} nodes evaluated, {:.1} exhausted",
            evaluated as f64 / placed as f64,
            exhausted as f64 / placed as f64
        );
        times.push(elapsed);
        cpus.push(cpu);
        if std::env::var("C1M_SNAPSHOT").map_or(true, |v| v != "0") {
            snapshot_and_restore(store);
        } else {
            drop(store);
        }
    }
    println!(
        "c1m-result {:.6} {:.6} {}",
        times[0].as_secs_f64(),
        cpus[0].as_secs_f64(),
        status_kb("VmHWM:") / 1024
    );
    times.sort();
    cpus.sort();
    let median = times[times.len() / 2];
    let median_cpu = cpus[cpus.len() / 2];
    println!(
        "median {:.3} s wall ({:.0} placements/s), {:.3} s on CPU ({:.0} placements/s); peak RSS (VmHWM) {} MB",
        median.as_secs_f64(),
        want as f64 / median.as_secs_f64(),
        median_cpu.as_secs_f64(),
        want as f64 / median_cpu.as_secs_f64(),
        status_kb("VmHWM:") / 1024
    );
}
