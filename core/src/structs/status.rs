//! The statuses the server sets, typed: a misspelt status is a compile error,
//! not a comparison that is never true. They read and write as Nomad's
//! lowercase strings, and compare with `&str` so that hosts holding decoded
//! JSON can test them directly.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! status {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// Nomad's name for it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The status named `text`, if it is one.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.as_str()
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == other.as_str()
            }
        }
    };
}

status! {
    /// Where an evaluation is in its life.
    EvalStatus {
        /// Waiting in the broker, or being processed.
        #[default]
        Pending = "pending",
        /// Waiting for capacity to place what an earlier evaluation could not.
        Blocked = "blocked",
        /// Processed (placement failures are on `FailedTGAllocs`).
        Complete = "complete",
        /// Could not be processed (delivery limit, scheduler error).
        Failed = "failed",
        /// Superseded by a newer evaluation of the same job.
        Canceled = "canceled",
    }
}

impl EvalStatus {
    /// Complete, failed or canceled: it never changes again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            EvalStatus::Complete | EvalStatus::Failed | EvalStatus::Canceled
        )
    }

    /// Pending or blocked: its job still has work queued.
    pub fn is_open(self) -> bool {
        !self.is_terminal()
    }
}

status! {
    /// What the server wants of an allocation.
    AllocDesiredStatus {
        /// Running.
        #[default]
        Run = "run",
        /// Stopped.
        Stop = "stop",
        /// Evicted.
        Evict = "evict",
    }
}

status! {
    /// What the client reports of an allocation.
    AllocClientStatus {
        /// Not started yet.
        #[default]
        Pending = "pending",
        /// Running.
        Running = "running",
        /// Finished successfully.
        Complete = "complete",
        /// Finished with an error.
        Failed = "failed",
        /// Its node went down.
        Lost = "lost",
    }
}

impl AllocClientStatus {
    /// Complete, failed or lost: final.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            AllocClientStatus::Complete | AllocClientStatus::Failed | AllocClientStatus::Lost
        )
    }
}

status! {
    /// Where a node is.
    NodeStatus {
        /// Registered, not ready yet.
        #[default]
        Initializing = "initializing",
        /// Takes allocations.
        Ready = "ready",
        /// Gone: its allocations are lost and replaced.
        Down = "down",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_and_write_as_nomads_strings() {
        for s in EvalStatus::ALL {
            let text = serde_json::to_string(s).unwrap();
            assert_eq!(text, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<EvalStatus>(&text).unwrap(), *s);
            assert_eq!(EvalStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(AllocClientStatus::Lost, "lost");
        assert_eq!(
            AllocDesiredStatus::parse("evict"),
            Some(AllocDesiredStatus::Evict)
        );
        assert_eq!(NodeStatus::parse("Ready"), None);
        assert!(serde_json::from_str::<EvalStatus>("\"done\"").is_err());
        assert!(EvalStatus::Canceled.is_terminal() && EvalStatus::Blocked.is_open());
    }
}
