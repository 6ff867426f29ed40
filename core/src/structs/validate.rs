//! Validation of what clients send: every problem at once, each with its path.

use std::collections::HashMap;

use crate::error::{Error, FieldError};

use super::alloc::AllocClientUpdate;
use super::constraint::Constraint;
use super::job::{routed_suffix, Job, JOB_TYPES, JOB_TYPE_SYSTEM, MAX_ID_BYTES};
use super::node::Node;
use super::policies::RestartPolicy;
use super::regexp::{self, Regexes};
use super::resources::{NetworkResource, Resources};
use super::status::{AllocClientStatus, NodeStatus};
use super::task::TaskGroup;
use super::version::VersionConstraint;

/// Bounds that keep a hostile request from hurting the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest `Count` of one task group.
    pub max_group_count: i64,
    /// Largest sum of `Count` over a job's groups.
    pub max_job_count: i64,
    /// Largest request body, in bytes, the JSON entry points decode.
    pub max_request_bytes: usize,
    /// Most constraints of one job, counting its job, group and task lists
    /// together. Each is checked against every node at every evaluation.
    pub max_constraints: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_group_count: 10_000,
            max_job_count: 100_000,
            max_request_bytes: 8 << 20,
            max_constraints: 1_000,
        }
    }
}

/// Every constraint operand ordu evaluates.
pub const OPERANDS: [&str; 16] = [
    "=",
    "==",
    "is",
    "!=",
    "not",
    "<",
    "<=",
    ">",
    ">=",
    "version",
    "semver",
    "regexp",
    "distinct_hosts",
    "set_contains",
    "is_set",
    "is_not_set",
];

/// Checks the limits first (a limit error wins), then every rule of the model.
/// The `regexp` patterns are compiled last, within the bounds of
/// `regexp`, and only when nothing else is wrong: what a
/// client cannot be refused cheaply is paid for only by a job that may run.
pub fn validate_job(job: &Job, limits: &Limits) -> Result<(), Error> {
    check_limits(job, limits)?;
    let mut errs = Vec::new();
    job_rules(job, &mut errs);
    if errs.is_empty() {
        compile_regexps(job, &mut errs);
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(errs))
    }
}

/// Compiles each distinct `regexp` pattern of the job once, in the order of
/// the job (its own constraints, then each group's and its tasks').
fn compile_regexps(job: &Job, errs: &mut Vec<FieldError>) {
    let mut regexes = Regexes::default();
    let mut list = |path: &dyn std::fmt::Display, cs: &Option<Vec<Constraint>>| {
        for (i, c) in cs.iter().flatten().enumerate() {
            if c.operand == "regexp" {
                if let Err(why) = regexes.get(&c.r_target) {
                    errs.push(FieldError::new(format!("{path}[{i}].RTarget"), why));
                }
            }
        }
    };
    list(&"Constraints", &job.constraints);
    for (g, group) in job.task_groups.iter().enumerate() {
        list(
            &format_args!("TaskGroups[{g}].Constraints"),
            &group.constraints,
        );
        for (t, task) in group.tasks.iter().enumerate() {
            list(
                &format_args!("TaskGroups[{g}].Tasks[{t}].Constraints"),
                &task.constraints,
            );
        }
    }
}

fn check_limits(job: &Job, limits: &Limits) -> Result<(), Error> {
    check_id_length(&job.id, "job")?;
    let mut total: i64 = 0;
    for (i, g) in job.task_groups.iter().enumerate() {
        if g.count > limits.max_group_count {
            return Err(Error::Limit {
                path: format!("TaskGroups[{i}].Count"),
                limit: limits.max_group_count as u64,
                message: format!(
                    "count {} is over the limit of {} per task group",
                    g.count, limits.max_group_count
                ),
            });
        }
        total = total.saturating_add(g.count.max(0));
    }
    if total > limits.max_job_count {
        return Err(Error::Limit {
            path: "TaskGroups".into(),
            limit: limits.max_job_count as u64,
            message: format!(
                "total count {total} is over the limit of {} per job",
                limits.max_job_count
            ),
        });
    }
    check_constraint_count(job, limits.max_constraints)
}

/// The constraints of a job, counted over its lists in order; the error names
/// the list in which the count passes `max`.
fn check_constraint_count(job: &Job, max: usize) -> Result<(), Error> {
    let mut count: usize = 0;
    let mut add = |path: &dyn Fn() -> String, cs: &Option<Vec<Constraint>>| {
        count = count.saturating_add(cs.as_ref().map_or(0, Vec::len));
        if count <= max {
            return Ok(());
        }
        Err(Error::Limit {
            path: path(),
            limit: max as u64,
            message: format!(
                "the job has over {max} constraints, the limit per job \
                 (job, group and task constraints together)"
            ),
        })
    };
    add(&|| "Constraints".into(), &job.constraints)?;
    for (g, group) in job.task_groups.iter().enumerate() {
        add(
            &|| format!("TaskGroups[{g}].Constraints"),
            &group.constraints,
        )?;
        for (t, task) in group.tasks.iter().enumerate() {
            add(
                &|| format!("TaskGroups[{g}].Tasks[{t}].Constraints"),
                &task.constraints,
            )?;
        }
    }
    Ok(())
}

/// The largest value of one resource field (`CPU`, `MemoryMB`, `DiskMB`, `IOPS`,
/// `MBits`), about 10^12. A request body bounds how many such values a group can
/// sum (under a million tasks in 8 MiB), so no sum of them can wrap an `i64`.
pub const MAX_RESOURCE: i64 = 1 << 40;

fn check_id_length(id: &str, what: &str) -> Result<(), Error> {
    if id.len() > MAX_ID_BYTES {
        return Err(Error::Limit {
            path: "ID".into(),
            limit: MAX_ID_BYTES as u64,
            message: format!(
                "{what} ID of {} bytes is over the limit of {MAX_ID_BYTES} bytes",
                id.len()
            ),
        });
    }
    Ok(())
}

/// A field path, written out only when a problem is reported: a valid
/// request (the common case) formats none.
#[derive(Clone, Copy)]
struct At<'a> {
    parent: Option<&'a At<'a>>,
    field: &'a str,
    index: Option<usize>,
}

impl<'a> At<'a> {
    fn root(field: &'a str) -> Self {
        At {
            parent: None,
            field,
            index: None,
        }
    }

    fn field(&'a self, field: &'a str) -> At<'a> {
        At {
            parent: Some(self),
            field,
            index: None,
        }
    }

    fn item(&'a self, field: &'a str, index: usize) -> At<'a> {
        At {
            parent: Some(self),
            field,
            index: Some(index),
        }
    }

    fn error(&self, message: impl Into<String>) -> FieldError {
        FieldError::new(self.to_string(), message)
    }
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(p) = self.parent {
            write!(f, "{p}.")?;
        }
        f.write_str(self.field)?;
        match self.index {
            Some(i) => write!(f, "[{i}]"),
            None => Ok(()),
        }
    }
}

fn job_rules(job: &Job, errs: &mut Vec<FieldError>) {
    let mut err = |p: &str, m: String| errs.push(FieldError::new(p, m));
    if job.region.is_empty() {
        err("Region", "missing job region".into());
    }
    if job.id.is_empty() {
        err("ID", "missing job ID".into());
    } else if job.id.contains(' ') {
        err("ID", "job ID contains a space".into());
    } else if job.id.contains('\0') {
        err("ID", "job ID contains a null character".into());
    } else if let Some(suffix) = routed_suffix(&job.id) {
        err(
            "ID",
            format!("job ID ends in \"/{suffix}\", a path the job API routes"),
        );
    }
    if job.name.is_empty() {
        err("Name", "missing job name".into());
    } else if job.name.contains('\0') {
        err("Name", "job name contains a null character".into());
    }
    if job.namespace.is_empty() {
        err("Namespace", "job must be in a namespace".into());
    } else if !super::valid_namespace_name(&job.namespace) {
        err(
            "Namespace",
            format!(
                "invalid namespace {:?}: 1 to 128 letters, digits and \"-\"",
                job.namespace
            ),
        );
    }
    if job.job_type.is_empty() {
        err("Type", "missing job type".into());
    } else if !JOB_TYPES.contains(&job.job_type.as_str()) {
        err("Type", format!("invalid job type: {:?}", job.job_type));
    }
    if !(1..=100).contains(&job.priority) {
        err("Priority", "job priority must be between [1, 100]".into());
    }
    if job.datacenters.is_empty() {
        err("Datacenters", "missing job datacenters".into());
    }
    for (i, dc) in job.datacenters.iter().enumerate() {
        if dc.is_empty() {
            err(
                &format!("Datacenters[{i}]"),
                "job datacenter must be non-empty string".into(),
            );
        }
    }
    if job.task_groups.is_empty() {
        err("TaskGroups", "missing job task groups".into());
    }
    if job.update.max_parallel < 0 {
        err("Update.MaxParallel", "must be 0 or more".into());
    }
    if job.update.stagger < 0 {
        err("Update.Stagger", "must be 0 or more".into());
    }
    constraints_rules(At::root("Constraints"), job.constraints.as_deref(), errs);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, g) in job.task_groups.iter().enumerate() {
        let path = At {
            index: Some(i),
            ..At::root("TaskGroups")
        };
        if !g.name.is_empty() {
            if let Some(j) = seen.insert(&g.name, i) {
                errs.push(
                    path.field("Name")
                        .error(format!("task group redefines '{}' from group {j}", g.name)),
                );
            }
        }
        if job.job_type == JOB_TYPE_SYSTEM && g.count > 1 {
            errs.push(path.field("Count").error(format!(
                "task group has count {}; count cannot exceed 1 with system scheduler",
                g.count
            )));
        }
        group_rules(path, g, errs);
    }
}

fn group_rules(path: At<'_>, g: &TaskGroup, errs: &mut Vec<FieldError>) {
    if g.name.is_empty() {
        errs.push(path.field("Name").error("missing task group name"));
    } else if g.name.contains('\0') {
        errs.push(
            path.field("Name")
                .error("task group name contains a null character"),
        );
    }
    if g.count < 0 {
        errs.push(
            path.field("Count")
                .error("task group count can't be negative"),
        );
    }
    if g.tasks.is_empty() {
        errs.push(path.field("Tasks").error("missing tasks for task group"));
    }
    constraints_rules(path.field("Constraints"), g.constraints.as_deref(), errs);
    if let Some(rp) = &g.restart_policy {
        restart_rules(path.field("RestartPolicy"), rp, errs);
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, t) in g.tasks.iter().enumerate() {
        let tp = path.item("Tasks", i);
        let name = tp.field("Name");
        if t.name.is_empty() {
            errs.push(name.error("missing task name"));
        } else if t.name.contains('/') {
            errs.push(name.error("task name cannot include slashes"));
        } else if t.name.contains('\0') {
            errs.push(name.error("task name contains a null character"));
        } else if let Some(j) = seen.insert(&t.name, i) {
            errs.push(name.error(format!("task redefines '{}' from task {j}", t.name)));
        }
        if t.driver.is_empty() {
            errs.push(tp.field("Driver").error("missing task driver"));
        }
        constraints_rules(tp.field("Constraints"), t.constraints.as_deref(), errs);
        resources_rules(tp.field("Resources"), &t.resources, errs);
    }
}

fn restart_rules(path: At<'_>, rp: &RestartPolicy, errs: &mut Vec<FieldError>) {
    for (field, v) in [
        ("Attempts", rp.attempts),
        ("Interval", rp.interval),
        ("Delay", rp.delay),
    ] {
        if v < 0 {
            errs.push(path.field(field).error("must be 0 or more"));
        }
    }
    if !matches!(rp.mode.as_str(), "fail" | "delay") {
        errs.push(
            path.field("Mode")
                .error(format!("unsupported restart mode: {:?}", rp.mode)),
        );
    }
    if rp.mode == "fail"
        && rp.attempts > 0
        && rp
            .delay
            .checked_mul(rp.attempts)
            .is_none_or(|d| d > rp.interval)
    {
        errs.push(path.error(format!(
            "cannot restart {} times in an interval of {}ns with a delay of {}ns",
            rp.attempts, rp.interval, rp.delay
        )));
    }
}

fn resources_rules(path: At<'_>, r: &Resources, errs: &mut Vec<FieldError>) {
    for (field, v) in [
        ("CPU", r.cpu),
        ("MemoryMB", r.memory_mb),
        ("DiskMB", r.disk_mb),
        ("IOPS", r.iops),
    ] {
        if v < 0 {
            errs.push(path.field(field).error("must be 0 or more"));
        } else if v > MAX_RESOURCE {
            errs.push(
                path.field(field)
                    .error(format!("{v} is over the limit of {MAX_RESOURCE}")),
            );
        }
    }
    for (i, n) in r.networks().iter().enumerate() {
        network_rules(path.item("Networks", i), n, errs);
    }
}

fn network_rules(path: At<'_>, n: &NetworkResource, errs: &mut Vec<FieldError>) {
    if n.mbits < 0 {
        errs.push(path.field("MBits").error("must be 0 or more"));
    } else if n.mbits > MAX_RESOURCE {
        let m = n.mbits;
        errs.push(
            path.field("MBits")
                .error(format!("{m} is over the limit of {MAX_RESOURCE}")),
        );
    }
    for (i, p) in n.reserved().iter().enumerate() {
        if !(1..=65535).contains(&p.value) {
            errs.push(
                path.item("ReservedPorts", i)
                    .field("Value")
                    .error(format!("port {} is not between 1 and 65535", p.value)),
            );
        }
    }
    for (i, p) in n.dynamic().iter().enumerate() {
        if p.label.is_empty() {
            errs.push(
                path.item("DynamicPorts", i)
                    .field("Label")
                    .error("dynamic port has no label"),
            );
        }
    }
}

fn constraints_rules(path: At<'_>, cs: Option<&[Constraint]>, errs: &mut Vec<FieldError>) {
    for (i, c) in cs.unwrap_or(&[]).iter().enumerate() {
        if let Err(m) = check_constraint(c) {
            // `Constraints[i]`: the index belongs to the list itself.
            errs.push(FieldError::new(format!("{path}[{i}]"), m));
        }
    }
}

/// Checks one constraint: a known operand, the targets it needs, and a right
/// side that parses (`regexp`, `version`). A `regexp` is not compiled here:
/// [`validate_job`] compiles a job's patterns, within bounds, once the cheap
/// checks pass.
pub fn check_constraint(c: &Constraint) -> Result<(), String> {
    let op = c.operand.as_str();
    if op.is_empty() {
        return Err("missing constraint operand".into());
    }
    if !OPERANDS.contains(&op) {
        return Err(format!("unknown constraint type {op:?}"));
    }
    if op != "distinct_hosts" && c.l_target.is_empty() {
        return Err("no LTarget provided but is required by constraint".into());
    }
    match op {
        "is_set" | "is_not_set" if !c.r_target.is_empty() => {
            Err(format!("{op} does not support an RTarget"))
        }
        "is_set" | "is_not_set" | "distinct_hosts" => Ok(()),
        "regexp" => regexp::parse(&c.r_target).map(|_| ()),
        "version" | "semver" => VersionConstraint::parse(&c.r_target)
            .map(|_| ())
            .map_err(|e| format!("version constraint is invalid: {e}")),
        _ if c.r_target.is_empty() => Err(format!("operator {op:?} requires an RTarget")),
        _ => Ok(()),
    }
}

/// Checks a node a host registers.
pub fn validate_node(node: &Node) -> Result<(), Error> {
    check_id_length(&node.id, "node")?;
    let mut errs = Vec::new();
    if node.id.is_empty() {
        errs.push(FieldError::new("ID", "missing node ID"));
    } else if node.id.contains('/') {
        // `/v1/node/<id>/<action>` must never read as a node ID.
        errs.push(FieldError::new("ID", "node ID contains a \"/\""));
    }
    if node.datacenter.is_empty() {
        errs.push(FieldError::new("Datacenter", "missing node datacenter"));
    }
    if node.name.is_empty() {
        errs.push(FieldError::new("Name", "missing node name"));
    }
    if !node.status.is_empty() && NodeStatus::parse(&node.status).is_none() {
        errs.push(FieldError::new(
            "Status",
            format!("invalid node status {:?}", node.status),
        ));
    }
    if !matches!(
        node.scheduling_eligibility.as_str(),
        "" | super::NODE_ELIGIBLE | super::NODE_INELIGIBLE
    ) {
        errs.push(FieldError::new(
            "SchedulingEligibility",
            format!(
                "invalid scheduling eligibility {:?}",
                node.scheduling_eligibility
            ),
        ));
    }
    resources_rules(At::root("Resources"), &node.resources, &mut errs);
    if let Some(r) = &node.reserved {
        resources_rules(At::root("Reserved"), r, &mut errs);
    }
    // A drain's deadline counts from its start: a start that does not read
    // as a time would leave the deadline undecided.
    if let Some(d) = &node.drain_strategy {
        if d.deadline > 0 && super::node::parse_rfc3339(&d.started_at).is_none() {
            errs.push(FieldError::new(
                "DrainStrategy.StartedAt",
                format!(
                    "{:?} is not an RFC 3339 time in UTC (e.g. 2026-01-01T00:00:00Z), \
                     which a drain with a deadline needs",
                    d.started_at
                ),
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(errs))
    }
}

/// Checks a node status a host reports.
pub fn validate_node_status(status: &str) -> Result<(), Error> {
    if NodeStatus::parse(status).is_some() {
        Ok(())
    } else {
        let want: Vec<&str> = NodeStatus::ALL.iter().map(|s| s.as_str()).collect();
        Err(Error::invalid_field(
            "Status",
            format!("invalid node status {status:?}: want one of {want:?}"),
        ))
    }
}

/// Checks an allocation status a client reports.
pub fn validate_alloc_update(u: &AllocClientUpdate) -> Result<(), Error> {
    let mut errs = Vec::new();
    if u.id.is_empty() {
        errs.push(FieldError::new("ID", "missing allocation ID"));
    }
    if AllocClientStatus::parse(&u.client_status).is_none() {
        let want: Vec<&str> = AllocClientStatus::ALL.iter().map(|s| s.as_str()).collect();
        errs.push(FieldError::new(
            "ClientStatus",
            format!(
                "invalid client status {:?}: want one of {want:?}",
                u.client_status
            ),
        ));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(errs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(l: &str, op: &str, r: &str) -> Constraint {
        Constraint {
            l_target: l.into(),
            operand: op.into(),
            r_target: r.into(),
            ..Constraint::default()
        }
    }

    #[test]
    fn paths_are_written_in_full() {
        let g = At {
            index: Some(1),
            ..At::root("TaskGroups")
        };
        let t = g.item("Tasks", 0);
        let r = t.field("Resources");
        let n = r.item("Networks", 2);
        let p = n.item("ReservedPorts", 3);
        assert_eq!(
            p.field("Value").to_string(),
            "TaskGroups[1].Tasks[0].Resources.Networks[2].ReservedPorts[3].Value"
        );
        assert_eq!(
            At::root("Reserved").field("CPU").to_string(),
            "Reserved.CPU"
        );
        let mut errs = Vec::new();
        let bad = NetworkResource {
            mbits: -1,
            ..NetworkResource::default()
        };
        network_rules(n, &bad, &mut errs);
        assert_eq!(
            errs[0].path,
            "TaskGroups[1].Tasks[0].Resources.Networks[2].MBits"
        );
    }

    #[test]
    fn constraint_checks() {
        assert!(check_constraint(&c("${attr.kernel.os}", "=", "linux")).is_ok());
        assert!(check_constraint(&c("", "distinct_hosts", "")).is_ok());
        assert!(check_constraint(&c("a", "", "b")).is_err());
        assert!(check_constraint(&c("a", "bogus", "b")).is_err());
        assert!(check_constraint(&c("a", "regexp", "(")).is_err());
        assert!(check_constraint(&c("a", "version", "> x")).is_err());
        assert!(check_constraint(&c("a", "is_set", "b")).is_err());
        assert!(check_constraint(&c("a", "<", "")).is_err());
    }
}
