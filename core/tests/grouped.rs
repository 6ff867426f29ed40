//! Grouped scheduling (`SchedulingMode::Grouped`) under concurrent writers:
//! a read sees the evaluations of every write answered before it processed,
//! blocked readers are woken with the allocations of writes processed in
//! other threads' groups, no writer is kept processing by a steady stream of
//! others' writes, and the final state holds the invariants. (That a write
//! and a read wait for the group in progress is shown deterministically in
//! `store.rs`'s unit tests.)
//!
//! Queued scheduling (`SchedulingMode::Queued`), the same groups driven by
//! the host: a write answers with its evaluation pending, a read first
//! processes it, `process_queued` processes several writes as one group,
//! and a follower neither schedules nor holds its readers up.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use ordu::structs::EvalStatus;
use ordu::{reads, Command, Config, SchedulingMode, Store};
use support::*;

fn grouped_store() -> Arc<Store> {
    store_in(SchedulingMode::Grouped)
}

/// A deterministic store in `mode` with three nodes, nothing left queued.
fn store_in(mode: SchedulingMode) -> Arc<Store> {
    let store = store_with(Config {
        mode,
        ..Config::default()
    });
    for n in ["n1", "n2", "n3"] {
        store
            .register_node_json(node(n).to_string().as_bytes())
            .unwrap();
    }
    store.process_queued();
    Arc::new(store)
}

/// An evaluation's status as the state holds it, past any read barrier.
fn status_in_state(store: &Store, id: &str) -> EvalStatus {
    store.with_state(|s| s.eval(id).expect("the evaluation exists").status)
}

#[test]
fn reads_after_a_write_see_its_evaluation_processed() {
    let store = grouped_store();
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..40 {
                    let count = 1 + (i + t) % 3;
                    let reply = register(&store, &job("web", count)).unwrap();
                    let e = store.evaluation(&reply.eval_id, &now()).unwrap().value;
                    assert_ne!(e.status, "pending", "read after write {i} of thread {t}");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    store.with_state(|s| {
        assert!(s.evals().all(|e| e.status != "pending"));
        let live = s.allocs().filter(|a| !a.is_terminal()).count() as i64;
        let count = s.job("default", "web").unwrap().task_groups[0].count;
        assert_eq!(live, count);
    });
}

#[test]
fn a_blocked_reader_is_woken_by_a_write_processed_in_another_group() {
    let store = grouped_store();
    // Background writers keep a group in progress most of the time, so that
    // many of the watched writes find the scheduling taken.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let noise: Vec<_> = (0..2)
        .map(|t| {
            let (store, stop) = (store.clone(), stop.clone());
            std::thread::spawn(move || {
                let id = format!("noise-{t}");
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    register(&store, &job(&id, 1 + i % 2)).unwrap();
                    i += 1;
                }
            })
        })
        .collect();
    for i in 0..40 {
        let id = format!("job-{i}");
        let from = store.index();
        let reader = {
            let (store, id) = (store.clone(), id.clone());
            std::thread::spawn(move || {
                let mut index = from;
                loop {
                    let q = store
                        .job_allocations(&id, false, &after(index, Duration::from_secs(10)))
                        .unwrap();
                    if !q.value.is_empty() {
                        return true;
                    }
                    if q.meta.index == index {
                        return false; // timed out: the group was left behind
                    }
                    index = q.meta.index;
                }
            })
        };
        register(&store, &job(&id, 1)).unwrap();
        assert!(
            reader.join().unwrap(),
            "write {i}: its allocation never came"
        );
        // Room for the next one.
        store
            .deregister_job(&id, &ordu::WriteOptions::default())
            .unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for n in noise {
        n.join().unwrap();
    }
}

#[test]
fn grouped_mode_is_a_config_value() {
    let c = ordu::host::config(br#"{"mode":"grouped"}"#).unwrap();
    assert_eq!(c.mode, SchedulingMode::Grouped);
    let c = ordu::host::config(br#"{"mode":"queued"}"#).unwrap();
    assert_eq!(c.mode, SchedulingMode::Queued);
    let err = ordu::host::config(br#"{"mode":"fast"}"#).unwrap_err();
    assert!(err.to_string().contains("\"grouped\""), "{err}");
    assert!(err.to_string().contains("\"queued\""), "{err}");
}

// ---- queued mode ----

#[test]
fn a_queued_write_answers_before_its_evaluation_is_processed() {
    let store = store_in(SchedulingMode::Queued);
    assert!(!store.processing_behind(), "nothing written yet");
    let reply = register(&store, &job("web", 2)).unwrap();
    // The write answered with its evaluation queued, not processed.
    assert_eq!(status_in_state(&store, &reply.eval_id), "pending");
    assert!(store.processing_behind());
    let (ready, ..) = store.broker_stats();
    assert_eq!(ready, 1);
    // A read after the answer processes it first (the barrier).
    let e = store.evaluation(&reply.eval_id, &now()).unwrap().value;
    assert_eq!(e.status, "complete");
    assert!(!store.processing_behind());
    let allocs = store.job_allocations("web", false, &now()).unwrap().value;
    assert_eq!(allocs.len(), 2);
}

#[test]
fn every_kind_of_read_passes_the_barrier() {
    let store = store_in(SchedulingMode::Queued);
    // A read of another object than the write's: the node list.
    let reply = register(&store, &job("web", 1)).unwrap();
    store.nodes("", &now()).unwrap();
    assert_eq!(status_in_state(&store, &reply.eval_id), "complete");
    // An asynchronous read.
    let reply = store
        .evaluate_job("web", &ordu::WriteOptions::default())
        .unwrap();
    assert_eq!(status_in_state(&store, &reply.eval_id), "pending");
    let (e, _) = block_on(store.wait_async(reads::evaluation(&reply.eval_id), &now()));
    assert_eq!(e.unwrap().value.status, "complete");
    // A read from another thread.
    let reply = register(&store, &job("web", 2)).unwrap();
    let seen = {
        let (store, id) = (store.clone(), reply.eval_id.clone());
        std::thread::spawn(move || store.evaluation(&id, &now()).unwrap().value.status)
            .join()
            .unwrap()
    };
    assert_eq!(seen, "complete");
}

#[test]
fn process_queued_takes_several_writes_as_one_group() {
    let store = store_in(SchedulingMode::Queued);
    let replies: Vec<_> = (1..=5)
        .map(|count| register(&store, &job("web", count)).unwrap())
        .collect();
    for r in &replies {
        assert_eq!(status_in_state(&store, &r.eval_id), "pending");
    }
    let last = replies.last().unwrap().index;
    let upto = store.process_queued();
    assert!(upto >= last, "processed up to {upto}, last write {last}");
    assert!(!store.processing_behind(), "one call processed them all");
    // The first was ready when the others came: it runs; of those queued
    // behind it only the newest runs, the others are canceled unrun.
    let statuses: Vec<_> = replies
        .iter()
        .map(|r| status_in_state(&store, &r.eval_id))
        .collect();
    assert_eq!(
        statuses,
        ["complete", "canceled", "canceled", "canceled", "complete"]
    );
    let allocs = store.job_allocations("web", false, &now()).unwrap().value;
    assert_eq!(allocs.len(), 5, "the newest version's count");
    // Nothing queued: a second call has nothing to do.
    let index = store.index();
    assert_eq!(store.process_queued(), upto);
    assert_eq!(store.index(), index);
}

#[test]
fn queued_reads_under_concurrent_writers_and_a_processing_thread() {
    let store = store_in(SchedulingMode::Queued);
    let stop = Arc::new(AtomicBool::new(false));
    // Evaluations of answered writes, for the readers.
    let answered: Arc<Mutex<Vec<String>>> = Arc::default();
    let processor = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut groups = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if store.processing_behind() {
                    store.process_queued();
                    groups += 1;
                } else {
                    std::thread::yield_now();
                }
            }
            groups
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (store, stop, answered) = (store.clone(), stop.clone(), answered.clone());
            std::thread::spawn(move || {
                let mut reads = 0;
                while !stop.load(Ordering::Relaxed) {
                    let Some(id) = answered.lock().unwrap().last().cloned() else {
                        std::thread::yield_now();
                        continue;
                    };
                    let e = store.evaluation(&id, &now()).unwrap().value;
                    assert!(
                        e.status == "complete" || e.status == "canceled",
                        "{id} read as {} after its write was answered",
                        e.status
                    );
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let (store, answered) = (store.clone(), answered.clone());
            std::thread::spawn(move || {
                let id = format!("web-{}", t % 2);
                for i in 0..60 {
                    let reply = if i % 3 == 2 {
                        store
                            .evaluate_job(&id, &ordu::WriteOptions::default())
                            .unwrap()
                    } else {
                        register(&store, &job(&id, 1 + (i + t) % 2)).unwrap()
                    };
                    answered.lock().unwrap().push(reply.eval_id.clone());
                    let e = store.evaluation(&reply.eval_id, &now()).unwrap().value;
                    assert!(
                        e.status == "complete" || e.status == "canceled",
                        "write {i} of thread {t}: read as {}",
                        e.status
                    );
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let groups = processor.join().unwrap();
    let reads: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads > 0, "the readers read");
    // Some of the groups are the processing thread's (the rest are reads').
    assert!(groups > 0, "the processing thread processed");
    store.process_queued();
    store.with_state(|s| {
        assert!(s.evals().all(|e| e.status != "pending"));
        for id in ["web-0", "web-1"] {
            let live = s
                .allocs_by_job("default", id)
                .iter()
                .filter(|a| !a.is_terminal())
                .count() as i64;
            assert_eq!(
                live,
                s.job("default", id).unwrap().task_groups[0].count,
                "{id}"
            );
        }
    });
    for id in answered.lock().unwrap().iter() {
        let status = status_in_state(&store, id);
        assert!(
            status == "complete" || status == "canceled",
            "{id}: {status}"
        );
    }
}

/// A log that keeps what it commits, to ship to a follower.
#[derive(Default)]
struct Kept(Mutex<Vec<(u64, Command)>>);

impl ordu::log::Log for Kept {
    fn append(&self, after: u64, command: &Command) -> Result<u64, ordu::log::LogError> {
        self.0.lock().unwrap().push((after + 1, command.clone()));
        Ok(after + 1)
    }
}

/// Runs `f` on another thread and gives its answer, failing the test when
/// it takes seconds (a read held up by the barrier).
fn within_seconds<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(Duration::from_secs(5))
        .expect("answered without waiting")
}

#[test]
fn a_queued_follower_schedules_nothing_and_its_reads_do_not_wait() {
    let kept = Arc::new(Kept::default());
    let leader = store_with(Config {
        mode: SchedulingMode::Queued,
        ..Config::default()
    })
    .with_log(kept.clone());
    let follower = Arc::new(store_with(Config {
        mode: SchedulingMode::Queued,
        ..Config::default()
    }));
    follower.set_leader(false);
    leader
        .register_node_json(node("n1").to_string().as_bytes())
        .unwrap();
    let reply = register(&leader, &job("web", 1)).unwrap();
    assert!(leader.processing_behind());
    for (index, cmd) in kept.0.lock().unwrap().iter() {
        follower.apply_committed(*index, cmd.clone()).unwrap();
    }
    assert!(
        !follower.processing_behind(),
        "a follower has nothing queued"
    );
    let status = {
        let (follower, id) = (follower.clone(), reply.eval_id.clone());
        within_seconds(move || follower.evaluation(&id, &now()).unwrap().value.status)
    };
    assert_eq!(status, "pending", "the follower does not schedule");
    assert_eq!(follower.process_queued(), 0, "nothing processed");
    assert!(follower
        .job_allocations("web", false, &now())
        .unwrap()
        .value
        .is_empty());
    assert_eq!(follower.broker_stats(), (0, 0, 0, 0, 0));

    // A leader with writes queued that loses leadership leaves its readers
    // nothing to wait for; leading again, it processes what the state holds.
    let store = store_in(SchedulingMode::Queued);
    let reply = register(&store, &job("web", 1)).unwrap();
    assert!(store.processing_behind());
    store.set_leader(false);
    assert!(!store.processing_behind());
    let status = {
        let (store, id) = (store.clone(), reply.eval_id.clone());
        within_seconds(move || store.evaluation(&id, &now()).unwrap().value.status)
    };
    assert_eq!(status, "pending");
    store.set_leader(true);
    assert!(store.processing_behind(), "queued again from the state");
    let e = store.evaluation(&reply.eval_id, &now()).unwrap().value;
    assert_eq!(e.status, "complete");
}

#[test]
fn a_restored_state_is_queued_again() {
    let store = store_in(SchedulingMode::Queued);
    let reply = register(&store, &job("web", 1)).unwrap();
    let before = store.snapshot();
    let other = register(&store, &job("other", 1)).unwrap();
    assert!(store.process_queued() >= other.index);
    assert!(!store.processing_behind());
    // The snapshot is older than every group processed since, and holds
    // the first evaluation pending.
    store.restore_snapshot(&before).unwrap();
    assert_eq!(status_in_state(&store, &reply.eval_id), "pending");
    assert!(store.processing_behind());
    let e = store.evaluation(&reply.eval_id, &now()).unwrap().value;
    assert_eq!(e.status, "complete");
}
