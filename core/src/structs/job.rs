//! Jobs and what they are made of: task groups, tasks, resources, networks,
//! constraints, update and restart policies.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use super::serde_util::null_default;

/// Keys a client sent that ordu does not model. They are kept and written back
/// unchanged, so a job from a newer client round-trips.
pub type Extra = BTreeMap<String, RawJson>;

/// One value ordu does not model, held as compact JSON text rather than as a
/// `Value` tree, whose nodes cost many times the text they came from.
///
/// Why re-serialise instead of capturing the input slice: `#[serde(flatten)]`
/// buffers the struct's keys through serde's private `Content`, where
/// `RawValue` cannot borrow the original text. Decoding visits the buffered
/// value once as a `Value` and writes it out compactly; that copy is transient
/// (the flatten buffer is already as large), and what stays resident is text.
/// Compact re-serialisation also makes the text canonical (no whitespace,
/// object keys sorted as `Value` sorts them), so comparing the text is the same
/// semantic comparison `Value`'s equality made: a job re-registered with other
/// spacing is still the same spec.
#[derive(Debug, Clone)]
pub struct RawJson(Box<RawValue>);

impl RawJson {
    /// The compact JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// The value parsed back into a tree, for callers that inspect it.
    pub fn value(&self) -> Value {
        // The text was written by serde_json from a `Value`, so it parses.
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }
}

impl From<&Value> for RawJson {
    fn from(v: &Value) -> Self {
        // Serialising a `Value` cannot fail: its keys are strings and its
        // numbers are finite.
        let text = serde_json::to_string(v).unwrap_or_else(|_| "null".to_string());
        RawJson(RawValue::from_string(text).unwrap_or_else(|_| null_raw()))
    }
}

fn null_raw() -> Box<RawValue> {
    RawValue::from_string("null".to_string()).expect("null is JSON")
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Serialize for RawJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RawJson::from(&Value::deserialize(d)?))
    }
}

/// The job types ordu has a scheduler for.
pub const JOB_TYPES: [&str; 3] = [JOB_TYPE_SERVICE, JOB_TYPE_BATCH, JOB_TYPE_SYSTEM];
/// Long-running services (generic scheduler).
pub const JOB_TYPE_SERVICE: &str = "service";
/// Run-to-completion work (generic scheduler).
pub const JOB_TYPE_BATCH: &str = "batch";
/// One allocation on every feasible node.
pub const JOB_TYPE_SYSTEM: &str = "system";

/// Job status: registered, nothing running yet, or work still queued.
pub const JOB_STATUS_PENDING: &str = "pending";
/// Job status: at least one allocation is not terminal.
pub const JOB_STATUS_RUNNING: &str = "running";
/// Job status: nothing runs and nothing is queued.
pub const JOB_STATUS_DEAD: &str = "dead";

/// The sub-paths of `/v1/job/<id>/…` that Nomad's HTTP API routes (those ordu
/// serves and those it may serve later). A job ID may contain `/`, but not end
/// in one of these after a `/`: such a job could never be read or deleted by
/// its path, so register refuses it.
pub const ROUTED_JOB_SUFFIXES: &[&str] = &[
    "allocations",
    "evaluate",
    "evaluations",
    "deployment",
    "deployments",
    "dispatch",
    "parse",
    "periodic/force",
    "plan",
    "revert",
    "scale",
    "stable",
    "summary",
    "versions",
    "submission",
    "services",
    "action",
    "actions",
];

/// The longest job or node ID, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// The routed suffix `id` ends in after a `/`, if any.
pub fn routed_suffix(id: &str) -> Option<&'static str> {
    ROUTED_JOB_SUFFIXES.iter().copied().find(|s| {
        id.strip_suffix(s)
            .is_some_and(|head| head.len() > 1 && head.ends_with('/'))
    })
}

/// The namespace every job is in unless it says otherwise.
pub const DEFAULT_NAMESPACE: &str = "default";

/// A job's key in the state's tables: its namespace and ID joined by a NUL,
/// which neither may hold (validation refuses it), so that a namespace's
/// jobs sort together and in ID order.
pub fn job_key(namespace: &str, id: &str) -> String {
    let mut key = String::with_capacity(namespace.len() + 1 + id.len());
    key.push_str(namespace);
    key.push('\0');
    key.push_str(id);
    key
}

/// The namespace and ID of a [`job_key`].
pub fn split_job_key(key: &str) -> (&str, &str) {
    key.split_once('\0').unwrap_or((DEFAULT_NAMESPACE, key))
}

fn default_job_type() -> String {
    JOB_TYPE_SERVICE.to_string()
}
fn default_priority() -> i64 {
    50
}
fn default_datacenters() -> Vec<String> {
    vec!["*".to_string()]
}
fn default_count() -> i64 {
    1
}

/// A job: the unit a client registers. Field names are Nomad's.
///
/// Fields with a default (see [`Job::canonicalize`]) take it only when the key is
/// absent; a value the client sent, even 0, is kept and validated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Job {
    /// Region the job runs in; empty or `global` means the store's region.
    #[serde(default, deserialize_with = "null_default")]
    pub region: String,
    /// Namespace; `default` when absent.
    #[serde(default, deserialize_with = "null_default")]
    pub namespace: String,
    /// Unique, case-sensitive ID; may contain `/` but no space or NUL.
    #[serde(rename = "ID", default, deserialize_with = "null_default")]
    pub id: String,
    /// Display name; the ID when absent.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Scheduler type: `service`, `batch` or `system`.
    #[serde(
        rename = "Type",
        default = "default_job_type",
        deserialize_with = "job_type"
    )]
    pub job_type: String,
    /// 1 to 100; higher is scheduled first.
    #[serde(default = "default_priority", deserialize_with = "priority")]
    pub priority: i64,
    /// Commit all placements of an evaluation or none.
    #[serde(default, deserialize_with = "null_default")]
    pub all_at_once: bool,
    /// Datacenters (globs) the job may run in.
    #[serde(default = "default_datacenters", deserialize_with = "datacenters")]
    pub datacenters: Vec<String>,
    /// Constraints applied to every group.
    #[serde(default)]
    pub constraints: Option<Vec<Constraint>>,
    /// The groups of tasks placed together.
    #[serde(default, deserialize_with = "null_default")]
    pub task_groups: Vec<TaskGroup>,
    /// Rolling update strategy.
    #[serde(default, deserialize_with = "null_default")]
    pub update: UpdateStrategy,
    /// Opaque key/value metadata.
    #[serde(default)]
    pub meta: Option<BTreeMap<String, String>>,
    /// Derived by ordu: `pending`, `running` or `dead`. A client's value is ignored.
    #[serde(default, deserialize_with = "null_default")]
    pub status: String,
    /// Human readable status detail.
    #[serde(default, deserialize_with = "null_default")]
    pub status_description: String,
    /// Set when the job is stopped but not yet removed.
    #[serde(default, deserialize_with = "null_default")]
    pub stop: bool,
    /// Spec version: 0 at first register, +1 for every spec change.
    #[serde(default, deserialize_with = "null_default")]
    pub version: u64,
    /// Marked stable ([`crate::Store::set_job_stability`]); not part of the
    /// spec. Written only when set, so that the encodings of jobs (log
    /// entries, snapshots) from before it existed stay byte for byte;
    /// [`JobVersion`] writes it either way.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub stable: bool,
    /// Unix nanoseconds of the last register that changed the spec.
    #[serde(default, deserialize_with = "null_default")]
    pub submit_time: i64,
    /// Index at which the job was created.
    #[serde(default, deserialize_with = "null_default")]
    pub create_index: u64,
    /// Index of the last write that touched the job (spec or status).
    #[serde(default, deserialize_with = "null_default")]
    pub modify_index: u64,
    /// Index of the last spec change.
    #[serde(default, deserialize_with = "null_default")]
    pub job_modify_index: u64,
    /// Fields ordu does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

// A key sent as null counts as absent, as Go's decoder treats it: clients
// that print every unset pointer field (`nomad job run -output`) get the
// defaults rather than a decode error.
fn job_type<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_else(default_job_type))
}
fn priority<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(Option::<i64>::deserialize(d)?.unwrap_or_else(default_priority))
}
fn count<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(Option::<i64>::deserialize(d)?.unwrap_or_else(default_count))
}

fn datacenters<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_else(default_datacenters))
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One version of a job as the versions endpoint answers it: the job, with
/// `Stable` written even when false (as Nomad writes every job).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobVersion {
    /// The job at that version.
    #[serde(flatten)]
    pub job: Arc<Job>,
    /// The job's `Stable`, written here only when false (which the job
    /// leaves out); true the job writes itself.
    #[serde(rename = "Stable", skip_serializing_if = "is_true")]
    stable: bool,
}

impl JobVersion {
    /// The version `job`.
    pub fn new(job: Arc<Job>) -> Self {
        JobVersion {
            stable: job.stable,
            job,
        }
    }
}

fn is_true(b: &bool) -> bool {
    *b
}

/// The answer of `GET /v1/job/<id>/versions`: `{"Versions": [newest
/// first], "Diffs": null}` (ordu computes no diffs).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobVersionsResponse {
    /// Every version kept, newest (the current job) first.
    pub versions: Vec<JobVersion>,
    /// Always null: ordu does not diff versions, `?diffs=true` or not.
    pub diffs: Option<Vec<serde_json::Value>>,
}

/// The body of `POST /v1/job/<id>/revert`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JobRevertRequest {
    /// The job; must match the path's.
    #[serde(rename = "JobID", default)]
    pub job_id: String,
    /// The version whose spec becomes the job's again.
    #[serde(rename = "JobVersion", default)]
    pub job_version: u64,
    /// Check-and-set: revert only if the current version is this one.
    #[serde(rename = "EnforcePriorVersion", default)]
    pub enforce_prior_version: Option<u64>,
}

/// The body of `POST /v1/job/<id>/stable`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JobStabilityRequest {
    /// The job; must match the path's.
    #[serde(rename = "JobID", default)]
    pub job_id: String,
    /// The version to mark.
    #[serde(rename = "JobVersion", default)]
    pub job_version: u64,
    /// Stable or not.
    #[serde(rename = "Stable", default)]
    pub stable: bool,
}

/// The answer of a stability update: `{"Index": N}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobStabilityResponse {
    /// Index of the write.
    pub index: u64,
}

impl Default for Job {
    /// An empty job with the same defaults a JSON job without those keys gets.
    fn default() -> Self {
        Job {
            region: String::new(),
            namespace: String::new(),
            id: String::new(),
            name: String::new(),
            job_type: default_job_type(),
            priority: default_priority(),
            all_at_once: false,
            datacenters: default_datacenters(),
            constraints: None,
            task_groups: Vec::new(),
            update: UpdateStrategy::default(),
            meta: None,
            status: String::new(),
            status_description: String::new(),
            stop: false,
            version: 0,
            stable: false,
            submit_time: 0,
            create_index: 0,
            modify_index: 0,
            job_modify_index: 0,
            extra: Extra::new(),
        }
    }
}

impl Job {
    /// This job's key in the state's tables ([`job_key`]).
    pub fn key(&self) -> String {
        job_key(&self.namespace, &self.id)
    }

    /// Fills the defaults that depend on other fields or on the store: `Name` from
    /// `ID`, `Namespace`, `Region` (empty or `global` becomes `region`), and each
    /// group's `RestartPolicy` by job type, key by key where the client sent part.
    pub fn canonicalize(&mut self, region: &str) {
        if self.name.is_empty() {
            self.name = self.id.clone();
        }
        if self.namespace.is_empty() {
            self.namespace = DEFAULT_NAMESPACE.to_string();
        }
        if self.region.is_empty() || self.region == "global" {
            self.region = region.to_string();
        }
        let batch = self.job_type == JOB_TYPE_BATCH;
        for group in &mut self.task_groups {
            match &mut group.restart_policy {
                None => group.restart_policy = Some(RestartPolicy::default_for(batch)),
                Some(rp) => rp.complete_from(RestartPolicy::default_for(batch)),
            }
        }
    }

    /// True when `other` is the same spec: everything but the fields the server
    /// owns (status, version, indexes, submit time).
    pub fn same_spec(&self, other: &Job) -> bool {
        // Every field is named, so that a new one has to be sorted into spec
        // or server-owned here before this compiles.
        let Job {
            region,
            namespace,
            id,
            name,
            job_type,
            priority,
            all_at_once,
            datacenters,
            constraints,
            task_groups,
            update,
            meta,
            stop,
            extra,
            status: _,
            status_description: _,
            version: _,
            stable: _,
            submit_time: _,
            create_index: _,
            modify_index: _,
            job_modify_index: _,
        } = self;
        *region == other.region
            && *namespace == other.namespace
            && *id == other.id
            && *name == other.name
            && *job_type == other.job_type
            && *priority == other.priority
            && *all_at_once == other.all_at_once
            && *datacenters == other.datacenters
            && *constraints == other.constraints
            && *task_groups == other.task_groups
            && *update == other.update
            && *meta == other.meta
            && *stop == other.stop
            && *extra == other.extra
    }

    /// The group with this name.
    pub fn group(&self, name: &str) -> Option<&TaskGroup> {
        self.task_groups.iter().find(|g| g.name == name)
    }

    /// The short form listed by `/v1/jobs`.
    pub fn stub(&self) -> JobListStub {
        JobListStub {
            id: self.id.clone(),
            parent_id: String::new(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            datacenters: self.datacenters.clone(),
            job_type: self.job_type.clone(),
            priority: self.priority,
            stop: self.stop,
            status: self.status.clone(),
            status_description: self.status_description.clone(),
            create_index: self.create_index,
            modify_index: self.modify_index,
            job_modify_index: self.job_modify_index,
            submit_time: self.submit_time,
        }
    }
}

/// One element of the job list (`GET /v1/jobs`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct JobListStub {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "ParentID")]
    pub parent_id: String,
    pub name: String,
    pub namespace: String,
    pub datacenters: Vec<String>,
    #[serde(rename = "Type")]
    pub job_type: String,
    pub priority: i64,
    pub stop: bool,
    pub status: String,
    pub status_description: String,
    pub create_index: u64,
    pub modify_index: u64,
    pub job_modify_index: u64,
    pub submit_time: i64,
}

/// A set of tasks placed together on one node, `Count` times.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskGroup {
    /// Unique within the job.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// How many allocations of the group to run (0 places nothing).
    #[serde(default = "default_count", deserialize_with = "count")]
    pub count: i64,
    /// Constraints on the group's nodes.
    #[serde(default)]
    pub constraints: Option<Vec<Constraint>>,
    /// The tasks; at least one.
    #[serde(default, deserialize_with = "null_default")]
    pub tasks: Vec<Task>,
    /// How the client restarts failing tasks; a default by job type when absent.
    #[serde(default)]
    pub restart_policy: Option<RestartPolicy>,
    /// Opaque metadata.
    #[serde(default)]
    pub meta: Option<BTreeMap<String, String>>,
    /// Fields ordu does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

impl TaskGroup {
    /// Sum of the tasks' resources: what one allocation of the group asks for.
    pub fn resources(&self) -> Resources {
        let mut total = Resources::zero();
        for task in &self.tasks {
            total.add(&task.resources);
        }
        total
    }
}

/// One unit of work run by a driver.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Task {
    /// Unique within the group.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Driver that runs it; nodes advertise `driver.<name>`.
    #[serde(default, deserialize_with = "null_default")]
    pub driver: String,
    /// Driver configuration, any JSON value.
    #[serde(default)]
    pub config: Value,
    /// Environment variables.
    #[serde(default)]
    pub env: Option<BTreeMap<String, String>>,
    /// Constraints on the task's node.
    #[serde(default)]
    pub constraints: Option<Vec<Constraint>>,
    /// What the task needs; CPU 100 and MemoryMB 300 when absent.
    #[serde(
        default = "Resources::task_default",
        deserialize_with = "task_resources"
    )]
    pub resources: Resources,
    /// Opaque metadata.
    #[serde(default)]
    pub meta: Option<BTreeMap<String, String>>,
    /// Fields ordu does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// CPU, memory, disk, IOPS and networks: asked by a task, offered by a node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resources {
    /// MHz.
    #[serde(rename = "CPU", default, deserialize_with = "null_default")]
    pub cpu: i64,
    /// Megabytes of memory.
    #[serde(rename = "MemoryMB", default, deserialize_with = "null_default")]
    pub memory_mb: i64,
    /// Megabytes of disk.
    #[serde(rename = "DiskMB", default, deserialize_with = "null_default")]
    pub disk_mb: i64,
    /// IO operations per second.
    #[serde(rename = "IOPS", default, deserialize_with = "null_default")]
    pub iops: i64,
    /// Networks; a task uses the first.
    #[serde(default)]
    pub networks: Option<Vec<NetworkResource>>,
    /// Fields ordu does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Task resources as sent, so that absent keys get the task defaults and keys
/// sent as 0 keep 0.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TaskResourcesWire {
    #[serde(rename = "CPU")]
    cpu: Option<i64>,
    #[serde(rename = "MemoryMB")]
    memory_mb: Option<i64>,
    #[serde(rename = "DiskMB", default, deserialize_with = "null_default")]
    disk_mb: i64,
    #[serde(rename = "IOPS", default, deserialize_with = "null_default")]
    iops: i64,
    #[serde(default)]
    networks: Option<Vec<NetworkResource>>,
    #[serde(flatten)]
    extra: Extra,
}

fn task_resources<'de, D: Deserializer<'de>>(d: D) -> Result<Resources, D::Error> {
    let Some(w) = Option::<TaskResourcesWire>::deserialize(d)? else {
        return Ok(Resources::task_default());
    };
    Ok(Resources {
        cpu: w.cpu.unwrap_or(Resources::DEFAULT_CPU),
        memory_mb: w.memory_mb.unwrap_or(Resources::DEFAULT_MEMORY_MB),
        disk_mb: w.disk_mb,
        iops: w.iops,
        networks: w.networks,
        extra: w.extra,
    })
}

impl Resources {
    /// CPU a task gets when it does not say.
    pub const DEFAULT_CPU: i64 = 100;
    /// Memory a task gets when it does not say.
    pub const DEFAULT_MEMORY_MB: i64 = 300;

    /// What a task without `Resources` asks for.
    pub fn task_default() -> Self {
        Resources {
            cpu: Self::DEFAULT_CPU,
            memory_mb: Self::DEFAULT_MEMORY_MB,
            ..Self::zero()
        }
    }

    /// Nothing at all.
    pub fn zero() -> Self {
        Resources::default()
    }

    /// Adds `other` field by field; networks are appended.
    pub fn add(&mut self, other: &Resources) {
        // Saturating: validation bounds each field, this keeps a sum of many
        // from wrapping whatever the count.
        self.cpu = self.cpu.saturating_add(other.cpu);
        self.memory_mb = self.memory_mb.saturating_add(other.memory_mb);
        self.disk_mb = self.disk_mb.saturating_add(other.disk_mb);
        self.iops = self.iops.saturating_add(other.iops);
        if let Some(nets) = &other.networks {
            self.networks
                .get_or_insert_with(Vec::new)
                .extend(nets.iter().cloned());
        }
    }

    /// The networks, empty when none.
    pub fn networks(&self) -> &[NetworkResource] {
        self.networks.as_deref().unwrap_or(&[])
    }
}

/// A network ask (task) or offer (node).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkResource {
    /// Interface name.
    #[serde(default, deserialize_with = "null_default")]
    pub device: String,
    /// Node side: the block addresses come from.
    #[serde(rename = "CIDR", default, deserialize_with = "null_default")]
    pub cidr: String,
    /// Assigned address (filled in by the scheduler).
    #[serde(rename = "IP", default, deserialize_with = "null_default")]
    pub ip: String,
    /// Bandwidth in megabits.
    #[serde(rename = "MBits", default, deserialize_with = "null_default")]
    pub mbits: i64,
    /// Static ports. The seed's list of integers is accepted too.
    #[serde(default, deserialize_with = "ports")]
    pub reserved_ports: Option<Vec<Port>>,
    /// Ports the scheduler picks. The seed's list of labels is accepted too.
    #[serde(default, deserialize_with = "ports")]
    pub dynamic_ports: Option<Vec<Port>>,
    /// Fields ordu does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

impl NetworkResource {
    /// The reserved ports, empty when none.
    pub fn reserved(&self) -> &[Port] {
        self.reserved_ports.as_deref().unwrap_or(&[])
    }
    /// The dynamic ports, empty when none.
    pub fn dynamic(&self) -> &[Port] {
        self.dynamic_ports.as_deref().unwrap_or(&[])
    }
}

/// A labelled port.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Port {
    /// Name the task refers to.
    #[serde(default, deserialize_with = "null_default")]
    pub label: String,
    /// Port number on the node (0 until assigned for dynamic ports).
    #[serde(default, deserialize_with = "null_default")]
    pub value: i64,
    /// Port inside the task, when mapped.
    #[serde(default, deserialize_with = "null_default")]
    pub to: i64,
    /// Fields ordu does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A port as the seed's clients write it: a bare number, a bare label or an
/// object. Told apart by the JSON type, so an object costs no failed attempts
/// (an untagged enum would format two errors for every port object).
enum PortWire {
    Number(i64),
    Label(String),
    Port(Port),
}

impl<'de> Deserialize<'de> for PortWire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Wire;
        impl<'de> Visitor<'de> for Wire {
            type Value = PortWire;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a port: a number, a label or an object")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PortWire, E> {
                Ok(PortWire::Number(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PortWire, E> {
                i64::try_from(v)
                    .map(PortWire::Number)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PortWire, E> {
                Ok(PortWire::Label(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PortWire, A::Error> {
                Port::deserialize(de::value::MapAccessDeserializer::new(map)).map(PortWire::Port)
            }
        }
        d.deserialize_any(Wire)
    }
}

fn ports<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Port>>, D::Error> {
    let Some(list) = Option::<Vec<PortWire>>::deserialize(d)? else {
        return Ok(None);
    };
    Ok(Some(
        list.into_iter()
            .map(|p| match p {
                PortWire::Number(value) => Port {
                    value,
                    ..Port::default()
                },
                PortWire::Label(label) => Port {
                    label,
                    ..Port::default()
                },
                PortWire::Port(p) => p,
            })
            .collect(),
    ))
}

/// A rule a node must satisfy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Constraint {
    /// Left side: a literal or an interpolation such as `${attr.kernel.os}`.
    #[serde(rename = "LTarget", default, deserialize_with = "null_default")]
    pub l_target: String,
    /// Right side.
    #[serde(rename = "RTarget", default, deserialize_with = "null_default")]
    pub r_target: String,
    /// Operator: `=`, `!=`, `<`, `version`, `regexp`, `distinct_hosts`, ...
    #[serde(default, deserialize_with = "null_default")]
    pub operand: String,
    /// The seed's hardness flag: `false` makes the constraint a no-op.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard: Option<bool>,
    /// The seed's (unused) weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    /// Fields ordu does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Constraint {
    /// False for the seed's soft constraints, which were never enforced.
    pub fn is_enforced(&self) -> bool {
        self.hard != Some(false)
    }
}

impl std::fmt::Display for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.l_target, self.operand, self.r_target)
    }
}

/// Rolling updates: at most `MaxParallel` destructive changes at a time,
/// `Stagger` nanoseconds apart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateStrategy {
    /// Nanoseconds between batches.
    #[serde(default, deserialize_with = "null_default")]
    pub stagger: i64,
    /// Allocations changed at once; 0 means no limit.
    #[serde(default, deserialize_with = "null_default")]
    pub max_parallel: i64,
    /// Fields ordu does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// How a client restarts a failing task.
///
/// Keys the client left out are filled from the job type's defaults
/// ([`RestartPolicy::default_for`]) by [`Job::canonicalize`], key by key, as
/// Nomad's canonicalisation does: v0.2 clients send no `Mode`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", from = "RestartPolicyWire")]
pub struct RestartPolicy {
    /// Restarts allowed per interval.
    #[serde(default, deserialize_with = "null_default")]
    pub attempts: i64,
    /// Nanoseconds.
    #[serde(default, deserialize_with = "null_default")]
    pub interval: i64,
    /// Nanoseconds between restarts.
    #[serde(default, deserialize_with = "null_default")]
    pub delay: i64,
    /// `fail` or `delay` once the attempts are used.
    #[serde(default, deserialize_with = "null_default")]
    pub mode: String,
    /// Fields ordu does not model.
    #[serde(flatten)]
    pub extra: Extra,
    /// Which keys the client left out, until `Job::canonicalize` fills them.
    #[serde(skip)]
    pub(crate) unsent: Unsent,
}

/// The keys of a [`RestartPolicy`] a client left out. Decode state, not spec:
/// two values always compare equal, so it never makes two specs differ.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Unsent {
    attempts: bool,
    interval: bool,
    delay: bool,
    mode: bool,
}

impl PartialEq for Unsent {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A restart policy as sent: `None` for a key absent or `null`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RestartPolicyWire {
    #[serde(default)]
    attempts: Option<i64>,
    #[serde(default)]
    interval: Option<i64>,
    #[serde(default)]
    delay: Option<i64>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(flatten)]
    extra: Extra,
}

impl From<RestartPolicyWire> for RestartPolicy {
    fn from(w: RestartPolicyWire) -> Self {
        RestartPolicy {
            unsent: Unsent {
                attempts: w.attempts.is_none(),
                interval: w.interval.is_none(),
                delay: w.delay.is_none(),
                mode: w.mode.is_none(),
            },
            attempts: w.attempts.unwrap_or_default(),
            interval: w.interval.unwrap_or_default(),
            delay: w.delay.unwrap_or_default(),
            mode: w.mode.unwrap_or_default(),
            extra: w.extra,
        }
    }
}

const SECOND: i64 = 1_000_000_000;

impl RestartPolicy {
    /// Nomad's defaults: services 2 attempts in 30 minutes, batch 3 in 24 hours,
    /// both 15 s apart, then fail.
    pub fn default_for(batch: bool) -> Self {
        let (attempts, interval) = if batch {
            (3, 24 * 3600 * SECOND)
        } else {
            (2, 30 * 60 * SECOND)
        };
        RestartPolicy {
            attempts,
            interval,
            delay: 15 * SECOND,
            mode: "fail".to_string(),
            extra: Extra::new(),
            unsent: Unsent::default(),
        }
    }

    /// Fills the keys the client left out from `defaults`.
    fn complete_from(&mut self, defaults: RestartPolicy) {
        let u = std::mem::take(&mut self.unsent);
        if u.attempts {
            self.attempts = defaults.attempts;
        }
        if u.interval {
            self.interval = defaults.interval;
        }
        if u.delay {
            self.delay = defaults.delay;
        }
        if u.mode {
            self.mode = defaults.mode;
        }
    }
}
