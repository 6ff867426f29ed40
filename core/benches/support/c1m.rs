//! The C1M state's builder, shared by the core's `c1m` bench (placement,
//! snapshot and restore) and the durable crate's `c1m_restart` bench (a
//! data directory reopened), so that both measure the same state: nodes
//! and service jobs in the shape of Nomad's "million container challenge".

// Each bench uses its own part of this file.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use ordu::structs::{Job, JobRegisterRequest, Node};
use ordu::{
    Config, IdSource, ManualClock, RandomIds, SchedulingMode, SequentialIds, Store, WriteOptions,
};
use serde_json::json;

/// Nodes and jobs at `C1M_SCALE=1`.
pub const NODES: f64 = 5000.0;
pub const JOBS: f64 = 1000.0;
/// Allocations per job, at every scale.
pub const COUNT: i64 = 1000;

pub fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A field of `/proc/self/status` in kB (`VmHWM:`, `VmRSS:`); 0 if absent.
pub fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

pub fn node(i: usize) -> Node {
    serde_json::from_value(json!({
        "ID": format!("{:08x}-0000-4000-8000-{:012x}", i, i),
        "Name": format!("client-{i}"),
        "Datacenter": format!("dc{}", i % 3 + 1),
        "Status": "ready",
        "NodeClass": "c1m",
        "Attributes": {"kernel.name": "linux", "kernel.os": "linux", "arch": "amd64", "driver.docker": "1"},
        "Resources": {"CPU": 8000, "MemoryMB": 16384, "DiskMB": 100_000, "IOPS": 1000,
                      "Networks": [{"Device": "eth0", "CIDR": format!("10.{}.{}.{}/32", i >> 16 & 255, i >> 8 & 255, i & 255), "MBits": 1000}]},
        "Reserved": {"CPU": 100, "MemoryMB": 256}
    }))
    .expect("node")
}

/// Job `i` with `count` allocations.
pub fn job_of(i: usize, count: i64) -> Job {
    serde_json::from_value(json!({
        "ID": format!("c1m-{i:04}"),
        "Type": "service",
        "Priority": 50,
        "Datacenters": ["dc1", "dc2", "dc3"],
        "TaskGroups": [{"Name": "cache", "Count": count, "Tasks": [{
            "Name": "redis", "Driver": "docker",
            "Config": {"image": "redis:7", "command": "redis-server"},
            "Resources": {"CPU": 20, "MemoryMB": 32}}]}]
    }))
    .expect("job")
}

pub fn job(i: usize) -> Job {
    job_of(i, COUNT)
}

/// The store's configuration: evaluations are processed by [`run`] only.
pub fn config() -> Config {
    Config {
        mode: SchedulingMode::Manual,
        ..Config::default()
    }
}

/// Builds the store with every node and job registered; nothing scheduled.
pub fn setup(nodes: usize, jobs: usize, sequential: bool) -> Store {
    let store = Store::with_sources(
        config(),
        Arc::new(ManualClock::new(1_767_225_600_000_000_000)),
        if sequential {
            Arc::new(SequentialIds::default()) as Arc<dyn IdSource>
        } else {
            Arc::new(RandomIds)
        },
    );
    for i in 0..nodes {
        store.register_node(node(i)).expect("register node");
    }
    for i in 0..jobs {
        register(&store, job(i));
    }
    store
}

pub fn register(store: &Store, job: Job) {
    let req = JobRegisterRequest {
        job: Some(job),
        ..JobRegisterRequest::default()
    };
    store
        .register_job(req, &WriteOptions::default())
        .expect("register job");
}

/// Processes every ready evaluation.
pub fn run(store: &Store) {
    while let Some(d) = store.dequeue_evaluation(&[], Duration::ZERO) {
        store.process_evaluation(&d).expect("process");
    }
}
