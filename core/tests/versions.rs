//! Issue 15, point 2: job versions. Each spec change keeps the version it
//! replaces (up to `Config::job_tracked_versions`, the current one
//! included), in snapshots and on replay; a revert registers a kept version
//! as a new one (check-and-set with `EnforcePriorVersion`); a version can be
//! marked stable.

mod support;

use std::time::Duration;

use ordu::structs::{JobRevertRequest, JobStabilityRequest};
use ordu::{Config, ErrorKind, SchedulingMode, Store, WriteOptions};
use support::*;

fn versions(store: &Store, id: &str) -> Vec<(u64, i64, bool)> {
    store
        .job_versions(id, &now())
        .unwrap()
        .value
        .versions
        .iter()
        .map(|v| (v.job.version, v.job.task_groups[0].count, v.job.stable))
        .collect()
}

fn revert(store: &Store, id: &str, version: u64, prior: Option<u64>) -> ordu::Result<u64> {
    store
        .revert_job(
            JobRevertRequest {
                job_id: id.into(),
                job_version: version,
                enforce_prior_version: prior,
            },
            &WriteOptions::default(),
        )
        .map(|r| r.index)
}

fn stable(store: &Store, id: &str, version: u64, stable: bool) -> ordu::Result<u64> {
    store
        .set_job_stability(
            JobStabilityRequest {
                job_id: id.into(),
                job_version: version,
                stable,
            },
            &WriteOptions::default(),
        )
        .map(|r| r.index)
}

#[test]
fn every_spec_change_keeps_the_replaced_version_up_to_the_setting() {
    let store = store_with(Config {
        mode: SchedulingMode::Manual,
        job_tracked_versions: 3,
        ..Config::default()
    });
    register(&store, &job("web", 1)).unwrap();
    assert_eq!(versions(&store, "web"), vec![(0, 1, false)]);
    // The same spec again is no new version.
    register(&store, &job("web", 1)).unwrap();
    assert_eq!(versions(&store, "web").len(), 1);
    for n in 2..=5 {
        register(&store, &job("web", n)).unwrap();
    }
    assert_eq!(
        versions(&store, "web"),
        vec![(4, 5, false), (3, 4, false), (2, 3, false)]
    );
    let err = store.job_versions("nope", &now()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[test]
fn the_default_keeps_six_and_a_purge_drops_them() {
    let store = manual_store();
    for n in 1..=9 {
        register(&store, &job("web", n)).unwrap();
    }
    let v: Vec<u64> = versions(&store, "web").iter().map(|v| v.0).collect();
    assert_eq!(v, vec![8, 7, 6, 5, 4, 3]);
    store
        .deregister_job_with("web", true, &WriteOptions::default())
        .unwrap();
    register(&store, &job("web", 1)).unwrap();
    assert_eq!(versions(&store, "web"), vec![(0, 1, false)]);
}

#[test]
fn a_revert_registers_the_old_spec_as_a_new_version_with_an_evaluation() {
    let store = manual_store();
    register(&store, &job("web", 1)).unwrap();
    register(&store, &job("web", 2)).unwrap();
    let evals_before = store.job_evaluations("web", &now()).unwrap().value.len();
    let index = revert(&store, "web", 0, None).unwrap();
    let j = store.job("web", &now()).unwrap().value;
    assert_eq!((j.version, j.task_groups[0].count), (2, 1));
    assert_eq!(j.job_modify_index, index);
    let evals = store.job_evaluations("web", &now()).unwrap().value;
    assert_eq!(evals.len(), evals_before + 1);
    assert_eq!(
        versions(&store, "web"),
        vec![(2, 1, false), (1, 2, false), (0, 1, false)]
    );
}

#[test]
fn revert_errors_are_nomads_and_change_nothing() {
    let store = manual_store();
    register(&store, &job("web", 1)).unwrap();
    register(&store, &job("web", 2)).unwrap();
    let before = snapshot(&store);

    let err = revert(&store, "web", 1, None).unwrap_err();
    assert_eq!(err.to_string(), "can't revert to current version");
    let err = revert(&store, "web", 7, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.to_string(), r#"job "web" at version 7 not found"#);
    let err = revert(&store, "nope", 0, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = revert(&store, "web", 0, Some(0)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(
        err.to_string(),
        "Current job has version 1; enforcing version 0"
    );
    assert!(snapshot(&store) == before);

    // The right prior version goes through.
    revert(&store, "web", 0, Some(1)).unwrap();
    assert_eq!(store.job("web", &now()).unwrap().value.version, 2);
}

#[test]
fn stability_marks_the_current_or_a_kept_version_without_a_new_one() {
    let store = manual_store();
    register(&store, &job("web", 1)).unwrap();
    register(&store, &job("web", 2)).unwrap();
    let before = store.job("web", &now()).unwrap().value;

    let index = stable(&store, "web", 1, true).unwrap();
    let after = store.job("web", &now()).unwrap().value;
    assert!(after.stable);
    assert_eq!(after.version, 1);
    assert_eq!(after.job_modify_index, before.job_modify_index);
    assert_eq!(after.modify_index, index);

    stable(&store, "web", 0, true).unwrap();
    assert_eq!(versions(&store, "web"), vec![(1, 2, true), (0, 1, true)]);
    stable(&store, "web", 1, false).unwrap();
    assert_eq!(versions(&store, "web"), vec![(1, 2, false), (0, 1, true)]);

    let before = snapshot(&store);
    let err = stable(&store, "web", 5, true).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = stable(&store, "nope", 0, true).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(snapshot(&store) == before);

    // The versions answer writes `Stable` either way, as Nomad's.
    let v = store.job_versions("web", &now()).unwrap().value;
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["Versions"][0]["Stable"], false);
    assert_eq!(json["Versions"][1]["Stable"], true);
    assert_eq!(json["Versions"][1]["Version"], 0);
    assert!(json["Diffs"].is_null());
}

#[test]
fn versions_survive_a_snapshot_and_a_replay() {
    let (store, log) = recording_store();
    register(&store, &job("web", 1)).unwrap();
    register(&store, &job("web", 2)).unwrap();
    stable(&store, "web", 0, true).unwrap();
    revert(&store, "web", 0, Some(1)).unwrap();
    let snap = snapshot(&store);

    let restored = manual_store();
    restored.restore_snapshot(&snap).unwrap();
    assert_eq!(versions(&restored, "web"), versions(&store, "web"));
    // (A restored store cancels superseded evaluations: compare the state.)
    assert!(ordu::State::restore(&snap).unwrap().snapshot() == snap);

    let replica = manual_store();
    for (i, c) in log.lock().unwrap().iter() {
        replica.apply_committed(*i, c.clone()).unwrap();
    }
    assert!(snapshot(&replica) == snap);
}

#[test]
fn a_versions_read_blocks_until_a_stability_change() {
    let store = std::sync::Arc::new(manual_store());
    register(&store, &job("web", 1)).unwrap();
    let at = store.job_versions("web", &now()).unwrap().meta.index;
    let s = store.clone();
    let waiter = std::thread::spawn(move || {
        s.job_versions("web", &after(at, Duration::from_secs(10)))
            .unwrap()
    });
    std::thread::sleep(Duration::from_millis(50));
    let index = stable(&store, "web", 0, true).unwrap();
    let got = waiter.join().unwrap();
    assert_eq!(got.meta.index, index);
    assert!(got.value.versions[0].job.stable);
}
