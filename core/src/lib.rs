//! ordu: Nomad's job, evaluation and allocation state machine as a library.
//!
//! A [`Store`] holds jobs, evaluations, allocations and nodes. Every write is a
//! [`Command`] applied at the next index by the pure [`State::apply`]; every read
//! is a blocking query (`min_index` + `wait`), as Nomad's HTTP API serves them.
//!
//! ```
//! use std::time::Duration;
//! use ordu::{Store, QueryOptions, WriteOptions};
//! use ordu::structs::{JobRegisterRequest, Node};
//!
//! let store = Store::default();
//!
//! // A node that can run the seed job's tasks.
//! let node: Node = serde_json::from_value(serde_json::json!({
//!     "ID": "node-1", "Name": "node-1", "Datacenter": "us2", "Status": "ready",
//!     "Attributes": {"kernel.os": "linux", "kernel.arch": "amd64",
//!                    "driver.docker": "1", "driver.java": "1"},
//!     "Resources": {"CPU": 8000, "MemoryMB": 16384, "DiskMB": 100000,
//!                   "Networks": [{"Device": "eth0", "CIDR": "10.0.0.1/32", "MBits": 1000}]}
//! })).unwrap();
//! store.register_node(node).unwrap();
//!
//! // Register the seed job from its JSON.
//! let seed = include_str!("../../testdata/seed-job.json");
//! let body = format!(r#"{{"Job": {seed}}}"#);
//! let reply = store.register_job_json(body.as_bytes(), &WriteOptions::default()).unwrap();
//! assert!(!reply.eval_id.is_empty());
//!
//! // Read it back; the index is the job's last change.
//! let got = store.job("binstore-storagelocker", &QueryOptions::default()).unwrap();
//! assert_eq!(got.value.task_groups[0].count, 5);
//!
//! // Block on a change: another thread evaluates the job, which wakes us.
//! let store = std::sync::Arc::new(store);
//! let writer = {
//!     let store = store.clone();
//!     std::thread::spawn(move || {
//!         std::thread::sleep(Duration::from_millis(50));
//!         store.evaluate_job("binstore-storagelocker", &WriteOptions::default()).unwrap();
//!     })
//! };
//! let evals = store.job_evaluations("binstore-storagelocker",
//!     &QueryOptions::blocking(got.meta.index, Duration::from_secs(5))).unwrap();
//! assert!(evals.meta.index > got.meta.index);
//! writer.join().unwrap();
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod agent;
pub mod command;
pub mod error;
pub mod json;
pub mod params;
pub mod scheduler;
pub mod state;
pub mod store;
pub mod structs;
pub mod watch;

pub use command::Command;
pub use error::{Error, ErrorKind, FieldError, Result, Stage};
pub use state::State;
pub use store::{
    reads, CheckedRegister, Clock, CommandObserver, Config, IdSource, ManualClock, Query,
    QueryMeta, QueryOptions, RandomIds, Reader, SchedulingMode, SequentialIds, Store, SystemClock,
    WriteOptions,
};
