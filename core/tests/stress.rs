//! Concurrency under stress (SPEC "Blocking reads": subscribe before reading,
//! no lost wake-ups, per-key wakes): 8 writer threads and 1,000 blocked
//! waiters on distinct and shared keys. Every waiter whose key changed wakes
//! with an index above its `min_index`; none wakes for another key's write;
//! none is lost.

mod support;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ordu::Store;
use support::*;

/// 500 jobs with one waiter each, 100 jobs with five waiters each.
const DISTINCT: usize = 500;
const SHARED: usize = 100;
const PER_SHARED: usize = 5;
const WRITERS: usize = 8;
/// How long an untouched waiter blocks: long enough for every write to land
/// first even on a loaded 2-core machine, short enough for a quick test.
const WAIT: Duration = Duration::from_secs(4);

struct Waiter {
    job: String,
    evaluations: bool,
    changed: bool,
    min_index: u64,
}

struct Woke {
    index: u64,
    after: Duration,
    count: Option<i64>,
}

fn read_index(store: &Store, w: &Waiter, min_index: u64, wait: Duration) -> (u64, Option<i64>) {
    let opts = after(min_index, wait);
    if w.evaluations {
        (
            store.job_evaluations(&w.job, &opts).unwrap().meta.index,
            None,
        )
    } else {
        let q = store.job(&w.job, &opts).unwrap();
        (q.meta.index, Some(q.value.task_groups[0].count))
    }
}

#[test]
fn writers_and_a_thousand_blocked_waiters() {
    scenario(true);
}

/// The same with the writers starting as the waiters do, so that waiters
/// subscribe and read while writes land (a waiter that subscribed after
/// reading would miss one and answer its old index at its timeout).
#[test]
fn writers_racing_a_thousand_waiters() {
    scenario(false);
}

/// `settle`: give the waiters time to block before the first write.
fn scenario(settle: bool) {
    let store = Arc::new(manual_store());
    let mut jobs: Vec<(String, usize, bool)> = Vec::new();
    for i in 0..DISTINCT {
        jobs.push((format!("d{i:03}"), 1, i % 2 == 0));
    }
    for i in 0..SHARED {
        jobs.push((format!("s{i:02}"), PER_SHARED, i % 2 == 0));
    }
    for (id, _, _) in &jobs {
        register(&store, &job(id, 1)).unwrap();
    }

    let mut waiters = Vec::new();
    for (id, n, changed) in &jobs {
        for k in 0..*n {
            let mut w = Waiter {
                job: id.clone(),
                evaluations: (waiters.len() + k) % 2 == 1,
                changed: *changed,
                min_index: 0,
            };
            w.min_index = read_index(&store, &w, 0, WAIT).0;
            waiters.push(w);
        }
    }
    assert_eq!(waiters.len(), 1000);

    let start = Barrier::new(waiters.len() + 1);
    let start = Arc::new(start);
    let handles: Vec<_> = waiters
        .into_iter()
        .map(|w| {
            let store = store.clone();
            let start = start.clone();
            std::thread::Builder::new()
                .stack_size(128 << 10)
                .spawn(move || {
                    start.wait();
                    let t = Instant::now();
                    let (index, count) = read_index(&store, &w, w.min_index, WAIT);
                    let woke = Woke {
                        index,
                        after: t.elapsed(),
                        count,
                    };
                    (w, woke)
                })
                .expect("spawn a waiter")
        })
        .collect();
    start.wait();
    if settle {
        std::thread::sleep(Duration::from_millis(100));
    }

    let changed: Arc<Vec<String>> = Arc::new(
        jobs.iter()
            .filter(|(_, _, c)| *c)
            .map(|(id, _, _)| id.clone())
            .collect(),
    );
    let writes_started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|n| {
            let store = store.clone();
            let changed = changed.clone();
            std::thread::spawn(move || {
                // Settled waiters see every key written twice; racing ones
                // once, spread over ~0.5 s while the waiters start, so that a
                // lost wake-up is not covered by a second write.
                let counts: &[i64] = if settle { &[2, 3] } else { &[3] };
                for &count in counts {
                    for id in changed.iter().skip(n).step_by(WRITERS) {
                        register(&store, &job(id, count)).unwrap();
                        if !settle {
                            std::thread::sleep(Duration::from_millis(12));
                        }
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let writes_took = writes_started.elapsed();
    assert!(
        writes_took < WAIT / 2,
        "the writes took {writes_took:?}: too slow for the test's timing"
    );

    let mut woken = 0;
    for h in handles {
        let (w, woke) = h.join().unwrap();
        if w.changed {
            woken += 1;
            assert!(
                woke.index > w.min_index,
                "lost wake-up: {} (evaluations: {}) answered {} after {:?}",
                w.job,
                w.evaluations,
                woke.index,
                woke.after
            );
            assert!(woke.after < WAIT, "{} woke only at its timeout", w.job);
            if let Some(c) = woke.count {
                assert!(c == 2 || c == 3, "{} answered count {c}", w.job);
            }
        } else {
            assert_eq!(
                woke.index, w.min_index,
                "{} answered another key's write",
                w.job
            );
            assert!(
                woke.after >= WAIT,
                "{} returned after {:?} though its job never changed",
                w.job,
                woke.after
            );
            assert_eq!(woke.count.unwrap_or(1), 1);
        }
    }
    assert_eq!(woken, DISTINCT / 2 + (SHARED / 2) * PER_SHARED);
    for id in changed.iter() {
        assert_eq!(store.job(id, &now()).unwrap().value.task_groups[0].count, 3);
    }
}
