//! The host API, bytes in and bytes out: every store operation over JSON in
//! Nomad's field names, for hosts that speak no Rust.
//!
//! The C ABI and the Python module are thin layers over this module, so both
//! behave the same and neither holds logic of its own. Each call answers a
//! [`Reply`]: the JSON body and the index the operation answers with (the
//! read's index, or the write's).

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, Stage};
use crate::events::{EventSubscription, TopicFilter};
use crate::state::{ListOptions, Page};
use crate::store::{
    CheckedRegister, Config, DeregisterMode, Query, QueryOptions, SchedulingMode, Store,
    WriteOptions, DEFAULT_WAIT, MAX_WAIT,
};
use crate::structs::{
    decode, AllocClientUpdate, JobPlanRequest, JobRegisterRequest, Limits, NodeDrainRequest,
    NodeEligibilityRequest,
};

/// A JSON answer and its index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The body, compact JSON.
    pub body: String,
    /// The index of the read, or of the write (0 when nothing was written).
    pub index: u64,
    /// A page of a list that has more: the token of the next page's first
    /// item (`X-Nomad-NextToken`). `None` otherwise.
    pub next_token: Option<String>,
}

fn reply<T: Serialize>(value: &T, index: u64) -> Result<Reply> {
    Ok(Reply {
        body: serde_json::to_string(value).expect("model types serialise"),
        index,
        next_token: None,
    })
}

/// A page of a list as JSON (its items), at the read's index, with the next
/// page's token.
fn read_page<T: Serialize>(r: Result<Query<Page<T>>>) -> Result<Reply> {
    let r = r?;
    let mut out = reply(&r.value.items, r.meta.index)?;
    out.next_token = r.value.next_token;
    Ok(out)
}

/// A `per_page` a binding was given as a number: from 0 (every item) to
/// [`MAX_PER_PAGE`](crate::params::MAX_PER_PAGE), else a decode error
/// naming `per_page`.
pub fn per_page(n: i64) -> Result<u32> {
    u32::try_from(n)
        .ok()
        .filter(|n| *n <= crate::params::MAX_PER_PAGE)
        .ok_or_else(|| Error::Invalid {
            stage: Stage::Decode,
            errors: vec![crate::FieldError::new(
                "per_page",
                format!(
                    "{n}: want a whole number from 0 to {}",
                    crate::params::MAX_PER_PAGE
                ),
            )],
        })
}

/// The list options as the bindings pass them, JSON with every key
/// optional: `{"prefix": "", "job": "", "status": "", "per_page": 0,
/// "next_token": "", "reverse": false}` (see [`ListOptions`]). Empty input
/// means every default: the whole list. A negative or too large `per_page`,
/// or an unknown key, is a decode error naming the field.
pub fn list_options(bytes: &[u8]) -> Result<ListOptions> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Json {
        #[serde(default)]
        prefix: String,
        #[serde(default)]
        job: String,
        #[serde(default)]
        status: String,
        #[serde(default)]
        per_page: i64,
        #[serde(default)]
        next_token: String,
        #[serde(default)]
        reverse: bool,
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(ListOptions::all());
    }
    let j: Json = decode(bytes, &Limits::default())?;
    Ok(ListOptions {
        prefix: j.prefix,
        job: j.job,
        status: j.status,
        per_page: per_page(j.per_page)?,
        next_token: j.next_token,
        reverse: j.reverse,
    })
}

/// A read's value as JSON, at the read's index.
fn read<T: Serialize>(r: Result<Query<T>>) -> Result<Reply> {
    let r = r?;
    reply(&r.value, r.meta.index)
}

/// The options of a store created from JSON. Every key is optional:
/// `{"region": "global", "mode": "inline" | "grouped" | "queued" | "manual", "delivery_limit": 3,
///   "nack_timeout": "60s", "seed": 1, "deregister": "purge" | "stop",
///   "job_tracked_versions": 6,
///   "event_buffer_size": 1024 (0: no event stream),
///   "limits": {"max_group_count": 10000,
///   "max_job_count": 100000, "max_request_bytes": 8388608,
///   "max_constraints": 1000}}`
/// (`nack_timeout` in Go's duration syntax, from 1ms to 24h), and, read by
/// [`store_config`] only, `"data_dir"` and `"snapshot_every"`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigJson {
    region: Option<String>,
    mode: Option<String>,
    delivery_limit: Option<u32>,
    nack_timeout: Option<String>,
    seed: Option<u64>,
    limits: Option<LimitsJson>,
    data_dir: Option<String>,
    snapshot_every: Option<u64>,
    deregister: Option<String>,
    job_tracked_versions: Option<i64>,
    event_buffer_size: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsJson {
    max_group_count: Option<i64>,
    max_job_count: Option<i64>,
    max_request_bytes: Option<i64>,
    max_constraints: Option<i64>,
}

/// The most versions of a job a config may keep.
const MAX_JOB_TRACKED_VERSIONS: i64 = 1_000;
/// The largest count limit a config may set (allocations per group or job).
const MAX_COUNT_LIMIT: i64 = 10_000_000;
/// The largest request size a config may allow: 1 GiB.
const MAX_REQUEST_BYTES_LIMIT: i64 = 1 << 30;
/// The most event batches a config may keep.
const MAX_EVENT_BUFFER_SIZE: i64 = 1_000_000;
/// The most constraints per job a config may allow.
const MAX_CONSTRAINTS_LIMIT: i64 = 100_000;

/// `v` when it is from 1 to `max`, else an error naming `key`.
fn limit_in(key: &str, v: i64, max: i64) -> Result<i64> {
    if (1..=max).contains(&v) {
        Ok(v)
    } else {
        Err(Error::invalid_field(
            key,
            format!("{v}: want a whole number from 1 to {max}"),
        ))
    }
}

/// A [`Config`] from JSON (empty input means every default). `data_dir` and
/// `snapshot_every` are refused: they need a host that keeps a data
/// directory, which reads them with [`store_config`].
pub fn config(bytes: &[u8]) -> Result<Config> {
    let c = store_config(bytes)?;
    if c.data_dir.is_some() {
        return Err(Error::invalid_field(
            "data_dir",
            "a data directory is kept by a host (the C and Python bindings), not by this store",
        ));
    }
    Ok(c.config)
}

/// A store's options from JSON ([`ConfigJson`]), with where a host keeps its
/// state: the C and Python bindings open `data_dir` as a durable log
/// (`ordu-durable`); the core only reads the keys and touches no file.
#[derive(Clone, Debug, Default)]
pub struct StoreConfig {
    /// The store's own options.
    pub config: Config,
    /// `"data_dir"`: the directory to keep the store's log and snapshots in
    /// (None: the store is kept in memory). Never empty.
    pub data_dir: Option<String>,
    /// `"snapshot_every"`: entries between two snapshots of the durable log
    /// (0: never; None: the durable log's default). Only with `data_dir`.
    pub snapshot_every: Option<u64>,
}

/// A [`StoreConfig`] from JSON (empty input means every default, in memory).
/// A `data_dir` that is not a string, or empty, or a `snapshot_every` that is
/// not a whole number from 0 or given without `data_dir`, is an invalid
/// error naming the field.
pub fn store_config(bytes: &[u8]) -> Result<StoreConfig> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(StoreConfig::default());
    }
    let j: ConfigJson = decode(bytes, &Limits::default())?;
    if j.data_dir.as_deref() == Some("") {
        return Err(Error::invalid_field("data_dir", "must not be empty"));
    }
    if j.snapshot_every.is_some() && j.data_dir.is_none() {
        return Err(Error::invalid_field(
            "snapshot_every",
            "applies only to a store with a data_dir",
        ));
    }
    Ok(StoreConfig {
        data_dir: j.data_dir.clone(),
        snapshot_every: j.snapshot_every,
        config: config_of(j)?,
    })
}

/// The [`Config`] a decoded [`ConfigJson`] describes.
fn config_of(j: ConfigJson) -> Result<Config> {
    let mut c = Config::default();
    if let Some(r) = j.region {
        if r.is_empty() {
            return Err(Error::invalid_field("region", "must not be empty"));
        }
        c.region = r;
    }
    match j.mode.as_deref() {
        None | Some("inline") => {}
        Some("manual") => c.mode = SchedulingMode::Manual,
        Some("grouped") => c.mode = SchedulingMode::Grouped,
        Some("queued") => c.mode = SchedulingMode::Queued,
        Some(m) => {
            return Err(Error::invalid_field(
                "mode",
                format!(
                    "unknown scheduling mode {m:?}: want \"inline\", \"grouped\", \"queued\" or \"manual\""
                ),
            ))
        }
    }
    match j.deregister.as_deref() {
        None | Some("purge") => {}
        Some("stop") => c.deregister = DeregisterMode::Stop,
        Some(d) => {
            return Err(Error::invalid_field(
                "deregister",
                format!("unknown deregister mode {d:?}: want \"purge\" or \"stop\""),
            ))
        }
    }
    if let Some(n) = j.job_tracked_versions {
        c.job_tracked_versions =
            limit_in("job_tracked_versions", n, MAX_JOB_TRACKED_VERSIONS)? as usize;
    }
    if let Some(d) = j.delivery_limit {
        c.delivery_limit = d;
    }
    if let Some(t) = j.nack_timeout {
        c.nack_timeout = crate::params::parse_go_duration(&t)
            .filter(|d| (Duration::from_millis(1)..=Duration::from_secs(86_400)).contains(d))
            .ok_or_else(|| {
                Error::invalid_field(
                    "nack_timeout",
                    format!("{t:?}: want a Go duration from 1ms to 24h, such as \"60s\""),
                )
            })?;
    }
    if let Some(s) = j.seed {
        c.seed = s;
    }
    if let Some(n) = j.event_buffer_size {
        // 0 turns the stream off.
        c.event_buffer_size = if n == 0 {
            0
        } else {
            limit_in("event_buffer_size", n, MAX_EVENT_BUFFER_SIZE)? as usize
        };
    }
    if let Some(l) = j.limits {
        // A limit of 0 or below would refuse everything or nothing sensibly, and a
        // huge one defeats the point of having it: both are a host's mistake.
        if let Some(v) = l.max_group_count {
            c.limits.max_group_count = limit_in("limits.max_group_count", v, MAX_COUNT_LIMIT)?;
        }
        if let Some(v) = l.max_job_count {
            c.limits.max_job_count = limit_in("limits.max_job_count", v, MAX_COUNT_LIMIT)?;
        }
        if let Some(v) = l.max_request_bytes {
            c.limits.max_request_bytes =
                limit_in("limits.max_request_bytes", v, MAX_REQUEST_BYTES_LIMIT)? as usize;
        }
        if let Some(v) = l.max_constraints {
            c.limits.max_constraints =
                limit_in("limits.max_constraints", v, MAX_CONSTRAINTS_LIMIT)? as usize;
        }
    }
    Ok(c)
}

/// Read options as the bindings pass them: a minimum index, a wait in
/// milliseconds (0: the default wait), an optional region, and an optional
/// namespace (`default` when absent; `*` for every one, on lists).
pub fn query(
    min_index: u64,
    wait_ms: u64,
    region: Option<&str>,
    namespace: Option<&str>,
) -> QueryOptions {
    QueryOptions {
        min_index,
        wait: (wait_ms > 0).then(|| Duration::from_millis(wait_ms)),
        region: region.map(str::to_string),
        namespace: namespace.map(str::to_string),
    }
}

/// Write options as the bindings pass them: an optional region and an
/// optional namespace (of the job the write names; `default` when absent).
pub fn write_options(region: Option<&str>, namespace: Option<&str>) -> WriteOptions {
    WriteOptions {
        region: region.map(str::to_string),
        namespace: namespace.map(str::to_string),
    }
}

/// Writes that name no job: only the region.
fn write_opts(region: Option<&str>) -> WriteOptions {
    write_options(region, None)
}

/// Registers a job from `{"Job": {...}, "EnforceIndex": .., "JobModifyIndex": ..}`.
pub fn register_job(store: &Store, body: &[u8], w: &WriteOptions) -> Result<Reply> {
    let r = store.register_job_json(body, w)?;
    reply(&r, r.index)
}

/// Creates an evaluation for a job.
pub fn evaluate_job(store: &Store, id: &str, w: &WriteOptions) -> Result<Reply> {
    let r = store.evaluate_job(id, w)?;
    reply(&r, r.index)
}

/// Deregisters a job.
pub fn deregister_job(store: &Store, id: &str, purge: bool, w: &WriteOptions) -> Result<Reply> {
    let r = store.deregister_job_with(id, purge, w)?;
    reply(&r, r.index)
}

/// The versions a job keeps: `{"Versions": [newest first], "Diffs": null}`.
pub fn job_versions(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.job_versions(id, q))
}

/// Reverts a job as `POST /v1/job/<id>/revert` does, from
/// `{"JobID", "JobVersion", "EnforcePriorVersion"}`: the body's `JobID` must
/// be `id` (else a decode error, HTTP 400). Answers as a register.
pub fn revert_job(store: &Store, id: &str, body: &[u8], w: &WriteOptions) -> Result<Reply> {
    check_region(store, w.region.as_deref())?;
    let req: crate::structs::JobRevertRequest = decode(body, &store.config().limits)?;
    check_path_job(id, &req.job_id)?;
    let r = store.revert_job(req, w)?;
    reply(&r, r.index)
}

/// Marks a job version stable as `POST /v1/job/<id>/stable` does, from
/// `{"JobID", "JobVersion", "Stable"}` (the `JobID` must be `id`); answers
/// `{"Index": N}`.
pub fn set_job_stability(store: &Store, id: &str, body: &[u8], w: &WriteOptions) -> Result<Reply> {
    check_region(store, w.region.as_deref())?;
    let req: crate::structs::JobStabilityRequest = decode(body, &store.config().limits)?;
    check_path_job(id, &req.job_id)?;
    let r = store.set_job_stability(req, w)?;
    reply(&r, r.index)
}

/// A job's summary (Nomad's `GET /v1/job/<id>/summary`).
pub fn job_summary(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.job_summary(id, q))
}

/// A job's scale status (Nomad's `GET /v1/job/<id>/scale`).
pub fn job_scale_status(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.job_scale_status(id, q))
}

/// Scales a task group as `POST /v1/job/<id>/scale` does, from
/// `{"Count", "Target": {"Group"}, "Message", "PolicyOverride",
/// "JobModifyIndex"}`; answers as a register (see [`Store::scale_job`]).
pub fn scale_job(store: &Store, id: &str, body: &[u8], w: &WriteOptions) -> Result<Reply> {
    check_region(store, w.region.as_deref())?;
    let req: crate::structs::JobScaleRequest = decode(body, &store.config().limits)?;
    let r = store.scale_job(id, req, w)?;
    reply(&r, r.index)
}

/// A job's deployments: always `[]` (ordu has no deployments).
pub fn job_deployments(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.wait(crate::store::reads::job_deployments(q.namespace(), id), q))
}

/// A job's latest deployment: always `null`.
pub fn job_deployment(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.wait(crate::store::reads::job_deployment(q.namespace(), id), q))
}

/// `POST /v1/job/<id>/periodic/force`: Nomad's error for a job that is not
/// periodic (see [`Store::force_periodic_job`]).
pub fn force_periodic_job(store: &Store, id: &str, w: &WriteOptions) -> Result<Reply> {
    let r = store.force_periodic_job(id, w)?;
    reply(&r, r.index)
}

/// `POST /v1/job/<id>/dispatch`: Nomad's error for a job that is not
/// parameterized (see [`Store::dispatch_job`]).
pub fn dispatch_job(store: &Store, id: &str, w: &WriteOptions) -> Result<Reply> {
    let r = store.dispatch_job(id, w)?;
    reply(&r, r.index)
}

/// Nomad's checks of a job sub-resource body's `JobID` against the path.
fn check_path_job(path_id: &str, body_id: &str) -> Result<()> {
    if body_id.is_empty() {
        return Err(path_mismatch("JobID must be specified"));
    }
    if body_id != path_id {
        return Err(path_mismatch("Job ID does not match"));
    }
    Ok(())
}

/// Every namespace whose name starts with `prefix` (`GET /v1/namespaces`).
pub fn namespaces(store: &Store, prefix: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.namespaces(prefix, q))
}

/// A namespace (`GET /v1/namespace/<name>`).
pub fn namespace(store: &Store, name: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.namespace(name, q))
}

/// Creates or updates a namespace (`PUT /v1/namespace[/<name>]`) from its
/// JSON (`{"Name", "Description", "Meta", "Quota"}`); `name` is the
/// path's, empty without one. Answers `null` at the write's index, as Nomad
/// answers nothing.
pub fn upsert_namespace(
    store: &Store,
    name: &str,
    body: &[u8],
    region: Option<&str>,
) -> Result<Reply> {
    check_region(store, region)?;
    let index = store.upsert_namespace_json(name, body, &write_opts(region))?;
    reply(&(), index)
}

/// Deletes a namespace (`DELETE /v1/namespace/<name>`; see
/// [`Store::delete_namespace`]). Answers `null` at the write's index.
pub fn delete_namespace(store: &Store, name: &str, region: Option<&str>) -> Result<Reply> {
    let index = store.delete_namespace(name, &write_opts(region))?;
    reply(&(), index)
}

/// A job.
pub fn job(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.job(id, q))
}

/// The job list.
pub fn jobs(store: &Store, prefix: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.jobs(prefix, q))
}

/// A page of the job list (Nomad's `GET /v1/jobs` with `per_page`,
/// `next_token`, `reverse`): the stubs, and the next page's token.
pub fn jobs_page(store: &Store, list: &ListOptions, q: &QueryOptions) -> Result<Reply> {
    read_page(store.jobs_page(list, q))
}

/// A page of the node list (`GET /v1/nodes`), as [`jobs_page`].
pub fn nodes_page(store: &Store, list: &ListOptions, q: &QueryOptions) -> Result<Reply> {
    read_page(store.nodes_page(list, q))
}

/// A page of every evaluation (`GET /v1/evaluations`), full objects.
pub fn evaluations(store: &Store, list: &ListOptions, q: &QueryOptions) -> Result<Reply> {
    read_page(store.evaluations(list, q))
}

/// A page of every allocation (`GET /v1/allocations`), list stubs.
pub fn allocations(store: &Store, list: &ListOptions, q: &QueryOptions) -> Result<Reply> {
    read_page(store.allocations(list, q))
}

/// A job's allocation stubs.
pub fn job_allocations(store: &Store, id: &str, all: bool, q: &QueryOptions) -> Result<Reply> {
    read(store.job_allocations(id, all, q))
}

/// A job's evaluations.
pub fn job_evaluations(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.job_evaluations(id, q))
}

/// An evaluation.
pub fn evaluation(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.evaluation(id, q))
}

/// An evaluation's allocation stubs (`[]` for an unknown evaluation).
pub fn eval_allocations(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.eval_allocations(id, q))
}

/// What the agent and status endpoints answer for the host `agent`
/// (see [`crate::agent`]): `what` is `self`, `members`, `leader`, `peers` or
/// `regions`. The index is 0: these are not blocking queries.
pub fn agent(store: &Store, agent: &crate::Agent, what: &str) -> Result<Reply> {
    match what {
        "self" => reply(&agent.agent_self(store), 0),
        "members" => reply(&agent.members(store), 0),
        "leader" => reply(&agent.leader(), 0),
        "peers" => reply(&agent.peers(), 0),
        "regions" => reply(&crate::agent::regions(store), 0),
        _ => Err(Error::Invalid {
            stage: Stage::Decode,
            errors: vec![crate::FieldError::new(
                "what",
                format!("{what:?} is not one of self, members, leader, peers, regions"),
            )],
        }),
    }
}

/// An allocation.
pub fn allocation(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.allocation(id, q))
}

/// A node.
pub fn node(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.node(id, q))
}

/// The node list.
pub fn nodes(store: &Store, prefix: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.nodes(prefix, q))
}

/// A node's allocations.
pub fn node_allocations(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.node_allocations(id, q))
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
    update_node_drain_query(store, id, None, body)
}

/// Drains a node as `PUT|POST /v1/node/<id>/drain` does. The `enable` query
/// parameter (v0.2's command-line tool, with an empty body) or the body
/// `{"Drain": true}` set the v0.2 flag, which Nomad 1.x reads as a forced
/// drain or its end ([`Store::update_node_drain`]); with both, they must
/// agree. Any other body is Nomad 1.x's
/// `{"NodeID", "DrainSpec": {"Deadline", "IgnoreSystemJobs"} | null, "MarkEligible"}`
/// ([`Store::drain_node`]; the path's node wins over `NodeID`).
pub fn update_node_drain_query(
    store: &Store,
    id: &str,
    enable: Option<&str>,
    body: &[u8],
) -> Result<Reply> {
    #[derive(Deserialize)]
    struct Body {
        #[serde(rename = "Drain")]
        drain: bool,
    }
    let bad = |message: &str| Error::Invalid {
        stage: Stage::Decode,
        errors: vec![crate::FieldError::new("enable", message)],
    };
    let from_query = match enable {
        Some(raw) => {
            Some(crate::params::parse_go_bool(raw).ok_or_else(|| bad("invalid enable value"))?)
        }
        None => None,
    };
    let empty = body.iter().all(u8::is_ascii_whitespace);
    let drain = match (from_query, empty) {
        (Some(d), true) => d,
        (None, true) => return Err(bad("missing enable value")),
        (query, false) => {
            let limits = &store.config().limits;
            let v: serde_json::Value = decode(body, limits)?;
            let legacy = v.get("Drain").is_some()
                && v.get("DrainSpec").is_none()
                && v.get("MarkEligible").is_none();
            if !legacy && query.is_none() {
                let req: NodeDrainRequest = decode(body, limits)?;
                let r = store.drain_node(id, req.drain_spec.as_ref(), req.mark_eligible)?;
                return reply(&r, r.index);
            }
            let b: Body = decode(body, limits)?;
            if query.is_some_and(|q| q != b.drain) {
                return Err(bad("enable value does not match the body's Drain"));
            }
            b.drain
        }
    };
    let r = store.update_node_drain(id, drain)?;
    reply(&r, r.index)
}

/// Drains a node from Nomad 1.x's body
/// `{"NodeID", "DrainSpec": {"Deadline": ns, "IgnoreSystemJobs": bool} | null, "MarkEligible": bool}`
/// (see [`Store::drain_node`]); the node is `id`, whatever `NodeID` says.
pub fn drain_node(store: &Store, id: &str, body: &[u8]) -> Result<Reply> {
    let req: NodeDrainRequest = decode(body, &store.config().limits)?;
    let r = store.drain_node(id, req.drain_spec.as_ref(), req.mark_eligible)?;
    reply(&r, r.index)
}

/// Sets a node's scheduling eligibility from `{"NodeID", "Eligibility"}`
/// (`eligible` or `ineligible`; the node is `id`). Answers Nomad's
/// `{"EvalIDs", "EvalCreateIndex", "NodeModifyIndex", "Index"}`.
pub fn update_node_eligibility(store: &Store, id: &str, body: &[u8]) -> Result<Reply> {
    let req: NodeEligibilityRequest = decode(body, &store.config().limits)?;
    let r = store.update_node_eligibility(id, &req.eligibility)?;
    reply(&r, r.index)
}

/// Creates the node's evaluations (see [`Store::evaluate_node`]).
pub fn evaluate_node(store: &Store, id: &str) -> Result<Reply> {
    let r = store.evaluate_node(id)?;
    reply(&r, r.index)
}

/// Stops an allocation (see [`Store::stop_allocation`]): `{"EvalID", "Index"}`.
pub fn stop_allocation(store: &Store, id: &str, region: Option<&str>) -> Result<Reply> {
    let r = store.stop_allocation(id, &write_opts(region))?;
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

/// Carries drains on (see [`Store::advance_drains`]); a host calls it on a
/// timer. Answers `{"Index": n}` (0 when there was nothing to do).
pub fn advance_drains(store: &Store) -> Result<Reply> {
    let index = store.advance_drains()?.unwrap_or(0);
    reply(&serde_json::json!({ "Index": index }), index)
}

/// Collects terminal evaluations and allocations older than `older_than`
/// (unix ns). Answers `{"Index": n}` (0 when nothing was collected).
pub fn garbage_collect(store: &Store, older_than: i64) -> Result<Reply> {
    let index = store.garbage_collect(older_than)?.unwrap_or(0);
    reply(&serde_json::json!({ "Index": index }), index)
}

/// Manual mode: the next ready evaluation of one of `types` (all when empty),
/// waiting up to `wait_ms` milliseconds (0: not at all; capped at the reads'
/// longest wait) for one. `None` when none arrived in time.
pub fn dequeue_evaluation(store: &Store, types: &[&str], wait_ms: u64) -> Option<crate::Delivery> {
    store.dequeue_evaluation(types, Duration::from_millis(wait_ms).min(MAX_WAIT))
}

/// A dequeued evaluation as `{"Eval": {...}, "Token": "...", "Attempt": n}`,
/// with the evaluation's modify index.
pub fn delivery(d: &crate::Delivery) -> Result<Reply> {
    reply(
        &serde_json::json!({ "Eval": &*d.eval, "Token": d.token, "Attempt": d.attempt }),
        d.eval.modify_index,
    )
}

/// Manual mode: plans, submits and acks a dequeued evaluation (nacked when
/// its plans keep conflicting). Answers `{"Index": n}`, the plan's index.
pub fn process_evaluation(store: &Store, d: &crate::Delivery) -> Result<Reply> {
    let index = store.process_evaluation(d)?;
    reply(&serde_json::json!({ "Index": index }), index)
}

/// Checks that `region` (when given and not empty) is the store's region: the
/// check every operation makes, for hosts that route by region before they
/// read a body (node writes take no region of their own).
pub fn check_region(store: &Store, region: Option<&str>) -> Result<()> {
    store.check_region(region)
}

/// Checks a request body's announced length against the store's bound before
/// a host reads it, with the same error a body of that size gets from decoding.
pub fn check_body_size(store: &Store, len: u64) -> Result<()> {
    let limit = store.config().limits.max_request_bytes;
    if len > limit as u64 {
        return Err(Error::Limit {
            path: "body".into(),
            limit: limit as u64,
            message: format!("request body of {len} bytes is over the limit of {limit} bytes"),
        });
    }
    Ok(())
}

fn path_mismatch(message: &str) -> Error {
    Error::Invalid {
        stage: Stage::Decode,
        errors: vec![crate::FieldError::new("", message)],
    }
}

/// Registers a job as `PUT /v1/job/<id>` does: as [`register_job`], and when
/// `id` is given the body's job must have that ID (else a decode error,
/// `Job ID does not match name`, HTTP 400). The region is checked first.
pub fn register_job_at(
    store: &Store,
    id: Option<&str>,
    body: &[u8],
    w: &WriteOptions,
) -> Result<Reply> {
    let checked = check_register_job_at(store, id, body, w)?;
    commit_register(store, checked)
}

/// The first half of [`register_job_at`]: decodes and checks the body
/// without the state (see [`Store::check_register`]), so that a host can do it
/// on any thread before it queues the write.
pub fn check_register_job_at(
    store: &Store,
    id: Option<&str>,
    body: &[u8],
    w: &WriteOptions,
) -> Result<CheckedRegister> {
    check_region(store, w.region.as_deref())?;
    let req: JobRegisterRequest = decode(body, &store.config().limits)?;
    if let (Some(id), Some(job)) = (id, req.job.as_ref()) {
        if job.id != id {
            return Err(path_mismatch("Job ID does not match name"));
        }
    }
    store.check_register(req, w)
}

/// The second half of [`register_job_at`]: writes a checked register (see
/// [`Store::commit_register`]) and answers as the endpoint does.
pub fn commit_register(store: &Store, checked: CheckedRegister) -> Result<Reply> {
    let r = store.commit_register(checked)?;
    reply(&r, r.index)
}

/// Plans a job as `PUT /v1/job/<id>/plan` does (see [`Store::plan_job`]):
/// the body is `{"Job": {...}, "Diff": bool, "PolicyOverride": bool}`, the
/// job must have the path's ID (else a decode error,
/// `Job ID does not match`, HTTP 400), and the answer is Nomad's
/// `JobPlanResponse` at the stored job's `JobModifyIndex`. Writes nothing.
/// The region is checked first.
pub fn plan_job(store: &Store, id: &str, body: &[u8], w: &WriteOptions) -> Result<Reply> {
    check_region(store, w.region.as_deref())?;
    let req: JobPlanRequest = decode(body, &store.config().limits)?;
    if let Some(job) = req.job.as_ref() {
        if job.id != id {
            return Err(path_mismatch("Job ID does not match"));
        }
    }
    let r = store.plan_job(req, w)?;
    reply(&r, r.index)
}

/// Registers a node as `PUT /v1/node/<id>` does: `{"Node": {...}}` or the bare
/// node; when `id` is given, a node without an ID takes it and a node with
/// another ID is a decode error (`Node ID does not match`, HTTP 400). The
/// region is checked first.
pub fn register_node_at(
    store: &Store,
    id: Option<&str>,
    body: &[u8],
    region: Option<&str>,
) -> Result<Reply> {
    check_region(store, region)?;
    let mut node = crate::structs::decode_node(body, &store.config().limits)?;
    if let Some(id) = id {
        if node.id.is_empty() {
            node.id = id.to_string();
        } else if node.id != id {
            return Err(path_mismatch("Node ID does not match"));
        }
    }
    let r = store.register_node(node)?;
    reply(&r, r.index)
}

/// The whole wait of a blocking read asked to wait `wait_ms` milliseconds
/// (0: the default), capped as the store caps it. Hosts that wait in slices
/// (see [`read_in_slices`]) use it as their budget.
pub fn wait_budget(wait_ms: u64) -> Duration {
    let wait = if wait_ms == 0 {
        DEFAULT_WAIT
    } else {
        Duration::from_millis(wait_ms)
    };
    wait.min(MAX_WAIT)
}

/// An answer that carries the index of its read: a [`Reply`], or a typed
/// [`crate::Query`] for hosts that render values themselves.
pub trait Indexed {
    /// The index the read answered with.
    fn index(&self) -> u64;
}

impl Indexed for Reply {
    fn index(&self) -> u64 {
        self.index
    }
}

impl<T> Indexed for crate::Query<T> {
    fn index(&self) -> u64 {
        self.meta.index
    }
}

/// A blocking read waited for in slices, so a host can do something between
/// them (a Python binding checks for signals with the GIL taken back).
///
/// `read` is one of this module's reads (or a typed `Store` read); it is called with `min_index` and a
/// wait of at most `slice` until the read settles as [`Store::wait`] decides
/// (its index moved past `min_index`, `min_index` is past the store's index,
/// or an error other than not-found), or until [`wait_budget`] is spent: then
/// the last answer is returned, as a read that timed out. `between` runs
/// before each further slice: `Continue` waits on, `Break` ends the wait
/// with the last answer (as if the budget were spent), and an error ends it
/// with that error.
// Each argument is one the bindings pass through as they got it.
#[allow(clippy::too_many_arguments)]
pub fn read_in_slices<R: Indexed, E>(
    store: &Store,
    min_index: u64,
    wait_ms: u64,
    region: Option<&str>,
    namespace: Option<&str>,
    slice: Duration,
    read: impl Fn(&QueryOptions) -> Result<R>,
    mut between: impl FnMut() -> std::result::Result<ControlFlow<()>, E>,
) -> std::result::Result<Result<R>, E> {
    if min_index == 0 {
        return Ok(read(&query(0, 0, region, namespace)));
    }
    let slice = slice.max(Duration::from_millis(1));
    let deadline = Instant::now() + wait_budget(wait_ms);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let this = left.min(slice).max(Duration::from_millis(1));
        let answer = read(&query(
            min_index,
            this.as_millis() as u64,
            region,
            namespace,
        ));
        let index = match &answer {
            Ok(r) => r.index(),
            Err(Error::NotFound { index, .. }) => *index,
            Err(_) => return Ok(answer),
        };
        if index > min_index || min_index > store.index() || Instant::now() >= deadline {
            return Ok(answer);
        }
        if between()?.is_break() {
            return Ok(answer);
        }
    }
}

/// Subscribes to the event stream ([`crate::events`]) with `Topic:Key`
/// filters (none: every event), events of `namespace` only (None or `*`:
/// every namespace; the HTTP front ends pass Nomad's default, `default`),
/// from index `index` on (0: from the next write). A filter that does not
/// parse is a decode error naming `topic`; an index older than the buffer
/// holds is a limit error whose `limit` is the oldest index it holds.
pub fn subscribe_events<S: AsRef<str>>(
    store: &Store,
    topics: &[S],
    namespace: Option<&str>,
    index: u64,
) -> Result<EventSubscription> {
    let mut filter = TopicFilter::parse(topics)?;
    if let Some(ns) = namespace {
        filter = filter.namespace(ns);
    }
    store.subscribe_events(filter, index)
}

/// The subscription's next frame as JSON (`{"Index": n, "Events": [...]}`),
/// waiting up to `timeout_ms` milliseconds (0: not at all; capped at
/// [`MAX_WAIT`]); `None` when none came. A subscriber that fell behind the
/// buffer gets a limit error naming the oldest index held.
pub fn next_event(sub: &mut EventSubscription, timeout_ms: u64) -> Result<Option<String>> {
    if timeout_ms == 0 {
        return Ok(sub.try_next()?.map(|b| b.to_json()));
    }
    let wait = Duration::from_millis(timeout_ms).min(MAX_WAIT);
    Ok(sub.next(Instant::now() + wait)?.map(|b| b.to_json()))
}

/// [`next_event`] waited for in slices of at most `slice`, running
/// `between` before each further slice (a Python binding checks for
/// signals there): `Break` ends the wait with `None`, an error ends it with
/// that error. `timeout_ms` `None`: no end but `between`'s.
pub fn next_event_in_slices<E>(
    sub: &mut EventSubscription,
    timeout_ms: Option<u64>,
    slice: Duration,
    mut between: impl FnMut() -> std::result::Result<ControlFlow<()>, E>,
) -> std::result::Result<Result<Option<String>>, E> {
    let slice = slice.max(Duration::from_millis(1));
    let deadline = timeout_ms.map(|t| Instant::now() + Duration::from_millis(t));
    loop {
        let end = Instant::now() + slice;
        let end = deadline.map_or(end, |d| d.min(end));
        match sub.next(end) {
            Ok(Some(b)) => return Ok(Ok(Some(b.to_json()))),
            Err(e) => return Ok(Err(e)),
            Ok(None) => {}
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(Ok(None));
        }
        if between()?.is_break() {
            return Ok(Ok(None));
        }
    }
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
        assert_eq!(c.nack_timeout, Duration::from_secs(60));
        let c = config(br#"{"nack_timeout":"1m30s"}"#).unwrap();
        assert_eq!(c.nack_timeout, Duration::from_secs(90));
        for bad in [r#""0s""#, r#""25h""#, r#""60""#, "60"] {
            let body = format!(r#"{{"nack_timeout":{bad}}}"#);
            let err = config(body.as_bytes()).unwrap_err();
            assert_eq!(err.field_errors()[0].path, "nack_timeout", "{bad}");
        }
        let err = config(br#"{"regoin":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("regoin"), "{err}");
    }

    #[test]
    fn register_and_read_over_json() {
        let store = Store::default();
        let r = register_job(
            &store,
            br#"{"Job":{"ID":"web","TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"exec"}]}]}}"#,
            &write_options(None, None),
        )
        .unwrap();
        assert_eq!(r.index, 1);
        let got = job(&store, "web", &query(0, 0, None, None)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&got.body).unwrap();
        assert_eq!(v["ID"], "web");
        assert_eq!(v["Priority"], 50);
        let err = job(&store, "nope", &query(0, 0, None, None)).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::NotFound);
    }

    const JOB: &[u8] =
        br#"{"Job":{"ID":"web","TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"exec"}]}]}}"#;

    #[test]
    fn manual_mode_over_json() {
        let store = Store::new(config(br#"{"mode":"manual"}"#).unwrap());
        assert!(dequeue_evaluation(&store, &[], 0).is_none());
        let w = register_job(&store, JOB, &write_options(None, None)).unwrap();
        assert!(dequeue_evaluation(&store, &["batch"], 0).is_none());
        let d = dequeue_evaluation(&store, &["service"], 1000).expect("the register's eval");
        let v: serde_json::Value = serde_json::from_str(&delivery(&d).unwrap().body).unwrap();
        assert_eq!(v["Eval"]["JobID"], "web");
        assert_eq!(v["Attempt"], 1);
        assert!(!v["Token"].as_str().unwrap().is_empty());
        let r = process_evaluation(&store, &d).unwrap();
        assert!(r.index > w.index);
        let e = evaluation(&store, &d.eval.id, &query(0, 0, None, None)).unwrap();
        assert!(e.body.contains(r#""Status":"complete""#), "{}", e.body);
        // A second process of the same delivery no longer holds the token.
        assert_eq!(
            process_evaluation(&store, &d).unwrap_err().kind(),
            crate::ErrorKind::Conflict
        );
    }

    #[test]
    fn path_ids_must_match_the_body() {
        let store = Store::default();
        let err =
            register_job_at(&store, Some("other"), JOB, &write_options(None, None)).unwrap_err();
        assert_eq!(err.http_status(false), 400);
        assert!(
            err.to_string().contains("Job ID does not match name"),
            "{err}"
        );
        assert_eq!(store.index(), 0, "a mismatch writes nothing");
        assert_eq!(
            register_job_at(&store, Some("web"), JOB, &write_options(None, None))
                .unwrap()
                .index,
            1
        );

        let node = br#"{"Node":{"Name":"n","Datacenter":"dc1","Status":"ready"}}"#;
        register_node_at(&store, Some("n1"), node, None).unwrap();
        let got = self::node(&store, "n1", &query(0, 0, None, None)).unwrap();
        assert!(got.body.contains(r#""ID":"n1""#), "{}", got.body);
        let other = br#"{"ID":"n2","Name":"n","Datacenter":"dc1"}"#;
        let err = register_node_at(&store, Some("n1"), other, None).unwrap_err();
        assert!(err.to_string().contains("Node ID does not match"), "{err}");
        let err = register_node_at(&store, Some("n1"), node, Some("mars")).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Region);
        let err = register_job_at(
            &store,
            Some("web"),
            b"not json",
            &write_options(Some("mars"), None),
        )
        .unwrap_err();
        assert_eq!(
            err.kind(),
            crate::ErrorKind::Region,
            "the region is checked first"
        );
    }

    #[test]
    fn body_size_and_budget() {
        let store = Store::default();
        let max = store.config().limits.max_request_bytes as u64;
        assert!(check_body_size(&store, max).is_ok());
        assert_eq!(
            check_body_size(&store, max + 1).unwrap_err().kind(),
            crate::ErrorKind::Limit
        );
        assert_eq!(wait_budget(0), DEFAULT_WAIT);
        assert_eq!(wait_budget(u64::MAX), MAX_WAIT);
        assert_eq!(wait_budget(250), Duration::from_millis(250));
    }

    #[test]
    fn slices_time_out_wake_and_stop() {
        let store = std::sync::Arc::new(Store::default());
        register_job(&store, JOB, &write_options(None, None)).unwrap();
        let read = |q: &QueryOptions| job(&store, "web", q);
        let at = read(&query(0, 0, None, None)).unwrap().index;
        // Times out after the budget, with the current answer.
        let mut slices = 0;
        let started = Instant::now();
        let r = read_in_slices(
            &store,
            at,
            120,
            None,
            None,
            Duration::from_millis(20),
            read,
            || {
                slices += 1;
                Ok::<_, ()>(ControlFlow::Continue(()))
            },
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.index, at);
        assert!(started.elapsed() >= Duration::from_millis(120));
        assert!(slices >= 3, "waited in slices: {slices}");
        // `between` failing ends the wait at once.
        let r = read_in_slices(
            &store,
            at,
            10_000,
            None,
            None,
            Duration::from_millis(5),
            read,
            || Err("stop"),
        );
        assert_eq!(r.unwrap_err(), "stop");
        // `between` breaking ends it at once with the last answer.
        let started = Instant::now();
        let r = read_in_slices(
            &store,
            at,
            10_000,
            None,
            None,
            Duration::from_millis(5),
            read,
            || Ok::<_, ()>(ControlFlow::Break(())),
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.index, at);
        assert!(started.elapsed() < Duration::from_secs(5));
        // A write wakes it within a slice's reach.
        let writer = {
            let store = store.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                let changed = br#"{"Job":{"ID":"web","Priority":60,"TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"exec"}]}]}}"#;
                register_job(&store, changed, &write_options(None, None)).unwrap();
            })
        };
        let r = read_in_slices(
            &store,
            at,
            10_000,
            None,
            None,
            Duration::from_millis(20),
            read,
            || Ok::<_, ()>(ControlFlow::Continue(())),
        )
        .unwrap()
        .unwrap();
        assert!(r.index > at);
        writer.join().unwrap();
        // Not found waits too; other errors answer at once.
        let r = read_in_slices(
            &store,
            store.index(),
            60,
            None,
            None,
            Duration::from_millis(20),
            |q: &QueryOptions| job(&store, "nope", q),
            || Ok::<_, ()>(ControlFlow::Continue(())),
        )
        .unwrap();
        assert_eq!(r.unwrap_err().kind(), crate::ErrorKind::NotFound);
        let r = read_in_slices(
            &store,
            1,
            10_000,
            Some("mars"),
            None,
            Duration::from_millis(20),
            read,
            || Ok::<_, ()>(ControlFlow::Continue(())),
        )
        .unwrap();
        assert_eq!(r.unwrap_err().kind(), crate::ErrorKind::Region);
    }
}
