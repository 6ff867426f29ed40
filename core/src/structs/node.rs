//! Nodes: the machines allocations are placed on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::extra::Extra;
use super::resources::Resources;
use super::serde_util::null_default;
use super::status::NodeStatus;

/// A client machine.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Node {
    /// Unique ID.
    #[serde(rename = "ID", default)]
    pub id: String,
    /// Datacenter the node is in.
    #[serde(default)]
    pub datacenter: String,
    /// Human name (`${node.unique.name}`).
    #[serde(default)]
    pub name: String,
    /// Class (`${node.class}`).
    #[serde(default)]
    pub node_class: String,
    /// Fingerprinted attributes, e.g. `kernel.os`, `driver.docker`.
    #[serde(default, deserialize_with = "null_default")]
    pub attributes: BTreeMap<String, String>,
    /// Total capacity.
    #[serde(default, deserialize_with = "null_default")]
    pub resources: Resources,
    /// Capacity kept back from scheduling.
    #[serde(default)]
    pub reserved: Option<Resources>,
    /// Links to other systems.
    #[serde(default)]
    pub links: Option<BTreeMap<String, String>>,
    /// Operator metadata (`${meta.X}`).
    #[serde(default)]
    pub meta: Option<BTreeMap<String, String>>,
    /// Set by the server: no new work, existing work migrates. True while
    /// [`Node::drain_strategy`] is set (and for the v0.2 drain flag).
    #[serde(default)]
    pub drain: bool,
    /// Set by the server: the drain in progress, if any (Nomad's
    /// `DrainStrategy`). Left out of the JSON when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_strategy: Option<DrainStrategy>,
    /// Set by the server: `eligible` or `ineligible` for new placements
    /// (Nomad's `SchedulingEligibility`). Empty, on nodes written before ordu
    /// modelled it, means eligible; reads answer `eligible` then.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scheduling_eligibility: String,
    /// `initializing`, `ready` or `down` ([`NodeStatus`]). Kept as the client
    /// sent it, so that a bad one is named with the node's other field
    /// errors rather than failing the decode; compared as a [`NodeStatus`].
    #[serde(default)]
    pub status: String,
    /// Status detail.
    #[serde(default)]
    pub status_description: String,
    /// Index at which the node registered first.
    #[serde(default)]
    pub create_index: u64,
    /// Index of the last change.
    #[serde(default)]
    pub modify_index: u64,
    /// Fields ordu does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `SchedulingEligibility` of a node that takes new placements.
pub const NODE_ELIGIBLE: &str = "eligible";
/// `SchedulingEligibility` of a node that takes no new placements.
pub const NODE_INELIGIBLE: &str = "ineligible";

/// What an operator asks of a drain (Nomad's `DrainSpec`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DrainSpec {
    /// Nanoseconds the drain may take: above 0 a deadline, 0 none, below 0
    /// "force" (everything at once).
    #[serde(default)]
    pub deadline: i64,
    /// Leave the allocations of system jobs on the node.
    #[serde(default)]
    pub ignore_system_jobs: bool,
}

/// A drain in progress, as the node's JSON shows it (Nomad's
/// `DrainStrategy`: the spec, with times stamped when it was proposed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DrainStrategy {
    /// Nanoseconds (see [`DrainSpec::deadline`]).
    #[serde(default)]
    pub deadline: i64,
    /// Leave the allocations of system jobs on the node.
    #[serde(default)]
    pub ignore_system_jobs: bool,
    /// RFC 3339: when the deadline passes (start + `Deadline` when that is
    /// above 0; else the zero time `0001-01-01T00:00:00Z`).
    #[serde(default)]
    pub force_deadline: String,
    /// RFC 3339: when the drain started.
    #[serde(default)]
    pub started_at: String,
}

/// Unix nanoseconds as RFC 3339 in UTC, as Go writes a `time.Time`
/// (`2024-05-01T12:00:00.5Z`: trailing zeros of the fraction dropped).
pub fn rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    if frac > 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Unix nanoseconds from RFC 3339 in UTC as [`rfc3339`] writes it; `None`
/// for anything else (an offset, a bad field).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let num = |t: &str| -> Option<i64> {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse().ok())?
    };
    let mut d = date.splitn(3, '-');
    let (year, month, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':');
    let (h, m, sec) = (num(t.next()?)?, num(t.next()?)?, num(t.next()?)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let nanos = if frac.is_empty() {
        0
    } else if frac.len() <= 9 {
        num(frac)? * 10i64.pow(9 - frac.len() as u32)
    } else {
        return None;
    };
    // Days from 1970-01-01 of a civil date (the inverse of `rfc3339`'s).
    let y = year - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days.checked_mul(86_400)?
        .checked_add(h * 3600 + m * 60 + sec)?
        .checked_mul(1_000_000_000)?
        .checked_add(nanos)
}

/// Go's zero `time.Time` in JSON.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl DrainStrategy {
    /// Whether the drain's deadline has passed at `now` (unix ns): a forced
    /// drain's (`Deadline` below 0) at once, one without a deadline (0)
    /// never.
    pub fn deadline_passed(&self, now: i64) -> bool {
        match self.deadline {
            d if d < 0 => true,
            0 => false,
            // Validation refuses a start that does not parse; were one
            // stored anyway, the drain waits rather than stopping work.
            d => {
                parse_rfc3339(&self.started_at).is_some_and(|start| now >= start.saturating_add(d))
            }
        }
    }

    /// The strategy of `spec` started at `now` (unix ns).
    pub fn new(spec: &DrainSpec, now: i64) -> Self {
        DrainStrategy {
            deadline: spec.deadline,
            ignore_system_jobs: spec.ignore_system_jobs,
            force_deadline: if spec.deadline > 0 {
                rfc3339(now.saturating_add(spec.deadline))
            } else {
                ZERO_TIME.to_string()
            },
            started_at: rfc3339(now),
        }
    }
}

impl Node {
    /// Ready, not draining and eligible: may take new allocations.
    pub fn is_schedulable(&self) -> bool {
        self.status == NodeStatus::Ready && !self.drain && self.is_eligible()
    }

    /// Not marked ineligible for new placements.
    pub fn is_eligible(&self) -> bool {
        self.scheduling_eligibility != NODE_INELIGIBLE
    }

    /// `eligible` or `ineligible`, as reads answer it.
    pub fn eligibility(&self) -> &str {
        if self.is_eligible() {
            NODE_ELIGIBLE
        } else {
            NODE_INELIGIBLE
        }
    }

    /// The short form listed by `/v1/nodes`.
    pub fn stub(&self) -> NodeListStub {
        NodeListStub {
            id: self.id.clone(),
            datacenter: self.datacenter.clone(),
            name: self.name.clone(),
            node_class: self.node_class.clone(),
            drain: self.drain,
            scheduling_eligibility: self.eligibility().to_string(),
            status: self.status.clone(),
            status_description: self.status_description.clone(),
            create_index: self.create_index,
            modify_index: self.modify_index,
        }
    }
}

/// One element of the node list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct NodeListStub {
    #[serde(rename = "ID")]
    pub id: String,
    pub datacenter: String,
    pub name: String,
    pub node_class: String,
    pub drain: bool,
    #[serde(default)]
    pub scheduling_eligibility: String,
    pub status: String,
    pub status_description: String,
    pub create_index: u64,
    pub modify_index: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_go_writes_them() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000_500_000_000), "2023-11-14T22:13:20.5Z");
        assert_eq!(
            rfc3339(951_782_400_000_000_001),
            "2000-02-29T00:00:00.000000001Z"
        );
        assert_eq!(rfc3339(-1_000_000_000), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn times_parse_back_to_what_they_were() {
        for ns in [
            0,
            1,
            -1_000_000_000,
            951_782_400_000_000_001,
            1_700_000_000_500_000_000,
            4_102_444_800_123_456_789,
            -9_000_000_000_000_000_000,
            i64::MAX,
        ] {
            assert_eq!(parse_rfc3339(&rfc3339(ns)), Some(ns), "{ns}");
        }
        for bad in [
            "",
            "Z",
            "2023-11-14",
            "2023-13-01T00:00:00Z",
            "2023-11-14T22:13:20+01:00",
            "2023-11-14T22:13:20.1234567890Z",
            "99999999999999-01-01T00:00:00Z",
            "2023-1x-14T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn drain_deadlines() {
        let spec = |deadline| DrainSpec {
            deadline,
            ignore_system_jobs: false,
        };
        let t0 = 1_700_000_000_000_000_000;
        assert!(DrainStrategy::new(&spec(-1), t0).deadline_passed(t0));
        assert!(!DrainStrategy::new(&spec(0), t0).deadline_passed(i64::MAX));
        let hour = DrainStrategy::new(&spec(3_600_000_000_000), t0);
        assert!(!hour.deadline_passed(t0 + 3_599_999_999_999));
        assert!(hour.deadline_passed(t0 + 3_600_000_000_000));
        let far = DrainStrategy::new(&spec(i64::MAX), t0);
        assert!(!far.deadline_passed(i64::MAX - 1));
    }
}
