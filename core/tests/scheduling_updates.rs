//! Reconciling a job's changes: counts up and down by name, in-place and
//! destructive updates, `Update.MaxParallel` with rolling follow-ups, and
//! deregistration (SPEC "Evaluations, scheduling, allocations", reference §5.4).

mod scheduling_support;

use std::collections::BTreeSet;
use std::time::Duration;

use scheduling_support::*;
use serde_json::json;

#[test]
fn count_up_takes_the_lowest_free_names_and_down_stops_the_highest() {
    let s = store();
    add_nodes(&s, 4, 8000, 8000);
    register(&s, job_json("c", 3, 100, 100));
    assert_eq!(live_names(&s, "c"), names("c", "web", 0..3));
    let first: BTreeSet<String> = live(&s, "c").iter().map(|a| a.id.clone()).collect();

    register(&s, job_json("c", 5, 100, 100));
    assert_eq!(live_names(&s, "c"), names("c", "web", 0..5));
    let after: BTreeSet<String> = live(&s, "c").iter().map(|a| a.id.clone()).collect();
    assert!(first.is_subset(&after), "count up keeps what runs");

    register(&s, job_json("c", 2, 100, 100));
    assert_eq!(live_names(&s, "c"), names("c", "web", 0..2));
    let stopped: Vec<_> = allocs(&s, "c")
        .into_iter()
        .filter(|a| a.desired_status == "stop")
        .collect();
    assert_eq!(stopped.len(), 3);
    assert!(stopped
        .iter()
        .all(|a| a.desired_description == "alloc not needed due to job update"));
    let stopped_names: BTreeSet<_> = stopped.iter().map(|a| a.name.clone()).collect();
    assert_eq!(
        stopped_names,
        names("c", "web", 2..5).into_iter().collect::<BTreeSet<_>>()
    );

    // A gap (a failed [0]) is filled first on the next count up.
    let zero = live(&s, "c")
        .into_iter()
        .find(|a| a.name == "c.web[0]")
        .unwrap();
    client_status(&s, &zero.id, "failed");
    // The failure creates an alloc-failure evaluation that replaces it.
    let replaced = live(&s, "c")
        .into_iter()
        .find(|a| a.name == "c.web[0]")
        .unwrap();
    assert_ne!(replaced.id, zero.id);
    assert_eq!(replaced.previous_allocation, zero.id);
    assert_eq!(live_names(&s, "c"), names("c", "web", 0..2));
}

#[test]
fn resource_only_changes_update_in_place() {
    let s = store();
    add_nodes(&s, 2, 8000, 8000);
    register(&s, job_json("ip", 3, 100, 100));
    let before = live(&s, "ip");
    // The client reports running; an in-place update keeps that.
    for a in &before {
        client_status(&s, &a.id, "running");
    }
    let e = register(&s, job_json("ip", 3, 300, 200));
    let after = live(&s, "ip");
    assert_eq!(after.len(), 3);
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a.id, b.id, "same allocation");
        assert_eq!(a.node_id, b.node_id);
        assert_eq!(a.name, b.name);
        assert_eq!(a.eval_id, e);
        assert_eq!(a.resources.cpu, 300);
        assert_eq!(a.client_status, "running");
        assert_eq!(a.job.version, 1);
    }
    assert_eq!(allocs(&s, "ip").len(), 3, "nothing new");
}

#[test]
fn in_place_keeps_the_assigned_ports() {
    let s = store();
    add_nodes(&s, 1, 8000, 8000);
    let mut j = job_json("ports", 1, 100, 100);
    j["TaskGroups"][0]["Tasks"][0]["Resources"]["Networks"] =
        json!([{"MBits": 10, "DynamicPorts": [{"Label": "http"}]}]);
    register(&s, j.clone());
    let before = live(&s, "ports")[0].clone();
    j["TaskGroups"][0]["Tasks"][0]["Resources"]["CPU"] = json!(200);
    register(&s, j);
    let after = live(&s, "ports")[0].clone();
    assert_eq!(after.id, before.id);
    assert_eq!(
        after.task_resources["server"].networks,
        before.task_resources["server"].networks
    );
}

#[test]
fn spec_changes_replace_destructively() {
    let s = store();
    add_nodes(&s, 2, 8000, 8000);
    register(&s, job_json("d", 3, 100, 100));
    let before = live(&s, "d");
    let mut j = job_json("d", 3, 100, 100);
    j["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("nginx:2");
    register(&s, j);
    let after = live(&s, "d");
    assert_eq!(after.len(), 3);
    assert_eq!(live_names(&s, "d"), names("d", "web", 0..3));
    for a in &after {
        let old = before.iter().find(|b| b.name == a.name).unwrap();
        assert_ne!(a.id, old.id);
        assert_eq!(a.previous_allocation, old.id);
        let old_now = s.with_state(|st| st.alloc(&old.id).cloned()).unwrap();
        assert_eq!(old_now.desired_status, "stop");
        assert_eq!(
            old_now.desired_description,
            "alloc is being updated due to job update"
        );
        assert_eq!(old_now.next_allocation, a.id);
    }
}

#[test]
fn max_parallel_limits_each_round_and_follow_ups_finish_the_rollout() {
    let (s, clock) = store_with(ordu::Config::default());
    add_nodes(&s, 3, 8000, 8000);
    let mut j = job_json("roll", 5, 100, 100);
    j["Update"] = json!({"Stagger": 30_000_000_000i64, "MaxParallel": 2});
    register(&s, j.clone());
    let v0: BTreeSet<String> = live(&s, "roll").iter().map(|a| a.id.clone()).collect();

    j["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("nginx:2");
    let e1 = eval(&s, &register(&s, j));
    let updated = |s: &ordu::Store| {
        live(s, "roll")
            .iter()
            .filter(|a| !v0.contains(&a.id))
            .count()
    };
    assert_eq!(updated(&s), 2, "first round: MaxParallel");
    assert_eq!(live(&s, "roll").len(), 5);
    let next = eval(&s, &e1.next_eval);
    assert_eq!(next.triggered_by, "rolling-update");
    assert_eq!(next.status, "pending");
    assert_eq!(next.wait, 30_000_000_000);
    assert_eq!(next.previous_eval, e1.id);

    // Not due yet.
    s.process_ready();
    assert_eq!(updated(&s), 2);
    clock.advance(Duration::from_secs(30));
    s.process_ready();
    assert_eq!(updated(&s), 4);
    let e2 = eval(&s, &next.id);
    assert_eq!(e2.status, "complete");
    assert!(!e2.next_eval.is_empty());
    clock.advance(Duration::from_secs(30));
    s.process_ready();
    assert_eq!(updated(&s), 5);
    let e3 = eval(&s, &e2.next_eval);
    assert_eq!(e3.status, "complete");
    assert!(e3.next_eval.is_empty(), "done: no more follow-ups");
    assert_eq!(live_names(&s, "roll"), names("roll", "web", 0..5));
}

#[test]
fn deregister_stops_everything() {
    let s = store();
    add_nodes(&s, 2, 8000, 8000);
    register(&s, job_json("bye", 4, 100, 100));
    let reply = s.deregister_job("bye", &Default::default()).unwrap();
    let e = eval(&s, &reply.eval_id);
    assert_eq!(e.triggered_by, "job-deregister");
    assert_eq!(e.status, "complete");
    let all = allocs(&s, "bye");
    assert_eq!(all.len(), 4);
    assert!(all.iter().all(|a| a.desired_status == "stop"
        && a.desired_description == "alloc not needed due to job update"));
    // The freed room is usable at once.
    let usage = s.with_state(|st| {
        st.nodes()
            .map(|n| st.node_usage(&n.id).map_or(0, |u| u.cpu))
            .sum::<i64>()
    });
    assert_eq!(usage, 0);
}

#[test]
fn a_stopped_group_is_removed_and_a_new_group_placed() {
    let s = store();
    add_nodes(&s, 2, 8000, 8000);
    register(&s, job_json("g", 2, 100, 100));
    let mut j = job_json("g", 2, 100, 100);
    j["TaskGroups"][0]["Name"] = json!("api");
    register(&s, j);
    let names_now = live_names(&s, "g");
    assert_eq!(names_now, names("g", "api", 0..2));
}

#[test]
fn identical_register_changes_nothing() {
    let s = store();
    add_nodes(&s, 2, 8000, 8000);
    register(&s, job_json("same", 3, 100, 100));
    let before = allocs(&s, "same");
    let e = eval(&s, &register(&s, job_json("same", 3, 100, 100)));
    assert_eq!(e.status, "complete");
    assert_eq!(allocs(&s, "same"), before);
}

#[test]
fn a_constraint_change_moves_allocations_off_nodes_that_no_longer_fit_it() {
    let s = store();
    add_node(&s, node_json("a", "dc1", 8000, 8000));
    let mut b = node_json("b", "dc1", 8000, 8000);
    b["Meta"] = json!({"tier": "gold"});
    add_node(&s, b);
    register(&s, job_json("move", 4, 100, 100));
    assert!(live(&s, "move").iter().any(|a| a.node_id == "a"));
    // Only the constraint changes: the tasks are the same, but the
    // allocations on `a` cannot stay there.
    let mut j = job_json("move", 4, 100, 100);
    j["Constraints"] = json!([{"LTarget": "${meta.tier}", "Operand": "=", "RTarget": "gold"}]);
    register(&s, j);
    assert!(live(&s, "move").iter().all(|a| a.node_id == "b"));
    assert_eq!(live_names(&s, "move"), names("move", "web", 0..4));
}
