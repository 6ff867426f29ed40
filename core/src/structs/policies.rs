//! Update and restart policies.

use serde::{Deserialize, Serialize};

use super::extra::Extra;
use super::serde_util::null_default;

/// Rolling updates: at most `MaxParallel` destructive changes at a time,
/// `Stagger` nanoseconds apart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateStrategy {
    /// Nanoseconds between batches.
    #[serde(default, deserialize_with = "null_default")]
    pub stagger: i64,
    /// Allocations changed at once; 0 means no limit.
    #[serde(default, deserialize_with = "null_default")]
    pub max_parallel: i64,
    /// Fields ordu does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// How a client restarts a failing task.
///
/// Keys the client left out are filled from the job type's defaults
/// ([`RestartPolicy::default_for`]) by
/// [`Job::canonicalize`](super::Job::canonicalize), key by key, as Nomad's
/// canonicalisation does: v0.2 clients send no `Mode`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", from = "RestartPolicyWire")]
pub struct RestartPolicy {
    /// Restarts allowed per interval.
    #[serde(default, deserialize_with = "null_default")]
    pub attempts: i64,
    /// Nanoseconds.
    #[serde(default, deserialize_with = "null_default")]
    pub interval: i64,
    /// Nanoseconds between restarts.
    #[serde(default, deserialize_with = "null_default")]
    pub delay: i64,
    /// `fail` or `delay` once the attempts are used.
    #[serde(default, deserialize_with = "null_default")]
    pub mode: String,
    /// Fields ordu does not model.
    #[serde(flatten)]
    pub extra: Extra,
    /// Which keys the client left out, until `Job::canonicalize` fills them.
    #[serde(skip)]
    pub(crate) unsent: Unsent,
}

/// The keys of a [`RestartPolicy`] a client left out. Decode state, not spec:
/// two values always compare equal, so it never makes two specs differ.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Unsent {
    attempts: bool,
    interval: bool,
    delay: bool,
    mode: bool,
}

impl PartialEq for Unsent {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A restart policy as sent: `None` for a key absent or `null`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RestartPolicyWire {
    #[serde(default)]
    attempts: Option<i64>,
    #[serde(default)]
    interval: Option<i64>,
    #[serde(default)]
    delay: Option<i64>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(flatten)]
    extra: Extra,
}

impl From<RestartPolicyWire> for RestartPolicy {
    fn from(w: RestartPolicyWire) -> Self {
        RestartPolicy {
            unsent: Unsent {
                attempts: w.attempts.is_none(),
                interval: w.interval.is_none(),
                delay: w.delay.is_none(),
                mode: w.mode.is_none(),
            },
            attempts: w.attempts.unwrap_or_default(),
            interval: w.interval.unwrap_or_default(),
            delay: w.delay.unwrap_or_default(),
            mode: w.mode.unwrap_or_default(),
            extra: w.extra,
        }
    }
}

const SECOND: i64 = 1_000_000_000;

impl RestartPolicy {
    /// Nomad's defaults: services 2 attempts in 30 minutes, batch 3 in 24 hours,
    /// both 15 s apart, then fail.
    pub fn default_for(batch: bool) -> Self {
        let (attempts, interval) = if batch {
            (3, 24 * 3600 * SECOND)
        } else {
            (2, 30 * 60 * SECOND)
        };
        RestartPolicy {
            attempts,
            interval,
            delay: 15 * SECOND,
            mode: "fail".to_string(),
            extra: Extra::new(),
            unsent: Unsent::default(),
        }
    }

    /// Fills the keys the client left out from `defaults`.
    pub(super) fn complete_from(&mut self, defaults: RestartPolicy) {
        let u = std::mem::take(&mut self.unsent);
        if u.attempts {
            self.attempts = defaults.attempts;
        }
        if u.interval {
            self.interval = defaults.interval;
        }
        if u.delay {
            self.delay = defaults.delay;
        }
        if u.mode {
            self.mode = defaults.mode;
        }
    }
}
