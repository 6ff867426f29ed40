//! SPEC "Endpoints", deregister with a store whose `Config::deregister` is
//! `DeregisterMode::Stop` (Nomad 1.x): the job stays with `Stop: true` as a
//! new version, its allocations are stopped, it reads `dead` once its work is
//! done, until a purge or collection removes it; registering it again starts
//! it again.

mod support;

use ordu::structs::AllocDesiredStatus;
use ordu::{Clock, Config, DeregisterMode, Error, ManualClock, SequentialIds, Store, WriteOptions};
use support::*;

fn stopping_store() -> Store {
    store_with(Config {
        deregister: DeregisterMode::Stop,
        ..Config::default()
    })
}

fn live_allocs(store: &Store, id: &str) -> usize {
    store
        .job_allocations(id, false, &now())
        .unwrap()
        .value
        .iter()
        .filter(|a| a.desired_status == AllocDesiredStatus::Run)
        .count()
}

#[test]
fn a_stop_keeps_the_job_as_a_new_version_and_stops_its_allocations() {
    let store = stopping_store();
    add_node(&store, "n1");
    let reg = register(&store, &job("web", 2)).unwrap();
    assert_eq!(live_allocs(&store, "web"), 2);
    let before = store.job("web", &now()).unwrap().value;
    assert_eq!((before.version, before.status.as_str()), (0, "running"));

    let r = store
        .deregister_job("web", &WriteOptions::default())
        .unwrap();
    assert!(!r.eval_id.is_empty());
    assert!(r.index > reg.index);
    assert_eq!(r.job_modify_index, r.index, "the stop is a spec change");

    let job = store.job("web", &now()).unwrap().value;
    assert!(job.stop);
    assert_eq!(job.version, 1);
    assert_eq!(job.job_modify_index, r.index);
    assert_eq!(job.create_index, before.create_index);
    assert_eq!(job.status, "dead", "its allocations stopped, nothing open");
    assert_eq!(live_allocs(&store, "web"), 0);
    let eval = store.evaluation(&r.eval_id, &now()).unwrap().value;
    assert_eq!(eval.triggered_by, "job-deregister");
    assert_eq!(eval.status, "complete");
    // Still listed: a stopped job is a job.
    let ids: Vec<_> = store
        .jobs("", &now())
        .unwrap()
        .value
        .into_iter()
        .map(|s| (s.id, s.stop))
        .collect();
    assert_eq!(ids, [("web".to_string(), true)]);
}

#[test]
fn registering_a_stopped_job_starts_it_again() {
    let store = stopping_store();
    add_node(&store, "n1");
    register(&store, &job("web", 2)).unwrap();
    store
        .deregister_job("web", &WriteOptions::default())
        .unwrap();
    let again = register(&store, &job("web", 2)).unwrap();
    let job = store.job("web", &now()).unwrap().value;
    assert!(!job.stop);
    assert_eq!(job.version, 2);
    assert_eq!(job.job_modify_index, again.job_modify_index);
    assert_eq!(job.status, "running");
    assert_eq!(live_allocs(&store, "web"), 2);
}

#[test]
fn a_purge_removes_a_job_running_or_stopped() {
    let store = stopping_store();
    add_node(&store, "n1");
    for purge_after_stop in [false, true] {
        register(&store, &job("web", 1)).unwrap();
        if purge_after_stop {
            store
                .deregister_job("web", &WriteOptions::default())
                .unwrap();
        }
        let r = store
            .deregister_job_with("web", true, &WriteOptions::default())
            .unwrap();
        assert_eq!(r.job_modify_index, r.index);
        match store.job("web", &now()).unwrap_err() {
            Error::NotFound { index, .. } => assert_eq!(index, r.index),
            other => panic!("{other:?}"),
        }
        assert_eq!(live_allocs(&store, "web"), 0);
    }
}

#[test]
fn a_store_that_purges_ignores_the_flag() {
    let store = inline_store();
    register(&store, &job("web", 1)).unwrap();
    store
        .deregister_job_with("web", false, &WriteOptions::default())
        .unwrap();
    assert!(
        store.job("web", &now()).is_err(),
        "the seed's deregister removes"
    );
}

#[test]
fn a_job_that_does_not_exist_is_no_write() {
    let store = stopping_store();
    let index = store.jobs("", &now()).unwrap().meta.index;
    for purge in [false, true] {
        let r = store
            .deregister_job_with("ghost", purge, &WriteOptions::default())
            .unwrap();
        assert_eq!((r.eval_id.as_str(), r.index), ("", 0));
    }
    assert_eq!(store.jobs("", &now()).unwrap().meta.index, index);
}

/// Collection takes a stopped job once its stop is older than the
/// threshold and its work is done, with its evaluations and allocations;
/// a running job and a job stopped after the threshold stay.
#[test]
fn collection_removes_a_stopped_job_whose_work_is_done() {
    let clock = std::sync::Arc::new(ManualClock::new(T0));
    let store = Store::with_sources(
        Config {
            deregister: DeregisterMode::Stop,
            ..Config::default()
        },
        clock.clone(),
        std::sync::Arc::new(SequentialIds::default()),
    );
    add_node(&store, "n1");
    register(&store, &job("old", 1)).unwrap();
    register(&store, &job("new", 1)).unwrap();
    register(&store, &job("live", 1)).unwrap();
    store
        .deregister_job("old", &WriteOptions::default())
        .unwrap();
    clock.advance(std::time::Duration::from_secs(3600));
    let threshold = clock.now();
    clock.advance(std::time::Duration::from_secs(1));
    store
        .deregister_job("new", &WriteOptions::default())
        .unwrap();

    assert!(store.garbage_collect(threshold).unwrap().is_some());
    assert!(store.job("old", &now()).is_err(), "collected");
    assert!(store
        .job_evaluations("old", &now())
        .unwrap()
        .value
        .is_empty());
    assert!(store
        .job_allocations("old", true, &now())
        .unwrap()
        .value
        .is_empty());
    assert!(
        store.job("new", &now()).unwrap().value.stop,
        "stopped too late"
    );
    assert!(!store.job("live", &now()).unwrap().value.stop);
}

/// A stop replays to the same state, and so does its collection.
#[test]
fn stops_and_purges_replay_to_the_same_state() {
    let (store, log) = recording_store_with(Config {
        deregister: DeregisterMode::Stop,
        mode: ordu::SchedulingMode::Inline,
        ..Config::default()
    });
    add_node(&store, "n1");
    register(&store, &job("a", 2)).unwrap();
    register(&store, &job("b", 1)).unwrap();
    store.deregister_job("a", &WriteOptions::default()).unwrap();
    register(&store, &job("a", 3)).unwrap();
    store.deregister_job("a", &WriteOptions::default()).unwrap();
    store
        .deregister_job_with("b", true, &WriteOptions::default())
        .unwrap();
    store.garbage_collect(i64::MAX).unwrap();
    let replica = manual_store();
    for (index, cmd) in log.lock().unwrap().iter() {
        replica.apply_committed(*index, cmd.clone()).unwrap();
    }
    assert!(snapshot(&replica) == snapshot(&store));
}
