//! The difference between a stored job and a candidate one, in the shape of
//! Nomad's `JobDiff` (what `nomad job plan` prints).
//!
//! What it covers, worked out on the jobs' JSON so that fields ordu keeps
//! without modelling them are compared too:
//!
//! - the job, its task groups (matched by name) and their tasks (matched by
//!   name), each with a type: `Added`, `Deleted`, `Edited` or `None`;
//! - scalar fields as `Fields` entries `{Type, Name, Old, New, Annotations}`,
//!   values rendered as strings (`"3"`, `"true"`), a missing or `null` value
//!   as `""`; `Meta` and `Env` maps flattened to fields named `Meta[key]`;
//! - nested objects (`Update`, `RestartPolicy`, `Resources`, `Config`, ...)
//!   as `Objects` of the same shape, recursively; a list of scalars
//!   (`Datacenters`) as one object whose fields are the values added and
//!   deleted; a list of objects (`Constraints`, `Networks`) as a set: one
//!   `Added` or `Deleted` object per element only one side has, named by the
//!   list's name without its plural `s`.
//!
//! Only what changed is listed (Nomad's non-contextual form), except that
//! every group and every task appears, with type `None` when unchanged, and
//! every group carries `Updates`: what the scheduler would do to it, keyed as
//! Nomad keys it (`create`, `destroy`, `in-place update`,
//! `create/destroy update`, `migrate`, `ignore`). A group's `Count` field
//! says `forces create` or `forces destroy`; an edited task says
//! `forces in-place update` when only its resources (not its networks)
//! changed, else `forces create/destroy update`, the same rule the
//! scheduler applies. Server-owned fields (indexes, status, version, submit
//! time, `Stable`) and the job's `Update` (Nomad moved it to the groups) are
//! not compared.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::job::Job;
use super::plan::DesiredUpdates;

/// `Added`: only the new side has it.
pub const DIFF_ADDED: &str = "Added";
/// `Deleted`: only the old side has it.
pub const DIFF_DELETED: &str = "Deleted";
/// `Edited`: both have it, and it differs.
pub const DIFF_EDITED: &str = "Edited";
/// `None`: both have it, the same.
pub const DIFF_NONE: &str = "None";

/// One scalar field that differs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FieldDiff {
    /// `Added`, `Deleted` or `Edited`.
    #[serde(rename = "Type")]
    pub diff_type: String,
    /// The field's name (`Count`, `Meta[owner]`).
    pub name: String,
    /// The old value as a string; `""` when absent.
    pub old: String,
    /// The new value as a string; `""` when absent.
    pub new: String,
    /// What the change makes the scheduler do (`forces create`), if anything.
    pub annotations: Option<Vec<String>>,
}

/// A nested object that differs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectDiff {
    /// `Added`, `Deleted` or `Edited`.
    #[serde(rename = "Type")]
    pub diff_type: String,
    /// The field holding the object (`RestartPolicy`, `Constraint`).
    pub name: String,
    /// Its scalar fields that differ.
    pub fields: Vec<FieldDiff>,
    /// Its objects that differ.
    pub objects: Vec<ObjectDiff>,
}

/// The difference of one task.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskDiff {
    /// `Added`, `Deleted`, `Edited` or `None`.
    #[serde(rename = "Type")]
    pub diff_type: String,
    /// The task's name.
    pub name: String,
    /// Its scalar fields that differ.
    pub fields: Vec<FieldDiff>,
    /// Its objects that differ.
    pub objects: Vec<ObjectDiff>,
    /// What the change makes the scheduler do; `null` when unchanged.
    pub annotations: Option<Vec<String>>,
}

/// The difference of one task group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskGroupDiff {
    /// `Added`, `Deleted`, `Edited` or `None`.
    #[serde(rename = "Type")]
    pub diff_type: String,
    /// The group's name.
    pub name: String,
    /// Its scalar fields that differ.
    pub fields: Vec<FieldDiff>,
    /// Its objects that differ.
    pub objects: Vec<ObjectDiff>,
    /// Every task of either side.
    pub tasks: Vec<TaskDiff>,
    /// What the scheduler would do to the group's allocations, by Nomad's
    /// update type, zero counts left out.
    pub updates: BTreeMap<String, u64>,
}

/// The difference between the stored job and the one planned.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobDiff {
    /// `Added` (no stored job), `Edited` or `None`.
    #[serde(rename = "Type")]
    pub diff_type: String,
    /// The job's ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// The job's scalar fields that differ.
    pub fields: Vec<FieldDiff>,
    /// The job's objects that differ.
    pub objects: Vec<ObjectDiff>,
    /// Every group of either side.
    pub task_groups: Vec<TaskGroupDiff>,
}

/// Job fields the diff leaves out: the server's, and those diffed apart.
const JOB_SKIP: &[&str] = &[
    "ID",
    "Status",
    "StatusDescription",
    "Version",
    "Stable",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "SubmitTime",
    "Update",
    "TaskGroups",
    "NomadTokenID",
    "VaultToken",
];
const GROUP_SKIP: &[&str] = &["Name", "Tasks"];
const TASK_SKIP: &[&str] = &["Name"];
/// Maps of strings, flattened to `Name[key]` fields as Nomad does.
const FLAT_MAPS: &[&str] = &["Meta", "Env"];
/// Task fields whose change replaces the allocation (see the scheduler's
/// in-place rule); a change to `Resources.Networks` does too.
const DESTRUCTIVE_TASK_FIELDS: &[&str] = &["Driver", "Config", "Env", "Meta"];

/// The difference between `old` (the stored job, if any) and `new`, with
/// each group's `Updates` from `updates` (see the module doc).
pub fn job_diff(
    old: Option<&Job>,
    new: &Job,
    updates: &BTreeMap<String, DesiredUpdates>,
) -> JobDiff {
    let old_v = old.map(to_value);
    let new_v = to_value(new);
    let (fields, objects) = diff_map(old_v.as_ref(), Some(&new_v), JOB_SKIP);
    let old_groups = old.map_or(&[][..], |j| &j.task_groups[..]);
    let mut names: Vec<&str> = new.task_groups.iter().map(|g| g.name.as_str()).collect();
    for g in old_groups {
        if !names.contains(&g.name.as_str()) {
            names.push(&g.name);
        }
    }
    let task_groups: Vec<TaskGroupDiff> = names
        .into_iter()
        .map(|name| {
            let o = old_groups.iter().find(|g| g.name == name).map(to_value);
            let n = new.group(name).map(to_value);
            group_diff(name, o.as_ref(), n.as_ref(), updates.get(name))
        })
        .collect();
    let diff_type = if old.is_none() {
        DIFF_ADDED
    } else if fields.is_empty()
        && objects.is_empty()
        && task_groups.iter().all(|g| g.diff_type == DIFF_NONE)
    {
        DIFF_NONE
    } else {
        DIFF_EDITED
    };
    JobDiff {
        diff_type: diff_type.to_string(),
        id: new.id.clone(),
        fields,
        objects,
        task_groups,
    }
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("model types serialise")
}

fn kind(old: Option<&Value>, new: Option<&Value>, changed: bool) -> &'static str {
    match (old, new) {
        (None, _) => DIFF_ADDED,
        (_, None) => DIFF_DELETED,
        _ if changed => DIFF_EDITED,
        _ => DIFF_NONE,
    }
}

fn group_diff(
    name: &str,
    old: Option<&Value>,
    new: Option<&Value>,
    updates: Option<&DesiredUpdates>,
) -> TaskGroupDiff {
    let (mut fields, objects) = diff_map(old, new, GROUP_SKIP);
    for f in &mut fields {
        if f.name == "Count" {
            let (o, n) = (f.old.parse::<i64>().ok(), f.new.parse::<i64>().ok());
            let note = match (o, n) {
                (Some(o), Some(n)) if n > o => Some("forces create"),
                (Some(o), Some(n)) if n < o => Some("forces destroy"),
                _ => None,
            };
            f.annotations = note.map(|n| vec![n.to_string()]);
        }
    }
    let tasks_of = |v: Option<&Value>| -> Vec<Value> {
        v.and_then(|v| v.get("Tasks"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (old_tasks, new_tasks) = (tasks_of(old), tasks_of(new));
    let task_name = |t: &Value| {
        t.get("Name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let mut names: Vec<String> = new_tasks.iter().map(task_name).collect();
    for t in &old_tasks {
        let n = task_name(t);
        if !names.contains(&n) {
            names.push(n);
        }
    }
    let tasks: Vec<TaskDiff> = names
        .iter()
        .map(|n| {
            let o = old_tasks.iter().find(|t| task_name(t) == *n);
            let t = new_tasks.iter().find(|t| task_name(t) == *n);
            task_diff(n, o, t)
        })
        .collect();
    let changed =
        !fields.is_empty() || !objects.is_empty() || tasks.iter().any(|t| t.diff_type != DIFF_NONE);
    let mut out = BTreeMap::new();
    if let Some(u) = updates {
        for (key, n) in [
            ("ignore", u.ignore),
            ("create", u.place),
            ("destroy", u.stop),
            ("migrate", u.migrate),
            ("in-place update", u.in_place_update),
            ("create/destroy update", u.destructive_update),
            ("canary", u.canary),
        ] {
            if n > 0 {
                out.insert(key.to_string(), n);
            }
        }
    }
    TaskGroupDiff {
        diff_type: kind(old, new, changed).to_string(),
        name: name.to_string(),
        fields,
        objects,
        tasks,
        updates: out,
    }
}

fn task_diff(name: &str, old: Option<&Value>, new: Option<&Value>) -> TaskDiff {
    let (fields, objects) = diff_map(old, new, TASK_SKIP);
    let changed = !fields.is_empty() || !objects.is_empty();
    let diff_type = kind(old, new, changed);
    let annotation = match diff_type {
        DIFF_ADDED => Some("forces create"),
        DIFF_DELETED => Some("forces destroy"),
        DIFF_EDITED => {
            let destructive = fields
                .iter()
                .map(|f| f.name.split('[').next().unwrap_or(""))
                .chain(objects.iter().map(|o| o.name.as_str()))
                .any(|n| DESTRUCTIVE_TASK_FIELDS.contains(&n))
                || objects
                    .iter()
                    .filter(|o| o.name == "Resources")
                    .any(|o| o.objects.iter().any(|n| n.name == "Network"));
            Some(if destructive {
                "forces create/destroy update"
            } else {
                "forces in-place update"
            })
        }
        _ => None,
    };
    TaskDiff {
        diff_type: diff_type.to_string(),
        name: name.to_string(),
        fields,
        objects,
        annotations: annotation.map(|a| vec![a.to_string()]),
    }
}

/// A value absent or `null` is no value.
fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn is_scalar(v: Option<&Value>) -> bool {
    !matches!(v, Some(Value::Object(_)) | Some(Value::Array(_)))
}

/// The fields and objects that differ between two JSON objects (either may
/// be absent), keys in `skip` left out, keys in order.
fn diff_map(
    old: Option<&Value>,
    new: Option<&Value>,
    skip: &[&str],
) -> (Vec<FieldDiff>, Vec<ObjectDiff>) {
    let empty = Map::new();
    let o = old.and_then(Value::as_object).unwrap_or(&empty);
    let n = new.and_then(Value::as_object).unwrap_or(&empty);
    let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    let mut fields = Vec::new();
    let mut objects = Vec::new();
    for k in keys {
        if skip.contains(&k.as_str()) {
            continue;
        }
        let (ov, nv) = (present(o.get(k)), present(n.get(k)));
        if ov == nv {
            continue;
        }
        if FLAT_MAPS.contains(&k.as_str()) {
            flat_map(k, ov, nv, &mut fields);
        } else if is_scalar(ov) && is_scalar(nv) {
            fields.push(field(k, ov, nv));
        } else if matches!(ov, Some(Value::Array(_))) || matches!(nv, Some(Value::Array(_))) {
            list_diff(k, ov, nv, &mut objects);
        } else if let Some(d) = object_diff(k, ov, nv) {
            objects.push(d);
        }
    }
    (fields, objects)
}

fn field(name: &str, old: Option<&Value>, new: Option<&Value>) -> FieldDiff {
    FieldDiff {
        diff_type: kind(old, new, true).to_string(),
        name: name.to_string(),
        old: old.map(scalar).unwrap_or_default(),
        new: new.map(scalar).unwrap_or_default(),
        annotations: None,
    }
}

fn flat_map(name: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<FieldDiff>) {
    let empty = Map::new();
    let o = old.and_then(Value::as_object).unwrap_or(&empty);
    let n = new.and_then(Value::as_object).unwrap_or(&empty);
    let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    for k in keys {
        let (ov, nv) = (present(o.get(k)), present(n.get(k)));
        if ov != nv {
            out.push(field(&format!("{name}[{k}]"), ov, nv));
        }
    }
}

/// An object's difference, `None` when there is none.
fn object_diff(name: &str, old: Option<&Value>, new: Option<&Value>) -> Option<ObjectDiff> {
    let (fields, objects) = if is_scalar(old) && is_scalar(new) {
        // A scalar on both sides here only as a list element of a set.
        (vec![field(name, old, new)], Vec::new())
    } else {
        diff_map(old, new, &[])
    };
    let changed = !fields.is_empty() || !objects.is_empty();
    let diff_type = kind(old, new, changed);
    (diff_type != DIFF_NONE).then(|| ObjectDiff {
        diff_type: diff_type.to_string(),
        name: name.to_string(),
        fields,
        objects,
    })
}

/// A list as a set: scalars as one object of added and deleted values,
/// objects as one added or deleted object per element.
fn list_diff(name: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<ObjectDiff>) {
    let items = |v: Option<&Value>| v.and_then(Value::as_array).cloned().unwrap_or_default();
    let (o, n) = (items(old), items(new));
    let only = |a: &[Value], b: &[Value]| -> Vec<Value> {
        a.iter().filter(|x| !b.contains(x)).cloned().collect()
    };
    let (deleted, added) = (only(&o, &n), only(&n, &o));
    if o.iter().chain(&n).all(|v| is_scalar(Some(v))) {
        let mut fields: Vec<FieldDiff> = deleted
            .iter()
            .map(|v| field(name, Some(v), None))
            .chain(added.iter().map(|v| field(name, None, Some(v))))
            .collect();
        if fields.is_empty() {
            // Same values in another order.
            return;
        }
        fields.sort_by(|a, b| (&a.old, &a.new).cmp(&(&b.old, &b.new)));
        out.push(ObjectDiff {
            diff_type: kind(old, new, true).to_string(),
            name: name.to_string(),
            fields,
            objects: Vec::new(),
        });
        return;
    }
    let single = name.strip_suffix('s').unwrap_or(name);
    for v in &deleted {
        out.extend(object_diff(single, Some(v), None));
    }
    for v in &added {
        out.extend(object_diff(single, None, Some(v)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(v: serde_json::Value) -> Job {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn scalars_maps_lists_and_objects() {
        let old = job(
            serde_json::json!({"ID": "j", "Priority": 50, "Datacenters": ["dc1"],
            "Meta": {"a": "1"}, "TaskGroups": []}),
        );
        let new = job(
            serde_json::json!({"ID": "j", "Priority": 60, "Datacenters": ["dc1", "dc2"],
            "Meta": {"a": "2"}, "Constraints": [{"LTarget": "x", "RTarget": "y", "Operand": "="}],
            "TaskGroups": []}),
        );
        let d = job_diff(Some(&old), &new, &BTreeMap::new());
        assert_eq!(d.diff_type, DIFF_EDITED);
        let names: Vec<_> = d.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["Meta[a]", "Priority"]);
        assert_eq!(
            (d.fields[1].old.as_str(), d.fields[1].new.as_str()),
            ("50", "60")
        );
        let objs: Vec<_> = d
            .objects
            .iter()
            .map(|o| (o.name.as_str(), o.diff_type.as_str()))
            .collect();
        assert_eq!(
            objs,
            [("Constraint", DIFF_ADDED), ("Datacenters", DIFF_EDITED)]
        );
        assert_eq!(d.objects[1].fields[0].new, "dc2");
        assert_eq!(
            job_diff(Some(&new), &new, &BTreeMap::new()).diff_type,
            DIFF_NONE
        );
    }
}
