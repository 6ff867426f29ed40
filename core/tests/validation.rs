//! SPEC "Validation and defaults": every rule of `structs/validate.rs` with its
//! field path, all problems reported at once, the limits on `Count`, on a
//! job's total and on a request's size, and that a rejected request changes
//! no table and no index.

mod support;

use ordu::structs::{validate_job, Job, Limits};
use ordu::{Config, Error, ErrorKind, Stage, Store};
use serde_json::{json, Value};
use support::*;

fn base() -> Value {
    json!({
        "ID": "v",
        "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec"}]}]
    })
}

/// A store with some history, so that "nothing changed" is not trivially true.
fn busy_store(config: Config) -> (Store, CommandLog) {
    let log = CommandLog::default();
    let sink = log.clone();
    let store =
        store_with(config).with_log(ordu::log::Observed::new(ordu::MemoryLog, move |i, c| {
            sink.lock().unwrap().push((i, c.clone()));
        }));
    store
        .register_node_json(node("n1").to_string().as_bytes())
        .unwrap();
    register(&store, &job("web", 2)).unwrap();
    register(&store, &job("v", 1)).unwrap();
    (store, log)
}

fn manual() -> Config {
    Config {
        mode: ordu::SchedulingMode::Manual,
        ..Config::default()
    }
}

/// Registers `body` on a store with history and asserts the rejection
/// changed nothing: same snapshot bytes, same index, no command applied.
fn rejected_body(config: Config, body: &[u8]) -> Error {
    let (store, log) = busy_store(config);
    let before = snapshot(&store);
    let index = store.index();
    let applied = log.lock().unwrap().len();
    let err = store
        .register_job_json(body, &Default::default())
        .expect_err("the request must be rejected");
    assert_eq!(store.index(), index, "a rejected request takes no index");
    assert_eq!(log.lock().unwrap().len(), applied, "no command applied");
    assert!(
        snapshot(&store) == before,
        "a rejected request changes no table"
    );
    err
}

fn rejected(job: &Value) -> Error {
    rejected_body(manual(), &body(job))
}

/// The field problems of `job`, which must be invalid (stage validate, 500).
fn problems(job: &Value) -> Vec<(String, String)> {
    let err = rejected(job);
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(matches!(
        err,
        Error::Invalid {
            stage: Stage::Validate,
            ..
        }
    ));
    assert_eq!(err.http_status(false), 500);
    err.field_errors()
        .iter()
        .map(|e| (e.path.clone(), e.message.clone()))
        .collect()
}

/// `edit` applied to the base job gives a problem at `path` whose message
/// contains `text`.
fn rule(edit: impl FnOnce(&mut Value), path: &str, text: &str) {
    let mut j = base();
    edit(&mut j);
    let ps = problems(&j);
    assert!(
        ps.iter().any(|(p, m)| p == path && m.contains(text)),
        "expected {path}: ..{text}.. in {ps:?}"
    );
}

fn task(j: &mut Value) -> &mut Value {
    &mut j["TaskGroups"][0]["Tasks"][0]
}

#[test]
fn job_rules() {
    rule(|j| j["ID"] = json!(""), "ID", "missing job ID");
    rule(|j| j["ID"] = json!("a b"), "ID", "contains a space");
    rule(|j| j["ID"] = json!("a\u{0}b"), "ID", "null character");
    rule(|j| j["Name"] = json!("n\u{0}"), "Name", "null character");
    rule(|j| j["Type"] = json!(""), "Type", "missing job type");
    rule(
        |j| j["Type"] = json!("sysbatch"),
        "Type",
        "invalid job type",
    );
    rule(|j| j["Type"] = json!("_core"), "Type", "invalid job type");
    rule(|j| j["Priority"] = json!(0), "Priority", "between [1, 100]");
    rule(
        |j| j["Priority"] = json!(101),
        "Priority",
        "between [1, 100]",
    );
    rule(
        |j| j["Datacenters"] = json!([]),
        "Datacenters",
        "missing job datacenters",
    );
    rule(
        |j| j["Datacenters"] = json!(["dc1", ""]),
        "Datacenters[1]",
        "non-empty",
    );
    rule(
        |j| j["TaskGroups"] = json!([]),
        "TaskGroups",
        "missing job task groups",
    );
    rule(
        |j| j["Update"] = json!({"MaxParallel": -1}),
        "Update.MaxParallel",
        "0 or more",
    );
    rule(
        |j| j["Update"] = json!({"Stagger": -1}),
        "Update.Stagger",
        "0 or more",
    );
}

#[test]
fn rules_unreachable_through_the_store_are_still_checked() {
    // The store fills Region and Namespace before validating; validate_job
    // itself still rejects them empty.
    let mut j: Job = serde_json::from_value(base()).unwrap();
    j.name = "v".into();
    let err = validate_job(&j, &Limits::default()).unwrap_err();
    let paths: Vec<_> = err.field_errors().iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["Region", "Namespace"]);
    j.canonicalize("global");
    validate_job(&j, &Limits::default()).unwrap();
}

#[test]
fn constraint_rules_at_job_group_and_task_level() {
    let cases: [(Value, &str); 7] = [
        (
            json!({"LTarget": "a", "RTarget": "b"}),
            "missing constraint operand",
        ),
        (
            json!({"LTarget": "a", "RTarget": "b", "Operand": "~"}),
            "unknown constraint type",
        ),
        (
            json!({"LTarget": "a", "RTarget": "(", "Operand": "regexp"}),
            "regular expression failed to compile",
        ),
        (
            json!({"LTarget": "a", "RTarget": "> x", "Operand": "version"}),
            "version constraint is invalid",
        ),
        (
            json!({"LTarget": "a", "RTarget": "b", "Operand": "is_set"}),
            "does not support an RTarget",
        ),
        (
            json!({"LTarget": "a", "Operand": "<"}),
            "requires an RTarget",
        ),
        (json!({"RTarget": "b", "Operand": "="}), "no LTarget"),
    ];
    for (c, text) in cases {
        rule(
            |j| {
                j["Constraints"] =
                    json!([{"LTarget": "a", "RTarget": "a", "Operand": "="}, c.clone()])
            },
            "Constraints[1]",
            text,
        );
        rule(
            |j| j["TaskGroups"][0]["Constraints"] = json!([c.clone()]),
            "TaskGroups[0].Constraints[0]",
            text,
        );
        rule(
            |j| task(j)["Constraints"] = json!([c.clone()]),
            "TaskGroups[0].Tasks[0].Constraints[0]",
            text,
        );
    }
    // Valid forms of the operands that need care.
    let mut j = base();
    j["Constraints"] = json!([
        {"Operand": "distinct_hosts"},
        {"LTarget": "${attr.os.version}", "RTarget": ">= 0.1, < 0.3", "Operand": "version"},
        {"LTarget": "${attr.kernel.name}", "RTarget": "^lin.*$", "Operand": "regexp"},
        {"LTarget": "${meta.rack}", "Operand": "is_set"},
        {"LTarget": "${attr.x}", "RTarget": "a,b", "Operand": "set_contains"}
    ]);
    register(&manual_store(), &j).unwrap();
}

#[test]
fn group_rules() {
    rule(
        |j| j["TaskGroups"][0]["Name"] = json!(""),
        "TaskGroups[0].Name",
        "missing task group name",
    );
    rule(
        |j| j["TaskGroups"][0]["Name"] = json!("g\u{0}"),
        "TaskGroups[0].Name",
        "null character",
    );
    rule(
        |j| {
            let g = j["TaskGroups"][0].clone();
            j["TaskGroups"].as_array_mut().unwrap().push(g);
        },
        "TaskGroups[1].Name",
        "redefines 'g' from group 0",
    );
    rule(
        |j| {
            j["Type"] = json!("system");
            j["TaskGroups"][0]["Count"] = json!(2);
        },
        "TaskGroups[0].Count",
        "cannot exceed 1 with system scheduler",
    );
    rule(
        |j| j["TaskGroups"][0]["Count"] = json!(-1),
        "TaskGroups[0].Count",
        "can't be negative",
    );
    rule(
        |j| j["TaskGroups"][0]["Tasks"] = json!([]),
        "TaskGroups[0].Tasks",
        "missing tasks",
    );
    let rp = "TaskGroups[0].RestartPolicy";
    let policy = |edit: Value| {
        move |j: &mut Value| {
            let mut p = json!({"Attempts": 1, "Interval": 100, "Delay": 10, "Mode": "fail"});
            for (k, v) in edit.as_object().unwrap() {
                p[k] = v.clone();
            }
            j["TaskGroups"][0]["RestartPolicy"] = p;
        }
    };
    rule(
        policy(json!({"Attempts": -1})),
        &format!("{rp}.Attempts"),
        "0 or more",
    );
    rule(
        policy(json!({"Interval": -1})),
        &format!("{rp}.Interval"),
        "0 or more",
    );
    rule(
        policy(json!({"Delay": -1})),
        &format!("{rp}.Delay"),
        "0 or more",
    );
    rule(
        policy(json!({"Mode": "sometimes"})),
        &format!("{rp}.Mode"),
        "unsupported restart mode",
    );
    rule(
        policy(json!({"Attempts": 3, "Delay": 50})),
        rp,
        "cannot restart 3 times",
    );
    // The same policy in `delay` mode is fine.
    let mut j = base();
    policy(json!({"Attempts": 3, "Delay": 50, "Mode": "delay"}))(&mut j);
    register(&manual_store(), &j).unwrap();
}

#[test]
fn task_rules() {
    let t = "TaskGroups[0].Tasks[0]";
    rule(
        |j| task(j)["Name"] = json!(""),
        &format!("{t}.Name"),
        "missing task name",
    );
    rule(
        |j| task(j)["Name"] = json!("a/b"),
        &format!("{t}.Name"),
        "slashes",
    );
    rule(
        |j| task(j)["Name"] = json!("a\u{0}"),
        &format!("{t}.Name"),
        "null character",
    );
    rule(
        |j| {
            let t = task(j).clone();
            j["TaskGroups"][0]["Tasks"].as_array_mut().unwrap().push(t);
        },
        "TaskGroups[0].Tasks[1].Name",
        "redefines 't' from task 0",
    );
    rule(
        |j| task(j)["Driver"] = json!(""),
        &format!("{t}.Driver"),
        "missing task driver",
    );
    for field in ["CPU", "MemoryMB", "DiskMB", "IOPS"] {
        rule(
            |j| {
                let mut r = serde_json::Map::new();
                r.insert(field.to_string(), json!(-1));
                task(j)["Resources"] = Value::Object(r);
            },
            &format!("{t}.Resources.{field}"),
            "0 or more",
        );
    }
    let n = format!("{t}.Resources.Networks[0]");
    rule(
        |j| task(j)["Resources"] = json!({"Networks": [{"MBits": -1}]}),
        &format!("{n}.MBits"),
        "0 or more",
    );
    rule(
        |j| task(j)["Resources"] = json!({"Networks": [{"ReservedPorts": [80, 70000]}]}),
        &format!("{n}.ReservedPorts[1].Value"),
        "not between 1 and 65535",
    );
    rule(
        |j| {
            task(j)["Resources"] =
                json!({"Networks": [{"ReservedPorts": [{"Label": "x", "Value": 0}]}]})
        },
        &format!("{n}.ReservedPorts[0].Value"),
        "not between 1 and 65535",
    );
    rule(
        |j| task(j)["Resources"] = json!({"Networks": [{"DynamicPorts": [{"Label": ""}]}]}),
        &format!("{n}.DynamicPorts[0].Label"),
        "no label",
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let j = json!({
        "ID": "has space",
        "Priority": 0,
        "Constraints": [{"LTarget": "a", "RTarget": "(", "Operand": "regexp"}],
        "TaskGroups": [
            {"Name": "a", "Tasks": [{"Name": "t1", "Driver": "exec"}, {"Name": "t2"}]},
            {"Name": "b", "Count": -1, "Tasks": [{"Name": "x/y", "Driver": "exec",
                                                   "Resources": {"CPU": -5}}]}
        ]
    });
    let err = rejected(&j);
    let paths: Vec<_> = err.field_errors().iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "ID",
            "Priority",
            "Constraints[0]",
            "TaskGroups[0].Tasks[1].Driver",
            "TaskGroups[1].Count",
            "TaskGroups[1].Tasks[0].Name",
            "TaskGroups[1].Tasks[0].Resources.CPU",
        ]
    );
    let text = err.to_string();
    assert!(
        text.starts_with("7 errors occurred:\n\t* ID: job ID contains a space\n"),
        "{text}"
    );
    assert!(
        text.contains("\t* TaskGroups[0].Tasks[1].Driver: missing task driver\n"),
        "{text}"
    );
    assert!(text.ends_with("\n\n"));
}

#[test]
fn decode_errors_name_the_field_and_change_nothing() {
    let err = rejected_body(
        manual(),
        br#"{"Job": {"ID": "v", "TaskGroups": [{"Name": "g", "Count": "five"}]}}"#,
    );
    assert!(
        matches!(
            err,
            Error::Invalid {
                stage: Stage::Decode,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.field_errors()[0].path, "Job.TaskGroups[0].Count");
    assert_eq!(err.http_status(false), 400);
    let err = rejected_body(manual(), br#"{"Job": {"ID": "v""#);
    assert_eq!(err.http_status(false), 400);
    let err = rejected_body(manual(), br#"{"Job": {"ID": ["v"]}}"#);
    assert_eq!(err.field_errors()[0].path, "Job.ID");
}

#[test]
fn group_count_over_the_limit() {
    let mut j = base();
    j["TaskGroups"][0]["Count"] = json!(10_001);
    let err = rejected(&j);
    match &err {
        Error::Limit { path, limit, .. } => {
            assert_eq!(path, "TaskGroups[0].Count");
            assert_eq!(*limit, 10_000);
        }
        other => panic!("expected a limit error, got {other:?}"),
    }
    assert_eq!(err.http_status(false), 400);
    assert!(err.to_string().contains("10001"), "{err}");
    // Exactly the limit is fine.
    j["TaskGroups"][0]["Count"] = json!(10_000);
    register(&manual_store(), &j).unwrap();
}

#[test]
fn a_huge_count_is_refused_before_anything_is_allocated() {
    // Inline mode with a node: if the count reached the scheduler it would try
    // to build i64::MAX allocations.
    let mut j = base();
    j["TaskGroups"][0]["Count"] = json!(i64::MAX);
    let start = std::time::Instant::now();
    let err = rejected_body(Config::default(), &body(&j));
    assert_eq!(err.kind(), ErrorKind::Limit);
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn a_limit_error_wins_over_rule_errors() {
    let mut j = base();
    j["TaskGroups"][0]["Count"] = json!(20_000);
    j["TaskGroups"][0]["Tasks"][0]["Driver"] = json!("");
    assert_eq!(rejected(&j).kind(), ErrorKind::Limit);
}

#[test]
fn total_count_over_the_limit() {
    let config = Config {
        limits: Limits {
            max_group_count: 5,
            max_job_count: 8,
            ..Limits::default()
        },
        ..manual()
    };
    let mut j = base();
    let g = j["TaskGroups"][0].clone();
    j["TaskGroups"] = json!([g.clone(), g]);
    j["TaskGroups"][0]["Count"] = json!(5);
    j["TaskGroups"][1]["Name"] = json!("h");
    j["TaskGroups"][1]["Count"] = json!(4);
    let err = rejected_body(config.clone(), &body(&j));
    match &err {
        Error::Limit { path, limit, .. } => assert_eq!((path.as_str(), *limit), ("TaskGroups", 8)),
        other => panic!("expected a limit error, got {other:?}"),
    }
    j["TaskGroups"][1]["Count"] = json!(3);
    register(&store_with(config), &j).unwrap();
}

#[test]
fn request_size_over_the_limit() {
    let config = Config {
        limits: Limits {
            max_request_bytes: 1024,
            ..Limits::default()
        },
        ..manual()
    };
    let mut j = base();
    j["Meta"] = json!({"pad": "x".repeat(2000)});
    let err = rejected_body(config.clone(), &body(&j));
    match &err {
        Error::Limit { path, limit, .. } => assert_eq!((path.as_str(), *limit), ("body", 1024)),
        other => panic!("expected a limit error, got {other:?}"),
    }
    assert_eq!(err.http_status(false), 400);

    // The default bound is 8 MiB.
    let mut big = b"{\"Job\": {\"ID\": \"v\", \"Meta\": {\"pad\": \"".to_vec();
    big.resize(8 << 20, b'x');
    big.extend_from_slice(b"\"}}}");
    assert_eq!(rejected_body(manual(), &big).kind(), ErrorKind::Limit);
}

#[test]
fn a_rejected_update_leaves_the_old_job() {
    let (store, _) = busy_store(manual());
    let before = store.job("web", &now()).unwrap();
    let mut j = job("web", 2);
    j["TaskGroups"][0]["Tasks"][0]["Driver"] = json!("");
    assert!(register(&store, &j).is_err());
    assert_eq!(store.job("web", &now()).unwrap(), before);
}
