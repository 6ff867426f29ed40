//! Feasibility: may a node run a task group at all, before any resource is
//! counted? Datacenter globs, drivers, and the job, group and task constraints
//! with every operand SPEC.md lists (reference §5.7).

use regex_automata::meta::Regex;

use crate::structs::regexp::Regexes;
use crate::structs::version::{Version, VersionConstraint};
use crate::structs::{Constraint, Job, Node, TaskGroup};

/// The reason key of a node that lacks a driver the group needs.
pub(crate) const MISSING_DRIVERS: &str = "missing drivers";
/// The reason key of a node that already runs the job (or group) under
/// `distinct_hosts`.
pub(crate) const DISTINCT_HOSTS: &str = "distinct_hosts";

/// True when `name` matches the glob `pattern` (`*` any run, `?` one char).
pub(crate) fn glob_match(pattern: &str, name: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    if !pattern.contains(['*', '?']) {
        return pattern == name;
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = name.chars().collect();
    // Iterative matcher with one backtrack point per `*`.
    let (mut pi, mut si) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// True when the node's datacenter matches one of the job's (glob) datacenters.
pub(crate) fn in_datacenters(job: &Job, node: &Node) -> bool {
    job.datacenters
        .iter()
        .any(|dc| glob_match(dc, &node.datacenter))
}

/// A job's datacenters prepared once per evaluation: every node of the
/// cluster is matched against them.
pub(crate) struct Datacenters<'j> {
    any: bool,
    exact: Vec<&'j str>,
    globs: Vec<&'j str>,
}

impl<'j> Datacenters<'j> {
    pub(crate) fn new(job: &'j Job) -> Self {
        let mut d = Datacenters {
            any: false,
            exact: Vec::new(),
            globs: Vec::new(),
        };
        for dc in &job.datacenters {
            if dc == "*" {
                d.any = true;
            } else if dc.contains(['*', '?']) {
                d.globs.push(dc);
            } else {
                d.exact.push(dc);
            }
        }
        d
    }

    /// Same answer as [`in_datacenters`].
    pub(crate) fn contains(&self, node: &Node) -> bool {
        self.any
            || self.exact.iter().any(|dc| *dc == node.datacenter)
            || self.globs.iter().any(|dc| glob_match(dc, &node.datacenter))
    }
}

/// Resolves a constraint target against a node. A literal resolves to
/// itself; an interpolation to the node's value, or `None` when the node has
/// no such value or the interpolation is unknown.
pub(crate) fn resolve<'a>(target: &'a str, node: &'a Node) -> Option<&'a str> {
    if let Some(inner) = target.strip_prefix("${").and_then(|t| t.strip_suffix('}')) {
        return match inner {
            "node.unique.id" => Some(&node.id),
            "node.datacenter" => Some(&node.datacenter),
            "node.unique.name" => Some(&node.name),
            "node.class" => Some(&node.node_class),
            _ => {
                if let Some(k) = inner.strip_prefix("attr.") {
                    node.attributes.get(k).map(String::as_str)
                } else if let Some(k) = inner.strip_prefix("meta.") {
                    node.meta.as_ref()?.get(k).map(String::as_str)
                } else {
                    None
                }
            }
        };
    }
    if target.starts_with("${") {
        return None;
    }
    // The seed's forms.
    match target {
        "$node.id" => return Some(&node.id),
        "$node.datacenter" => return Some(&node.datacenter),
        "$node.name" => return Some(&node.name),
        _ => {}
    }
    if let Some(k) = target.strip_prefix("$attr.") {
        return node.attributes.get(k).map(String::as_str);
    }
    if let Some(k) = target.strip_prefix("$meta.") {
        return node.meta.as_ref()?.get(k).map(String::as_str);
    }
    Some(target)
}

/// True when `value` reads as a true boolean (`1`, `t`, `true`, ...), as Go's
/// `strconv.ParseBool` reads it.
pub(crate) fn truthy(value: &str) -> bool {
    matches!(value, "1" | "t" | "T" | "true" | "TRUE" | "True")
}

/// Compares two resolved targets with a relational operand: as integers when
/// both parse, else as floats, else as strings.
fn relational(op: &str, l: &str, r: &str) -> bool {
    use std::cmp::Ordering;
    let ord = match (l.parse::<i64>(), r.parse::<i64>()) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        _ => match (l.parse::<f64>(), r.parse::<f64>()) {
            (Ok(a), Ok(b)) => match a.partial_cmp(&b) {
                Some(o) => o,
                None => return false,
            },
            _ => l.cmp(r),
        },
    };
    match op {
        "<" => ord == Ordering::Less,
        "<=" => ord != Ordering::Greater,
        ">" => ord == Ordering::Greater,
        ">=" => ord != Ordering::Less,
        _ => false,
    }
}

/// A constraint prepared once per evaluation (regexp compiled, version
/// constraint parsed) with the label its rejections are counted under. A
/// pattern that is refused (validation refuses it too) holds on no node.
pub(crate) struct Compiled {
    c: Constraint,
    label: String,
    regex: Option<Regex>,
    version: Option<VersionConstraint>,
}

impl Compiled {
    fn new(c: &Constraint, regexes: &mut Regexes) -> Self {
        let regex = (c.operand == "regexp")
            .then(|| regexes.get(&c.r_target).ok().cloned())
            .flatten();
        let version = matches!(c.operand.as_str(), "version" | "semver")
            .then(|| VersionConstraint::parse(&c.r_target).ok())
            .flatten();
        Compiled {
            label: c.to_string(),
            c: c.clone(),
            regex,
            version,
        }
    }

    /// True when the node satisfies the constraint.
    pub(crate) fn holds(&self, node: &Node) -> bool {
        let l = resolve(&self.c.l_target, node);
        let r = resolve(&self.c.r_target, node);
        check_operand(
            &self.c.operand,
            l,
            r,
            self.regex.as_ref(),
            self.version.as_ref(),
        )
    }
}

/// One operand on resolved targets (`None`: not found on the node).
pub(crate) fn check_operand(
    op: &str,
    l: Option<&str>,
    r: Option<&str>,
    regex: Option<&Regex>,
    version: Option<&VersionConstraint>,
) -> bool {
    match op {
        "=" | "==" | "is" => matches!((l, r), (Some(a), Some(b)) if a == b),
        "!=" | "not" => !matches!((l, r), (Some(a), Some(b)) if a == b),
        "<" | "<=" | ">" | ">=" => match (l, r) {
            (Some(a), Some(b)) => relational(op, a, b),
            _ => false,
        },
        "version" | "semver" => match (l, version) {
            (Some(a), Some(v)) => Version::parse(a).is_ok_and(|a| v.matches(&a)),
            _ => false,
        },
        "regexp" => match (l, regex) {
            (Some(a), Some(re)) => re.is_match(a),
            _ => false,
        },
        "set_contains" => match (l, r) {
            (Some(a), Some(b)) => {
                let have: Vec<&str> = a.split(',').map(str::trim).collect();
                b.split(',').map(str::trim).all(|want| have.contains(&want))
            }
            _ => false,
        },
        "is_set" => l.is_some(),
        "is_not_set" => l.is_none(),
        // Checked against the plan, not the node.
        "distinct_hosts" => true,
        _ => false,
    }
}

/// Why a node was filtered for a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The node may run the group (resources aside).
    Feasible,
    /// Filtered; the index into [`GroupChecker::reason`].
    Filtered(u32),
}

/// Everything a node must satisfy to run one group of a job, prepared once
/// per evaluation, its patterns compiled by the evaluation's [`Regexes`]. Order as Nomad's stack: job constraints, drivers, group and
/// task constraints; `distinct_hosts` is checked by the caller against the plan.
pub(crate) struct GroupChecker {
    job: Vec<Compiled>,
    drivers: Vec<String>,
    group: Vec<Compiled>,
    /// `distinct_hosts` at job level: no two allocations of the job on a node.
    pub(crate) distinct_job: bool,
    /// `distinct_hosts` at group level: no two of the group on a node.
    pub(crate) distinct_group: bool,
    reasons: Vec<String>,
}

impl GroupChecker {
    pub(crate) fn new(job: &Job, group: &TaskGroup, regexes: &mut Regexes) -> Self {
        let enforced = |cs: &Option<Vec<Constraint>>| -> Vec<Constraint> {
            cs.iter()
                .flatten()
                .filter(|c| c.is_enforced())
                .cloned()
                .collect()
        };
        let job_cs = enforced(&job.constraints);
        let mut group_cs = enforced(&group.constraints);
        for t in &group.tasks {
            group_cs.extend(enforced(&t.constraints));
        }
        let distinct_job = job_cs.iter().any(|c| c.operand == "distinct_hosts");
        let distinct_group = group_cs.iter().any(|c| c.operand == "distinct_hosts");
        let mut compile = |cs: Vec<Constraint>| -> Vec<Compiled> {
            cs.iter()
                .filter(|c| c.operand != "distinct_hosts")
                .map(|c| Compiled::new(c, regexes))
                .collect()
        };
        let job = compile(job_cs);
        let group_c = compile(group_cs);
        // The attribute keys, built once: `driver.<name>`.
        let mut drivers: Vec<String> = group
            .tasks
            .iter()
            .map(|t| format!("driver.{}", t.driver))
            .collect();
        drivers.sort();
        drivers.dedup();
        let mut reasons = vec![MISSING_DRIVERS.to_string()];
        reasons.extend(job.iter().map(|c| c.label.clone()));
        reasons.extend(group_c.iter().map(|c| c.label.clone()));
        GroupChecker {
            job,
            drivers,
            group: group_c,
            distinct_job,
            distinct_group,
            reasons,
        }
    }

    /// The reason key of a [`Verdict::Filtered`].
    pub(crate) fn reason(&self, i: u32) -> &str {
        &self.reasons[i as usize]
    }

    /// Checks the node against everything but `distinct_hosts`.
    pub(crate) fn check(&self, node: &Node) -> Verdict {
        for (i, c) in self.job.iter().enumerate() {
            if !c.holds(node) {
                return Verdict::Filtered(1 + i as u32);
            }
        }
        for d in &self.drivers {
            let ok = node.attributes.get(d).is_some_and(|v| truthy(v));
            if !ok {
                return Verdict::Filtered(0);
            }
        }
        for (i, c) in self.group.iter().enumerate() {
            if !c.holds(node) {
                return Verdict::Filtered((1 + self.job.len() + i) as u32);
            }
        }
        Verdict::Feasible
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn node() -> Node {
        let mut attributes = BTreeMap::new();
        attributes.insert("kernel.os".to_string(), "linux".to_string());
        attributes.insert("cpu.numcores".to_string(), "8".to_string());
        attributes.insert("os.version".to_string(), "5.10.3".to_string());
        attributes.insert("tags".to_string(), "a, b,c".to_string());
        attributes.insert("driver.docker".to_string(), "1".to_string());
        attributes.insert("driver.exec".to_string(), "false".to_string());
        let mut meta = BTreeMap::new();
        meta.insert("rack".to_string(), "r1".to_string());
        Node {
            id: "n1".into(),
            name: "host-1".into(),
            datacenter: "us-east-1a".into(),
            node_class: "large".into(),
            attributes,
            meta: Some(meta),
            ..Node::default()
        }
    }

    fn holds(l: &str, op: &str, r: &str) -> bool {
        Compiled::new(
            &Constraint {
                l_target: l.into(),
                operand: op.into(),
                r_target: r.into(),
                ..Constraint::default()
            },
            &mut Regexes::default(),
        )
        .holds(&node())
    }

    #[test]
    fn prepared_datacenters_agree() {
        let job = Job {
            datacenters: vec!["dc1".into(), "us-*".into()],
            ..Job::default()
        };
        let d = Datacenters::new(&job);
        for dc in ["dc1", "dc2", "us-east", "eu-1", ""] {
            let n = Node {
                datacenter: dc.into(),
                ..Node::default()
            };
            assert_eq!(d.contains(&n), in_datacenters(&job, &n), "{dc}");
        }
        assert!(Datacenters::new(&Job::default()).contains(&Node::default()));
    }

    #[test]
    fn globs() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("us-*", "us-east-1a"));
        assert!(glob_match("us-?ast-*", "us-east-1a"));
        assert!(glob_match("*1a", "us-east-1a"));
        assert!(!glob_match("eu-*", "us-east-1a"));
        assert!(glob_match("dc1", "dc1"));
        assert!(!glob_match("dc1", "dc10"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
    }

    #[test]
    fn targets() {
        let n = node();
        assert_eq!(resolve("${attr.kernel.os}", &n), Some("linux"));
        assert_eq!(resolve("$attr.kernel.os", &n), Some("linux"));
        assert_eq!(resolve("${meta.rack}", &n), Some("r1"));
        assert_eq!(resolve("$meta.rack", &n), Some("r1"));
        assert_eq!(resolve("${node.unique.id}", &n), Some("n1"));
        assert_eq!(resolve("$node.id", &n), Some("n1"));
        assert_eq!(resolve("${node.unique.name}", &n), Some("host-1"));
        assert_eq!(resolve("$node.name", &n), Some("host-1"));
        assert_eq!(resolve("${node.datacenter}", &n), Some("us-east-1a"));
        assert_eq!(resolve("${node.class}", &n), Some("large"));
        assert_eq!(resolve("${attr.missing}", &n), None);
        assert_eq!(resolve("${bogus}", &n), None);
        assert_eq!(resolve("kernel.os", &n), Some("kernel.os"), "a literal");
    }

    #[test]
    fn operands() {
        assert!(holds("${attr.kernel.os}", "=", "linux"));
        assert!(holds("${attr.kernel.os}", "==", "linux"));
        assert!(holds("${attr.kernel.os}", "is", "linux"));
        assert!(!holds("${attr.kernel.os}", "=", "windows"));
        assert!(!holds("${attr.nope}", "=", "linux"), "missing fails =");
        assert!(holds("${attr.kernel.os}", "!=", "windows"));
        assert!(holds("${attr.nope}", "not", "linux"), "missing passes !=");
        assert!(!holds("${attr.kernel.os}", "!=", "linux"));
        assert!(holds("${attr.cpu.numcores}", ">", "4"));
        assert!(holds("${attr.cpu.numcores}", ">=", "8"));
        assert!(
            holds("${attr.cpu.numcores}", "<", "10"),
            "numeric, not lexical"
        );
        assert!(holds("${attr.cpu.numcores}", "<=", "8.5"), "float");
        assert!(holds("${attr.kernel.os}", "<", "mac"), "lexical");
        assert!(!holds("${attr.nope}", "<", "9"));
        assert!(holds("${attr.os.version}", "version", ">= 5.4, < 6"));
        assert!(!holds("${attr.os.version}", "version", ">= 6"));
        assert!(holds("${attr.os.version}", "semver", "~> 5.10"));
        assert!(holds("${attr.kernel.os}", "regexp", "^lin"));
        assert!(holds("${attr.kernel.os}", "regexp", "nu"), "anywhere");
        assert!(!holds("${attr.kernel.os}", "regexp", "^win"));
        assert!(holds("${attr.tags}", "set_contains", "a,c"));
        assert!(!holds("${attr.tags}", "set_contains", "a,d"));
        assert!(holds("${meta.rack}", "is_set", ""));
        assert!(!holds("${meta.nope}", "is_set", ""));
        assert!(holds("${meta.nope}", "is_not_set", ""));
        assert!(!holds("${meta.rack}", "is_not_set", ""));
        assert!(!holds("${attr.kernel.os}", "contains", "lin"), "unknown op");
        assert!(!holds("kernel.os", "=", "linux"), "the seed's bare literal");
    }

    #[test]
    fn drivers_must_be_true() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "ID": "j", "TaskGroups": [{"Name": "g", "Tasks": [
                {"Name": "a", "Driver": "docker"}, {"Name": "b", "Driver": "exec"}]}]
        }))
        .unwrap();
        let checker = GroupChecker::new(&job, &job.task_groups[0], &mut Regexes::default());
        match checker.check(&node()) {
            Verdict::Filtered(i) => assert_eq!(checker.reason(i), MISSING_DRIVERS),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn soft_constraints_are_skipped_and_order_is_job_first() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "ID": "j",
            "Constraints": [{"LTarget": "${attr.kernel.os}", "Operand": "=", "RTarget": "windows", "Hard": false},
                            {"LTarget": "${node.class}", "Operand": "=", "RTarget": "small"}],
            "TaskGroups": [{"Name": "g",
                "Constraints": [{"LTarget": "${attr.kernel.os}", "Operand": "=", "RTarget": "plan9"}],
                "Tasks": [{"Name": "a", "Driver": "missing"}]}]
        }))
        .unwrap();
        let checker = GroupChecker::new(&job, &job.task_groups[0], &mut Regexes::default());
        match checker.check(&node()) {
            Verdict::Filtered(i) => assert_eq!(checker.reason(i), "${node.class} = small"),
            v => panic!("{v:?}"),
        }
    }
}
