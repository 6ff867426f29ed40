//! SPEC "`region`": the store has one region (default `global`); a request
//! for another one is an error of its own kind (HTTP 500 `No path to region`)
//! and changes nothing.

mod support;

use std::time::{Duration, Instant};

use ordu::{Config, Error, ErrorKind, QueryOptions, SchedulingMode, WriteOptions};
use serde_json::json;
use support::*;

fn eu_store() -> ordu::Store {
    store_with(Config {
        region: "eu-west".into(),
        mode: SchedulingMode::Manual,
        ..Config::default()
    })
}

fn other(region: &str) -> WriteOptions {
    WriteOptions {
        region: Some(region.into()),
        ..WriteOptions::default()
    }
}

fn assert_region_error(err: Error, requested: &str) {
    assert_eq!(err.kind(), ErrorKind::Region);
    assert_eq!(err.http_status(false), 500);
    assert_eq!(err.to_string(), "No path to region");
    match err {
        Error::Region {
            requested: r,
            region,
        } => {
            assert_eq!(r, requested);
            assert_eq!(region, "eu-west");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_default_region_is_global() {
    let store = manual_store();
    assert_eq!(store.config().region, "global");
    register(&store, &job("web", 1)).unwrap();
    assert_eq!(store.job("web", &now()).unwrap().value.region, "global");
}

#[test]
fn empty_or_global_job_region_means_the_stores() {
    let store = eu_store();
    let mut a = job("a", 1);
    a["Region"] = json!("global");
    register(&store, &a).unwrap();
    let mut b = job("b", 1);
    b["Region"] = json!("");
    register(&store, &b).unwrap();
    let mut c = job("c", 1);
    c["Region"] = json!("eu-west");
    register(&store, &c).unwrap();
    for id in ["a", "b", "c"] {
        assert_eq!(store.job(id, &now()).unwrap().value.region, "eu-west");
    }
}

#[test]
fn a_job_for_another_region_is_refused_and_changes_nothing() {
    let store = eu_store();
    register(&store, &job("web", 1)).unwrap();
    let before = snapshot(&store);
    let mut j = job("x", 1);
    j["Region"] = json!("us-east");
    assert_region_error(register(&store, &j).unwrap_err(), "us-east");
    assert!(snapshot(&store) == before);
}

#[test]
fn writes_for_another_region_are_refused() {
    let store = eu_store();
    register(&store, &job("web", 1)).unwrap();
    let before = snapshot(&store);
    let err = store
        .register_job_json(&body(&job("x", 1)), &other("us-east"))
        .unwrap_err();
    assert_region_error(err, "us-east");
    assert_region_error(
        store.evaluate_job("web", &other("us-east")).unwrap_err(),
        "us-east",
    );
    assert_region_error(
        store.deregister_job("web", &other("us-east")).unwrap_err(),
        "us-east",
    );
    assert!(snapshot(&store) == before);
    // Naming the store's own region, or none, is fine.
    store.evaluate_job("web", &other("eu-west")).unwrap();
    store.evaluate_job("web", &other("")).unwrap();
}

#[test]
fn reads_for_another_region_are_refused_at_once() {
    let store = eu_store();
    register(&store, &job("web", 1)).unwrap();
    let q = QueryOptions {
        min_index: 1,
        wait: Some(Duration::from_secs(30)),
        region: Some("us-east".into()),
        ..QueryOptions::default()
    };
    let start = Instant::now();
    assert_region_error(store.job("web", &q).unwrap_err(), "us-east");
    assert_region_error(store.jobs("", &q).unwrap_err(), "us-east");
    assert_region_error(store.job_evaluations("web", &q).unwrap_err(), "us-east");
    assert_region_error(
        store.job_allocations("web", false, &q).unwrap_err(),
        "us-east",
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "no blocking first"
    );
    let ok = QueryOptions {
        region: Some("eu-west".into()),
        ..QueryOptions::default()
    };
    assert_eq!(store.job("web", &ok).unwrap().value.id, "web");
}
