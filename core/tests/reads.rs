//! SPEC "Endpoints", the reads: get (not found carries the index), list
//! sorted by ID with `prefix`, a job's allocations (current incarnation or
//! `all`) and evaluations, one evaluation and one allocation by ID, and the
//! meta every read answers with.

mod support;

use ordu::structs::AllocClientUpdate;
use ordu::{Error, ErrorKind};
use support::*;

fn not_found(err: Error) -> (&'static str, String, u64) {
    match err {
        Error::NotFound { what, id, index } => (what, id, index),
        other => panic!("expected not found, got {other:?}"),
    }
}

#[test]
fn get_a_missing_job_is_not_found_with_the_index() {
    let store = manual_store();
    let err = store.job("nope", &now()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.http_status(true), 404);
    assert_eq!(err.to_string(), "job not found");
    assert_eq!(
        not_found(err),
        ("job", "nope".to_string(), 0),
        "a fresh store is at 0"
    );

    register(&store, &job("web", 1)).unwrap();
    register(&store, &job("api", 1)).unwrap();
    // Once the store has history a missing job answers a non-zero index, so a
    // client can block on it appearing.
    assert_eq!(not_found(store.job("nope", &now()).unwrap_err()).2, 1);
}

#[test]
fn get_answers_the_job_and_its_meta() {
    let store = manual_store();
    register(&store, &job("web", 3)).unwrap();
    register(&store, &job("api", 1)).unwrap();
    let q = store.job("web", &now()).unwrap();
    assert_eq!(q.value.id, "web");
    assert_eq!(q.value.task_groups[0].count, 3);
    assert_eq!(q.meta.index, 1, "the job's own last change");
    assert!(q.meta.known_leader);
    assert_eq!(q.meta.last_contact, 0);
}

#[test]
fn list_is_sorted_by_id_and_filtered_by_prefix() {
    let store = manual_store();
    for id in ["b", "ab", "a", "c/x", "B", "abc"] {
        register(&store, &job(id, 1)).unwrap();
    }
    let ids = |prefix: &str| -> Vec<String> {
        store
            .jobs(prefix, &now())
            .unwrap()
            .value
            .into_iter()
            .map(|s| s.id)
            .collect()
    };
    assert_eq!(ids(""), ["B", "a", "ab", "abc", "b", "c/x"]);
    assert_eq!(ids("a"), ["a", "ab", "abc"]);
    assert_eq!(ids("ab"), ["ab", "abc"]);
    assert_eq!(ids("c/"), ["c/x"]);
    assert!(ids("z").is_empty());
    assert!(ids("A").is_empty(), "prefixes are case-sensitive");

    let list = store.jobs("", &now()).unwrap();
    assert_eq!(list.meta.index, 6);
    let stub = list.value.iter().find(|s| s.id == "ab").unwrap();
    let j = store.job("ab", &now()).unwrap().value;
    assert_eq!(stub.name, j.name);
    assert_eq!(stub.job_type, "service");
    assert_eq!(stub.priority, 50);
    assert_eq!(stub.status, j.status);
    assert_eq!(stub.namespace, "default");
    assert_eq!(stub.datacenters, ["*"]);
    assert_eq!(
        (stub.create_index, stub.modify_index, stub.job_modify_index),
        (j.create_index, j.modify_index, j.job_modify_index)
    );
    assert_eq!(stub.submit_time, T0);
}

#[test]
fn a_jobs_evaluations_are_full_objects_in_id_order() {
    let store = manual_store();
    register(&store, &job("web", 1)).unwrap();
    register(&store, &job("api", 1)).unwrap();
    store.evaluate_job("web", &Default::default()).unwrap();
    let q = store.job_evaluations("web", &now()).unwrap();
    assert_eq!(q.value.len(), 2);
    assert!(q.value.windows(2).all(|w| w[0].id < w[1].id));
    assert!(q.value.iter().all(|e| e.job_id == "web"));
    assert_eq!(q.meta.index, 3, "the last change to web's evaluations");
    assert_eq!(q.value[1].triggered_by, "job-register");
    // A job without evaluations answers an empty list, not an error.
    assert!(store
        .job_evaluations("none", &now())
        .unwrap()
        .value
        .is_empty());
}

#[test]
fn one_evaluation_by_id() {
    let store = manual_store();
    let r = register(&store, &job("web", 1)).unwrap();
    let q = store.evaluation(&r.eval_id, &now()).unwrap();
    assert_eq!(q.value.id, r.eval_id);
    assert_eq!(q.meta.index, q.value.modify_index);
    let (what, id, index) = not_found(store.evaluation("nope", &now()).unwrap_err());
    assert_eq!((what, id.as_str()), ("eval", "nope"));
    assert_eq!(index, 1);
}

#[test]
fn a_jobs_allocations_and_one_allocation_by_id() {
    let store = manual_store();
    add_node(&store, "n1");
    register(&store, &job("web", 2)).unwrap();
    register(&store, &job("api", 1)).unwrap();
    let at = place(&store, "web", "n1", &[("a2", 1), ("a1", 0)]);
    place(&store, "api", "n1", &[("b1", 0)]);

    let q = store.job_allocations("web", false, &now()).unwrap();
    assert_eq!(q.meta.index, at);
    let names: Vec<_> = q
        .value
        .iter()
        .map(|a| (a.id.as_str(), a.name.as_str()))
        .collect();
    assert_eq!(names, [("a1", "web.g[0]"), ("a2", "web.g[1]")]);
    let s = &q.value[0];
    assert_eq!(
        (s.job_id.as_str(), s.node_id.as_str(), s.task_group.as_str()),
        ("web", "n1", "g")
    );
    assert_eq!(s.job_type, "service");
    assert_eq!(
        (s.desired_status.as_str(), s.client_status.as_str()),
        ("run", "pending")
    );
    assert_eq!(s.create_index, at);

    let a = store.allocation("a1", &now()).unwrap();
    assert_eq!(a.value.job.id, "web", "the full allocation embeds its job");
    assert_eq!(a.meta.index, at);
    store
        .update_alloc_client(AllocClientUpdate {
            id: "a1".into(),
            client_status: "running".into(),
            ..AllocClientUpdate::default()
        })
        .unwrap();
    let a = store.allocation("a1", &now()).unwrap();
    assert_eq!(a.value.client_status, "running");
    assert!(a.meta.index > at);
    let (what, _, index) = not_found(store.allocation("zz", &now()).unwrap_err());
    assert_eq!(what, "alloc");
    assert!(index >= at);

    assert!(store
        .job_allocations("none", false, &now())
        .unwrap()
        .value
        .is_empty());
}

#[test]
fn allocations_of_earlier_incarnations_only_with_all() {
    let store = manual_store();
    add_node(&store, "n1");
    register(&store, &job("web", 1)).unwrap();
    place(&store, "web", "n1", &[("old", 0)]);
    store.deregister_job("web", &Default::default()).unwrap();
    // The job is gone: its allocations stay listable, `all` or not.
    let gone = store.job_allocations("web", false, &now()).unwrap().value;
    assert_eq!(gone.len(), 1);

    register(&store, &job("web", 1)).unwrap();
    place(&store, "web", "n1", &[("new", 0)]);
    let ids = |all: bool| -> Vec<String> {
        store
            .job_allocations("web", all, &now())
            .unwrap()
            .value
            .into_iter()
            .map(|a| a.id)
            .collect()
    };
    assert_eq!(ids(false), ["new"]);
    assert_eq!(ids(true), ["new", "old"]);
}
