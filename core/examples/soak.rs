//! Memory soak: what the store keeps resident, not how fast it is.
//!
//! * `--reregisters N` (default 1,000,000): the same small job registered
//!   again and again in manual mode, processed in groups as ordu-http's
//!   grouped writes are, with `collect_canceled` on a cadence standing in for
//!   ordu-http's ticker. Prints the resident set as it goes and at the end.
//! * `--big`: jobs whose body is 8 MiB of an unknown field `"X":[0,0,…]`,
//!   registered under distinct IDs; prints what each one adds to the
//!   resident set (the first also warms the allocator, so read the later
//!   ones).
//!
//! Not run in CI.
//!
//! ```text
//! cargo run --release -p ordu --example soak [-- --reregisters N] [--big]
//! ```

use ordu::{Config, SchedulingMode, Store};

#[path = "../benches/support/reregister.rs"]
mod workload;

/// Writes between two `process_ready` calls (a group of concurrent writes).
const GROUP: usize = 64;
/// Writes between two `collect_canceled` calls (ordu-http's one-second tick
/// at a few hundred thousand writes a second would be coarser still).
const COLLECT_EVERY: usize = 10_000;

/// The resident set in bytes, from /proc (Linux only; 0 elsewhere).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// Manual mode: the soak processes evaluations in groups itself.
fn store() -> Store {
    workload::store(Config {
        mode: SchedulingMode::Manual,
        ..Config::default()
    })
}

fn reregisters(count: usize) {
    let s = store();
    let start = rss();
    println!("re-registers: start {:.1} MB", mb(start));
    let report = (count / 10).max(1);
    for i in 1..=count {
        workload::reregister(&s);
        if i % GROUP == 0 {
            s.process_ready();
        }
        if i % COLLECT_EVERY == 0 {
            s.collect_canceled().unwrap();
        }
        if i % report == 0 {
            println!("re-registers {i:>8}: RSS {:.1} MB", mb(rss()));
        }
    }
    s.process_ready();
    s.collect_canceled().unwrap();
    let end = rss();
    println!(
        "re-registers: end RSS {:.1} MB ({:.1} MB over the start)",
        mb(end),
        mb(end.saturating_sub(start))
    );
}

fn big() {
    let s = store();
    // Just under the default 8 MiB body limit.
    let zeros = vec!["0"; (4 << 20) - 128].join(",");
    for i in 0..4 {
        let body = format!(
            r#"{{"Job": {{"ID": "big-{i}", "Datacenters": ["dc1"], "X": [{zeros}],
             "TaskGroups": [{{"Name": "g", "Tasks": [{{"Name": "t", "Driver": "exec"}}]}}]}}}}"#
        );
        let before = rss();
        ordu::host::register_job_at(
            &s,
            None,
            body.as_bytes(),
            &ordu::host::write_options(None, None),
        )
        .unwrap();
        s.process_ready();
        let after = rss();
        println!(
            "big job {i}: body {:.1} MB, RSS +{:.1} MB ({:.1}x), total {:.1} MB",
            mb(body.len() as u64),
            mb(after.saturating_sub(before)),
            after.saturating_sub(before) as f64 / body.len() as f64,
            mb(after)
        );
    }
}

fn main() {
    let mut count = 1_000_000usize;
    let mut run_big = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--reregisters" => {
                count = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--reregisters N")
            }
            "--big" => run_big = true,
            other => panic!("unknown argument {other:?}"),
        }
    }
    if run_big {
        big();
    } else {
        reregisters(count);
    }
}
