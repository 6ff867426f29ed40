//! SPEC "Endpoints", deregister: removes the job (hard delete, as the seed)
//! with a `job-deregister` evaluation in one command; the job's allocations
//! and evaluations stay listable; a job that does not exist is no write, an
//! empty `EvalID` and index 0.

mod support;

use ordu::structs::JobWriteResponse;
use ordu::{Command, Error};
use support::*;

#[test]
fn deregister_removes_the_job_with_its_evaluation_in_one_command() {
    let (store, log) = recording_store();
    register(&store, &job("web", 1)).unwrap();
    register(&store, &job("api", 1)).unwrap();
    let r = store.deregister_job("web", &Default::default()).unwrap();
    assert!(!r.eval_id.is_empty());
    assert_eq!(r.index, 3);
    assert_eq!((r.eval_create_index, r.job_modify_index), (3, 3));

    let log = log.lock().unwrap();
    assert_eq!(log.len(), 3);
    match &log[2] {
        (3, Command::JobDeregister { job_id, eval }) => {
            assert_eq!(job_id, "web");
            assert_eq!(eval.id, r.eval_id);
        }
        other => panic!("expected JobDeregister at 3, got {other:?}"),
    }

    match store.job("web", &now()).unwrap_err() {
        Error::NotFound { index, .. } => assert_eq!(index, 3, "the deletion's index"),
        other => panic!("{other:?}"),
    }
    let ids: Vec<_> = store
        .jobs("", &now())
        .unwrap()
        .value
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, ["api"]);

    let e = store.evaluation(&r.eval_id, &now()).unwrap().value;
    assert_eq!(e.triggered_by, "job-deregister");
    assert_eq!(e.job_id, "web");
    assert_eq!(e.create_index, 3);
    assert_eq!(e.status, "pending");
}

#[test]
fn allocations_and_evaluations_stay_listable() {
    let store = manual_store();
    add_node(&store, "n1");
    register(&store, &job("web", 2)).unwrap();
    place(&store, "web", "n1", &[("a0", 0), ("a1", 1)]);
    let r = store.deregister_job("web", &Default::default()).unwrap();

    let evals = store.job_evaluations("web", &now()).unwrap().value;
    assert_eq!(evals.len(), 2);
    assert!(evals.iter().any(|e| e.id == r.eval_id));
    let allocs = store.job_allocations("web", false, &now()).unwrap().value;
    assert_eq!(allocs.len(), 2);
    assert!(store.allocation("a0", &now()).is_ok());
}

#[test]
fn the_deregister_evaluation_stops_the_allocations() {
    // Inline mode: the store runs the scheduler on the deregister evaluation.
    let store = inline_store();
    add_node(&store, "n1");
    register(&store, &job("web", 2)).unwrap();
    let running = store.job_allocations("web", false, &now()).unwrap().value;
    assert_eq!(running.len(), 2, "the scheduler placed the job");
    assert!(running.iter().all(|a| a.desired_status == "run"));

    let r = store.deregister_job("web", &Default::default()).unwrap();
    let e = store.evaluation(&r.eval_id, &now()).unwrap().value;
    assert_eq!(e.status, "complete");
    let stopped = store.job_allocations("web", true, &now()).unwrap().value;
    assert_eq!(stopped.len(), 2);
    assert!(
        stopped.iter().all(|a| a.desired_status == "stop"),
        "{stopped:?}"
    );
}

#[test]
fn a_missing_job_is_no_write_and_an_empty_answer() {
    let (store, log) = recording_store();
    register(&store, &job("api", 1)).unwrap();
    let before = snapshot(&store);
    let r = store.deregister_job("nope", &Default::default()).unwrap();
    assert_eq!(r, JobWriteResponse::default());
    assert_eq!(r.eval_id, "");
    assert_eq!(
        (r.eval_create_index, r.job_modify_index, r.index),
        (0, 0, 0)
    );
    assert_eq!(log.lock().unwrap().len(), 1, "nothing applied");
    assert!(snapshot(&store) == before);
}

#[test]
fn deregister_twice_is_the_missing_case_the_second_time() {
    let store = manual_store();
    register(&store, &job("web", 1)).unwrap();
    let first = store.deregister_job("web", &Default::default()).unwrap();
    assert_eq!(first.index, 2);
    let second = store.deregister_job("web", &Default::default()).unwrap();
    assert_eq!(second, JobWriteResponse::default());
    assert_eq!(store.index(), 2);
}

#[test]
fn registering_again_starts_a_new_incarnation() {
    let store = manual_store();
    register(&store, &job("web", 1)).unwrap();
    register(&store, &job("web", 2)).unwrap();
    store.deregister_job("web", &Default::default()).unwrap();
    let r = register(&store, &job("web", 1)).unwrap();
    let j = store.job("web", &now()).unwrap();
    assert_eq!(j.value.create_index, r.index);
    assert_eq!(j.value.version, 0);
    // Above the deletion's index (manual mode also wrote a coalesced
    // evaluation as canceled in between).
    assert_eq!(j.meta.index, r.index);
    assert!(r.index > 3);
}

#[test]
fn evaluate_of_a_missing_job_is_not_found_and_no_write() {
    let store = manual_store();
    register(&store, &job("web", 1)).unwrap();
    store.deregister_job("web", &Default::default()).unwrap();
    let before = snapshot(&store);
    let err = store.evaluate_job("web", &Default::default()).unwrap_err();
    assert!(matches!(err, Error::NotFound { what: "job", .. }));
    assert_eq!(err.http_status(false), 500);
    assert!(snapshot(&store) == before);
}
