//! SPEC "Validation and defaults", what a job's constraints may cost: a
//! `regexp` pattern is compiled within bounds (one pattern, and all of a
//! job's together) and each distinct pattern once; a job has a bounded
//! number of constraints; and a job refused for a cheap reason is refused
//! before any pattern is compiled.

mod support;

use ordu::structs::{Limits, JOB_REGEX_BUDGET, MAX_PATTERN_BYTES, PATTERN_SIZE_LIMIT};
use ordu::{Config, Error, ErrorKind, SchedulingMode};
use serde_json::{json, Value};
use support::*;

/// A pattern far over any sane limit: 60 copies of every Unicode word
/// character's UTF-8 forms.
const COSTLY: &str = r"\w{60}x";

fn regexp(pattern: &str) -> Value {
    json!({"LTarget": "${attr.kernel.os}", "Operand": "regexp", "RTarget": pattern})
}

fn base() -> Value {
    json!({
        "ID": "r",
        "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec"}]}]
    })
}

/// Registers `job` on a manual store and returns the error, asserting that
/// nothing was written.
fn refused(config: Config, job: &Value) -> Error {
    let store = store_with(config);
    let err = register(&store, job).expect_err("the job must be refused");
    assert_eq!(store.index(), 0, "a refused job writes nothing");
    err
}

fn manual() -> Config {
    Config {
        mode: SchedulingMode::Manual,
        ..Config::default()
    }
}

fn paths(err: &Error) -> Vec<(&str, &str)> {
    err.field_errors()
        .iter()
        .map(|e| (e.path.as_str(), e.message.as_str()))
        .collect()
}

#[test]
fn a_costly_pattern_is_refused_with_its_path() {
    let mut j = base();
    j["TaskGroups"][0]["Constraints"] =
        json!([regexp("^lin"), regexp("^l"), regexp("x"), regexp(COSTLY)]);
    j["TaskGroups"][0]["Tasks"][0]["Constraints"] = json!([regexp(COSTLY)]);
    let err = refused(manual(), &j);
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    let ps = paths(&err);
    assert_eq!(
        ps.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        [
            "TaskGroups[0].Constraints[3].RTarget",
            "TaskGroups[0].Tasks[0].Constraints[0].RTarget"
        ]
    );
    for (_, m) in &ps {
        assert!(m.starts_with("regexp too costly to compile"), "{m}");
        assert!(m.contains(&PATTERN_SIZE_LIMIT.to_string()), "{m}");
    }
    // The same job without the costly pattern registers.
    j["TaskGroups"][0]["Constraints"][3] = regexp("^linux$");
    j["TaskGroups"][0]["Tasks"][0]["Constraints"] = json!([]);
    register(&manual_store(), &j).unwrap();
}

#[test]
fn a_pattern_over_the_length_limit_is_refused() {
    let mut j = base();
    j["Constraints"] = json!([regexp(&"a".repeat(MAX_PATTERN_BYTES + 1))]);
    let err = refused(manual(), &j);
    let ps = paths(&err);
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(ps[0].0, "Constraints[0]");
    assert!(ps[0].1.contains("over the limit of"), "{}", ps[0].1);
    j["Constraints"] = json!([regexp(&"a".repeat(MAX_PATTERN_BYTES))]);
    register(&manual_store(), &j).unwrap();
}

#[test]
fn patterns_that_fit_alone_may_not_fit_together() {
    // Each of these compiles alone; a job's patterns share one budget.
    let patterns: Vec<Value> = (0..100).map(|i| regexp(&format!(r"\w{{8}}{i}"))).collect();
    let mut j = base();
    j["Constraints"] = json!(patterns);
    let err = refused(manual(), &j);
    let ps = paths(&err);
    assert!(!ps.is_empty() && ps.len() < 100, "{}", ps.len());
    let (first, why) = ps[0];
    assert!(first.starts_with("Constraints[") && first.ends_with("].RTarget"));
    assert!(why.contains(&JOB_REGEX_BUDGET.to_string()), "{why}");
    // Once used, a pattern costs nothing more: the same one 900 times fits.
    j["Constraints"] = json!(vec![regexp(r"\w{8}0"); 900]);
    register(&manual_store(), &j).unwrap();
}

#[test]
fn the_same_costly_pattern_is_reported_at_each_use() {
    let mut j = base();
    j["Constraints"] = json!(vec![regexp(COSTLY); 900]);
    let err = refused(manual(), &j);
    assert_eq!(err.field_errors().len(), 900);
    assert_eq!(err.field_errors()[899].path, "Constraints[899].RTarget");
}

#[test]
fn too_many_constraints_are_refused() {
    let eq = json!({"LTarget": "${attr.kernel.os}", "Operand": "=", "RTarget": "linux"});
    let max = Limits::default().max_constraints;
    let mut j = base();
    j["Constraints"] = json!(vec![eq.clone(); 400]);
    j["TaskGroups"][0]["Constraints"] = json!(vec![eq.clone(); 400]);
    j["TaskGroups"][0]["Tasks"][0]["Constraints"] = json!(vec![eq.clone(); max - 799]);
    // A limit error wins over rule errors.
    j["Priority"] = json!(0);
    match refused(manual(), &j) {
        Error::Limit { path, limit, .. } => assert_eq!(
            (path.as_str(), limit),
            ("TaskGroups[0].Tasks[0].Constraints", max as u64)
        ),
        other => panic!("expected a limit error, got {other:?}"),
    }
    j["Priority"] = json!(50);
    j["TaskGroups"][0]["Tasks"][0]["Constraints"] = json!(vec![eq.clone(); max - 800]);
    register(&manual_store(), &j).unwrap();

    // The limit is the config's, and a job's own list counts first.
    let config = Config {
        limits: Limits {
            max_constraints: 3,
            ..Limits::default()
        },
        ..manual()
    };
    j["Constraints"] = json!(vec![eq; 4]);
    let err = refused(config, &j);
    assert_eq!(err.kind(), ErrorKind::Limit);
    assert!(err.to_string().contains("Constraints"), "{err}");
    assert_eq!(err.http_status(false), 400);
}

#[test]
fn a_job_refused_for_another_reason_compiles_nothing() {
    // Patterns each too costly alone (the first even for the regex crate's
    // default limits), and too many to compile together: a job with another
    // problem is refused on that problem alone, which it can only be if no
    // pattern was compiled.
    let mut patterns = vec![regexp(r"\w{1000}")];
    patterns.extend((0..50).map(|i| regexp(&format!(r"\w{{60}}{i}"))));
    let mut j = base();
    j["Constraints"] = json!(patterns);
    j["Priority"] = json!(0);
    let err = refused(manual(), &j);
    assert_eq!(
        paths(&err),
        [("Priority", "job priority must be between [1, 100]")]
    );

    // Syntax is still checked with everything else: it is cheap.
    j["TaskGroups"][0]["Constraints"] = json!([regexp("(")]);
    let err = refused(manual(), &j);
    assert_eq!(
        err.field_errors()
            .iter()
            .map(|e| e.path.as_str())
            .collect::<Vec<_>>(),
        ["Priority", "TaskGroups[0].Constraints[0]"]
    );

    // With nothing else wrong, the patterns are compiled, and refused.
    j["Priority"] = json!(50);
    j["TaskGroups"][0]["Constraints"] = json!([]);
    let err = refused(manual(), &j);
    assert_eq!(err.field_errors().len(), 51);
    assert!(err.field_errors()[0].message.contains("too costly"));
}
