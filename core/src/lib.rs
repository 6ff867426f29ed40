//! ordu: Nomad's job, evaluation and allocation state machine as a library.
//!
//! A [`Store`] holds jobs, evaluations, allocations and nodes. Every write is a
//! [`Command`] applied at the next index by the pure [`State::apply`]; every read
//! is a blocking query (`min_index` + `wait`), as Nomad's HTTP API serves them.
//!
//! ```
//! use std::time::Duration;
//!
//! use ordu::structs::{AllocClientUpdate, Node};
//! use ordu::{QueryOptions, Store, WriteOptions};
//!
//! fn main() {
//!     let store = Store::default();
//!
//!     // A ready linux node in dc1 with room for the job below.
//!     let node: Node = serde_json::from_value(serde_json::json!({
//!         "ID": "node-1", "Name": "node-1", "Datacenter": "dc1", "Status": "ready",
//!         "Attributes": {"kernel.os": "linux", "driver.docker": "1"},
//!         "Resources": {"CPU": 4000, "MemoryMB": 8192, "DiskMB": 100000,
//!                       "Networks": [{"Device": "eth0", "CIDR": "10.0.0.1/32", "MBits": 1000}]}
//!     }))
//!     .unwrap();
//!     store.register_node(node).unwrap();
//!
//!     // Register a job from the JSON body of `PUT /v1/jobs`; its evaluation
//!     // runs before the write returns and places three allocations.
//!     let body = serde_json::json!({"Job": {
//!         "ID": "example", "Datacenters": ["dc1"],
//!         "TaskGroups": [{"Name": "cache", "Count": 3, "Tasks": [{
//!             "Name": "redis", "Driver": "docker", "Config": {"image": "redis:7"},
//!             "Resources": {"CPU": 500, "MemoryMB": 256}}]}]}});
//!     let reply = store
//!         .register_job_json(body.to_string().as_bytes(), &WriteOptions::default())
//!         .unwrap();
//!     println!("registered at index {}, evaluation {}", reply.index, reply.eval_id);
//!
//!     let allocs = store
//!         .job_allocations("example", false, &QueryOptions::default())
//!         .unwrap();
//!     assert_eq!(allocs.value.len(), 3);
//!
//!     // Block until the allocations change: another thread reports one running.
//!     let store = std::sync::Arc::new(store);
//!     let first = allocs.value[0].id.clone();
//!     let client = {
//!         let store = store.clone();
//!         std::thread::spawn(move || {
//!             std::thread::sleep(Duration::from_millis(50));
//!             let update = AllocClientUpdate {
//!                 id: first,
//!                 client_status: "running".into(),
//!                 ..Default::default()
//!             };
//!             store.update_alloc_client(update).unwrap();
//!         })
//!     };
//!     let wait = QueryOptions::blocking(allocs.meta.index, Duration::from_secs(5));
//!     let changed = store.job_allocations("example", false, &wait).unwrap();
//!     assert!(changed.meta.index > allocs.meta.index);
//!     client.join().unwrap();
//!     let running = changed.value.iter().filter(|a| a.client_status == "running");
//!     println!("{} of 3 running at index {}", running.count(), changed.meta.index);
//! }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod agent;
pub mod command;
pub mod error;
pub mod events;
pub mod host;
pub mod log;
pub mod params;
pub mod scheduler;
pub mod state;
pub mod store;
pub mod structs;
pub mod watch;

pub use agent::Agent;
pub use command::Command;
pub use error::{Error, ErrorKind, FieldError, Result, Stage};
pub use log::{EntryLog, Log, LogError, MemoryLog};
// What a host needs next to the store, at the crate root: the evaluation
// handed out in manual scheduling mode.
pub use scheduler::broker::Delivery;
pub use state::{ListOptions, Page, State};
pub use store::{
    reads, CheckedRegister, Clock, Config, DeregisterMode, IdSource, ManualClock, Query, QueryMeta,
    QueryOptions, RandomIds, Reader, SchedulingMode, SequentialIds, Store, SystemClock,
    WriteOptions,
};
