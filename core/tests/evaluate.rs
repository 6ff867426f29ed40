//! SPEC "Endpoints", evaluate: a new `job-register` evaluation for an existing
//! job, which is not touched; a missing job is a not-found error (HTTP 500)
//! and no write. And SPEC "Evaluations": terminal statuses never change.

mod support;

use ordu::structs::{EvalStatus, Evaluation};
use ordu::{Command, Error};
use support::*;

#[test]
fn evaluate_creates_a_job_register_evaluation_and_leaves_the_job() {
    let (store, log) = recording_store();
    register(&store, &job("web", 1)).unwrap();
    register(&store, &job("web", 2)).unwrap(); // JobModifyIndex 2
    let before = store.job("web", &now()).unwrap();

    let r = store.evaluate_job("web", &Default::default()).unwrap();
    assert!(!r.eval_id.is_empty());
    assert_eq!(r.index, 3);
    assert_eq!(r.eval_create_index, 3);
    assert_eq!(r.job_modify_index, 2);
    assert_eq!(
        store.job("web", &now()).unwrap(),
        before,
        "the job is not touched"
    );

    let e = store.evaluation(&r.eval_id, &now()).unwrap().value;
    assert_eq!(e.triggered_by, "job-register");
    assert_eq!((e.job_id.as_str(), e.job_modify_index), ("web", 2));
    assert_eq!((e.priority, e.eval_type.as_str()), (50, "service"));
    assert!(matches!(
        log.lock().unwrap()[2],
        (3, Command::EvalUpsert { .. })
    ));
}

#[test]
fn evaluate_a_missing_job() {
    let store = manual_store();
    register(&store, &job("web", 1)).unwrap();
    let before = snapshot(&store);
    let err = store.evaluate_job("nope", &Default::default()).unwrap_err();
    match &err {
        Error::NotFound { what, id, .. } => assert_eq!((*what, id.as_str()), ("job", "nope")),
        other => panic!("{other:?}"),
    }
    assert_eq!(err.http_status(false), 500);
    assert_eq!(err.to_string(), "job not found");
    assert!(snapshot(&store) == before);
}

#[test]
fn terminal_evaluations_never_change() {
    let store = manual_store();
    let r = register(&store, &job("web", 1)).unwrap();
    let pending = (*store.evaluation(&r.eval_id, &now()).unwrap().value).clone();
    let with = |status: EvalStatus| Evaluation {
        status,
        ..pending.clone()
    };
    store
        .apply(Command::EvalUpsert {
            evals: vec![with(EvalStatus::Canceled)],
        })
        .unwrap();
    let canceled = store.evaluation(&r.eval_id, &now()).unwrap();
    // A later update (a scheduler finishing it, say) is dropped.
    store
        .apply(Command::EvalUpsert {
            evals: vec![with(EvalStatus::Complete)],
        })
        .unwrap();
    let after = store.evaluation(&r.eval_id, &now()).unwrap();
    assert_eq!(after.value.status, "canceled");
    assert_eq!(after, canceled, "not even its ModifyIndex moves");
}

#[test]
fn an_evaluation_moved_to_another_job_is_listed_under_that_job_only() {
    let store = manual_store();
    register(&store, &job("web", 1)).unwrap();
    register(&store, &job("api", 1)).unwrap();
    let r = store.evaluate_job("web", &Default::default()).unwrap();
    let e = (*store.evaluation(&r.eval_id, &now()).unwrap().value).clone();
    let web_before = store.job_evaluations("web", &now()).unwrap().value.len();
    let api_before = store.job_evaluations("api", &now()).unwrap().value.len();
    let moved = store
        .apply(Command::EvalUpsert {
            evals: vec![Evaluation {
                job_id: "api".into(),
                ..e
            }],
        })
        .unwrap();
    let web = store.job_evaluations("web", &now()).unwrap();
    let api = store.job_evaluations("api", &now()).unwrap();
    assert_eq!(web.value.len(), web_before - 1);
    assert!(web.value.iter().all(|e| e.id != r.eval_id));
    assert_eq!(api.value.len(), api_before + 1);
    assert!(api.value.iter().any(|e| e.id == r.eval_id));
    // Both lists changed at that write.
    assert_eq!((web.meta.index, api.meta.index), (moved, moved));
    // Each list is in ID order.
    for list in [&web.value, &api.value] {
        assert!(list.windows(2).all(|w| w[0].id < w[1].id));
    }
}
