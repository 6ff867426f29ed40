//! SPEC "Garbage collection": what the store removes and when. Canceled
//! evaluations left by coalescing are bounded per job whatever their age;
//! the rest waits for the host's age threshold.

mod support;

use ordu::structs::EvalStatus;
use ordu::{Command, Config, SchedulingMode, Store};
use support::*;

/// A manual-mode store with one node that keeps `kept` canceled evaluations
/// per job.
fn store_keeping(kept: usize) -> Store {
    let store = store_with(Config {
        mode: SchedulingMode::Manual,
        canceled_evals_kept: kept,
        ..Config::default()
    });
    add_node(&store, "n1");
    store
}

/// Registers job `id` `times` times, then lets the broker run the newest of
/// its evaluations, which cancels the ones it superseded.
fn reregister(store: &Store, id: &str, times: usize) {
    for _ in 0..times {
        register(store, &job(id, 1)).unwrap();
    }
    store.process_ready();
}

fn canceled(store: &Store, job: &str) -> Vec<String> {
    let mut ids: Vec<String> = store
        .job_evaluations(job, &now())
        .unwrap()
        .value
        .iter()
        .filter(|e| e.status == EvalStatus::Canceled)
        .map(|e| e.id.clone())
        .collect();
    ids.sort();
    ids
}

#[test]
fn coalesced_evaluations_beyond_the_kept_are_collected_at_any_age() {
    let store = store_keeping(3);
    reregister(&store, "web", 10);
    reregister(&store, "other", 1);
    let before = canceled(&store, "web");
    assert!(before.len() > 3, "{before:?}");

    let index = store.collect_canceled().unwrap().expect("a write");
    let after = canceled(&store, "web");
    assert_eq!(after.len(), 3, "the newest three are kept");
    // Sequential IDs grow with creation, so the newest are the last three.
    assert_eq!(after, before[before.len() - 3..]);
    assert!(store.job_evaluations("web", &now()).unwrap().meta.index >= index);
    // The job that had nothing canceled keeps its evaluation; nothing is left.
    assert_eq!(
        store.job_evaluations("other", &now()).unwrap().value.len(),
        1
    );
    assert_eq!(store.collect_canceled().unwrap(), None);
}

#[test]
fn collecting_canceled_is_one_replayable_command() {
    let (store, log) = recording_store();
    reregister(&store, "web", 20);
    store.collect_canceled().unwrap().expect("a write");
    let log = log.lock().unwrap();
    let Some((_, Command::GarbageCollect { evals, allocs, .. })) = log.last() else {
        panic!("last command is {:?}", log.last());
    };
    assert!(!evals.is_empty());
    assert!(allocs.is_empty());
    drop(log);
    assert_eq!(
        canceled(&store, "web").len(),
        Config::default().canceled_evals_kept
    );
}

#[test]
fn a_busy_store_collects_canceled_evaluations_by_itself() {
    let store = store_keeping(3);
    // 5,000 re-registers coalesced in groups: about 5,000 cancels, more than
    // the store lets pile up before it collects them with no host timer.
    for _ in 0..10 {
        reregister(&store, "web", 500);
    }
    let left = canceled(&store, "web").len();
    assert!(left < 4096, "{left} canceled evaluations left");
}
