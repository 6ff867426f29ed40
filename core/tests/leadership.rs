//! Leader duties apart: only the store its host marks as leader takes writes
//! and schedules; a follower applies the leader's log at the leader's indexes
//! and answers the same reads. Leadership can move mid-stream without losing
//! an evaluation or placing anything twice.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ordu::log::{Log, LogError};
use ordu::{Command, ErrorKind, Store};
use proptest::prelude::*;
use support::*;

/// A log that keeps its entries for shipping to the other store, with a gap
/// of `step` between indexes.
struct Shipping {
    entries: Mutex<Vec<(u64, Command)>>,
    step: u64,
}

impl Log for Shipping {
    fn append(&self, after: u64, command: &Command) -> Result<u64, LogError> {
        let index = after + self.step;
        self.entries.lock().unwrap().push((index, command.clone()));
        Ok(index)
    }
}

struct Replica {
    store: Store,
    log: Arc<Shipping>,
    /// How many of the other replica's entries it applied.
    shipped: usize,
}

/// A manual-mode replica whose log steps indexes by `step`; its IDs start
/// at `step << 32`, apart from the other's.
fn replica(step: u64, lead: bool) -> Replica {
    let log = Arc::new(Shipping {
        entries: Mutex::new(Vec::new()),
        step,
    });
    let config = ordu::Config {
        mode: ordu::SchedulingMode::Manual,
        ..ordu::Config::default()
    };
    let store = Store::with_sources(
        config,
        Arc::new(ordu::ManualClock::new(T0)),
        Arc::new(ordu::SequentialIds::after(step << 32)),
    )
    .with_log(log.clone());
    store.set_leader(lead);
    Replica {
        store,
        log,
        shipped: 0,
    }
}

/// Applies what `from` logged since the last call to `to`.
fn ship(from: &Replica, to: &mut Replica) {
    let entries = from.log.entries.lock().unwrap();
    for (index, cmd) in &entries[to.shipped.min(entries.len())..] {
        to.store.apply_committed(*index, cmd.clone()).unwrap();
    }
    to.shipped = entries.len();
}

#[test]
fn a_follower_applies_at_the_leaders_indexes_and_never_schedules() {
    let leader = replica(5, true);
    let mut follower = replica(1, false);
    leader
        .store
        .register_node_json(node("n1").to_string().as_bytes())
        .unwrap();
    register(&leader.store, &job("web", 2)).unwrap();
    ship(&leader, &mut follower);
    // Pending on both; only the leader hands it out.
    assert!(follower
        .store
        .dequeue_evaluation(&[], Duration::from_millis(20))
        .is_none());
    leader.store.process_ready();
    ship(&leader, &mut follower);

    assert!(snapshot(&follower.store) == snapshot(&leader.store));
    assert_eq!(follower.store.index(), leader.store.index());
    assert_eq!(leader.store.index() % 5, 0, "the leader's log steps by 5");
    let a = leader.store.job_allocations("web", false, &now()).unwrap();
    let b = follower
        .store
        .job_allocations("web", false, &now())
        .unwrap();
    assert_eq!(a.meta.index, b.meta.index);
    assert_eq!(a.value.len(), 2);
    assert_eq!(b.value.len(), 2);
    assert!(
        follower.log.entries.lock().unwrap().is_empty(),
        "the follower wrote"
    );

    // A follower refuses writes of its own, and nothing changes.
    let before = snapshot(&follower.store);
    let err = register(&follower.store, &job("api", 1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.to_string().contains("not the leader"), "{err}");
    assert!(snapshot(&follower.store) == before);
}

#[test]
fn a_store_that_stops_leading_drops_its_deliveries() {
    let r = replica(1, true);
    r.store
        .register_node_json(node("n1").to_string().as_bytes())
        .unwrap();
    register(&r.store, &job("web", 1)).unwrap();
    let d = r
        .store
        .dequeue_evaluation(&[], Duration::from_millis(100))
        .unwrap();
    r.store.set_leader(false);
    let err = r.store.process_evaluation(&d).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Conflict | ErrorKind::Unavailable),
        "{err}"
    );
    assert!(r
        .store
        .job_allocations("web", false, &now())
        .unwrap()
        .value
        .is_empty());
    // Leading again, the store finds the evaluation pending and runs it.
    r.store.set_leader(true);
    r.store.process_ready();
    assert_eq!(
        r.store
            .job_allocations("web", false, &now())
            .unwrap()
            .value
            .len(),
        1
    );
}

#[derive(Clone, Debug)]
enum Op {
    Register(usize, i64),
    Deregister(usize),
    Process,
    /// Dequeue one evaluation and leave it with its worker (who dies).
    Dequeue,
    Switch,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 1..4i64).prop_map(|(j, c)| Op::Register(j, c)),
        1 => (0..3usize).prop_map(Op::Deregister),
        3 => Just(Op::Process),
        1 => Just(Op::Dequeue),
        2 => Just(Op::Switch),
    ]
}

const JOBS: [&str; 3] = ["web", "api", "batch"];

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(32),
        ..ProptestConfig::default()
    })]

    #[test]
    fn leadership_moves_without_losing_or_doubling(ops in prop::collection::vec(op(), 1..30)) {
        let mut r = [replica(2, true), replica(3, false)];
        let mut lead = 0;
        for n in ["n1", "n2"] {
            r[0].store.register_node_json(node(n).to_string().as_bytes()).unwrap();
        }
        let mut held = Vec::new();
        let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
        for o in &ops {
            let l = &r[lead].store;
            match o {
                Op::Register(j, c) => {
                    register(l, &job(JOBS[*j], *c)).unwrap();
                    counts.insert(JOBS[*j], *c);
                }
                Op::Deregister(j) => {
                    l.deregister_job(JOBS[*j], &ordu::WriteOptions::default()).unwrap();
                    counts.remove(JOBS[*j]);
                }
                Op::Process => l.process_ready(),
                Op::Dequeue => held.extend(l.dequeue_evaluation(&[], Duration::ZERO)),
                Op::Switch => {
                    r[lead].store.set_leader(false);
                    let (a, b) = r.split_at_mut(1);
                    let (from, to) = if lead == 0 { (&a[0], &mut b[0]) } else { (&b[0], &mut a[0]) };
                    ship(from, to);
                    lead = 1 - lead;
                    r[lead].store.set_leader(true);
                }
            }
        }
        // The held deliveries' workers died; the last leader finishes.
        let l = &r[lead].store;
        for d in &held {
            let _ = l.nack_evaluation(d);
        }
        l.process_ready();
        {
            let (a, b) = r.split_at_mut(1);
            let (from, to) = if lead == 0 { (&a[0], &mut b[0]) } else { (&b[0], &mut a[0]) };
            ship(from, to);
        }
        prop_assert!(snapshot(&r[0].store) == snapshot(&r[1].store), "the replicas differ");

        r[lead].store.with_state(|s| -> Result<(), TestCaseError> {
            let mut live: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
            for a in s.allocs().filter(|a| !a.is_terminal()) {
                let job = JOBS.iter().find(|j| **j == a.job_id).copied().unwrap();
                prop_assert!(live.entry(job).or_default().insert(&a.name), "{} placed twice", a.name);
            }
            for (job, count) in &counts {
                let n = live.get(job).map_or(0, |s| s.len()) as i64;
                prop_assert_eq!(n, *count, "{} has {} live allocations", job, n);
            }
            for (job, names) in &live {
                prop_assert!(counts.contains_key(job), "{} is gone but has {:?}", job, names);
            }
            for e in s.evals() {
                prop_assert!(e.status != "pending", "evaluation {} was lost: {:?}", e.id, e.status);
            }
            Ok(())
        })?;
    }
}
