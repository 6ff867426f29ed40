//! Task groups and their tasks.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::constraint::Constraint;
use super::extra::Extra;
use super::policies::RestartPolicy;
use super::resources::{NetworkResource, Resources};
use super::serde_util::null_default;

fn default_count() -> i64 {
    1
}

// Null counts as absent, as for the job's keys with a default.
fn count<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(Option::<i64>::deserialize(d)?.unwrap_or_else(default_count))
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
