//! Allocations and nodes as Nomad 1.x clients drive them (issue 15, point 7):
//! an allocation stop moves it; an ineligible node takes no new work but keeps
//! its own; eligible again unblocks; a drain with a `DrainSpec` migrates (and
//! leaves system work when asked); node evaluate evaluates the node's jobs.
//! Every one of them replays from its log to the same snapshot.

mod scheduling_support;

use std::sync::{Arc, Mutex};

use ordu::command::Command;
use ordu::structs::DrainSpec;
use ordu::{Config, ErrorKind, ManualClock, SequentialIds, State, Store, WriteOptions};
use scheduling_support::*;
use serde_json::json;

type Recorded = Arc<Mutex<Vec<(u64, Command)>>>;

/// An inline store with a manual clock that records every command.
fn recorded() -> (Store, Recorded) {
    let log: Recorded = Arc::default();
    let sink = log.clone();
    let store = Store::with_sources(
        Config::default(),
        Arc::new(ManualClock::new(T0)),
        Arc::new(SequentialIds::default()),
    )
    .with_log(ordu::log::Observed::new(ordu::MemoryLog, move |i, c| {
        sink.lock().unwrap().push((i, c.clone()));
    }));
    (store, log)
}

/// Replaying the recorded log gives the store's snapshot, byte for byte.
fn assert_replays(store: &Store, log: &Recorded) {
    let mut st = State::new();
    for (i, c) in log.lock().unwrap().iter() {
        st.apply(*i, c).unwrap();
    }
    assert!(st.snapshot() == store.snapshot(), "replay differs");
}

fn on_node(s: &Store, job: &str, node: &str) -> usize {
    live(s, job).iter().filter(|a| a.node_id == node).count()
}

fn system_job(id: &str) -> serde_json::Value {
    let mut j = job_json(id, 1, 100, 100);
    j["Type"] = json!("system");
    j
}

#[test]
fn a_stopped_service_allocation_is_replaced() {
    let (s, log) = recorded();
    add_nodes(&s, 2, 4000, 4000);
    register(&s, job_json("svc", 2, 100, 100));
    let victim = live(&s, "svc")[0].clone();

    let r = s
        .stop_allocation(&victim.id, &WriteOptions::default())
        .unwrap();
    assert!(r.index > 0);
    let e = eval(&s, &r.eval_id);
    assert_eq!(e.triggered_by, "alloc-stop");
    assert_eq!(e.status, "complete");
    let old = s.with_state(|st| st.alloc(&victim.id).cloned()).unwrap();
    assert_eq!(old.desired_status, "stop");
    assert_eq!(old.desired_transition.migrate, Some(true));
    let now = live(&s, "svc");
    assert_eq!(now.len(), 2);
    let replacement = now.iter().find(|a| a.name == victim.name).unwrap();
    assert_ne!(replacement.id, victim.id);
    assert_eq!(replacement.previous_allocation, victim.id);
    assert_replays(&s, &log);
}

#[test]
fn stopping_an_unknown_allocation_is_nomads_error_and_writes_nothing() {
    let s = store();
    let before = s.index();
    let err = s
        .stop_allocation("nope", &WriteOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.to_string(), "Unknown allocation \"nope\"");
    assert_eq!(err.http_status(false), 500);
    assert_eq!(s.index(), before);
}

#[test]
fn an_ineligible_node_keeps_its_allocations_but_takes_no_new_ones() {
    let (s, log) = recorded();
    add_nodes(&s, 2, 4000, 4000);
    register(&s, job_json("svc", 2, 100, 100));
    let node = "node-000";
    let kept = on_node(&s, "svc", node);

    let r = s.update_node_eligibility(node, "ineligible").unwrap();
    assert!(r.eval_ids.is_empty());
    assert_eq!(r.node_modify_index, r.index);
    let n = s.with_state(|st| st.node(node).cloned()).unwrap();
    assert_eq!(n.scheduling_eligibility, "ineligible");
    assert!(!n.is_schedulable());
    assert_eq!(on_node(&s, "svc", node), kept, "existing allocations stay");

    register(&s, job_json("more", 6, 100, 100));
    assert_eq!(on_node(&s, "more", node), 0);
    assert_eq!(live(&s, "more").len(), 6);

    let err = s.update_node_eligibility(node, "maybe").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(err.field_errors()[0].path, "Eligibility");
    let err = s.update_node_eligibility("ghost", "eligible").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_replays(&s, &log);
}

#[test]
fn eligible_again_unblocks_a_blocked_evaluation() {
    let (s, log) = recorded();
    add_nodes(&s, 1, 1000, 1000);
    s.update_node_eligibility("node-000", "ineligible").unwrap();
    let eval_id = register(&s, job_json("svc", 1, 100, 100));
    assert!(live(&s, "svc").is_empty());
    let blocked = eval(&s, &eval_id).blocked_eval.clone();
    assert!(!blocked.is_empty(), "a blocked evaluation waits");
    assert_eq!(eval(&s, &blocked).status, "blocked");

    let r = s.update_node_eligibility("node-000", "eligible").unwrap();
    assert!(r.eval_ids.is_empty(), "no job runs there yet");
    assert_eq!(live(&s, "svc").len(), 1);
    assert_eq!(eval(&s, &blocked).status, "complete");
    assert_replays(&s, &log);
}

#[test]
fn a_drain_migrates_and_marks_the_node() {
    let (s, log) = recorded();
    add_nodes(&s, 3, 4000, 4000);
    register(&s, job_json("svc", 6, 100, 100));
    let node = "node-001";
    let moving: Vec<_> = live(&s, "svc")
        .into_iter()
        .filter(|a| a.node_id == node)
        .collect();
    assert!(!moving.is_empty());

    let spec = DrainSpec {
        deadline: 3_600_000_000_000,
        ignore_system_jobs: false,
    };
    let r = s.drain_node(node, Some(&spec), false).unwrap();
    assert_eq!(r.eval_ids.len(), 1);
    assert_eq!(eval(&s, &r.eval_ids[0]).triggered_by, "node-drain");
    let n = s.with_state(|st| st.node(node).cloned()).unwrap();
    assert!(n.drain);
    assert_eq!(n.scheduling_eligibility, "ineligible");
    let d = n.drain_strategy.clone().unwrap();
    assert_eq!(d.deadline, 3_600_000_000_000);
    assert_eq!(d.started_at, "2026-01-01T00:00:00Z");
    assert_eq!(d.force_deadline, "2026-01-01T01:00:00Z");
    assert_eq!(on_node(&s, "svc", node), 0);
    assert_eq!(live(&s, "svc").len(), 6);
    for a in &moving {
        let old = s.with_state(|st| st.alloc(&a.id).cloned()).unwrap();
        assert_eq!(old.desired_status, "stop");
        assert_eq!(old.desired_description, "alloc is being migrated");
    }
    let json = serde_json::to_value(&*n).unwrap();
    assert_eq!(json["DrainStrategy"]["IgnoreSystemJobs"], false);

    // Ending it with MarkEligible gives the node back.
    let r = s.drain_node(node, None, true).unwrap();
    assert!(r.index > 0);
    let n = s.with_state(|st| st.node(node).cloned()).unwrap();
    assert!(!n.drain && n.drain_strategy.is_none());
    assert_eq!(n.scheduling_eligibility, "eligible");
    assert_replays(&s, &log);
}

#[test]
fn a_drain_ignoring_system_jobs_leaves_theirs() {
    let (s, log) = recorded();
    add_nodes(&s, 2, 4000, 4000);
    register(&s, system_job("sys"));
    register(&s, job_json("svc", 4, 100, 100));
    let node = "node-000";
    assert_eq!(on_node(&s, "sys", node), 1);
    let spec = DrainSpec {
        deadline: 0,
        ignore_system_jobs: true,
    };
    let r = s.drain_node(node, Some(&spec), false).unwrap();
    assert_eq!(r.eval_ids.len(), 1, "only the service job is evaluated");
    assert_eq!(on_node(&s, "sys", node), 1, "the system allocation stays");
    assert_eq!(on_node(&s, "svc", node), 0);
    let d = s.with_state(|st| st.node(node).cloned()).unwrap();
    assert_eq!(
        d.drain_strategy.as_ref().unwrap().force_deadline,
        "0001-01-01T00:00:00Z"
    );

    // Without IgnoreSystemJobs the system allocation goes too.
    s.drain_node(node, None, false).unwrap();
    let n = s.with_state(|st| st.node(node).cloned()).unwrap();
    assert_eq!(n.scheduling_eligibility, "ineligible", "no MarkEligible");
    let spec = DrainSpec {
        deadline: -1,
        ignore_system_jobs: false,
    };
    s.drain_node(node, Some(&spec), false).unwrap();
    assert_eq!(on_node(&s, "sys", node), 0);
    assert_replays(&s, &log);
}

/// A drain whose work cannot move: the jobs of `node-000` on a cluster of
/// that one node.
fn stuck_drain(deadline: i64, ignore_system_jobs: bool) -> (Store, ManualClock) {
    let (s, clock) = store_with(Config::default());
    add_nodes(&s, 1, 4000, 4000);
    register(&s, job_json("svc", 2, 100, 100));
    register(&s, system_job("sys"));
    let spec = DrainSpec {
        deadline,
        ignore_system_jobs,
    };
    s.drain_node("node-000", Some(&spec), false).unwrap();
    (s, clock)
}

fn node0(s: &Store) -> Arc<ordu::structs::Node> {
    s.with_state(|st| st.node("node-000").cloned()).unwrap()
}

#[test]
fn a_drain_stops_what_could_not_move_at_its_deadline_then_ends() {
    let (s, clock) = stuck_drain(3_600_000_000_000, false);
    // No room elsewhere: the service allocations keep running; the system
    // one is stopped by its scheduler at once.
    assert_eq!(on_node(&s, "svc", "node-000"), 2);
    assert_eq!(on_node(&s, "sys", "node-000"), 0);
    assert_eq!(s.advance_drains().unwrap(), None);
    clock.advance(std::time::Duration::from_secs(3599));
    assert_eq!(s.advance_drains().unwrap(), None, "before the deadline");
    assert_eq!(on_node(&s, "svc", "node-000"), 2);

    clock.advance(std::time::Duration::from_secs(1));
    let at = s
        .advance_drains()
        .unwrap()
        .expect("the deadline stops them");
    assert_eq!(on_node(&s, "svc", "node-000"), 0);
    for a in allocs(&s, "svc") {
        assert_eq!(a.desired_status, "stop");
        assert_eq!(
            a.desired_description,
            "alloc is being migrated: node drain deadline reached"
        );
        assert_eq!(a.modify_index, at);
    }
    // Their replacements wait for room: the job's evaluation blocks.
    let e = evals(&s, "svc");
    assert!(e
        .iter()
        .any(|e| e.triggered_by == "node-drain" && e.status == "complete"));
    assert!(e.iter().any(|e| e.status == "blocked"), "{e:?}");
    assert!(node0(&s).drain, "the drain ends on the next pass");

    // Nothing it moves runs there now: the drain ends, the node stays
    // ineligible, as Nomad leaves it.
    assert!(s.advance_drains().unwrap().is_some());
    let n = node0(&s);
    assert!(!n.drain && n.drain_strategy.is_none());
    assert_eq!(n.scheduling_eligibility, "ineligible");
    assert_eq!(s.advance_drains().unwrap(), None);
}

#[test]
fn a_forced_drain_stops_at_once_and_one_without_deadline_waits() {
    let (s, _) = stuck_drain(-1, false);
    assert!(s.advance_drains().unwrap().is_some());
    assert_eq!(on_node(&s, "svc", "node-000"), 0);

    let (s, clock) = stuck_drain(0, false);
    clock.advance(std::time::Duration::from_secs(1_000_000));
    assert_eq!(s.advance_drains().unwrap(), None);
    assert_eq!(on_node(&s, "svc", "node-000"), 2);
    assert!(node0(&s).drain);
}

#[test]
fn a_drain_ends_once_what_it_moves_is_gone() {
    // Room elsewhere: everything moved at once, so the first pass ends it,
    // long before the deadline; system work it leaves does not hold it.
    let (s, log) = recorded();
    add_nodes(&s, 2, 4000, 4000);
    register(&s, system_job("sys"));
    register(&s, job_json("svc", 4, 100, 100));
    let spec = DrainSpec {
        deadline: 3_600_000_000_000,
        ignore_system_jobs: true,
    };
    s.drain_node("node-000", Some(&spec), false).unwrap();
    assert_eq!(on_node(&s, "svc", "node-000"), 0);
    assert_eq!(on_node(&s, "sys", "node-000"), 1);
    assert!(s.advance_drains().unwrap().is_some());
    let n = node0(&s);
    assert!(!n.drain);
    assert_eq!(on_node(&s, "sys", "node-000"), 1);
    // A follower carries nothing on: the leader's writes reach it.
    s.set_leader(false);
    s.drain_node("node-000", Some(&spec), false).ok();
    assert_eq!(s.advance_drains().unwrap(), None);
    s.set_leader(true);
    assert_replays(&s, &log);
}

#[test]
fn the_v02_drain_flag_takes_the_same_path() {
    let s = store();
    add_nodes(&s, 2, 4000, 4000);
    register(&s, job_json("svc", 2, 100, 100));
    s.update_node_drain("node-000", true).unwrap();
    let n = s.with_state(|st| st.node("node-000").cloned()).unwrap();
    assert!(n.drain);
    assert_eq!(n.drain_strategy.as_ref().unwrap().deadline, -1_000_000_000);
    assert_eq!(on_node(&s, "svc", "node-000"), 0);
    s.update_node_drain("node-000", false).unwrap();
    let n = s.with_state(|st| st.node("node-000").cloned()).unwrap();
    assert!(!n.drain && n.is_schedulable());
}

#[test]
fn a_draining_node_cannot_be_made_eligible() {
    let s = store();
    add_nodes(&s, 1, 4000, 4000);
    s.update_node_drain("node-000", true).unwrap();
    let err = s
        .update_node_eligibility("node-000", "eligible")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
}

#[test]
fn node_evaluate_creates_an_evaluation_per_job_on_the_node() {
    let (s, log) = recorded();
    add_nodes(&s, 1, 4000, 4000);
    register(&s, job_json("a", 1, 100, 100));
    register(&s, job_json("b", 1, 100, 100));
    register(&s, system_job("sys"));
    let r = s.evaluate_node("node-000").unwrap();
    assert_eq!(r.eval_ids.len(), 3);
    assert_eq!(r.eval_create_index, r.index);
    let mut jobs: Vec<String> = r
        .eval_ids
        .iter()
        .map(|id| {
            let e = eval(&s, id);
            assert_eq!(e.triggered_by, "node-update");
            e.job_id.clone()
        })
        .collect();
    jobs.sort();
    assert_eq!(jobs, ["a", "b", "sys"]);
    assert_eq!(
        s.evaluate_node("ghost").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_replays(&s, &log);
}

#[test]
fn a_node_without_work_evaluates_to_nothing() {
    let s = store();
    add_nodes(&s, 1, 4000, 4000);
    let before = s.index();
    let r = s.evaluate_node("node-000").unwrap();
    assert!(r.eval_ids.is_empty());
    assert_eq!(r.index, 0);
    assert_eq!(s.index(), before);
}

#[test]
fn a_client_re_registering_keeps_the_servers_drain_and_eligibility() {
    let s = store();
    add_nodes(&s, 1, 4000, 4000);
    s.update_node_eligibility("node-000", "ineligible").unwrap();
    add_node(&s, node_json("node-000", "dc1", 4000, 4000));
    let n = s.with_state(|st| st.node("node-000").cloned()).unwrap();
    assert_eq!(n.scheduling_eligibility, "ineligible");
}

#[test]
fn a_node_with_a_drain_start_that_is_not_a_time_is_refused() {
    let s = store();
    let mut n = node_json("n-bad", "dc1", 1000, 1000);
    n["DrainStrategy"] = json!({"Deadline": 60_000_000_000i64, "StartedAt": "yesterday"});
    let before = s.snapshot();
    let err = s.register_node_json(n.to_string().as_bytes()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(err.field_errors()[0].path, "DrainStrategy.StartedAt");
    assert!(err.to_string().contains("\"yesterday\""), "{err}");
    assert!(s.snapshot() == before);
    // A forced drain or none needs no start.
    n["DrainStrategy"] = json!({"Deadline": -1});
    s.register_node_json(n.to_string().as_bytes()).unwrap();
}
