//! Grouped scheduling (`SchedulingMode::Grouped`) under concurrent writers:
//! a read sees the evaluations of every write answered before it processed,
//! blocked readers are woken with the allocations of writes processed in
//! other threads' groups, no writer is kept processing by a steady stream of
//! others' writes, and the final state holds the invariants. (That a write
//! and a read wait for the group in progress is shown deterministically in
//! `store.rs`'s unit tests.)

mod support;

use std::sync::Arc;
use std::time::Duration;

use ordu::{Config, SchedulingMode, Store};
use support::*;

fn grouped_store() -> Arc<Store> {
    let store = store_with(Config {
        mode: SchedulingMode::Grouped,
        ..Config::default()
    });
    for n in ["n1", "n2", "n3"] {
        store
            .register_node_json(node(n).to_string().as_bytes())
            .unwrap();
    }
    Arc::new(store)
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
        let count = s.job("web").unwrap().task_groups[0].count;
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
    let c = ordu::json::config(br#"{"mode":"grouped"}"#).unwrap();
    assert_eq!(c.mode, SchedulingMode::Grouped);
    let err = ordu::json::config(br#"{"mode":"fast"}"#).unwrap_err();
    assert!(err.to_string().contains("\"grouped\""), "{err}");
}
