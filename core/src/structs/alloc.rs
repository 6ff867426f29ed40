//! Allocations: a task group placed on a node.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::eval::AllocMetric;
use super::job::Job;
use super::resources::Resources;
use super::status::{AllocClientStatus, AllocDesiredStatus};

/// A task group of a job, placed on a node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct Allocation {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(default)]
    pub namespace: String,
    /// The evaluation that placed or last changed it.
    #[serde(rename = "EvalID", default)]
    pub eval_id: String,
    /// `<job ID>.<group>[<i>]`: the identity the scheduler diffs by.
    #[serde(default)]
    pub name: String,
    #[serde(rename = "NodeID", default)]
    pub node_id: String,
    #[serde(default)]
    pub node_name: String,
    #[serde(rename = "JobID", default)]
    pub job_id: String,
    /// The job as of placement, shared with every allocation of that version.
    /// Left out where the job is written once for many allocations: a plan's
    /// placements, a snapshot's allocations.
    #[serde(default = "lifted_job", skip_serializing_if = "jobs_lifted")]
    pub job: Arc<Job>,
    #[serde(default)]
    pub task_group: String,
    /// The group's total ask.
    #[serde(default)]
    pub resources: Resources,
    /// Per task, with the assigned address and ports. Shared by the
    /// allocations of a group placed together when nothing was assigned to
    /// them individually (no networks), as `job` is.
    #[serde(default)]
    pub task_resources: Arc<BTreeMap<String, Resources>>,
    #[serde(default)]
    pub metrics: Arc<AllocMetric>,
    #[serde(default)]
    pub desired_status: AllocDesiredStatus,
    #[serde(default)]
    pub desired_description: String,
    /// What the server asks of the allocation beyond its desired status
    /// (`Migrate`: move it, set by a stop or a drain). Left out of the JSON
    /// when nothing is asked.
    #[serde(default, skip_serializing_if = "DesiredTransition::is_empty")]
    pub desired_transition: DesiredTransition,
    #[serde(default)]
    pub client_status: AllocClientStatus,
    #[serde(default)]
    pub client_description: String,
    /// Per task state, as the client reports it.
    #[serde(default)]
    pub task_states: Option<BTreeMap<String, Value>>,
    /// The allocation this one replaced.
    #[serde(default)]
    pub previous_allocation: String,
    /// The allocation that replaced this one.
    #[serde(default)]
    pub next_allocation: String,
    #[serde(default)]
    pub create_index: u64,
    #[serde(default)]
    pub modify_index: u64,
    /// Index of the last server-side change.
    #[serde(default)]
    pub alloc_modify_index: u64,
    #[serde(default)]
    pub create_time: i64,
    #[serde(default)]
    pub modify_time: i64,
}

/// What the server asks of an allocation besides its desired status
/// (Nomad's `DesiredTransition`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DesiredTransition {
    /// Move it: the scheduler stops it and places a replacement where it can.
    #[serde(default)]
    pub migrate: Option<bool>,
    /// Reschedule it (kept as a client sent it; ordu does not act on it).
    #[serde(default)]
    pub reschedule: Option<bool>,
    /// Reschedule it now (kept; ordu does not act on it).
    #[serde(default)]
    pub force_reschedule: Option<bool>,
    /// Stop it without the group's shutdown delay.
    #[serde(default)]
    pub no_shutdown_delay: Option<bool>,
}

impl DesiredTransition {
    /// Nothing asked.
    pub fn is_empty(&self) -> bool {
        *self == DesiredTransition::default()
    }

    /// Marked to migrate.
    pub fn should_migrate(&self) -> bool {
        self.migrate == Some(true)
    }
}

impl Allocation {
    /// The table key of the allocation's job ([`super::job_key`]).
    pub fn job_key(&self) -> String {
        super::job_key(&self.namespace, &self.job_id)
    }

    /// Stopped or evicted by the server.
    pub fn server_terminal(&self) -> bool {
        matches!(
            self.desired_status,
            AllocDesiredStatus::Stop | AllocDesiredStatus::Evict
        )
    }

    /// Complete, failed or lost on the client.
    pub fn client_terminal(&self) -> bool {
        self.client_status.is_terminal()
    }

    /// Terminal on either side: it no longer uses its node and is not running.
    pub fn is_terminal(&self) -> bool {
        self.server_terminal() || self.client_terminal()
    }

    /// The group index in the name (`web.fe[3]` → 3).
    pub fn index(&self) -> Option<usize> {
        let open = self.name.rfind('[')?;
        self.name[open + 1..].strip_suffix(']')?.parse().ok()
    }

    /// The short form listed by a job's allocations.
    pub fn stub(&self) -> AllocListStub {
        AllocListStub {
            id: self.id.clone(),
            eval_id: self.eval_id.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            node_id: self.node_id.clone(),
            node_name: self.node_name.clone(),
            job_id: self.job_id.clone(),
            job_type: self.job.job_type.clone(),
            job_version: self.job.version,
            task_group: self.task_group.clone(),
            desired_status: self.desired_status,
            desired_description: self.desired_description.clone(),
            client_status: self.client_status,
            client_description: self.client_description.clone(),
            task_states: self.task_states.clone(),
            previous_allocation: self.previous_allocation.clone(),
            next_allocation: self.next_allocation.clone(),
            create_index: self.create_index,
            modify_index: self.modify_index,
            create_time: self.create_time,
            modify_time: self.modify_time,
        }
    }
}

thread_local! {
    /// Set while [`without_jobs`] runs on this thread.
    static JOBS_LIFTED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (a serialisation) with every [`Allocation`] it writes leaving its
/// job out, for formats that write the job once beside them: a plan holds its
/// job, a snapshot its allocations' distinct jobs. A flag rather than a copy
/// of `Allocation` without the field, so the two cannot drift apart; it is
/// scoped to this thread and restored on return or unwind.
pub(crate) fn without_jobs<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            JOBS_LIFTED.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(JOBS_LIFTED.with(|c| c.replace(true)));
    f()
}

fn jobs_lifted(_: &Arc<Job>) -> bool {
    JOBS_LIFTED.with(Cell::get)
}

/// The job of an allocation read without one, until its reader puts the
/// real one back: one shared empty job, so that reading a million of them
/// allocates no job each.
pub(crate) fn lifted_job() -> Arc<Job> {
    static LIFTED: LazyLock<Arc<Job>> = LazyLock::new(Arc::default);
    LIFTED.clone()
}

/// Allocation name: `<job ID>.<group>[<i>]`.
pub fn alloc_name(job_id: &str, group: &str, index: usize) -> String {
    format!("{job_id}.{group}[{index}]")
}

/// One element of a job's allocation list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct AllocListStub {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    pub name: String,
    pub namespace: String,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub node_name: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub job_type: String,
    pub job_version: u64,
    pub task_group: String,
    pub desired_status: AllocDesiredStatus,
    pub desired_description: String,
    pub client_status: AllocClientStatus,
    pub client_description: String,
    pub task_states: Option<BTreeMap<String, Value>>,
    pub previous_allocation: String,
    pub next_allocation: String,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
}

/// What a client reports about an allocation: only these fields change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocClientUpdate {
    /// The allocation.
    #[serde(rename = "ID", default)]
    pub id: String,
    /// One of [`AllocClientStatus`]; checked, with the other fields, by
    /// [`crate::structs::validate_alloc_update`].
    #[serde(default)]
    pub client_status: String,
    /// Free text.
    #[serde(default)]
    pub client_description: String,
    /// Per task state; kept as sent. Absent leaves the stored states.
    #[serde(default)]
    pub task_states: Option<BTreeMap<String, Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_parses_from_name() {
        let mut a = Allocation {
            name: alloc_name("web/x.y", "fe", 12),
            ..Allocation::default()
        };
        assert_eq!(a.index(), Some(12));
        a.name = "broken".into();
        assert_eq!(a.index(), None);
    }

    #[test]
    fn jobs_are_left_out_only_inside_without_jobs() {
        let a = Allocation {
            id: "a1".into(),
            job: Arc::new(Job {
                id: "web".into(),
                ..Job::default()
            }),
            ..Allocation::default()
        };
        let with = serde_json::to_value(&a).unwrap();
        assert_eq!(with["Job"]["ID"], "web");
        let without = without_jobs(|| serde_json::to_value(&a).unwrap());
        assert!(without.get("Job").is_none(), "{without}");
        assert_eq!(without["ID"], "a1");
        // The flag is back off, even after a panic inside.
        let _ = std::panic::catch_unwind(|| without_jobs(|| panic!("inside")));
        assert_eq!(serde_json::to_value(&a).unwrap(), with);
        let read: Allocation = serde_json::from_value(without).unwrap();
        assert!(Arc::ptr_eq(&read.job, &lifted_job()));
    }
}
