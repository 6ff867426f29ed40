//! SPEC "Indexes", check-and-set: `EnforceIndex` + `JobModifyIndex` on
//! register, decided inside `State::apply`, with a conflict error of its own
//! that carries the current index.

mod support;

use std::sync::Arc;

use ordu::structs::EvalStatus;
use ordu::structs::{Evaluation, Job};
use ordu::{Command, Error, ErrorKind, State};
use serde_json::json;
use support::*;

fn conflict(err: Error) -> (String, u64) {
    match err {
        Error::Conflict {
            message,
            current_index,
        } => (message, current_index),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn enforce_index_0_creates_only_a_new_job() {
    let store = manual_store();
    let r = register_cas(&store, &job("web", 1), 0).unwrap();
    assert_eq!(r.job_modify_index, 1);

    let before = snapshot(&store);
    let err = register_cas(&store, &job("web", 2), 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.http_status(false), 500);
    let (message, current) = conflict(err);
    assert_eq!(message, "Enforcing job modify index 0: job already exists");
    assert_eq!(current, 1);
    assert!(snapshot(&store) == before, "a conflict changes nothing");
}

#[test]
fn enforce_index_must_match_the_current_job_modify_index() {
    let store = manual_store();
    register(&store, &job("web", 1)).unwrap(); // JobModifyIndex 1
    register(&store, &job("web", 2)).unwrap(); // JobModifyIndex 2

    let before = snapshot(&store);
    let (message, current) = conflict(register_cas(&store, &job("web", 3), 1).unwrap_err());
    assert_eq!(
        message,
        "Enforcing job modify index 1: job exists with conflicting job modify index: 2"
    );
    assert_eq!(current, 2);
    assert!(snapshot(&store) == before);
    assert_eq!(store.index(), 2);

    let r = register_cas(&store, &job("web", 3), 2).unwrap();
    assert_eq!(r.job_modify_index, 3);
    assert_eq!(
        store.job("web", &now()).unwrap().value.task_groups[0].count,
        3
    );
}

#[test]
fn enforce_index_on_a_missing_job() {
    let store = manual_store();
    let (message, current) = conflict(register_cas(&store, &job("web", 1), 5).unwrap_err());
    assert_eq!(message, "Enforcing job modify index 5: job does not exist");
    assert_eq!(current, 0);
    assert_eq!(store.index(), 0);
}

#[test]
fn enforce_index_from_the_json_body() {
    let store = manual_store();
    register(&store, &job("web", 1)).unwrap();
    let body = |i: u64| {
        serde_json::to_vec(
            &json!({"Job": job("web", 4), "EnforceIndex": true, "JobModifyIndex": i}),
        )
        .unwrap()
    };
    let err = store
        .register_job_json(&body(7), &Default::default())
        .unwrap_err();
    assert_eq!(conflict(err).1, 1);
    store
        .register_job_json(&body(1), &Default::default())
        .unwrap();
    // Without EnforceIndex a JobModifyIndex is ignored.
    let loose = json!({"Job": job("web", 5), "JobModifyIndex": 12345});
    store
        .register_job_json(&serde_json::to_vec(&loose).unwrap(), &Default::default())
        .unwrap();
}

#[test]
fn an_identical_spec_with_the_right_index_keeps_the_job_modify_index() {
    let store = manual_store();
    register(&store, &job("web", 1)).unwrap();
    let r = register_cas(&store, &job("web", 1), 1).unwrap();
    assert_eq!(r.job_modify_index, 1);
    assert_eq!(r.index, 2);
}

#[test]
fn racing_writers_with_the_same_index_exactly_one_wins() {
    let store = Arc::new(manual_store());
    register(&store, &job("web", 1)).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || register_cas(&store, &job("web", 10 + i), 1))
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let wins: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(wins.len(), 1, "{results:?}");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(r.kind(), ErrorKind::Conflict);
    }
    let j = store.job("web", &now()).unwrap().value;
    assert_eq!(j.version, 1);
    assert_eq!(j.job_modify_index, wins[0].job_modify_index);
}

#[test]
fn the_check_is_made_inside_apply() {
    // A replica that applies the command decides the same, without the store.
    let job: Job = serde_json::from_value(job("web", 1)).unwrap();
    let cmd = |enforce: Option<u64>, eval: &str| Command::JobRegister {
        job: job.clone(),
        eval: Evaluation {
            id: eval.into(),
            job_id: "web".into(),
            status: EvalStatus::Pending,
            ..Evaluation::default()
        },
        enforce_index: enforce,
    };
    let mut state = State::new();
    state.apply(1, &cmd(Some(0), "e1")).unwrap();
    let before = state.snapshot();
    let err = state.apply(2, &cmd(Some(0), "e2")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(state.index(), 1);
    assert!(state.snapshot() == before);
    state.apply(2, &cmd(Some(1), "e2")).unwrap();
    assert_eq!(state.index(), 2);
}

/// A register checked on one thread and committed later (as the HTTP front
/// end does to check bodies in parallel) meets the state of its commit: a
/// check-and-set decided against what changed in between.
#[test]
fn a_checked_register_is_decided_at_its_commit() {
    let store = manual_store();
    register(&store, &job("web", 1)).unwrap();
    let with_index = |count: i64, index: u64| {
        let b = json!({"Job": job("web", count), "EnforceIndex": true, "JobModifyIndex": index});
        ordu::host::check_register_job_at(
            &store,
            Some("web"),
            b.to_string().as_bytes(),
            &ordu::host::write_options(None, None),
        )
    };
    let checked = with_index(2, 1).unwrap();
    assert_eq!(checked.job().task_groups[0].count, 2);
    let racing = with_index(3, 1).unwrap();
    assert_eq!(store.index(), 1, "checking writes nothing");

    let won = ordu::host::commit_register(&store, checked).unwrap();
    let before = snapshot(&store);
    let (message, current) = conflict(ordu::host::commit_register(&store, racing).unwrap_err());
    assert!(
        message.contains("Enforcing job modify index 1"),
        "{message}"
    );
    assert_eq!(current, won.index);
    assert!(snapshot(&store) == before, "the loser changes nothing");
    // A body that fails its checks is refused before any write.
    let err = ordu::host::check_register_job_at(
        &store,
        Some("api"),
        &body(&job("web", 1)),
        &ordu::host::write_options(None, None),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("Job ID does not match name"),
        "{err}"
    );
}
