//! What real and hostile clients send (issue 11): partial nested values are
//! completed from the defaults key by key before validation, and a body with
//! bytes after its JSON value, or a store config with limits out of range, is
//! refused and changes nothing.

mod support;

use ordu::{ErrorKind, Stage, WriteOptions};
use serde_json::{json, Value};
use support::*;

fn restart_policy_after(store: &ordu::Store, id: &str, kind: &str, sent: Value) -> Value {
    let mut j = job(id, 1);
    j["Type"] = json!(kind);
    j["TaskGroups"][0]["RestartPolicy"] = sent;
    register(store, &j).unwrap();
    let got = serde_json::to_value(&*store.job(id, &now()).unwrap().value).unwrap();
    got["TaskGroups"][0]["RestartPolicy"].clone()
}

const S: i64 = 1_000_000_000;

#[test]
fn a_v02_restart_policy_without_mode_gets_the_default_mode() {
    // Exactly what the v0.2 command-line tool sends for every group.
    let store = manual_store();
    let sent = json!({"Attempts": 2, "Interval": 60 * S, "Delay": 15 * S});
    assert_eq!(
        restart_policy_after(&store, "v02", "service", sent),
        json!({"Attempts": 2, "Interval": 60 * S, "Delay": 15 * S, "Mode": "fail"})
    );
}

#[test]
fn each_absent_restart_key_comes_from_the_job_types_defaults() {
    let store = manual_store();
    assert_eq!(
        restart_policy_after(&store, "svc", "service", json!({"Attempts": 5})),
        json!({"Attempts": 5, "Interval": 1800 * S, "Delay": 15 * S, "Mode": "fail"})
    );
    assert_eq!(
        restart_policy_after(
            &store,
            "bat",
            "batch",
            json!({"Mode": "delay", "Delay": null})
        ),
        json!({"Attempts": 3, "Interval": 86_400 * S, "Delay": 15 * S, "Mode": "delay"})
    );
    // Sent as 0 is sent: kept, not replaced.
    assert_eq!(
        restart_policy_after(
            &store,
            "zero",
            "service",
            json!({"Attempts": 0, "Delay": 0})
        ),
        json!({"Attempts": 0, "Interval": 1800 * S, "Delay": 0, "Mode": "fail"})
    );
}

#[test]
fn a_partial_restart_policy_is_still_validated() {
    let store = manual_store();
    let mut j = job("bad", 1);
    j["TaskGroups"][0]["RestartPolicy"] = json!({"Mode": "sometimes"});
    let err = register(&store, &j).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(
        err.to_string().contains("TaskGroups[0].RestartPolicy"),
        "{err}"
    );
    assert_eq!(store.index(), 0);
}

#[test]
fn resending_a_partial_policy_is_the_same_spec() {
    let store = manual_store();
    let mut j = job("same", 1);
    j["TaskGroups"][0]["RestartPolicy"] = json!({"Attempts": 2});
    let first = register(&store, &j).unwrap();
    let again = register(&store, &j).unwrap();
    assert_eq!(again.job_modify_index, first.job_modify_index);
}

#[test]
fn bytes_after_the_body_are_refused() {
    let store = manual_store();
    let good = body(&job("web", 1));
    for tail in [&b" garbage {]]"[..], b"}", b" {}", b"x"] {
        let mut bad = good.clone();
        bad.extend_from_slice(tail);
        let err = store
            .register_job_json(&bad, &WriteOptions::default())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{tail:?}");
        assert!(
            matches!(
                err,
                ordu::Error::Invalid {
                    stage: Stage::Decode,
                    ..
                }
            ),
            "{tail:?}: {err:?}"
        );
        assert!(err.to_string().contains("trailing"), "{tail:?}: {err}");
        let mut bad_node = serde_json::to_vec(&json!({"Node": node("n1")})).unwrap();
        bad_node.extend_from_slice(tail);
        assert!(store.register_node_json(&bad_node).is_err(), "{tail:?}");
    }
    assert_eq!(store.index(), 0);
    // Trailing white space is not garbage.
    let mut spaced = good;
    spaced.extend_from_slice(b" \n\t");
    store
        .register_job_json(&spaced, &WriteOptions::default())
        .unwrap();
}

#[test]
fn store_config_limits_out_of_range_are_refused() {
    for (key, v) in [
        ("max_group_count", json!(-5)),
        ("max_group_count", json!(0)),
        ("max_job_count", json!(-1)),
        ("max_job_count", json!(i64::MAX)),
        ("max_request_bytes", json!(0)),
        ("max_request_bytes", json!(-8)),
        ("max_request_bytes", json!(1u64 << 40)),
        ("max_constraints", json!(0)),
        ("max_constraints", json!(-3)),
        ("max_constraints", json!(1u64 << 40)),
    ] {
        let cfg = json!({ "limits": { key: v } }).to_string();
        let err = ordu::host::config(cfg.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{key}={v}");
        assert!(err.to_string().contains(&format!("limits.{key}")), "{err}");
    }
    let ok = json!({"limits": {"max_group_count": 5, "max_job_count": 50,
                               "max_request_bytes": 1024, "max_constraints": 7}});
    let c = ordu::host::config(ok.to_string().as_bytes()).unwrap();
    assert_eq!(
        (
            c.limits.max_group_count,
            c.limits.max_job_count,
            c.limits.max_request_bytes,
            c.limits.max_constraints
        ),
        (5, 50, 1024, 7)
    );
}

#[test]
fn store_config_reads_data_dir_and_snapshot_every_for_the_host() {
    let c =
        ordu::host::store_config(br#"{"region":"r1","data_dir":"/d","snapshot_every":0}"#).unwrap();
    assert_eq!(c.config.region, "r1");
    assert_eq!(c.data_dir.as_deref(), Some("/d"));
    assert_eq!(c.snapshot_every, Some(0));
    let c = ordu::host::store_config(br#"{"data_dir":"d"}"#).unwrap();
    assert_eq!((c.data_dir.as_deref(), c.snapshot_every), (Some("d"), None));
    let c = ordu::host::store_config(b" ").unwrap();
    assert_eq!((c.data_dir, c.snapshot_every), (None, None));

    // Ill-typed or misplaced: an invalid error naming the field.
    for (cfg, field, stage) in [
        (json!({"data_dir": 5}), "data_dir", Stage::Decode),
        (json!({"data_dir": ["/d"]}), "data_dir", Stage::Decode),
        (json!({"data_dir": ""}), "data_dir", Stage::Validate),
        (
            json!({"data_dir": "/d", "snapshot_every": -1}),
            "snapshot_every",
            Stage::Decode,
        ),
        (
            json!({"data_dir": "/d", "snapshot_every": 1.5}),
            "snapshot_every",
            Stage::Decode,
        ),
        (
            json!({"data_dir": "/d", "snapshot_every": "10"}),
            "snapshot_every",
            Stage::Decode,
        ),
        (
            json!({"snapshot_every": 10}),
            "snapshot_every",
            Stage::Validate,
        ),
    ] {
        let err = ordu::host::store_config(cfg.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{cfg}");
        assert!(
            matches!(&err, ordu::Error::Invalid { stage: s, .. } if *s == stage),
            "{cfg}: {err:?}"
        );
        assert_eq!(err.field_errors()[0].path, field, "{cfg}: {err}");
    }
    // The core alone keeps no directory: `config` refuses one.
    let err = ordu::host::config(br#"{"data_dir":"/d"}"#).unwrap_err();
    assert_eq!(err.field_errors()[0].path, "data_dir", "{err}");
}

#[test]
fn a_node_id_with_a_slash_is_refused() {
    // `POST /v1/node/<id>/eligibility` once registered node `<id>/eligibility`.
    let store = manual_store();
    let mut n = node("n1");
    n["ID"] = json!("n1/eligibility");
    let body = serde_json::to_vec(&json!({ "Node": n })).unwrap();
    let err = store.register_node_json(&body).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.to_string().contains("ID: node ID contains"), "{err}");
    assert_eq!(store.index(), 0);
}

#[test]
fn a_job_id_ending_in_a_routed_suffix_is_refused() {
    let store = manual_store();
    for id in [
        "web/evaluate",
        "a/b/allocations",
        "x/evaluations",
        "p/periodic/force",
    ] {
        let err = register(&store, &job(id, 1)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{id}");
        assert!(
            err.to_string().contains("a path the job API routes"),
            "{id}: {err}"
        );
    }
    assert_eq!(store.index(), 0);
    // A `/` elsewhere, or a suffix that is the whole ID, is fine.
    for id in ["team/web", "evaluate", "web/evaluated", "a/b"] {
        register(&store, &job(id, 1)).unwrap_or_else(|e| panic!("{id}: {e}"));
    }
}

#[test]
fn ids_have_a_length_bound() {
    let store = manual_store();
    let long = "j".repeat(ordu::structs::MAX_ID_BYTES + 1);
    let err = register(&store, &job(&long, 1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit);
    assert!(err.to_string().contains("over the limit"), "{err}");
    let mut n = node("n1");
    n["ID"] = json!(long);
    let body = serde_json::to_vec(&json!({ "Node": n })).unwrap();
    assert_eq!(
        store.register_node_json(&body).unwrap_err().kind(),
        ErrorKind::Limit
    );
    assert_eq!(store.index(), 0);
    let just = "j".repeat(ordu::structs::MAX_ID_BYTES);
    register(&store, &job(&just, 1)).unwrap();
}

#[test]
fn resources_that_would_sum_past_i64_are_refused_with_their_path() {
    // Two tasks of CPU 2^62 once summed to a negative group CPU, and a node
    // then took 48 allocations of 60,000 MHz on 64,000 MHz.
    let store = manual_store();
    let mut j = job("wrap", 48);
    let t = json!({"Name": "t", "Driver": "exec", "Resources": {"CPU": 1i64 << 62}});
    let mut t2 = t.clone();
    t2["Name"] = json!("t2");
    j["TaskGroups"][0]["Tasks"] = json!([t, t2]);
    let err = register(&store, &j).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    let text = err.to_string();
    assert!(
        text.contains("TaskGroups[0].Tasks[0].Resources.CPU"),
        "{text}"
    );
    assert!(
        text.contains("TaskGroups[0].Tasks[1].Resources.CPU"),
        "{text}"
    );
    assert_eq!(store.index(), 0);

    let mut n = node("n1");
    n["Resources"]["MemoryMB"] = json!(i64::MAX);
    let body = serde_json::to_vec(&json!({ "Node": n })).unwrap();
    let err = store.register_node_json(&body).unwrap_err();
    assert!(err.to_string().contains("Resources.MemoryMB"), "{err}");
    let max = ordu::structs::MAX_RESOURCE;
    let mut ok = job("max", 1);
    ok["TaskGroups"][0]["Tasks"][0]["Resources"] = json!({"CPU": max, "MemoryMB": max});
    register(&store, &ok).unwrap();
}
