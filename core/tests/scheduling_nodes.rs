//! Nodes and the allocation lifecycle: a node that goes down makes its
//! allocations lost and they are replaced; draining or removing a node
//! migrates them; client updates replace failed work and finish batch work;
//! the job's status follows (SPEC "Evaluations, scheduling, allocations",
//! reference §5.10, §6).

mod scheduling_support;

use std::collections::BTreeSet;

use scheduling_support::*;
use serde_json::json;

fn on_node(s: &ordu::Store, job: &str, node: &str) -> usize {
    live(s, job).iter().filter(|a| a.node_id == node).count()
}

#[test]
fn a_down_node_makes_its_allocations_lost_and_replaced() {
    let s = store();
    add_nodes(&s, 3, 4000, 4000);
    let mut j = job_json("svc", 6, 100, 100);
    j["Constraints"] = json!([{"Operand": "distinct_hosts"}]);
    j["TaskGroups"][0]["Count"] = json!(2);
    register(&s, j);
    let before = live(&s, "svc");
    let victim = before[0].node_id.clone();
    let lost: Vec<_> = before
        .iter()
        .filter(|a| a.node_id == victim)
        .cloned()
        .collect();
    assert_eq!(lost.len(), 1);

    let reply = s.update_node_status(&victim, "down").unwrap();
    assert_eq!(
        reply.eval_ids.len(),
        1,
        "one node-update eval per job on it"
    );
    let e = eval(&s, &reply.eval_ids[0]);
    assert_eq!(e.triggered_by, "node-update");
    assert_eq!(e.node_id, victim);
    assert_eq!(e.status, "complete");

    let old = s.with_state(|st| st.alloc(&lost[0].id).cloned()).unwrap();
    assert_eq!(old.desired_status, "stop");
    assert_eq!(old.client_status, "lost");
    assert_eq!(
        old.desired_description,
        "alloc is lost since its node is down"
    );
    let now = live(&s, "svc");
    assert_eq!(now.len(), 2);
    assert_eq!(on_node(&s, "svc", &victim), 0);
    let replacement = now.iter().find(|a| a.name == lost[0].name).unwrap();
    assert_eq!(replacement.previous_allocation, old.id);
    assert_eq!(old.next_allocation, replacement.id);
    assert_eq!(live_names(&s, "svc"), names("svc", "web", 0..2));
}

#[test]
fn lost_work_waits_for_capacity_and_a_node_coming_back_places_it() {
    let s = store();
    add_nodes(&s, 1, 4000, 4000);
    register(&s, job_json("solo", 2, 100, 100));
    s.update_node_status("node-000", "down").unwrap();
    assert!(live(&s, "solo").is_empty());
    let blocked: Vec<_> = evals(&s, "solo")
        .into_iter()
        .filter(|e| e.status == "blocked")
        .collect();
    assert_eq!(blocked.len(), 1);
    assert_eq!(job_status(&s, "solo"), "pending");
    // The node comes back: capacity appears, the blocked evaluation places.
    s.update_node_status("node-000", "ready").unwrap();
    assert_eq!(live_names(&s, "solo"), names("solo", "web", 0..2));
    assert_eq!(eval(&s, &blocked[0].id).status, "complete");
    assert_eq!(job_status(&s, "solo"), "running");
}

#[test]
fn draining_migrates_allocations_off_the_node() {
    let s = store();
    add_nodes(&s, 3, 4000, 4000);
    register(&s, job_json("mig", 6, 100, 100));
    let before = live(&s, "mig");
    let node = before[0].node_id.clone();
    let moving: BTreeSet<String> = before
        .iter()
        .filter(|a| a.node_id == node)
        .map(|a| a.id.clone())
        .collect();
    let reply = s.update_node_drain(&node, true).unwrap();
    assert_eq!(eval(&s, &reply.eval_ids[0]).triggered_by, "node-drain");
    assert_eq!(on_node(&s, "mig", &node), 0);
    assert_eq!(live_names(&s, "mig"), names("mig", "web", 0..6));
    for id in &moving {
        let a = s.with_state(|st| st.alloc(id).cloned()).unwrap();
        assert_eq!(a.desired_status, "stop");
        assert_eq!(a.desired_description, "alloc is being migrated");
        assert_ne!(
            a.client_status, "lost",
            "a draining node's work is not lost"
        );
        assert!(!a.next_allocation.is_empty());
    }
    // A draining node takes no new work.
    register(&s, job_json("new", 5, 100, 100));
    assert_eq!(on_node(&s, "new", &node), 0);
    // Undrained, it takes work again; its Drain flag survives re-registration.
    s.update_node_drain(&node, false).unwrap();
    let n = s.with_state(|st| st.node(&node).cloned()).unwrap();
    assert!(!n.drain);
}

#[test]
fn deregistering_a_node_moves_its_allocations() {
    let s = store();
    add_nodes(&s, 2, 4000, 4000);
    register(&s, job_json("dn", 4, 100, 100));
    let node = live(&s, "dn")[0].node_id.clone();
    s.deregister_node(&node).unwrap();
    assert_eq!(on_node(&s, "dn", &node), 0);
    assert_eq!(live_names(&s, "dn"), names("dn", "web", 0..4));
}

#[test]
fn failed_service_allocations_are_replaced() {
    let s = store();
    add_nodes(&s, 2, 4000, 4000);
    register(&s, job_json("f", 2, 100, 100));
    let first = live(&s, "f")[0].clone();
    client_status(&s, &first.id, "failed");
    let e = evals(&s, "f")
        .into_iter()
        .find(|e| e.triggered_by == "alloc-failure")
        .expect("alloc-failure eval");
    assert_eq!(e.status, "complete");
    let replacement = live(&s, "f")
        .into_iter()
        .find(|a| a.name == first.name)
        .unwrap();
    assert_ne!(replacement.id, first.id);
    assert_eq!(replacement.previous_allocation, first.id);
    assert_eq!(live(&s, "f").len(), 2);
}

#[test]
fn batch_work_that_completes_is_done_and_the_job_dies() {
    let s = store();
    add_nodes(&s, 2, 4000, 4000);
    let mut j = job_json("b", 3, 100, 100);
    j["Type"] = json!("batch");
    register(&s, j.clone());
    assert_eq!(job_status(&s, "b"), "running");
    let all = live(&s, "b");
    client_status(&s, &all[0].id, "running");
    client_status(&s, &all[0].id, "complete");
    client_status(&s, &all[1].id, "complete");
    // Re-evaluating does not re-run finished work.
    s.evaluate_job("b", &Default::default()).unwrap();
    assert_eq!(live(&s, "b").len(), 1);
    assert_eq!(allocs(&s, "b").len(), 3);
    // A failed batch allocation is retried.
    client_status(&s, &all[2].id, "failed");
    assert_eq!(allocs(&s, "b").len(), 4);
    let retry = live(&s, "b")[0].clone();
    assert_eq!(retry.name, all[2].name);
    client_status(&s, &retry.id, "complete");
    assert!(live(&s, "b").is_empty());
    assert_eq!(job_status(&s, "b"), "dead");
    // A new version of the job runs again.
    j["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("nginx:2");
    register(&s, j);
    assert_eq!(live(&s, "b").len(), 3);
    assert_eq!(job_status(&s, "b"), "running");
}

#[test]
fn job_status_follows_its_allocations() {
    let s = store();
    register(&s, job_json("st", 1, 100, 100));
    assert_eq!(
        job_status(&s, "st"),
        "pending",
        "blocked: nothing to run on"
    );
    add_nodes(&s, 1, 4000, 4000);
    assert_eq!(job_status(&s, "st"), "running");
    let a = live(&s, "st")[0].clone();
    // Stopping every allocation (count 0) with no open evaluation: dead.
    register(&s, job_json("st", 0, 100, 100));
    assert_eq!(job_status(&s, "st"), "dead");
    let stopped = s.with_state(|st| st.alloc(&a.id).cloned()).unwrap();
    assert_eq!(stopped.desired_status, "stop");
}

#[test]
fn node_updates_keep_create_index_and_drain() {
    let s = store();
    add_node(&s, node_json("keep", "dc1", 1000, 1000));
    let created = s.with_state(|st| st.node("keep").unwrap().create_index);
    s.update_node_drain("keep", true).unwrap();
    // The client re-registers (as a client does on restart).
    add_node(&s, node_json("keep", "dc1", 2000, 1000));
    let n = s.with_state(|st| st.node("keep").cloned()).unwrap();
    assert_eq!(n.create_index, created);
    assert!(n.drain, "Drain is the server's");
    assert_eq!(n.resources.cpu, 2000);
}

#[test]
fn a_client_terminal_allocation_stays_terminal() {
    let s = store();
    add_nodes(&s, 1, 1000, 1000);
    register(&s, job_json("z", 1, 800, 100));
    let first = live(&s, "z")[0].clone();
    client_status(&s, &first.id, "failed");
    let replacement = live(&s, "z")[0].clone();
    assert_ne!(replacement.id, first.id);
    // A late report of the old one running does not revive it: its room and
    // its name belong to the replacement now.
    client_status(&s, &first.id, "running");
    let old = s.with_state(|st| st.alloc(&first.id).cloned()).unwrap();
    assert_eq!(old.client_status, "failed");
    assert_eq!(live(&s, "z").len(), 1);
    let used = s.with_state(|st| st.node_usage("node-000").map_or(0, |u| u.cpu));
    assert_eq!(used, 800);
}

#[test]
fn a_finished_service_allocation_is_replaced() {
    let s = store();
    add_nodes(&s, 2, 4000, 4000);
    register(&s, job_json("svc", 1, 100, 100));
    let first = live(&s, "svc")[0].clone();
    // A service should run: a task that exits is started again elsewhere.
    client_status(&s, &first.id, "complete");
    let now = live(&s, "svc");
    assert_eq!(now.len(), 1);
    assert_ne!(now[0].id, first.id);
    assert_eq!(now[0].name, first.name);
}
