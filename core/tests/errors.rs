//! SPEC "Errors": one error type with the kinds of the table, each with a
//! stable code, its data, Nomad's text for people (`Display`), and one
//! mapping to HTTP statuses; `to_json` carries it all for the bindings.

mod support;

use ordu::structs::Limits;
use ordu::{Config, Error, ErrorKind, FieldError, SchedulingMode, Stage, Store};
use serde_json::json;
use support::*;

/// One error of each kind, as a store really produces them.
fn one_of_each() -> Vec<Error> {
    let store = store_with(Config {
        mode: SchedulingMode::Manual,
        limits: Limits {
            max_group_count: 3,
            ..Limits::default()
        },
        ..Config::default()
    });
    register(&store, &job("web", 1)).unwrap();
    let mut bad = job("bad", 1);
    bad["TaskGroups"][0]["Tasks"][0]["Driver"] = json!("");
    let mut other = job("x", 1);
    other["Region"] = json!("mars");
    vec![
        store.job("nope", &now()).unwrap_err(),
        register(&store, &bad).unwrap_err(),
        register_cas(&store, &job("web", 2), 0).unwrap_err(),
        register(&store, &other).unwrap_err(),
        register(&store, &job("big", 4)).unwrap_err(),
    ]
}

#[test]
fn kinds_and_codes_are_stable() {
    let kinds: Vec<_> = one_of_each().iter().map(Error::kind).collect();
    assert_eq!(
        kinds,
        [
            ErrorKind::NotFound,
            ErrorKind::Invalid,
            ErrorKind::Conflict,
            ErrorKind::Region,
            ErrorKind::Limit
        ]
    );
    let codes: Vec<_> = kinds.iter().map(|k| *k as u32).collect();
    assert_eq!(codes, [1, 2, 3, 4, 5]);
    let names: Vec<_> = kinds.iter().map(|k| k.name()).collect();
    assert_eq!(
        names,
        ["not_found", "invalid", "conflict", "region", "limit"]
    );
}

#[test]
fn display_is_nomads_text() {
    let texts: Vec<_> = one_of_each().iter().map(ToString::to_string).collect();
    assert_eq!(texts[0], "job not found");
    assert_eq!(
        texts[1],
        "1 error occurred:\n\t* TaskGroups[0].Tasks[0].Driver: missing task driver\n\n"
    );
    assert_eq!(texts[2], "Enforcing job modify index 0: job already exists");
    assert_eq!(texts[3], "No path to region");
    assert_eq!(
        texts[4],
        "TaskGroups[0].Count: count 4 is over the limit of 3 per task group"
    );
}

#[test]
fn http_statuses_follow_the_table() {
    let e = one_of_each();
    assert_eq!(e[0].http_status(true), 404, "get of a missing job");
    assert_eq!(e[0].http_status(false), 500, "evaluate of a missing job");
    assert_eq!(e[1].http_status(false), 500, "validation");
    let decode = Error::Invalid {
        stage: Stage::Decode,
        errors: vec![FieldError::new("Job", "Job must be specified")],
    };
    assert_eq!(decode.http_status(false), 400, "decode");
    assert_eq!(e[2].http_status(false), 500, "conflict");
    assert_eq!(e[3].http_status(false), 500, "region");
    assert_eq!(e[4].http_status(false), 400, "limit");
}

#[test]
fn to_json_carries_the_data() {
    let e = one_of_each();
    assert_eq!(
        e[0].to_json(),
        json!({"kind": "not_found", "code": 1, "message": "job not found",
               "what": "job", "id": "nope", "index": 1})
    );
    let v = e[1].to_json();
    assert_eq!(v["kind"], "invalid");
    assert_eq!(v["code"], 2);
    assert_eq!(v["stage"], "validate");
    assert_eq!(
        v["errors"],
        json!([{"path": "TaskGroups[0].Tasks[0].Driver", "message": "missing task driver"}])
    );
    assert_eq!(v["message"], e[1].to_string());
    let v = e[2].to_json();
    assert_eq!(
        (v["kind"].as_str(), v["current_index"].as_u64()),
        (Some("conflict"), Some(1))
    );
    let v = e[3].to_json();
    assert_eq!(
        (v["requested"].as_str(), v["region"].as_str()),
        (Some("mars"), Some("global"))
    );
    let v = e[4].to_json();
    assert_eq!(
        (v["kind"].as_str(), v["path"].as_str(), v["limit"].as_u64()),
        (Some("limit"), Some("TaskGroups[0].Count"), Some(3))
    );
}

#[test]
fn field_errors_are_data() {
    let e = one_of_each();
    assert_eq!(e[1].field_errors().len(), 1);
    assert_eq!(e[1].field_errors()[0].path, "TaskGroups[0].Tasks[0].Driver");
    assert!(e[0].field_errors().is_empty());
    let several = Error::invalid(vec![FieldError::new("ID", "a"), FieldError::new("", "b")]);
    assert_eq!(
        several.to_string(),
        "2 errors occurred:\n\t* ID: a\n\t* b\n\n"
    );
}

#[test]
fn the_error_is_a_std_error_hosts_can_carry() {
    fn assert_error<E: std::error::Error + Send + Sync + 'static>(_: &E) {}
    let e = one_of_each();
    assert_error(&e[0]);
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(e[3].clone());
    assert_eq!(boxed.to_string(), "No path to region");
}

#[test]
fn evaluate_missing_is_not_found_with_its_id() {
    let store = Store::default();
    match store
        .evaluate_job("ghost", &Default::default())
        .unwrap_err()
    {
        Error::NotFound { what, id, .. } => assert_eq!((what, id.as_str()), ("job", "ghost")),
        other => panic!("{other:?}"),
    }
}
