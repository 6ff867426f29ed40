//! Constraints: rules a node must satisfy to run a job, group or task.

use serde::{Deserialize, Serialize};

use super::extra::Extra;
use super::serde_util::null_default;

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
