//! Shared helpers of the scheduling tests: a deterministic store, nodes and
//! jobs built from Nomad's JSON, and reads of the state.
#![allow(dead_code)]

use std::sync::Arc;

use ordu::structs::{Allocation, Evaluation, JobRegisterRequest, Node};
use ordu::{Config, ManualClock, SequentialIds, Store, WriteOptions};
use serde_json::{json, Value};

/// Start of the manual clock: 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600_000_000_000;

/// A store with a manual clock and sequential IDs.
pub fn store_with(config: Config) -> (Store, ManualClock) {
    let clock = ManualClock::new(T0);
    let store = Store::with_sources(
        config,
        Arc::new(clock.clone()),
        Arc::new(SequentialIds::default()),
    );
    (store, clock)
}

/// An inline store with a manual clock and sequential IDs.
pub fn store() -> Store {
    store_with(Config::default()).0
}

/// A ready linux node with docker and exec, in `dc`, with `cpu` MHz and
/// `mem` MB, and one 1000 Mbit network on its own address.
pub fn node_json(id: &str, dc: &str, cpu: i64, mem: i64) -> Value {
    let n: usize = id.bytes().map(usize::from).sum();
    json!({
        "ID": id, "Name": id, "Datacenter": dc, "Status": "ready",
        "Attributes": {"kernel.os": "linux", "kernel.arch": "amd64",
                       "driver.docker": "1", "driver.exec": "true"},
        "Resources": {"CPU": cpu, "MemoryMB": mem, "DiskMB": 100_000, "IOPS": 1000,
                      "Networks": [{"Device": "eth0", "CIDR": format!("10.{}.{}.1/32", n / 250 % 250, n % 250), "MBits": 1000}]}
    })
}

/// Decodes a node.
pub fn node_from(v: Value) -> Node {
    serde_json::from_value(v).expect("node JSON")
}

/// Registers a node.
pub fn add_node(store: &Store, v: Value) {
    store.register_node(node_from(v)).expect("register node");
}

/// Registers `n` default nodes `node-<i>` in `dc1`.
pub fn add_nodes(store: &Store, n: usize, cpu: i64, mem: i64) {
    for i in 0..n {
        add_node(store, node_json(&format!("node-{i:03}"), "dc1", cpu, mem));
    }
}

/// A service job with one group `web` of `count` docker tasks of `cpu` MHz
/// and `mem` MB.
pub fn job_json(id: &str, count: i64, cpu: i64, mem: i64) -> Value {
    json!({
        "ID": id, "Type": "service", "Datacenters": ["dc*"],
        "TaskGroups": [{"Name": "web", "Count": count, "Tasks": [
            {"Name": "server", "Driver": "docker", "Config": {"image": "nginx:1"},
             "Resources": {"CPU": cpu, "MemoryMB": mem}}]}]
    })
}

/// Registers a job from JSON; returns the evaluation ID.
pub fn register(store: &Store, job: Value) -> String {
    let req: JobRegisterRequest = serde_json::from_value(json!({ "Job": job })).expect("job JSON");
    store
        .register_job(req, &WriteOptions::default())
        .expect("register job")
        .eval_id
}

/// Every allocation of a job (every incarnation).
pub fn allocs(store: &Store, job: &str) -> Vec<Arc<Allocation>> {
    store.with_state(|s| s.allocs_by_job("default", job))
}

/// The job's allocations the server wants running and the client has not ended.
pub fn live(store: &Store, job: &str) -> Vec<Arc<Allocation>> {
    let mut v: Vec<_> = allocs(store, job)
        .into_iter()
        .filter(|a| !a.is_terminal())
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name).then(a.node_id.cmp(&b.node_id)));
    v
}

/// Names of the live allocations, sorted.
pub fn live_names(store: &Store, job: &str) -> Vec<String> {
    let mut v: Vec<String> = live(store, job).iter().map(|a| a.name.clone()).collect();
    v.sort();
    v
}

/// An evaluation by ID.
pub fn eval(store: &Store, id: &str) -> Arc<Evaluation> {
    store
        .with_state(|s| s.eval(id).cloned())
        .unwrap_or_else(|| panic!("no evaluation {id}"))
}

/// A job's evaluations, oldest first.
pub fn evals(store: &Store, job: &str) -> Vec<Arc<Evaluation>> {
    let mut v = store.with_state(|s| s.evals_by_job("default", job));
    v.sort_by_key(|e| (e.create_index, e.id.clone()));
    v
}

/// The job's status.
pub fn job_status(store: &Store, job: &str) -> String {
    store.with_state(|s| {
        s.job("default", job)
            .map(|j| j.status.clone())
            .unwrap_or_default()
    })
}

/// Reports a client status for an allocation.
pub fn client_status(store: &Store, alloc: &str, status: &str) {
    store
        .update_alloc_client(ordu::structs::AllocClientUpdate {
            id: alloc.to_string(),
            client_status: status.to_string(),
            ..Default::default()
        })
        .expect("client update");
}

/// Names sorted as `[0]`, `[1]`, ... for a group.
pub fn names(job: &str, group: &str, idx: impl IntoIterator<Item = usize>) -> Vec<String> {
    let mut v: Vec<String> = idx
        .into_iter()
        .map(|i| format!("{job}.{group}[{i}]"))
        .collect();
    v.sort();
    v
}
