//! Property tests of the state machine (SPEC "Indexes", DESIGN "One write,
//! end to end"): random sequences of operations through an inline-scheduling
//! `Store`, recorded by its log (`Store::with_log`). Replaying the recorded
//! commands into a fresh `State` gives byte-identical `snapshot()`s; a
//! rejected request or command leaves the snapshot unchanged; indexes only
//! grow, the global one and every per-key one; the event stream of the run
//! is the one a replay gives. One job ID is in two namespaces, and the
//! second namespace comes and goes.

mod support;

use ordu::structs::EvalStatus;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ordu::structs::Namespace;
use ordu::structs::{AllocClientUpdate, Allocation, Evaluation, Job, Plan};
use ordu::structs::{JobRevertRequest, JobScaleRequest, JobStabilityRequest};
use ordu::{
    Command, Config, Error, ManualClock, QueryOptions, SequentialIds, State, Store, WriteOptions,
};
use proptest::prelude::*;
use serde_json::json;
use support::*;

/// Jobs as (namespace, ID): `web` twice, the second in a namespace that the
/// operations create and delete.
const JOBS: [(&str, &str); 4] = [
    ("default", "web"),
    ("default", "batch"),
    ("default", "sys"),
    ("team", "web"),
];
const KINDS: [&str; 4] = ["service", "batch", "system", "service"];
const NODES: [&str; 3] = ["n1", "n2", "n3"];

#[derive(Clone, Copy, Debug)]
enum Cas {
    Off,
    Zero,
    Current,
    Stale,
}

#[derive(Clone, Debug)]
enum Op {
    Register {
        job: usize,
        count: i64,
        cpu: i64,
        valid: bool,
        cas: Cas,
    },
    Evaluate(usize),
    Deregister(usize),
    Node {
        node: usize,
        cpu: i64,
    },
    NodeStatus {
        node: usize,
        status: &'static str,
    },
    Drain {
        node: usize,
        drain: bool,
    },
    RemoveNode(usize),
    Client {
        alloc: usize,
        status: &'static str,
    },
    Collect,
    Tick(u64),
    /// Mark a version stable, or revert to it.
    Version {
        job: usize,
        version: u64,
        revert: bool,
    },
    Scale {
        job: usize,
        count: i64,
    },
    /// Create (or update) the `team` namespace, or delete it.
    Namespace(bool),
    /// The drain duty a host runs on a timer.
    AdvanceDrains,
}

fn op() -> impl Strategy<Value = Op> {
    let cas = prop_oneof![
        6 => Just(Cas::Off),
        1 => Just(Cas::Zero),
        2 => Just(Cas::Current),
        1 => Just(Cas::Stale)
    ];
    prop_oneof![
        6 => (0..JOBS.len(), 0i64..4, 1i64..6, prop::bool::weighted(0.85), cas).prop_map(
            |(job, count, cpu, valid, cas)| Op::Register { job, count, cpu: cpu * 100, valid, cas }
        ),
        1 => (0..JOBS.len()).prop_map(Op::Evaluate),
        2 => (0..JOBS.len() + 1).prop_map(Op::Deregister),
        3 => (0..NODES.len(), 1i64..4).prop_map(|(node, cpu)| Op::Node { node, cpu: cpu * 500 }),
        1 => (0..NODES.len() + 1, prop::sample::select(vec!["ready", "down", "initializing", "bogus"]))
            .prop_map(|(node, status)| Op::NodeStatus { node, status }),
        1 => (0..NODES.len(), any::<bool>()).prop_map(|(node, drain)| Op::Drain { node, drain }),
        1 => (0..NODES.len() + 1).prop_map(Op::RemoveNode),
        3 => (0usize..8, prop::sample::select(vec!["running", "complete", "failed", "lost", "weird"]))
            .prop_map(|(alloc, status)| Op::Client { alloc, status }),
        1 => Just(Op::Collect),
        1 => (1u64..3600).prop_map(Op::Tick),
        2 => (0..JOBS.len(), 0u64..4, any::<bool>())
            .prop_map(|(job, version, revert)| Op::Version { job, version, revert }),
        1 => (0..JOBS.len(), 0i64..4).prop_map(|(job, count)| Op::Scale { job, count }),
        1 => any::<bool>().prop_map(Op::Namespace),
        1 => Just(Op::AdvanceDrains),
    ]
}

fn job_json(i: usize, count: i64, cpu: i64, valid: bool) -> serde_json::Value {
    let kind = KINDS[i];
    let (ns, id) = JOBS[i];
    let mut j = json!({
        "ID": id, "Namespace": ns, "Type": kind, "Datacenters": ["dc1"],
        "TaskGroups": [{"Name": "g", "Count": if kind == "system" { count.min(1) } else { count },
                        "Tasks": [{"Name": "t", "Driver": "exec",
                                   "Resources": {"CPU": cpu, "MemoryMB": 128}}]}]
    });
    if !valid {
        j["TaskGroups"][0]["Tasks"][0]["Driver"] = json!("");
    }
    j
}

fn node_json(i: usize, cpu: i64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ID": NODES[i], "Name": NODES[i], "Datacenter": "dc1", "Status": "ready",
        "Attributes": {"driver.exec": "1"},
        "Resources": {"CPU": cpu, "MemoryMB": 1024, "DiskMB": 10000}
    }))
    .unwrap()
}

/// The index every read a client could block on answers.
fn read_indexes(store: &Store) -> Vec<u64> {
    let q = now();
    let mut out = vec![
        store.index(),
        store.jobs("", &q).unwrap().meta.index,
        store.namespaces("", &q).unwrap().meta.index,
    ];
    for (ns, id) in JOBS {
        let q = in_ns_q(ns);
        out.push(match store.job(id, &q) {
            Ok(r) => r.meta.index,
            Err(Error::NotFound { index, .. }) => index,
            Err(e) => panic!("{e}"),
        });
        out.push(store.job_evaluations(id, &q).unwrap().meta.index);
        out.push(store.job_allocations(id, true, &q).unwrap().meta.index);
    }
    out
}

fn in_ns_q(ns: &str) -> QueryOptions {
    QueryOptions::default().in_namespace(ns)
}

/// The write options of job `i` (its namespace).
fn w_of(i: usize) -> WriteOptions {
    let ns = JOBS.get(i).map_or("default", |j| j.0);
    WriteOptions::default().in_namespace(ns)
}

fn run(store: &Store, clock: &ManualClock, op: &Op) -> Result<(), Error> {
    match op {
        Op::Register {
            job,
            count,
            cpu,
            valid,
            cas,
        } => {
            let j = job_json(*job, *count, *cpu, *valid);
            let (ns, id) = JOBS[*job];
            let current = store
                .job(id, &in_ns_q(ns))
                .map_or(0, |q| q.value.job_modify_index);
            let index = match cas {
                Cas::Off => return register(store, &j).map(drop),
                Cas::Zero => 0,
                Cas::Current => current,
                Cas::Stale => current + 1,
            };
            register_cas(store, &j, index).map(drop)
        }
        Op::Evaluate(i) => store.evaluate_job(JOBS[*i].1, &w_of(*i)).map(drop),
        Op::Deregister(i) => store
            .deregister_job(JOBS.get(*i).map_or("ghost", |j| j.1), &w_of(*i))
            .map(drop),
        Op::Node { node, cpu } => store.register_node_json(&node_json(*node, *cpu)).map(drop),
        Op::NodeStatus { node, status } => store
            .update_node_status(NODES.get(*node).copied().unwrap_or("ghost"), status)
            .map(drop),
        Op::Drain { node, drain } => store.update_node_drain(NODES[*node], *drain).map(drop),
        Op::RemoveNode(node) => store
            .deregister_node(NODES.get(*node).copied().unwrap_or("ghost"))
            .map(drop),
        Op::Client { alloc, status } => {
            let ids: Vec<String> = store.with_state(|s| s.allocs().map(|a| a.id.clone()).collect());
            let id = if ids.is_empty() {
                "ghost".to_string()
            } else {
                ids[alloc % ids.len()].clone()
            };
            store
                .update_alloc_client(AllocClientUpdate {
                    id,
                    client_status: status.to_string(),
                    ..AllocClientUpdate::default()
                })
                .map(drop)
        }
        Op::Collect => store.garbage_collect(clock.now_ns() + 1).map(drop),
        Op::Tick(s) => {
            clock.advance(Duration::from_secs(*s));
            store.process_ready();
            Ok(())
        }
        Op::Version {
            job,
            version,
            revert,
        } => {
            let job_id = JOBS[*job].1.to_string();
            let w = w_of(*job);
            if *revert {
                let req = JobRevertRequest {
                    job_id,
                    job_version: *version,
                    enforce_prior_version: None,
                };
                store.revert_job(req, &w).map(drop)
            } else {
                let req = JobStabilityRequest {
                    job_id,
                    job_version: *version,
                    stable: true,
                };
                store.set_job_stability(req, &w).map(drop)
            }
        }
        Op::Scale { job, count } => {
            let req = JobScaleRequest {
                count: Some(*count),
                target: [("Group".to_string(), "g".to_string())].into(),
                ..JobScaleRequest::default()
            };
            store.scale_job(JOBS[*job].1, req, &w_of(*job)).map(drop)
        }
        Op::Namespace(true) => store
            .upsert_namespace("team", Namespace::default(), &WriteOptions::default())
            .map(drop),
        Op::Namespace(false) => store
            .delete_namespace("team", &WriteOptions::default())
            .map(drop),
        Op::AdvanceDrains => store.advance_drains().map(drop),
    }
}

trait Now {
    fn now_ns(&self) -> i64;
}
impl Now for ManualClock {
    fn now_ns(&self) -> i64 {
        ordu::Clock::now(self)
    }
}

/// Commands every state must refuse, whatever it holds.
fn refused() -> Vec<Command> {
    let job: Job = serde_json::from_value(job_json(0, 1, 100, true)).unwrap();
    let eval = Evaluation {
        id: "bad-eval".into(),
        job_id: "web".into(),
        status: EvalStatus::Pending,
        ..Evaluation::default()
    };
    vec![
        Command::JobDeregister {
            job_id: "ghost".into(),
            eval: eval.clone(),
        },
        Command::JobRegister {
            job,
            eval,
            enforce_index: Some(1 << 40),
        },
        Command::AllocClientUpdate {
            updates: vec![AllocClientUpdate {
                id: "ghost".into(),
                client_status: "running".into(),
                ..AllocClientUpdate::default()
            }],
            evals: vec![],
            time: 0,
        },
        Command::NodeUpdateStatus {
            node_id: "ghost".into(),
            status: "ready".into(),
            evals: vec![],
        },
        Command::JobStability {
            namespace: "default".into(),
            job_id: "ghost".into(),
            version: 0,
            stable: true,
        },
        Command::PlanApply {
            plan: Plan {
                placements: vec![Allocation {
                    id: "ghost-alloc".into(),
                    job_id: "web".into(),
                    node_id: "ghost".into(),
                    ..Allocation::default()
                }],
                ..Plan::default()
            },
        },
    ]
}

proptest! {
    // 48 cases keep CI quick; PROPTEST_CASES=1000 for a deeper local run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn replay_rejection_and_monotonic_indexes(ops in prop::collection::vec(op(), 1..40)) {
        let clock = ManualClock::new(T0);
        let log: Arc<Mutex<Vec<(u64, Command)>>> = Arc::default();
        let sink = log.clone();
        let store = Store::with_sources(
            Config::default(),
            Arc::new(clock.clone()),
            Arc::new(SequentialIds::default()),
        )
        .with_log(ordu::log::Observed::new(ordu::MemoryLog, move |i, c| sink.lock().unwrap().push((i, c.clone()))));

        let mut events = store
            .subscribe_events(ordu::events::TopicFilter::all(), 1)
            .unwrap();
        let mut last = read_indexes(&store);
        for op in &ops {
            let before = snapshot(&store);
            let applied = log.lock().unwrap().len();
            let result = run(&store, &clock, op);
            if let Err(e) = &result {
                prop_assert!(snapshot(&store) == before, "{op:?} failed ({e}) but changed the state");
                prop_assert_eq!(log.lock().unwrap().len(), applied, "{:?} failed but applied", op);
            }
            let now = read_indexes(&store);
            for (k, (a, b)) in last.iter().zip(&now).enumerate() {
                prop_assert!(b >= a, "index {k} went back from {a} to {b} after {op:?}");
            }
            last = now;
        }

        let log = log.lock().unwrap();
        for (n, (i, _)) in log.iter().enumerate() {
            prop_assert_eq!(*i, n as u64 + 1, "one index per command, no gaps");
        }
        // The event stream: one frame per command that wrote an object, in
        // index order, and the same frames from a replay.
        let mut live = Vec::new();
        while let Some(b) = events.try_next().unwrap() {
            live.push(b.to_json());
        }
        let mut replayed = Vec::new();
        let mut replica = State::new();
        let bad = refused();
        for (n, (i, cmd)) in log.iter().enumerate() {
            let cmd_bad = &bad[n % bad.len()];
            let before = replica.snapshot();
            prop_assert!(replica.apply(*i, cmd_bad).is_err(), "{cmd_bad:?} accepted");
            prop_assert!(replica.snapshot() == before, "a refused command changed the state");
            let applied = replica.apply(*i, cmd).unwrap();
            replayed.extend(ordu::events::EventBatch::from_applied(&applied).map(|b| b.to_json()));
        }
        prop_assert!(live == replayed, "a replay gives other events");
        let want = snapshot(&store);
        prop_assert!(replica.snapshot() == want, "replay differs from the store");
        // Applying owned commands (what a store without an observer does)
        // gives the same state.
        let mut owned = State::new();
        let mut owned_events = Vec::new();
        for (i, cmd) in log.iter() {
            let applied = owned.apply_owned(*i, cmd.clone()).unwrap();
            owned_events.extend(ordu::events::EventBatch::from_applied(&applied).map(|b| b.to_json()));
        }
        prop_assert!(owned.snapshot() == want, "owned replay differs from the store");
        prop_assert!(owned_events == live, "an owned replay gives other events");
        let restored = State::restore(&want).unwrap();
        prop_assert!(restored.snapshot() == want, "restore is not the identity");
    }
}
