//! Issue 15, point 4: the job summary (kept by apply, rebuilt on restore)
//! and scaling. The summary equals a count over the allocations, and its
//! `Queued` the latest evaluation's, after any stream of commands; a scale
//! is a new version with a `job-scaling` evaluation.

mod support;

use std::collections::BTreeMap;

use ordu::structs::{AllocClientStatus, AllocClientUpdate, JobScaleRequest, TaskGroupSummary};
use ordu::{Config, ErrorKind, State, Store, WriteOptions};
use proptest::prelude::*;
use serde_json::json;
use support::*;

/// Jobs as (namespace, ID): one ID in two namespaces is two jobs, whose
/// summaries must not mix.
const JOBS: [(&str, &str); 3] = [("default", "web"), ("team", "web"), ("default", "api")];

fn in_ns(ns: &str) -> WriteOptions {
    WriteOptions::default().in_namespace(ns)
}

fn two_groups(id: &str, a: i64, b: i64) -> serde_json::Value {
    let group = |name: &str, count: i64| {
        json!({"Name": name, "Count": count,
               "Tasks": [{"Name": "t", "Driver": "exec", "Config": {"command": "/bin/true"},
                          "Resources": {"CPU": 100, "MemoryMB": 64}}]})
    };
    json!({"ID": id, "Datacenters": ["dc1"], "TaskGroups": [group("a", a), group("b", b)]})
}

/// The summary as a count over the state's allocations and evaluations.
fn counted(s: &State, ns: &str, id: &str) -> BTreeMap<String, TaskGroupSummary> {
    let mut out: BTreeMap<String, TaskGroupSummary> = s
        .job(ns, id)
        .unwrap()
        .task_groups
        .iter()
        .map(|g| (g.name.clone(), TaskGroupSummary::default()))
        .collect();
    for a in s.allocs_by_job(ns, id) {
        out.entry(a.task_group.clone())
            .or_default()
            .count(a.client_status, true);
    }
    let mut latest: BTreeMap<String, (u64, String, i64)> = BTreeMap::new();
    for e in s.evals_by_job(ns, id) {
        for (g, n) in &e.queued_allocations {
            let cand = (e.modify_index, e.id.clone(), *n);
            if latest
                .get(g)
                .is_none_or(|l| (l.0, &l.1) < (cand.0, &cand.1))
            {
                latest.insert(g.clone(), cand);
            }
        }
    }
    for (g, (_, _, n)) in latest {
        out.entry(g).or_default().queued = n;
    }
    out
}

fn check(store: &Store) {
    let snap = store.snapshot();
    let restored = State::restore(&snap).unwrap();
    store.with_state(|s| {
        for (ns, id) in JOBS {
            let Some(live) = s.job_summary(ns, id) else {
                assert!(restored.job_summary(ns, id).is_none());
                continue;
            };
            assert_eq!(live.summary, counted(s, ns, id), "summary of {ns}/{id}");
            assert_eq!(
                Some(&live),
                restored.job_summary(ns, id).as_ref(),
                "restored {ns}/{id}"
            );
        }
    });
}

#[derive(Clone, Debug)]
enum Op {
    Register {
        job: usize,
        a: i64,
        b: i64,
    },
    Deregister(usize),
    Client {
        alloc: usize,
        status: AllocClientStatus,
    },
    NodeDown(bool),
    Scale {
        job: usize,
        count: i64,
    },
    Collect,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..JOBS.len(), 0i64..4, 0i64..3).prop_map(|(job, a, b)| Op::Register { job, a, b }),
        1 => (0..JOBS.len()).prop_map(Op::Deregister),
        5 => (0usize..12, prop::sample::select(AllocClientStatus::ALL.to_vec()))
            .prop_map(|(alloc, status)| Op::Client { alloc, status }),
        1 => any::<bool>().prop_map(Op::NodeDown),
        2 => (0..JOBS.len(), 0i64..5).prop_map(|(job, count)| Op::Scale { job, count }),
        1 => Just(Op::Collect),
    ]
}

fn run(store: &Store, op: &Op) {
    match op {
        Op::Register { job, a, b } => {
            let (ns, id) = JOBS[*job];
            let _ = store.register_job_json(&body(&two_groups(id, *a, *b)), &in_ns(ns));
        }
        Op::Deregister(job) => {
            let (ns, id) = JOBS[*job];
            let _ = store.deregister_job(id, &in_ns(ns));
        }
        Op::Client { alloc, status } => {
            let ids: Vec<String> = store.with_state(|s| s.allocs().map(|a| a.id.clone()).collect());
            if ids.is_empty() {
                return;
            }
            let mut ids = ids;
            ids.sort();
            let update = AllocClientUpdate {
                id: ids[alloc % ids.len()].clone(),
                client_status: status.to_string(),
                ..AllocClientUpdate::default()
            };
            let _ = store.update_alloc_client(update);
        }
        Op::NodeDown(down) => {
            let _ = store.update_node_status("n1", if *down { "down" } else { "ready" });
        }
        Op::Scale { job, count } => {
            let req = JobScaleRequest {
                count: Some(*count),
                target: [("Group".to_string(), "a".to_string())].into(),
                ..JobScaleRequest::default()
            };
            let (ns, id) = JOBS[*job];
            let _ = store.scale_job(id, req, &in_ns(ns));
        }
        Op::Collect => {
            let _ = store.garbage_collect(0);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn the_summary_is_a_count_over_the_allocations(ops in prop::collection::vec(op(), 1..40)) {
        let store = store_with(Config::default());
        add_node(&store, "n1");
        add_node(&store, "n2");
        store
            .upsert_namespace("team", Default::default(), &WriteOptions::default())
            .unwrap();
        for op in &ops {
            run(&store, op);
            check(&store);
        }
    }
}

#[test]
fn the_summary_answers_nomads_shape_and_follows_client_updates() {
    let store = inline_store();
    add_node(&store, "n1");
    register(&store, &two_groups("web", 2, 0)).unwrap();
    let s = store.job_summary("web", &now()).unwrap();
    let json = serde_json::to_value(&s.value).unwrap();
    assert_eq!(json["JobID"], "web");
    assert_eq!(json["Namespace"], "default");
    assert_eq!(
        json["Children"],
        json!({"Pending": 0, "Running": 0, "Dead": 0})
    );
    assert_eq!(
        json["Summary"]["a"],
        json!({"Queued": 0, "Complete": 0, "Failed": 0, "Running": 0, "Starting": 2,
               "Lost": 0, "Unknown": 0})
    );
    assert_eq!(json["Summary"]["b"]["Starting"], 0);
    let job = store.job("web", &now()).unwrap().value;
    assert_eq!(s.value.create_index, job.create_index);
    assert_eq!(s.value.modify_index, s.meta.index);

    let allocs = store.job_allocations("web", false, &now()).unwrap().value;
    store
        .update_alloc_client(AllocClientUpdate {
            id: allocs[0].id.clone(),
            client_status: "running".into(),
            ..AllocClientUpdate::default()
        })
        .unwrap();
    let after = store.job_summary(
        "web",
        &after(s.meta.index, std::time::Duration::from_secs(5)),
    );
    let after = after.unwrap();
    assert!(after.meta.index > s.meta.index);
    assert_eq!(
        (
            after.value.summary["a"].starting,
            after.value.summary["a"].running
        ),
        (1, 1)
    );

    let err = store.job_summary("nope", &now()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[test]
fn queued_comes_from_the_latest_evaluation() {
    let store = inline_store();
    // No node: every allocation stays queued.
    register(&store, &two_groups("web", 3, 1)).unwrap();
    let s = store.job_summary("web", &now()).unwrap().value;
    assert_eq!((s.summary["a"].queued, s.summary["b"].queued), (3, 1));
    add_node(&store, "n1");
    let s = store.job_summary("web", &now()).unwrap().value;
    assert_eq!(s.summary["a"].queued, 0);
    assert_eq!(s.summary["a"].starting, 3);
}

fn scale(
    store: &Store,
    id: &str,
    group: &str,
    count: Option<i64>,
) -> ordu::Result<ordu::structs::JobWriteResponse> {
    let req = JobScaleRequest {
        count,
        target: [("Group".to_string(), group.to_string())].into(),
        message: "by test".into(),
        ..JobScaleRequest::default()
    };
    store.scale_job(id, req, &WriteOptions::default())
}

#[test]
fn a_scale_is_a_new_version_with_a_scaling_evaluation() {
    let store = inline_store();
    add_node(&store, "n1");
    register(&store, &two_groups("web", 1, 1)).unwrap();
    let r = scale(&store, "web", "a", Some(3)).unwrap();
    let job = store.job("web", &now()).unwrap().value;
    assert_eq!((job.version, job.task_groups[0].count), (1, 3));
    assert_eq!(r.job_modify_index, job.job_modify_index);
    assert_eq!(r.eval_create_index, r.index);
    let ev = store.evaluation(&r.eval_id, &now()).unwrap().value;
    assert_eq!(ev.triggered_by, "job-scaling");
    let status = store.job_scale_status("web", &now()).unwrap().value;
    assert_eq!(status.task_groups["a"].desired, 3);
    assert_eq!(status.task_groups["a"].placed, 3);
    assert_eq!(status.task_groups["b"].placed, 1);
    assert!(!status.job_stopped);
    assert_eq!(status.job_create_index, job.create_index);

    // No count: nothing written.
    let before = store.index();
    let r = scale(&store, "web", "a", None).unwrap();
    assert_eq!((r.eval_id.as_str(), r.index), ("", 0));
    assert_eq!(store.index(), before);
}

#[test]
fn scale_errors_are_nomads_and_change_nothing() {
    let store = store_with(Config {
        limits: ordu::structs::Limits {
            max_group_count: 5,
            ..ordu::structs::Limits::default()
        },
        ..Config::default()
    });
    register(&store, &two_groups("web", 1, 1)).unwrap();
    let before = snapshot(&store);
    let err = scale(&store, "web", "zz", Some(2)).unwrap_err();
    assert_eq!(err.http_status(false), 400);
    assert!(err
        .to_string()
        .contains(r#"task group "zz" specified for scaling does not exist in job"#));
    let err = scale(&store, "web", "", Some(2)).unwrap_err();
    assert!(err
        .to_string()
        .contains("missing task group name for scaling action"));
    let err = scale(&store, "web", "a", Some(-1)).unwrap_err();
    assert!(err
        .to_string()
        .contains("scaling action count can't be negative"));
    let err = scale(&store, "web", "a", Some(6)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit);
    let err = scale(&store, "nope", "a", Some(1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let stale = JobScaleRequest {
        count: Some(2),
        target: [("Group".to_string(), "a".to_string())].into(),
        job_modify_index: 999,
        ..JobScaleRequest::default()
    };
    let err = store
        .scale_job("web", stale, &WriteOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(snapshot(&store) == before);
}
