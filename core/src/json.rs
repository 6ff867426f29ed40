//! JSON in, JSON out: every store operation over bytes in Nomad's field names.
//!
//! The C ABI and the Python module are thin layers over this module, so both
//! behave the same and neither holds logic of its own. Each call answers a
//! [`Reply`]: the JSON body and the index the operation answers with (the
//! read's index, or the write's).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, Stage};
use crate::store::{Config, QueryOptions, SchedulingMode, Store, WriteOptions};
use crate::structs::{decode, AllocClientUpdate, Limits};

/// A JSON answer and its index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The body, compact JSON.
    pub body: String,
    /// The index of the read, or of the write (0 when nothing was written).
    pub index: u64,
}

fn reply<T: Serialize>(value: &T, index: u64) -> Result<Reply> {
    Ok(Reply {
        body: serde_json::to_string(value).expect("model types serialise"),
        index,
    })
}

/// The options of a store created from JSON. Every key is optional:
/// `{"region": "global", "mode": "inline" | "manual", "delivery_limit": 3,
///   "seed": 1, "limits": {"max_group_count": 10000, "max_job_count": 100000,
///   "max_request_bytes": 8388608}}`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigJson {
    region: Option<String>,
    mode: Option<String>,
    delivery_limit: Option<u32>,
    seed: Option<u64>,
    limits: Option<LimitsJson>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsJson {
    max_group_count: Option<i64>,
    max_job_count: Option<i64>,
    max_request_bytes: Option<usize>,
}

/// A [`Config`] from JSON (empty input means every default).
pub fn config(bytes: &[u8]) -> Result<Config> {
    let mut c = Config::default();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(c);
    }
    let j: ConfigJson = decode(bytes, &Limits::default())?;
    if let Some(r) = j.region {
        if r.is_empty() {
            return Err(Error::invalid_field("region", "must not be empty"));
        }
        c.region = r;
    }
    match j.mode.as_deref() {
        None | Some("inline") => {}
        Some("manual") => c.mode = SchedulingMode::Manual,
        Some(m) => {
            return Err(Error::invalid_field(
                "mode",
                format!("unknown scheduling mode {m:?}: want \"inline\" or \"manual\""),
            ))
        }
    }
    if let Some(d) = j.delivery_limit {
        c.delivery_limit = d;
    }
    if let Some(s) = j.seed {
        c.seed = s;
    }
    if let Some(l) = j.limits {
        if let Some(v) = l.max_group_count {
            c.limits.max_group_count = v;
        }
        if let Some(v) = l.max_job_count {
            c.limits.max_job_count = v;
        }
        if let Some(v) = l.max_request_bytes {
            c.limits.max_request_bytes = v;
        }
    }
    Ok(c)
}

/// Read options as the bindings pass them: a minimum index, a wait in
/// milliseconds (0: the default wait), and an optional region.
pub fn query(min_index: u64, wait_ms: u64, region: Option<&str>) -> QueryOptions {
    QueryOptions {
        min_index,
        wait: (wait_ms > 0).then(|| Duration::from_millis(wait_ms)),
        region: region.map(str::to_string),
    }
}

fn write_opts(region: Option<&str>) -> WriteOptions {
    WriteOptions {
        region: region.map(str::to_string),
    }
}

/// Registers a job from `{"Job": {...}, "EnforceIndex": .., "JobModifyIndex": ..}`.
pub fn register_job(store: &Store, body: &[u8], region: Option<&str>) -> Result<Reply> {
    let r = store.register_job_json(body, &write_opts(region))?;
    reply(&r, r.index)
}

/// Creates an evaluation for a job.
pub fn evaluate_job(store: &Store, id: &str, region: Option<&str>) -> Result<Reply> {
    let r = store.evaluate_job(id, &write_opts(region))?;
    reply(&r, r.index)
}

/// Deregisters a job.
pub fn deregister_job(store: &Store, id: &str, region: Option<&str>) -> Result<Reply> {
    let r = store.deregister_job(id, &write_opts(region))?;
    reply(&r, r.index)
}

/// A job.
pub fn job(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    let r = store.job(id, q)?;
    reply(&r.value, r.meta.index)
}

/// The job list.
pub fn jobs(store: &Store, prefix: &str, q: &QueryOptions) -> Result<Reply> {
    let r = store.jobs(prefix, q)?;
    reply(&r.value, r.meta.index)
}

/// A job's allocation stubs.
pub fn job_allocations(store: &Store, id: &str, all: bool, q: &QueryOptions) -> Result<Reply> {
    let r = store.job_allocations(id, all, q)?;
    reply(&r.value, r.meta.index)
}

/// A job's evaluations.
pub fn job_evaluations(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    let r = store.job_evaluations(id, q)?;
    reply(&r.value, r.meta.index)
}

/// An evaluation.
pub fn evaluation(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    let r = store.evaluation(id, q)?;
    reply(&r.value, r.meta.index)
}

/// An allocation.
pub fn allocation(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    let r = store.allocation(id, q)?;
    reply(&r.value, r.meta.index)
}

/// A node.
pub fn node(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    let r = store.node(id, q)?;
    reply(&r.value, r.meta.index)
}

/// The node list.
pub fn nodes(store: &Store, prefix: &str, q: &QueryOptions) -> Result<Reply> {
    let r = store.nodes(prefix, q)?;
    reply(&r.value, r.meta.index)
}

/// A node's allocations.
pub fn node_allocations(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    let r = store.node_allocations(id, q)?;
    reply(&r.value, r.meta.index)
}

/// Registers a node from `{"Node": {...}}` or the bare node.
pub fn register_node(store: &Store, body: &[u8]) -> Result<Reply> {
    let r = store.register_node_json(body)?;
    reply(&r, r.index)
}

/// Removes a node.
pub fn deregister_node(store: &Store, id: &str) -> Result<Reply> {
    let r = store.deregister_node(id)?;
    reply(&r, r.index)
}

/// Sets a node's status from `{"Status": "ready"}`.
pub fn update_node_status(store: &Store, id: &str, body: &[u8]) -> Result<Reply> {
    #[derive(Deserialize)]
    struct Body {
        #[serde(rename = "Status")]
        status: String,
    }
    let b: Body = decode(body, &store.config().limits)?;
    let r = store.update_node_status(id, &b.status)?;
    reply(&r, r.index)
}

/// Sets a node's drain flag from `{"Drain": true}`.
pub fn update_node_drain(store: &Store, id: &str, body: &[u8]) -> Result<Reply> {
    #[derive(Deserialize)]
    struct Body {
        #[serde(rename = "Drain")]
        drain: bool,
    }
    let b: Body = decode(body, &store.config().limits)?;
    let r = store.update_node_drain(id, b.drain)?;
    reply(&r, r.index)
}

/// Records a client's report on an allocation from
/// `{"ClientStatus": "running", "ClientDescription": "", "TaskStates": {...}}`.
/// `id`, when given, is the allocation (and must match an `ID` in the body).
pub fn update_alloc_client(store: &Store, id: Option<&str>, body: &[u8]) -> Result<Reply> {
    let mut u: AllocClientUpdate = decode(body, &store.config().limits)?;
    if let Some(id) = id {
        if !u.id.is_empty() && u.id != id {
            return Err(Error::Invalid {
                stage: Stage::Decode,
                errors: vec![crate::FieldError::new(
                    "ID",
                    format!("allocation ID {:?} does not match {id:?}", u.id),
                )],
            });
        }
        u.id = id.to_string();
    }
    let index = store.update_alloc_client(u)?;
    reply(&serde_json::json!({ "Index": index }), index)
}

/// Collects terminal evaluations and allocations older than `older_than`
/// (unix ns). Answers `{"Index": n}` (0 when nothing was collected).
pub fn garbage_collect(store: &Store, older_than: i64) -> Result<Reply> {
    let index = store.garbage_collect(older_than)?.unwrap_or(0);
    reply(&serde_json::json!({ "Index": index }), index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_json() {
        let c =
            config(br#"{"region":"eu","mode":"manual","limits":{"max_group_count":5}}"#).unwrap();
        assert_eq!(c.region, "eu");
        assert_eq!(c.mode, SchedulingMode::Manual);
        assert_eq!(c.limits.max_group_count, 5);
        assert_eq!(config(b"").unwrap().region, "global");
        let err = config(br#"{"mode":"fast"}"#).unwrap_err();
        assert_eq!(err.field_errors()[0].path, "mode");
        let err = config(br#"{"regoin":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("regoin"), "{err}");
    }

    #[test]
    fn register_and_read_over_json() {
        let store = Store::default();
        let r = register_job(
            &store,
            br#"{"Job":{"ID":"web","TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"exec"}]}]}}"#,
            None,
        )
        .unwrap();
        assert_eq!(r.index, 1);
        let got = job(&store, "web", &query(0, 0, None)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&got.body).unwrap();
        assert_eq!(v["ID"], "web");
        assert_eq!(v["Priority"], 50);
        let err = job(&store, "nope", &query(0, 0, None)).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::NotFound);
    }
}
