//! Helpers shared by the integration tests: deterministic stores, the seed
//! job, small valid jobs, and a tiny executor for `wait_async`.

#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::Duration;

use ordu::structs::AllocClientStatus;
use ordu::structs::AllocDesiredStatus;
use ordu::structs::{JobRegisterRequest, JobWriteResponse};
use ordu::{
    Command, Config, ManualClock, QueryOptions, SchedulingMode, SequentialIds, Store, WriteOptions,
};
use serde_json::{json, Value};

/// The seed job, as the fixture file holds it.
pub const SEED: &str = include_str!("../../../testdata/seed-job.json");

/// The seed job's ID.
pub const SEED_ID: &str = "binstore-storagelocker";

/// Unix nanoseconds the test clocks start at.
pub const T0: i64 = 1_700_000_000_000_000_000;

/// A store that never schedules on its own (manual mode), with a manual clock
/// and sequential IDs: every register is exactly one write.
pub fn manual_store() -> Store {
    store_with(Config {
        mode: SchedulingMode::Manual,
        ..Config::default()
    })
}

/// A store in the default inline mode, deterministic clock and IDs.
pub fn inline_store() -> Store {
    store_with(Config::default())
}

/// A deterministic store with `config`.
pub fn store_with(config: Config) -> Store {
    Store::with_sources(
        config,
        Arc::new(ManualClock::new(T0)),
        Arc::new(SequentialIds::default()),
    )
}

/// The commands a store applied, with their indexes.
pub type CommandLog = Arc<Mutex<Vec<(u64, Command)>>>;

/// A manual-mode store that records every command it applies.
pub fn recording_store() -> (Store, CommandLog) {
    recording_store_with(Config {
        mode: SchedulingMode::Manual,
        ..Config::default()
    })
}

/// A deterministic store with `config` that records every command it applies.
pub fn recording_store_with(config: Config) -> (Store, CommandLog) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let store =
        store_with(config).with_log(ordu::log::Observed::new(ordu::MemoryLog, move |i, c| {
            sink.lock().unwrap().push((i, c.clone()));
        }));
    (store, log)
}

/// A small valid job: one group `g` of `count`, one task `t`.
pub fn job(id: &str, count: i64) -> Value {
    json!({
        "ID": id,
        "TaskGroups": [{
            "Name": "g",
            "Count": count,
            "Tasks": [{"Name": "t", "Driver": "exec", "Config": {"command": "/bin/true"}}]
        }]
    })
}

/// `{"Job": job}` as bytes.
pub fn body(job: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({ "Job": job })).unwrap()
}

/// Registers `job` through the JSON entry point.
pub fn register(store: &Store, job: &Value) -> ordu::Result<JobWriteResponse> {
    store.register_job_json(&body(job), &WriteOptions::default())
}

/// Registers `job` with check-and-set.
pub fn register_cas(store: &Store, job: &Value, index: u64) -> ordu::Result<JobWriteResponse> {
    let req = JobRegisterRequest {
        job: Some(serde_json::from_value(job.clone()).unwrap()),
        enforce_index: true,
        job_modify_index: index,
    };
    store.register_job(req, &WriteOptions::default())
}

/// The seed job's register body.
pub fn seed_body() -> Vec<u8> {
    format!(r#"{{"Job": {SEED}}}"#).into_bytes()
}

/// A read that answers at once.
pub fn now() -> QueryOptions {
    QueryOptions::default()
}

/// A blocking read.
pub fn after(index: u64, wait: Duration) -> QueryOptions {
    QueryOptions::blocking(index, wait)
}

/// The store's whole state as bytes.
pub fn snapshot(store: &Store) -> Vec<u8> {
    store.with_state(|s| s.snapshot())
}

/// A node with room for a few small tasks.
pub fn node(id: &str) -> Value {
    json!({
        "ID": id, "Name": id, "Datacenter": "dc1", "Status": "ready",
        "Attributes": {"kernel.os": "linux", "driver.exec": "1", "driver.docker": "1"},
        "Resources": {"CPU": 4000, "MemoryMB": 8192, "DiskMB": 100000,
                      "Networks": [{"Device": "eth0", "CIDR": "10.0.0.1/32", "MBits": 1000}]}
    })
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on this thread: the smallest executor there is,
/// which shows a future needs no particular runtime. Counts its polls.
pub fn block_on<F: Future>(fut: F) -> (F::Output, usize) {
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    let mut polls = 0;
    loop {
        polls += 1;
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return (v, polls);
        }
        std::thread::park();
    }
}

/// Places allocations of `job_id`'s group `g` on `node_id` through a plan,
/// as a scheduler would (manual-mode stores run none): `allocs` are
/// (allocation ID, name index). Returns the index of the write.
pub fn place(store: &Store, job_id: &str, node_id: &str, allocs: &[(&str, usize)]) -> u64 {
    use ordu::structs::{alloc_name, Allocation, Plan, Resources};
    let job = store.job(job_id, &now()).unwrap().value;
    let eval_id = store.job_evaluations(job_id, &now()).unwrap().value[0]
        .id
        .clone();
    let placements = allocs
        .iter()
        .map(|(id, i)| Allocation {
            id: id.to_string(),
            namespace: job.namespace.clone(),
            eval_id: eval_id.clone(),
            name: alloc_name(job_id, "g", *i),
            node_id: node_id.to_string(),
            node_name: node_id.to_string(),
            job_id: job_id.to_string(),
            job: job.clone(),
            task_group: "g".into(),
            resources: Resources {
                cpu: 100,
                memory_mb: 64,
                ..Resources::default()
            },
            desired_status: AllocDesiredStatus::Run,
            client_status: AllocClientStatus::Pending,
            ..Allocation::default()
        })
        .collect();
    store
        .apply(Command::PlanApply {
            plan: Plan {
                eval_id,
                job: Some(job),
                placements,
                time: T0,
                ..Plan::default()
            },
        })
        .unwrap()
}

/// Registers the test node `id` (ready, room for small tasks).
pub fn add_node(store: &Store, id: &str) {
    store
        .register_node_json(node(id).to_string().as_bytes())
        .unwrap();
}
