//! One group of the job as a scheduler run sees it ([`GroupPlan`]), and
//! whether a change of a group can be made in place ([`tasks_updated`]).

use crate::structs::regexp::Regexes;
use crate::structs::{Job, NetworkResource, Node, Resources, TaskGroup};

use super::feasible::{GroupChecker, Verdict};
use super::rank::GroupAsk;

/// Most feasibility verdicts remembered per evaluation (groups × nodes).
const MEMO_LIMIT: usize = 1 << 22;

/// One group of the job, prepared once per evaluation.
pub(crate) struct GroupPlan {
    /// Position of the group in the job.
    pub(crate) index: u32,
    pub(crate) name: String,
    pub(crate) count: i64,
    pub(crate) checker: GroupChecker,
    pub(crate) ask: GroupAsk,
    /// Per candidate position: 0 unknown, 1 feasible, 2 + r filtered by reason r.
    memo: Vec<u32>,
}

impl GroupPlan {
    /// `regexes` is the evaluation's: a pattern the job uses in several
    /// groups is compiled once.
    pub(crate) fn new(job: &Job, index: usize, candidates: usize, regexes: &mut Regexes) -> Self {
        let group = &job.task_groups[index];
        GroupPlan {
            index: index as u32,
            name: group.name.clone(),
            count: group.count,
            checker: GroupChecker::new(job, group, regexes),
            ask: GroupAsk::new(group),
            // Bounded: a job with very many groups on a large cluster
            // checks nodes again rather than holding groups × nodes entries.
            memo: if job.task_groups.len().saturating_mul(candidates) <= MEMO_LIMIT {
                vec![0; candidates]
            } else {
                Vec::new()
            },
        }
    }

    /// Feasibility of candidate `i` (`node`), computed once per evaluation:
    /// it depends only on the node and the job, not on the plan.
    pub(crate) fn verdict(&mut self, i: usize, node: &Node) -> Verdict {
        if self.memo.is_empty() {
            return self.checker.check(node);
        }
        match self.memo[i] {
            0 => {
                let v = self.checker.check(node);
                self.memo[i] = match v {
                    Verdict::Feasible => 1,
                    Verdict::Filtered(r) => 2 + r,
                };
                v
            }
            1 => Verdict::Feasible,
            m => Verdict::Filtered(m - 2),
        }
    }
}

type NetworkShape<'a> = (&'a str, i64, Vec<(&'a str, i64)>, Vec<&'a str>);

/// The networks of an ask, without what the scheduler assigns: two asks
/// are the same when these are.
fn network_shape(r: &Resources) -> Vec<NetworkShape<'_>> {
    r.networks()
        .iter()
        .map(|n: &NetworkResource| {
            (
                n.device.as_str(),
                n.mbits,
                n.reserved()
                    .iter()
                    .map(|p| (p.label.as_str(), p.value))
                    .collect(),
                n.dynamic().iter().map(|p| p.label.as_str()).collect(),
            )
        })
        .collect()
}

/// True when going from `old` to `new` cannot be done in place (reference
/// §5.4 step 7, with MODERN's stricter network comparison): a task added,
/// removed or renamed, or a task's driver, config, environment, metadata or
/// networks changed. Resource sizes alone are an in-place change.
pub(crate) fn tasks_updated(old: &TaskGroup, new: &TaskGroup) -> bool {
    if old.tasks.len() != new.tasks.len() {
        return true;
    }
    for t in &new.tasks {
        let Some(o) = old.tasks.iter().find(|o| o.name == t.name) else {
            return true;
        };
        if o.driver != t.driver
            || o.config != t.config
            || o.env != t.env
            || o.meta != t.meta
            || network_shape(&o.resources) != network_shape(&t.resources)
        {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(json: serde_json::Value) -> TaskGroup {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn inplace_or_destructive() {
        let base = serde_json::json!({"Name": "g", "Tasks": [{"Name": "t", "Driver": "docker",
            "Config": {"image": "a"}, "Resources": {"CPU": 100, "Networks": [{"MBits": 10, "DynamicPorts": [{"Label": "http"}]}]}}]});
        let old = group(base.clone());
        let mut v = base.clone();
        v["Tasks"][0]["Resources"]["CPU"] = 200.into();
        assert!(!tasks_updated(&old, &group(v)), "resources only: in place");
        let mut v = base.clone();
        v["Tasks"][0]["Config"]["image"] = "b".into();
        assert!(tasks_updated(&old, &group(v)), "config");
        let mut v = base.clone();
        v["Tasks"][0]["Driver"] = "exec".into();
        assert!(tasks_updated(&old, &group(v)), "driver");
        let mut v = base.clone();
        v["Tasks"][0]["Name"] = "u".into();
        assert!(tasks_updated(&old, &group(v)), "renamed task");
        let mut v = base.clone();
        v["Tasks"][0]["Env"] = serde_json::json!({"A": "1"});
        assert!(tasks_updated(&old, &group(v)), "env");
        let mut v = base.clone();
        v["Tasks"][0]["Resources"]["Networks"][0]["DynamicPorts"] =
            serde_json::json!([{"Label": "http"}, {"Label": "admin"}]);
        assert!(tasks_updated(&old, &group(v)), "dynamic port count");
        let mut v = base;
        v["Tasks"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"Name": "side", "Driver": "docker"}));
        assert!(tasks_updated(&old, &group(v)), "task count");
    }
}
