//! Jobs: the model a client registers, its defaults and canonical form, its
//! key in the state, its versions and list stub. What a job is made of lives
//! beside it: task groups and tasks (`task`), resources and networks
//! (`resources`), constraints (`constraint`), update and restart policies
//! (`policies`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};

use super::constraint::Constraint;
use super::extra::Extra;
use super::policies::{RestartPolicy, UpdateStrategy};
use super::serde_util::null_default;
use super::task::TaskGroup;

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
