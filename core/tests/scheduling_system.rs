//! The system scheduler: one allocation of each group on every feasible node,
//! named `<job>.<group>[0]`, following nodes as they come, go and drain
//! (SPEC "Evaluations, scheduling, allocations", reference §5.5).

mod scheduling_support;

use std::collections::BTreeSet;

use scheduling_support::*;
use serde_json::{json, Value};

fn system_job(id: &str, cpu: i64) -> Value {
    let mut j = job_json(id, 1, cpu, 100);
    j["Type"] = json!("system");
    j
}

fn nodes_of(s: &ordu::Store, job: &str) -> BTreeSet<String> {
    live(s, job).iter().map(|a| a.node_id.clone()).collect()
}

#[test]
fn one_allocation_per_feasible_node() {
    let s = store();
    add_nodes(&s, 3, 4000, 4000);
    let mut nodocker = node_json("nodocker", "dc1", 4000, 4000);
    nodocker["Attributes"]["driver.docker"] = json!("0");
    add_node(&s, nodocker);
    add_node(&s, node_json("elsewhere", "other", 4000, 4000));
    let e = eval(&s, &register(&s, system_job("sys", 100)));
    assert_eq!(e.status, "complete");
    assert!(
        e.failed_tg_allocs.is_empty(),
        "filtered nodes are not failures"
    );
    let got = nodes_of(&s, "sys");
    assert_eq!(
        got,
        ["node-000", "node-001", "node-002"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    assert!(live(&s, "sys").iter().all(|a| a.name == "sys.web[0]"));
    assert_eq!(job_status(&s, "sys"), "running");
}

#[test]
fn new_and_returning_nodes_get_an_allocation() {
    let s = store();
    add_nodes(&s, 2, 4000, 4000);
    register(&s, system_job("sys", 100));
    assert_eq!(nodes_of(&s, "sys").len(), 2);
    // A node registering ready gets one.
    add_node(&s, node_json("late", "dc1", 4000, 4000));
    assert!(nodes_of(&s, "sys").contains("late"));
    // An initializing node does not, until it is ready.
    let mut init = node_json("init", "dc1", 4000, 4000);
    init["Status"] = json!("initializing");
    add_node(&s, init);
    assert!(!nodes_of(&s, "sys").contains("init"));
    s.update_node_status("init", "ready").unwrap();
    assert!(nodes_of(&s, "sys").contains("init"));
    assert_eq!(live(&s, "sys").len(), 4);
}

#[test]
fn down_and_draining_nodes_lose_their_allocation_without_replacement() {
    let s = store();
    add_nodes(&s, 3, 4000, 4000);
    register(&s, system_job("sys", 100));
    s.update_node_status("node-000", "down").unwrap();
    s.update_node_drain("node-001", true).unwrap();
    assert_eq!(
        nodes_of(&s, "sys"),
        BTreeSet::from(["node-002".to_string()])
    );
    let all = allocs(&s, "sys");
    let lost = all.iter().find(|a| a.node_id == "node-000").unwrap();
    assert_eq!(lost.client_status, "lost");
    assert_eq!(lost.desired_status, "stop");
    let drained = all.iter().find(|a| a.node_id == "node-001").unwrap();
    assert_eq!(drained.desired_status, "stop");
    assert_eq!(all.len(), 3, "nothing placed elsewhere");
    // Back to ready and undrained: placed again.
    s.update_node_status("node-000", "ready").unwrap();
    s.update_node_drain("node-001", false).unwrap();
    assert_eq!(nodes_of(&s, "sys").len(), 3);
}

#[test]
fn updates_replace_on_the_same_node() {
    let s = store();
    add_nodes(&s, 2, 4000, 4000);
    register(&s, system_job("sys", 100));
    let before = live(&s, "sys");
    // Resources only: in place.
    register(&s, system_job("sys", 200));
    let after = live(&s, "sys");
    assert_eq!(
        before.iter().map(|a| &a.id).collect::<Vec<_>>(),
        after.iter().map(|a| &a.id).collect::<Vec<_>>()
    );
    assert!(after.iter().all(|a| a.resources.cpu == 200));
    // A config change: destructive, on the same node.
    let mut j = system_job("sys", 200);
    j["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("nginx:2");
    register(&s, j);
    let replaced = live(&s, "sys");
    assert_eq!(replaced.len(), 2);
    for a in &replaced {
        let old = before.iter().find(|b| b.node_id == a.node_id).unwrap();
        assert_ne!(a.id, old.id);
        assert_eq!(a.previous_allocation, old.id);
    }
}

#[test]
fn a_node_without_room_is_reported() {
    let s = store();
    add_nodes(&s, 2, 4000, 4000);
    add_node(&s, node_json("tiny", "dc1", 50, 4000));
    let e = eval(&s, &register(&s, system_job("sys", 100)));
    assert_eq!(live(&s, "sys").len(), 2);
    let m = &e.failed_tg_allocs["web"];
    assert_eq!(m.nodes_exhausted, 1);
    assert_eq!(m.dimension_exhausted.get("cpu exhausted"), Some(&1));
    assert_eq!(e.queued_allocations["web"], 1);
}

#[test]
fn deregister_stops_every_allocation() {
    let s = store();
    add_nodes(&s, 3, 4000, 4000);
    register(&s, system_job("sys", 100));
    s.deregister_job("sys", &Default::default()).unwrap();
    assert!(live(&s, "sys").is_empty());
    assert_eq!(allocs(&s, "sys").len(), 3);
    // New nodes no longer get one.
    add_node(&s, node_json("after", "dc1", 4000, 4000));
    assert_eq!(allocs(&s, "sys").len(), 3);
}

#[test]
fn a_node_initializing_again_keeps_its_allocation() {
    let s = store();
    add_nodes(&s, 2, 4000, 4000);
    register(&s, system_job("sys", 100));
    s.update_node_status("node-000", "initializing").unwrap();
    // Not tainted: what runs there stays, even when the job is evaluated.
    s.evaluate_job("sys", &Default::default()).unwrap();
    assert_eq!(nodes_of(&s, "sys").len(), 2);
}
