//! Placement failures: reported on the evaluation (FailedTGAllocs with full
//! metrics, QueuedAllocations), a blocked evaluation waits, and capacity that
//! appears unblocks it (SPEC "Evaluations, scheduling, allocations", reference
//! §5.11 and golden example G11).

mod scheduling_support;

use scheduling_support::*;
use serde_json::{json, Value};

fn seed_job() -> Value {
    serde_json::from_str(include_str!("../../testdata/seed-job.json")).unwrap()
}

/// A node in the seed job's datacenter `us2` with the given OS and drivers.
fn seed_node(id: &str, os: &str, java: bool) -> Value {
    let mut n = node_json(id, "us2", 8000, 16384);
    n["Attributes"]["kernel.os"] = json!(os);
    n["Attributes"]["driver.java"] = json!(if java { "1" } else { "0" });
    n
}

/// The seed job exactly as shipped: its job-level constraint has the bare
/// literal `kernel.os` as LTarget, which never equals `windows` (reference
/// §1.6), so every node is filtered by it, whatever the node's attributes.
#[test]
fn seed_job_as_shipped_is_blocked_by_its_literal_constraint() {
    let s = store();
    add_node(&s, seed_node("lin-1", "linux", true));
    add_node(&s, seed_node("win-1", "windows", true));
    let eval_id = register(&s, seed_job());
    let e = eval(&s, &eval_id);
    assert_eq!(e.status, "complete");
    let m = &e.failed_tg_allocs["binsl"];
    assert_eq!(m.nodes_evaluated, 2);
    assert_eq!(m.nodes_filtered, 2);
    assert_eq!(m.constraint_filtered.get("kernel.os = windows"), Some(&2));
    assert_eq!(m.coalesced_failures, 4, "five placements, one metric");
    assert_eq!(m.nodes_available.get("us2"), Some(&2));
    assert_eq!(e.queued_allocations["binsl"], 5);
    let blocked = eval(&s, &e.blocked_eval);
    assert_eq!(blocked.status, "blocked");
    assert_eq!(blocked.triggered_by, "queued-allocs");
    assert_eq!(blocked.previous_eval, eval_id);
    assert_eq!(
        blocked.status_description,
        "created to place remaining allocations"
    );
    assert!(live(&s, "binstore-storagelocker").is_empty());
    assert_eq!(job_status(&s, "binstore-storagelocker"), "pending");

    // No node can ever satisfy it: a new node re-runs the blocked evaluation,
    // which blocks again (the same evaluation) instead of multiplying.
    add_node(&s, seed_node("lin-2", "linux", true));
    let again = eval(&s, &e.blocked_eval);
    assert_eq!(again.status, "blocked");
    assert_eq!(
        again.failed_tg_allocs["binsl"].constraint_filtered["kernel.os = windows"],
        3
    );
    let blocked_count = evals(&s, "binstore-storagelocker")
        .iter()
        .filter(|e| e.status == "blocked")
        .count();
    assert_eq!(blocked_count, 1);
}

/// The seed job made satisfiable: its constraints in the seed's `$attr.`
/// interpolation form (which the example clearly meant), without the
/// job-level `windows` constraint that contradicts the group's `linux` one.
fn seed_job_meant() -> Value {
    let mut j = seed_job();
    j["Constraints"] = json!(null);
    j["TaskGroups"][0]["Constraints"][0]["LTarget"] = json!("$attr.kernel.os");
    j["TaskGroups"][0]["Tasks"][1]["Constraints"][0]["LTarget"] = json!("$attr.kernel.arch");
    j
}

#[test]
fn seed_job_waits_for_a_fitting_node_then_places() {
    let s = store();
    // Windows nodes fail the group constraint; a linux node without java
    // fails the driver check.
    add_node(&s, seed_node("win-1", "windows", true));
    add_node(&s, seed_node("win-2", "windows", true));
    add_node(&s, seed_node("lin-nojava", "linux", false));
    let eval_id = register(&s, seed_job_meant());
    let e = eval(&s, &eval_id);
    assert_eq!(e.status, "complete");
    let m = &e.failed_tg_allocs["binsl"];
    assert_eq!(m.nodes_evaluated, 3);
    assert_eq!(m.nodes_filtered, 3);
    assert_eq!(
        m.constraint_filtered.get("$attr.kernel.os = linux"),
        Some(&2)
    );
    assert_eq!(m.constraint_filtered.get("missing drivers"), Some(&1));
    assert_eq!(e.queued_allocations["binsl"], 5);
    let blocked_id = e.blocked_eval.clone();
    assert_eq!(eval(&s, &blocked_id).status, "blocked");

    // A fitting node: the blocked evaluation runs and places all five.
    add_node(&s, seed_node("lin-1", "linux", true));
    let b = eval(&s, &blocked_id);
    assert_eq!(b.status, "complete");
    assert!(b.failed_tg_allocs.is_empty());
    assert_eq!(b.queued_allocations["binsl"], 0);
    let placed = live(&s, "binstore-storagelocker");
    assert_eq!(placed.len(), 5);
    assert!(placed.iter().all(|a| a.node_id == "lin-1"));
    assert!(placed.iter().all(|a| a.eval_id == blocked_id));
    // Two tasks per allocation: 1000 MHz and the first task's 100 Mbit.
    assert_eq!(placed[0].resources.cpu, 1000);
    let net = &placed[0].task_resources["binstore"]
        .networks
        .as_ref()
        .unwrap()[0];
    assert_eq!(net.mbits, 100);
    assert_eq!(job_status(&s, "binstore-storagelocker"), "running");
}

#[test]
fn exhaustion_is_reported_by_dimension_and_coalesced() {
    let s = store();
    add_nodes(&s, 1, 2000, 100_000);
    // G11's shape: one node, a group that cannot fit at all.
    let eval_id = register(&s, job_json("big", 3, 10_000, 10));
    let e = eval(&s, &eval_id);
    let m = &e.failed_tg_allocs["web"];
    assert_eq!(m.nodes_evaluated, 1);
    assert_eq!(m.nodes_exhausted, 1);
    assert_eq!(m.dimension_exhausted.get("cpu exhausted"), Some(&1));
    assert_eq!(m.coalesced_failures, 2);
    assert_eq!(e.queued_allocations["web"], 3);
    assert!(
        allocs(&s, "big").is_empty(),
        "no failed allocations (MODERN)"
    );

    // Memory is checked after CPU.
    let e = eval(&s, &register(&s, job_json("mem", 1, 10, 200_000)));
    assert_eq!(
        e.failed_tg_allocs["web"]
            .dimension_exhausted
            .get("memory exhausted"),
        Some(&1)
    );
}

#[test]
fn partial_placement_blocks_the_rest_and_freed_capacity_unblocks() {
    let s = store();
    add_nodes(&s, 2, 1000, 1000);
    // A batch job holds one node.
    let mut holder = job_json("holder", 1, 1000, 100);
    holder["Type"] = json!("batch");
    register(&s, holder);
    let eval_id = register(&s, job_json("half", 4, 500, 100));
    let e = eval(&s, &eval_id);
    assert_eq!(live(&s, "half").len(), 2);
    assert_eq!(e.queued_allocations["web"], 2);
    assert_eq!(e.failed_tg_allocs["web"].coalesced_failures, 1);
    let blocked = e.blocked_eval.clone();

    // A small node registers: the blocked evaluation runs, places one more,
    // and blocks again (the same evaluation).
    add_node(&s, node_json("extra", "dc1", 500, 1000));
    let b = eval(&s, &blocked);
    assert_eq!(b.status, "blocked");
    assert_eq!(b.queued_allocations["web"], 1);
    assert_eq!(live(&s, "half").len(), 3);

    // The batch allocation completes: it is done (never replaced) and its
    // room goes to the blocked evaluation, which now completes.
    let done = live(&s, "holder")[0].clone();
    client_status(&s, &done.id, "complete");
    let b = eval(&s, &blocked);
    assert_eq!(b.status, "complete");
    assert!(b.failed_tg_allocs.is_empty());
    assert_eq!(live_names(&s, "half"), names("half", "web", 0..4));
    assert!(live(&s, "holder").is_empty());
    assert_eq!(allocs(&s, "holder").len(), 1, "not replaced");
    assert_eq!(job_status(&s, "holder"), "dead");
}

#[test]
fn a_later_successful_evaluation_cancels_the_blocked_one() {
    let s = store();
    add_nodes(&s, 1, 1000, 1000);
    let e = eval(&s, &register(&s, job_json("shrink", 4, 500, 100)));
    let blocked = e.blocked_eval.clone();
    assert_eq!(eval(&s, &blocked).status, "blocked");
    // Scaling down to what fits: the new evaluation places everything.
    let e2 = eval(&s, &register(&s, job_json("shrink", 2, 500, 100)));
    assert_eq!(e2.status, "complete");
    assert!(e2.failed_tg_allocs.is_empty());
    assert_eq!(eval(&s, &blocked).status, "canceled");
    assert_eq!(s.broker_stats().4, 0, "nothing tracked as blocked");
}

#[test]
fn all_at_once_commits_every_placement_or_none() {
    let s = store();
    add_nodes(&s, 1, 1000, 1000);
    let mut j = job_json("gang", 3, 400, 100);
    j["AllAtOnce"] = json!(true);
    let e = eval(&s, &register(&s, j));
    assert!(allocs(&s, "gang").is_empty(), "two would fit, none placed");
    assert_eq!(e.queued_allocations["web"], 3);
    assert!(!e.blocked_eval.is_empty());
    // Room for all three: the blocked evaluation places them together.
    add_node(&s, node_json("more", "dc1", 1000, 1000));
    assert_eq!(live(&s, "gang").len(), 3);
    assert_eq!(eval(&s, &e.blocked_eval).status, "complete");
}

#[test]
fn deregistering_a_blocked_job_cancels_its_blocked_evaluation() {
    let s = store();
    add_nodes(&s, 1, 100, 100);
    let e = eval(&s, &register(&s, job_json("gone", 1, 1000, 100)));
    s.deregister_job("gone", &Default::default()).unwrap();
    assert_eq!(eval(&s, &e.blocked_eval).status, "canceled");
    add_nodes(&s, 2, 4000, 4000);
    assert!(allocs(&s, "gone").is_empty());
}

#[test]
fn stopping_a_job_gives_its_room_to_a_blocked_one() {
    let s = store();
    add_nodes(&s, 1, 1000, 1000);
    register(&s, job_json("first", 2, 500, 100));
    let e = eval(&s, &register(&s, job_json("second", 2, 500, 100)));
    assert!(live(&s, "second").is_empty());
    let blocked = e.blocked_eval.clone();
    // No client reports anything: the stop alone frees the node.
    s.deregister_job("first", &Default::default()).unwrap();
    assert_eq!(live(&s, "second").len(), 2);
    assert_eq!(eval(&s, &blocked).status, "complete");
    // Scaling down frees room too.
    let e = eval(&s, &register(&s, job_json("third", 1, 500, 100)));
    assert_eq!(eval(&s, &e.blocked_eval).status, "blocked");
    register(&s, job_json("second", 1, 500, 100));
    assert_eq!(live(&s, "third").len(), 1);
}
