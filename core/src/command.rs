//! Every mutation of the state as a serialisable value: a log entry.
//!
//! The [`Store`](crate::Store) builds commands (minting IDs and stamping times),
//! and [`State::apply`](crate::State::apply) carries them out. A host that persists
//! or replicates ordu's state writes these values to its log and applies them in
//! log order on every replica.

use serde::{Deserialize, Serialize};

use crate::structs::{
    job_key, AllocClientUpdate, DesiredTransition, DrainStrategy, Evaluation, Job, Namespace, Node,
    Plan, DEFAULT_NAMESPACE,
};

/// One mutation. Applying the same commands at the same indexes gives the same
/// state on every replica.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
// A command is built once and moved into the log and `apply`; boxing the job
// would cost an allocation per write and buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Create or update a job, with its evaluation, in one entry.
    JobRegister {
        /// The job, validated and canonicalised.
        job: Job,
        /// The `job-register` evaluation.
        eval: Evaluation,
        /// Check-and-set: the `JobModifyIndex` the job must have (0: must not exist).
        enforce_index: Option<u64>,
    },
    /// Remove a job, with the evaluation that stops its allocations.
    JobDeregister {
        /// The job, in the evaluation's namespace.
        job_id: String,
        /// The `job-deregister` evaluation.
        eval: Evaluation,
    },
    /// Create or update evaluations (evaluate on demand, broker outcomes).
    EvalUpsert {
        /// The evaluations; a terminal stored evaluation is never changed.
        evals: Vec<Evaluation>,
    },
    /// The result of a scheduler run.
    PlanApply {
        /// The plan.
        plan: Plan,
    },
    /// Create or update a node (keeps `CreateIndex` and `Drain`).
    NodeRegister {
        /// The node.
        node: Node,
        /// Evaluations the change triggers.
        evals: Vec<Evaluation>,
    },
    /// Remove a node.
    NodeDeregister {
        /// The node.
        node_id: String,
        /// Evaluations the change triggers.
        evals: Vec<Evaluation>,
    },
    /// Set a node's status.
    NodeUpdateStatus {
        /// The node.
        node_id: String,
        /// `initializing`, `ready` or `down`.
        status: String,
        /// Evaluations the change triggers.
        evals: Vec<Evaluation>,
    },
    /// Set a node's drain flag.
    NodeUpdateDrain {
        /// The node.
        node_id: String,
        /// Drain or not.
        drain: bool,
        /// Evaluations the change triggers.
        evals: Vec<Evaluation>,
    },
    /// Client-reported allocation status.
    AllocClientUpdate {
        /// The updates; only client-owned fields change.
        updates: Vec<AllocClientUpdate>,
        /// Evaluations the change triggers.
        evals: Vec<Evaluation>,
        /// Unix nanoseconds.
        time: i64,
    },
    /// Remove terminal evaluations and allocations, and stopped jobs.
    GarbageCollect {
        /// Evaluation IDs.
        evals: Vec<String>,
        /// Allocation IDs.
        allocs: Vec<String>,
        /// Stopped jobs; one that is no longer stopped when the entry
        /// applies (registered again since) stays. Absent from entries
        /// that collect none, so older entries read the same.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        jobs: Vec<JobRef>,
    },
    /// Ask allocations for a transition (an allocation stop marks one to
    /// migrate), with the evaluations that carry it out, in one entry.
    AllocUpdateDesiredTransition {
        /// Allocation IDs; each must exist.
        allocs: Vec<String>,
        /// Merged into each allocation's `DesiredTransition`.
        transition: DesiredTransition,
        /// The evaluations (`alloc-stop`).
        evals: Vec<Evaluation>,
        /// Unix nanoseconds.
        time: i64,
    },
    /// Set a node's scheduling eligibility.
    NodeUpdateEligibility {
        /// The node.
        node_id: String,
        /// `eligible` or `ineligible`.
        eligibility: String,
        /// Evaluations the change triggers.
        evals: Vec<Evaluation>,
    },
    /// Start, change or end a node's drain: the node's `DrainStrategy` and
    /// `Drain`, its eligibility, and the allocations marked to migrate.
    NodeUpdateDrainStrategy {
        /// The node.
        node_id: String,
        /// The drain; `None` ends it.
        drain_strategy: Option<DrainStrategy>,
        /// With `None`: make the node eligible again.
        mark_eligible: bool,
        /// Allocations (on the node) marked to migrate.
        migrate: Vec<String>,
        /// Evaluations the change triggers.
        evals: Vec<Evaluation>,
        /// Unix nanoseconds.
        time: i64,
    },
    /// Mark one version of a job stable or not (Nomad's job stability
    /// update): the job itself when it is the current version, else the kept
    /// version. The version is not bumped.
    JobStability {
        /// The job's namespace (absent from entries written before
        /// namespaces: `default`).
        #[serde(default = "default_namespace")]
        namespace: String,
        /// The job.
        job_id: String,
        /// The version; the job must still keep it.
        version: u64,
        /// Stable or not.
        stable: bool,
    },
    /// Create or update namespaces (an update keeps `CreateIndex`).
    NamespaceUpsert {
        /// The namespaces, validated.
        namespaces: Vec<Namespace>,
    },
    /// Remove namespaces; refused while one holds a job. `default` cannot
    /// be removed.
    NamespaceDelete {
        /// The names.
        names: Vec<String>,
    },
}

fn default_namespace() -> String {
    DEFAULT_NAMESPACE.to_string()
}

/// A job named in a command: a bare ID (the `default` namespace, as every
/// entry written before namespaces names it) or `[namespace, ID]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum JobRef {
    /// A job of the `default` namespace.
    Default(String),
    /// A job of another namespace.
    In(String, String),
}

impl JobRef {
    /// The job `id` of `namespace`.
    pub fn new(namespace: &str, id: &str) -> JobRef {
        if namespace == DEFAULT_NAMESPACE {
            JobRef::Default(id.to_string())
        } else {
            JobRef::In(namespace.to_string(), id.to_string())
        }
    }

    /// Its namespace and ID.
    pub fn parts(&self) -> (&str, &str) {
        match self {
            JobRef::Default(id) => (DEFAULT_NAMESPACE, id),
            JobRef::In(ns, id) => (ns, id),
        }
    }

    /// The job's key in the state's tables.
    pub fn key(&self) -> String {
        let (ns, id) = self.parts();
        job_key(ns, id)
    }
}
