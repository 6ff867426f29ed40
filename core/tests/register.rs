//! SPEC "Validation and defaults" (defaults part) and "Indexes": register
//! creates or updates, a register and its evaluation are one command at one
//! index, the first write is index 1, an identical spec creates an evaluation
//! but changes no job, a changed spec bumps `Version` and `JobModifyIndex`.

#![recursion_limit = "256"]

mod support;

use std::sync::Arc;
use std::time::Duration;

use ordu::structs::{EvalStatus, JobRegisterRequest};
use ordu::{Command, Config, ErrorKind, ManualClock, SchedulingMode, SequentialIds, Stage, Store};
use serde_json::{json, Value};
use support::*;

fn get(store: &Store, id: &str) -> Value {
    serde_json::to_value(&*store.job(id, &now()).unwrap().value).unwrap()
}

#[test]
fn first_write_is_index_1_and_register_is_one_command() {
    let (store, log) = recording_store();
    assert_eq!(store.index(), 0);
    let r = register(&store, &job("web", 2)).unwrap();
    assert_eq!(
        (r.index, r.eval_create_index, r.job_modify_index),
        (1, 1, 1)
    );
    assert!(!r.eval_id.is_empty());
    assert_eq!(store.index(), 1);

    let log = log.lock().unwrap();
    assert_eq!(log.len(), 1, "job and evaluation are one command: {log:?}");
    assert_eq!(log[0].0, 1);
    match &log[0].1 {
        Command::JobRegister { job, eval, .. } => {
            assert_eq!(job.id, "web");
            assert_eq!(eval.id, r.eval_id);
        }
        other => panic!("expected JobRegister, got {other:?}"),
    }

    let j = store.job("web", &now()).unwrap();
    assert_eq!(j.meta.index, 1);
    assert!(j.meta.known_leader);
    assert_eq!(j.meta.last_contact, 0);
    let j = j.value;
    assert_eq!(
        (j.create_index, j.modify_index, j.job_modify_index),
        (1, 1, 1)
    );
    assert_eq!(j.version, 0);
    assert_eq!(j.status, "pending");
    assert_eq!(j.submit_time, T0);

    let e = store.evaluation(&r.eval_id, &now()).unwrap().value;
    assert_eq!((e.create_index, e.modify_index), (1, 1));
    assert_eq!(e.job_modify_index, 1);
    assert_eq!(e.job_id, "web");
    assert_eq!(e.triggered_by, "job-register");
    assert_eq!(e.status, EvalStatus::Pending);
    assert_eq!(e.priority, 50);
    assert_eq!(e.eval_type, "service");
    assert_eq!(e.create_time, T0);
}

#[test]
fn typed_request_registers_like_json() {
    let store = manual_store();
    let req = JobRegisterRequest {
        job: Some(serde_json::from_value(job("web", 1)).unwrap()),
        ..JobRegisterRequest::default()
    };
    let r = store.register_job(req, &Default::default()).unwrap();
    assert_eq!(r.index, 1);
    assert_eq!(store.job("web", &now()).unwrap().value.name, "web");
}

#[test]
fn absent_fields_get_modern_defaults() {
    let store = manual_store();
    let sparse = json!({
        "ID": "web",
        "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec"}]}]
    });
    register(&store, &sparse).unwrap();
    let j = get(&store, "web");
    assert_eq!(j["Name"], "web");
    assert_eq!(j["Type"], "service");
    assert_eq!(j["Priority"], 50);
    assert_eq!(j["Region"], "global");
    assert_eq!(j["Namespace"], "default");
    assert_eq!(j["Datacenters"], json!(["*"]));
    let g = &j["TaskGroups"][0];
    assert_eq!(g["Count"], 1);
    assert_eq!(
        g["RestartPolicy"],
        json!({"Attempts": 2, "Interval": 1_800_000_000_000i64, "Delay": 15_000_000_000i64, "Mode": "fail"})
    );
    let r = &g["Tasks"][0]["Resources"];
    assert_eq!(
        (r["CPU"].as_i64(), r["MemoryMB"].as_i64()),
        (Some(100), Some(300))
    );

    let mut batch = sparse.clone();
    batch["ID"] = json!("nightly");
    batch["Type"] = json!("batch");
    register(&store, &batch).unwrap();
    assert_eq!(
        get(&store, "nightly")["TaskGroups"][0]["RestartPolicy"],
        json!({"Attempts": 3, "Interval": 86_400_000_000_000i64, "Delay": 15_000_000_000i64, "Mode": "fail"})
    );
}

#[test]
fn a_field_sent_as_0_is_kept() {
    let store = manual_store();
    let j = json!({
        "ID": "zero",
        "TaskGroups": [{
            "Name": "g", "Count": 0,
            "RestartPolicy": {"Attempts": 0, "Interval": 0, "Delay": 0, "Mode": "delay"},
            "Tasks": [{"Name": "t", "Driver": "exec",
                       "Resources": {"CPU": 0, "MemoryMB": 0, "DiskMB": 0, "IOPS": 0}}]
        }]
    });
    register(&store, &j).unwrap();
    let got = get(&store, "zero");
    let g = &got["TaskGroups"][0];
    assert_eq!(g["Count"], 0);
    assert_eq!(g["RestartPolicy"]["Attempts"], 0);
    assert_eq!(g["RestartPolicy"]["Mode"], "delay");
    let r = &g["Tasks"][0]["Resources"];
    assert_eq!(
        (r["CPU"].as_i64(), r["MemoryMB"].as_i64()),
        (Some(0), Some(0))
    );

    // Priority 0 is kept too, and then breaks the 1..=100 rule (MODERN would
    // have replaced it; SPEC keeps what the client sent).
    let mut p = job("prio", 1);
    p["Priority"] = json!(0);
    let err = register(&store, &p).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(err.field_errors()[0].path, "Priority");
}

#[test]
fn null_counts_as_absent() {
    // `nomad job run -output` writes every unset pointer field as null; a
    // script that posts that JSON must get the defaults, not a decode error.
    let store = manual_store();
    let j = json!({
        "Region": null, "Namespace": null, "ID": "nulls", "Name": null, "Type": null,
        "Priority": null, "AllAtOnce": null, "Datacenters": null, "Constraints": null,
        "Update": null, "Meta": null, "Status": null, "StatusDescription": null,
        "Stop": null, "Version": null, "SubmitTime": null, "CreateIndex": null,
        "ModifyIndex": null, "JobModifyIndex": null, "NodePool": null,
        "TaskGroups": [{
            "Name": "g", "Count": null, "Constraints": null, "RestartPolicy": null, "Meta": null,
            "Tasks": [{
                "Name": "t", "Driver": "exec", "Config": null, "Env": null,
                "Constraints": null, "Meta": null,
                "Resources": {"CPU": null, "MemoryMB": null, "DiskMB": null, "IOPS": null,
                              "Networks": [{"Device": null, "CIDR": null, "IP": null, "MBits": null,
                                            "ReservedPorts": [{"Label": "http", "Value": 8080, "To": null}],
                                            "DynamicPorts": null}]}
            }]
        }]
    });
    register(&store, &j).expect("nulls decode as absent keys");
    let got = get(&store, "nulls");
    assert_eq!(got["Name"], "nulls");
    assert_eq!(got["Type"], "service");
    assert_eq!(got["Priority"], 50);
    assert_eq!(got["Region"], "global");
    assert_eq!(got["Datacenters"], json!(["*"]));
    assert_eq!(got["TaskGroups"][0]["Count"], 1);
    let r = &got["TaskGroups"][0]["Tasks"][0]["Resources"];
    assert_eq!(
        (r["CPU"].as_i64(), r["MemoryMB"].as_i64()),
        (Some(100), Some(300))
    );
    assert_eq!(r["Networks"][0]["ReservedPorts"][0]["Value"], 8080);
    assert_eq!(
        got["NodePool"],
        Value::Null,
        "unmodelled keys come back as sent"
    );
}

#[test]
fn update_bumps_version_and_job_modify_index_and_keeps_create_index() {
    let store = manual_store();
    register(&store, &job("web", 1)).unwrap();
    let r = register(&store, &job("web", 3)).unwrap();
    assert_eq!(
        (r.index, r.eval_create_index, r.job_modify_index),
        (2, 2, 2)
    );
    let j = store.job("web", &now()).unwrap();
    assert_eq!(j.meta.index, 2);
    let j = j.value;
    assert_eq!(j.create_index, 1);
    assert_eq!((j.modify_index, j.job_modify_index), (2, 2));
    assert_eq!(j.version, 1);
    assert_eq!(j.task_groups[0].count, 3);
    let e = store.evaluation(&r.eval_id, &now()).unwrap().value;
    assert_eq!((e.create_index, e.job_modify_index), (2, 2));
}

#[test]
fn identical_register_creates_an_evaluation_but_no_job_change() {
    let clock = ManualClock::new(T0);
    let store = Store::with_sources(
        Config {
            mode: SchedulingMode::Manual,
            ..Config::default()
        },
        Arc::new(clock.clone()),
        Arc::new(SequentialIds::default()),
    );
    let first = register(&store, &job("web", 2)).unwrap();
    let before = store.job("web", &now()).unwrap();
    let list_before = store.jobs("", &now()).unwrap().meta.index;

    clock.advance(Duration::from_secs(10));
    // What the server owns (status, version, indexes, submit time) does not
    // count as a change even when the client echoes other values.
    let mut again = job("web", 2);
    again["Status"] = json!("running");
    again["Version"] = json!(7);
    again["CreateIndex"] = json!(99);
    again["JobModifyIndex"] = json!(99);
    again["SubmitTime"] = json!(5);
    let r = register(&store, &again).unwrap();
    assert_ne!(r.eval_id, first.eval_id);
    assert_eq!(r.index, 2);
    assert_eq!(r.eval_create_index, 2);
    assert_eq!(
        r.job_modify_index, 1,
        "JobModifyIndex stays the existing one"
    );

    let after = store.job("web", &now()).unwrap();
    assert_eq!(after, before, "job and its read index unchanged");
    assert_eq!(after.value.submit_time, T0);
    assert_eq!(store.jobs("", &now()).unwrap().meta.index, list_before);

    let evals = store.job_evaluations("web", &now()).unwrap();
    assert_eq!(evals.value.len(), 2);
    assert_eq!(evals.meta.index, 2);
    let e = evals.value.iter().find(|e| e.id == r.eval_id).unwrap();
    assert_eq!((e.create_index, e.job_modify_index), (2, 1));

    // A changed spec after that is a new version at a new submit time.
    let r = register(&store, &job("web", 4)).unwrap();
    let j = store.job("web", &now()).unwrap().value;
    assert_eq!(j.version, 1);
    assert_eq!(j.job_modify_index, r.index);
    assert_eq!(j.submit_time, T0 + 10_000_000_000);
}

#[test]
fn seed_job_registered_twice_is_one_version() {
    let store = manual_store();
    let a = store
        .register_job_json(&seed_body(), &Default::default())
        .unwrap();
    let b = store
        .register_job_json(&seed_body(), &Default::default())
        .unwrap();
    assert_eq!(a.job_modify_index, b.job_modify_index);
    assert!(b.index > a.index);
    assert_eq!(store.job(SEED_ID, &now()).unwrap().value.version, 0);
}

#[test]
fn ids_are_case_sensitive_and_may_contain_slashes() {
    let store = manual_store();
    register(&store, &job("Web", 1)).unwrap();
    register(&store, &job("web", 1)).unwrap();
    register(&store, &job("team/web", 1)).unwrap();
    let ids: Vec<_> = store
        .jobs("", &now())
        .unwrap()
        .value
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, ["Web", "team/web", "web"]);
    assert_eq!(store.job("team/web", &now()).unwrap().value.id, "team/web");
}

#[test]
fn missing_job_is_a_decode_error() {
    let store = manual_store();
    let err = store
        .register_job_json(br#"{"EnforceIndex": false}"#, &Default::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(matches!(
        err,
        ordu::Error::Invalid {
            stage: Stage::Decode,
            ..
        }
    ));
    assert_eq!(err.field_errors()[0].path, "Job");
    assert_eq!(err.http_status(false), 400);
    assert_eq!(store.index(), 0);
}

#[test]
fn inline_mode_processes_the_evaluation_before_register_returns() {
    let store = inline_store();
    let r = register(&store, &job("web", 1)).unwrap();
    let e = store.evaluation(&r.eval_id, &now()).unwrap().value;
    assert_ne!(e.status, EvalStatus::Pending, "{e:?}");
    assert!(
        store.index() > r.index,
        "the scheduler's result is a later write"
    );
}
