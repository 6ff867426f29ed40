//! SPEC "Model and wire form": Nomad's field names, the seed job round trip,
//! nothing a client sends is lost, the seed's legacy forms are accepted.

mod support;

use serde_json::{json, Value};
use support::*;

/// Asserts that every field of `want` is in `got` with the same value
/// (recursively; `got` may have more keys).
fn assert_contains(got: &Value, want: &Value, path: &str) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, v) in w {
                let p = format!("{path}.{k}");
                let gv = g
                    .get(k)
                    .unwrap_or_else(|| panic!("{p} is missing from {got}"));
                assert_contains(gv, v, &p);
            }
        }
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{path}: {got} vs {want}");
            for (i, (gv, wv)) in g.iter().zip(w).enumerate() {
                assert_contains(gv, wv, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(got, want, "{path}"),
    }
}

fn get_json(store: &ordu::Store, id: &str) -> Value {
    serde_json::to_value(&*store.job(id, &now()).unwrap().value).unwrap()
}

#[test]
fn seed_job_round_trips_with_the_indexes() {
    let store = manual_store();
    let r = store
        .register_job_json(&seed_body(), &Default::default())
        .unwrap();
    let got = get_json(&store, SEED_ID);

    let mut want: Value = serde_json::from_str(SEED).unwrap();
    let sent = want.as_object_mut().unwrap();
    // The server owns these: the indexes are ours, the status is derived.
    for k in ["CreateIndex", "ModifyIndex", "Status"] {
        sent.remove(k).unwrap();
    }
    assert_contains(&got, &want, "Job");

    assert_eq!(got["CreateIndex"], r.index);
    assert_eq!(got["ModifyIndex"], r.index);
    assert_eq!(got["JobModifyIndex"], r.job_modify_index);
    assert_eq!(got["Version"], 0);
    assert_eq!(got["Status"], "pending");
    assert_eq!(got["SubmitTime"], T0);
    assert_eq!(got["Namespace"], "default");
    // Values that matter, spelled out once more.
    assert_eq!(got["TaskGroups"][0]["Count"], 5);
    assert_eq!(got["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"], 0);
    assert_eq!(
        got["TaskGroups"][0]["Tasks"][0]["Resources"]["Networks"][0]["MBits"],
        100
    );
    assert_eq!(got["TaskGroups"][0]["Meta"]["elb_mode"], "tcp");
    assert_eq!(
        got["TaskGroups"][0]["Tasks"][1]["Constraints"][0]["RTarget"],
        "amd64"
    );
}

#[test]
fn unknown_fields_survive_at_every_level() {
    let store = manual_store();
    let blob = json!({"nested": [1, "two", {"three": null}], "n": 1.5});
    let sent = json!({
        "ID": "future",
        "NodePool": "gpu",
        "Affinities": [{"LTarget": "${node.class}", "RTarget": "big", "Operand": "=", "Weight": 50}],
        "Multiregion": blob,
        "Constraints": [{"LTarget": "${attr.kernel.os}", "RTarget": "linux", "Operand": "=", "Future": blob}],
        "Update": {"Stagger": 30_000_000_000i64, "MaxParallel": 1, "HealthCheck": "checks", "Canary": 2},
        "TaskGroups": [{
            "Name": "g",
            "EphemeralDisk": {"SizeMB": 300},
            "Services": [{"Name": "web", "PortLabel": "http"}],
            "RestartPolicy": {"Attempts": 1, "Interval": 60_000_000_000i64, "Delay": 1_000_000_000,
                              "Mode": "fail", "RenderTemplates": true},
            "Tasks": [{
                "Name": "t", "Driver": "docker",
                "Config": {"image": "redis:7", "ports": ["db"], "args": [1, true, {"x": null}]},
                "Env": {"A": "1"},
                "KillTimeout": 5_000_000_000i64,
                "Lifecycle": {"Hook": "prestart", "Sidecar": false},
                "Resources": {"CPU": 250, "MemoryMB": 128, "Cores": 0, "MemoryMaxMB": 256,
                              "Networks": [{"MBits": 10, "Mode": "bridge", "Hostname": "h",
                                            "ReservedPorts": [{"Label": "db", "Value": 6379, "To": 6379,
                                                               "HostNetwork": "default"}],
                                            "DynamicPorts": [{"Label": "http", "Value": 0, "To": 8080,
                                                              "IgnoreCollision": false}]}]}
            }]
        }]
    });
    register(&store, &sent).unwrap();
    let got = get_json(&store, "future");
    assert_contains(&got, &sent, "Job");
    // And once more through a second register of what GET returned: the
    // unknown keys are part of the spec, so nothing changed.
    let r = register(&store, &got).unwrap();
    assert_eq!(
        r.job_modify_index, 1,
        "re-registering GET's answer is no change"
    );
    assert_eq!(get_json(&store, "future"), got);
}

#[test]
fn changing_only_an_unknown_field_is_a_spec_change() {
    let store = manual_store();
    let mut j = job("web", 1);
    j["NodePool"] = json!("a");
    register(&store, &j).unwrap();
    j["NodePool"] = json!("b");
    let r = register(&store, &j).unwrap();
    assert_eq!(r.job_modify_index, r.index);
    let got = store.job("web", &now()).unwrap().value;
    assert_eq!(got.version, 1);
    assert_eq!(got.extra["NodePool"].value(), "b");
}

#[test]
fn legacy_ports_and_constraint_flags_are_accepted() {
    let store = manual_store();
    let sent = json!({
        "ID": "old",
        "Constraints": [{"LTarget": "$attr.kernel.os", "RTarget": "linux", "Operand": "=",
                         "Hard": true, "Weight": 0}],
        "TaskGroups": [{"Name": "g", "Tasks": [{
            "Name": "t", "Driver": "exec",
            "Resources": {"CPU": 100, "MemoryMB": 64, "Networks": [{
                "MBits": 1, "ReservedPorts": [80, 443], "DynamicPorts": ["http", "admin"]
            }]}
        }]}]
    });
    register(&store, &sent).unwrap();
    let j = store.job("old", &now()).unwrap().value;
    let net = &j.task_groups[0].tasks[0].resources.networks()[0];
    let reserved: Vec<_> = net.reserved().iter().map(|p| p.value).collect();
    let dynamic: Vec<_> = net.dynamic().iter().map(|p| p.label.as_str()).collect();
    assert_eq!(reserved, [80, 443]);
    assert_eq!(dynamic, ["http", "admin"]);
    // Written back in the modern form; the seed's constraint flags are kept.
    let got = get_json(&store, "old");
    let n = &got["TaskGroups"][0]["Tasks"][0]["Resources"]["Networks"][0];
    assert_eq!(
        n["ReservedPorts"][1],
        json!({"Label": "", "Value": 443, "To": 0})
    );
    assert_eq!(
        n["DynamicPorts"][0],
        json!({"Label": "http", "Value": 0, "To": 0})
    );
    assert_eq!(got["Constraints"][0]["Hard"], true);
    assert_eq!(got["Constraints"][0]["Weight"], 0);
}

#[test]
fn a_port_of_another_type_is_a_decode_error_at_its_path() {
    let store = manual_store();
    let before = store.index();
    for (port, says) in [
        (json!(true), "a port: a number, a label or an object"),
        (json!(u64::MAX), "a port: a number, a label or an object"),
        (json!({"Value": "80"}), "invalid type: string"),
    ] {
        let sent = json!({
            "ID": "bad-port",
            "TaskGroups": [{"Name": "g", "Tasks": [{
                "Name": "t", "Driver": "exec",
                "Resources": {"Networks": [{"ReservedPorts": [80, port]}]}
            }]}]
        });
        let err = register(&store, &sent).unwrap_err();
        let fe = &err.field_errors()[0];
        assert!(
            fe.path
                .starts_with("Job.TaskGroups[0].Tasks[0].Resources.Networks[0].ReservedPorts[1]"),
            "{port}: {}",
            fe.path
        );
        assert!(fe.message.contains(says), "{port}: {}", fe.message);
    }
    assert_eq!(store.index(), before);
}

#[test]
fn field_names_are_nomads() {
    let store = manual_store();
    let r = register(&store, &job("web", 1)).unwrap();
    let reply = serde_json::to_value(&r).unwrap();
    for k in [
        "EvalID",
        "EvalCreateIndex",
        "JobModifyIndex",
        "Index",
        "LastContact",
        "KnownLeader",
        "Warnings",
    ] {
        assert!(reply.get(k).is_some(), "reply lacks {k}: {reply}");
    }
    let stub = serde_json::to_value(&store.jobs("", &now()).unwrap().value[0]).unwrap();
    for k in [
        "ID",
        "ParentID",
        "Name",
        "Namespace",
        "Datacenters",
        "Type",
        "Priority",
        "Stop",
        "Status",
        "StatusDescription",
        "CreateIndex",
        "ModifyIndex",
        "JobModifyIndex",
        "SubmitTime",
    ] {
        assert!(stub.get(k).is_some(), "job stub lacks {k}: {stub}");
    }
    let eval = serde_json::to_value(&*store.evaluation(&r.eval_id, &now()).unwrap().value).unwrap();
    for k in [
        "ID",
        "Namespace",
        "Priority",
        "Type",
        "TriggeredBy",
        "JobID",
        "JobModifyIndex",
        "Status",
        "FailedTGAllocs",
        "QueuedAllocations",
        "BlockedEval",
        "CreateIndex",
        "ModifyIndex",
        "CreateTime",
        "ModifyTime",
    ] {
        assert!(eval.get(k).is_some(), "evaluation lacks {k}: {eval}");
    }
}

#[test]
fn empty_lists_are_empty_arrays_not_null() {
    let store = manual_store();
    assert_eq!(enc(&store.jobs("", &now()).unwrap().value), "[]");
    assert_eq!(
        enc(&store.job_evaluations("none", &now()).unwrap().value),
        "[]"
    );
    assert_eq!(
        enc(&store.job_allocations("none", true, &now()).unwrap().value),
        "[]"
    );
    register(&store, &job("web", 1)).unwrap();
    let e = &store.job_evaluations("web", &now()).unwrap().value[0];
    let e = serde_json::to_value(&**e).unwrap();
    assert_eq!(e["FailedTGAllocs"], json!({}));
}

fn enc<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap()
}
