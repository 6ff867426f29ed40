//! The write path the HTTP front end's re-register load exercises: the same
//! small service job (2 allocations on 3 nodes) registered again and again
//! from its JSON body, inline scheduling included. Prints the median cost of
//! one re-register per window of the run (evaluations pile up on the job as
//! it goes), on 1 thread and on 8 threads sharing the store.
//!
//! ```text
//! cargo bench -p ordu --bench reregister --no-run
//! target/release/deps/reregister-<hash> [--count N] [--one-thread]
//! ```

use std::sync::Arc;
use std::time::Instant;

use ordu::{Config, Store};

#[path = "support/reregister.rs"]
mod workload;
use workload::reregister;

/// Inline scheduling, the job registered once.
fn store() -> Arc<Store> {
    let s = Arc::new(workload::store(Config::default()));
    reregister(&s);
    s
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut count = 100_000usize;
    let mut threads = true;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--count" => count = args.next().and_then(|v| v.parse().ok()).expect("--count N"),
            "--one-thread" => threads = false,
            // cargo bench passes --bench
            _ => {}
        }
    }
    // One thread: per-window medians of batches of 100.
    let s = store();
    let windows = 5;
    let per = count / windows;
    for w in 0..windows {
        let mut batches = Vec::new();
        for _ in 0..per / 100 {
            let t = Instant::now();
            for _ in 0..100 {
                reregister(&s);
            }
            batches.push(t.elapsed().as_secs_f64() * 1e6 / 100.0);
        }
        println!(
            "1 thread, re-registers {:>7}..{:>7}: median {:.2} µs",
            w * per,
            (w + 1) * per,
            median(batches)
        );
    }
    if !threads {
        return;
    }
    // 8 threads on a fresh store: throughput.
    let s = store();
    let t = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                for _ in 0..count / 8 {
                    reregister(&s);
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "8 threads: {} re-registers in {:.2} s: {:.0}/s, {:.2} µs each",
        count,
        secs,
        count as f64 / secs,
        secs * 1e6 / count as f64
    );
}
