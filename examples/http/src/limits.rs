//! What bounds the resources clients can hold: the request bytes in flight
//! across the whole server ([`Budget`]), the open connections ([`Conns`],
//! below the descriptor limit: [`descriptor_limit`]), and the time a body
//! may take ([`BodyLimits::read_timeout`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How request bodies are bounded, for [`crate::server::service`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BodyLimits {
    /// Most bytes of request bodies held at once, all connections together.
    pub bytes_in_flight: usize,
    /// How long a body may take to arrive, counted from its request's head.
    pub read_timeout: Duration,
}

/// The default `--max-body-bytes-in-flight`: room for eight bodies at the
/// store's default size limit, 8 MiB.
pub const DEFAULT_BYTES_IN_FLIGHT: usize = 64 << 20;

/// The default `--read-timeout`.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits {
            bytes_in_flight: DEFAULT_BYTES_IN_FLIGHT,
            read_timeout: DEFAULT_READ_TIMEOUT,
        }
    }
}

/// Bytes of request bodies the server holds, against one bound for all
/// connections: a body takes its share as its bytes arrive, and gives it
/// back when its request is done ([`Held`]).
#[derive(Debug)]
pub struct Budget {
    used: AtomicUsize,
    max: usize,
}

impl Budget {
    pub fn new(max: usize) -> Budget {
        Budget {
            used: AtomicUsize::new(0),
            max,
        }
    }

    /// A share of nothing yet, grown with [`Held::grow_to`].
    pub fn hold(&self) -> Held<'_> {
        Held {
            budget: self,
            bytes: 0,
        }
    }

    /// Bytes held now, by all bodies.
    #[cfg(test)]
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    fn take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|total| *total <= self.max)
            })
            .is_ok()
    }

    fn give_back(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// One body's share of a [`Budget`], given back when dropped.
#[derive(Debug)]
pub struct Held<'a> {
    budget: &'a Budget,
    bytes: usize,
}

impl Held<'_> {
    /// Makes the share `bytes` (growing or shrinking it); `false`, with the
    /// share unchanged, if the budget has not that much left.
    pub fn grow_to(&mut self, bytes: usize) -> bool {
        if bytes <= self.bytes {
            self.budget.give_back(self.bytes - bytes);
        } else if !self.budget.take(bytes - self.bytes) {
            return false;
        }
        self.bytes = bytes;
        true
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

/// The open connections, all serving threads together, and their bound.
#[derive(Debug)]
pub struct Conns {
    open: AtomicUsize,
    max: usize,
}

impl Conns {
    pub fn new(max: usize) -> Arc<Conns> {
        Arc::new(Conns {
            open: AtomicUsize::new(0),
            max,
        })
    }

    /// A place for one more connection, kept until the [`ConnSlot`] is
    /// dropped; `None` when all are taken.
    pub fn open(self: &Arc<Self>) -> Option<ConnSlot> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < self.max).then_some(open + 1)
            })
            .ok()
            .map(|_| ConnSlot(self.clone()))
    }

    /// Connections open now.
    #[cfg(test)]
    pub fn count(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

/// One open connection's place in [`Conns`]; the connection owns it, so it
/// is given back when the connection ends.
#[derive(Debug)]
pub struct ConnSlot(Arc<Conns>);

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Descriptors kept out of the connection cap: the listener, each serving
/// thread's runtime (epoll, its waker), the standard streams, and room for
/// whatever else the process opens.
pub fn reserved_descriptors(threads: usize) -> usize {
    32 + 2 * threads
}

/// The process's descriptor limit, after raising the soft limit to the hard
/// one where the system allows (many systems start processes at 1,024 of a
/// far higher hard limit). `None` when there is no limit.
pub fn descriptor_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_some() && limit.current != limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return limit.maximum;
        }
    }
    limit.current
}

/// The default `--max-conns`: the descriptor limit less the reserve, at
/// least 1.
pub fn default_max_conns(descriptors: Option<u64>, threads: usize) -> usize {
    let Some(limit) = descriptors else {
        return usize::MAX;
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    limit.saturating_sub(reserved_descriptors(threads)).max(1)
}

/// A byte count as the flags take it: a number with an optional `KiB`,
/// `MiB` or `GiB` suffix (`64MiB`); `None` if it is not one or overflows.
pub fn parse_bytes(s: &str) -> Option<usize> {
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    let shift = match unit {
        "" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        _ => return None,
    };
    let n: usize = digits.parse().ok()?;
    n.checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shares are taken up to the bound and no further, and what is dropped
    /// or shrunk comes back.
    #[test]
    fn a_budget_is_shared_and_given_back() {
        let budget = Budget::new(100);
        let mut a = budget.hold();
        let mut b = budget.hold();
        assert!(a.grow_to(60));
        assert!(!b.grow_to(41), "past the bound");
        assert_eq!(budget.used(), 60);
        assert!(b.grow_to(40));
        assert!(!a.grow_to(61));
        assert!(a.grow_to(10), "shrinking always works");
        assert_eq!(budget.used(), 50);
        drop(b);
        assert_eq!(budget.used(), 10);
        assert!(a.grow_to(100));
        drop(a);
        assert_eq!(budget.used(), 0);
        // A share that cannot be counted is refused, not wrapped.
        let mut c = budget.hold();
        assert!(!c.grow_to(usize::MAX));
    }

    /// Many threads taking and giving back: the bound is never passed and
    /// nothing is lost.
    #[test]
    fn a_budget_holds_under_many_threads() {
        let budget = Budget::new(1000);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for i in 0..10_000 {
                        let mut h = budget.hold();
                        if h.grow_to(1 + i % 300) {
                            assert!(budget.used() <= 1000);
                        }
                    }
                });
            }
        });
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn connections_are_capped_and_their_slots_come_back() {
        let conns = Conns::new(2);
        let a = conns.open().unwrap();
        let b = conns.open().unwrap();
        assert!(conns.open().is_none());
        drop(a);
        let c = conns.open().unwrap();
        assert_eq!(conns.count(), 2);
        drop((b, c));
        assert_eq!(conns.count(), 0);
    }

    #[test]
    fn the_default_cap_keeps_a_reserve() {
        assert_eq!(default_max_conns(Some(1024), 1), 1024 - 34);
        assert_eq!(default_max_conns(Some(10), 4), 1);
        assert_eq!(default_max_conns(None, 1), usize::MAX);
        assert_eq!(default_max_conns(Some(u64::MAX), 1), usize::MAX - 34);
        // Raising the soft limit leaves a limit the process can use.
        let limit = descriptor_limit();
        assert!(limit.is_none_or(|l| l >= 16), "{limit:?}");
    }

    #[test]
    fn byte_counts_parse() {
        assert_eq!(parse_bytes("123"), Some(123));
        assert_eq!(parse_bytes("64MiB"), Some(64 << 20));
        assert_eq!(parse_bytes("2KiB"), Some(2048));
        assert_eq!(parse_bytes("1GiB"), Some(1 << 30));
        assert_eq!(parse_bytes("1MB"), None);
        assert_eq!(parse_bytes("MiB"), None);
        assert_eq!(parse_bytes("-1"), None);
        assert_eq!(parse_bytes("99999999999999999999GiB"), None);
        assert_eq!(parse_bytes(&format!("{}GiB", usize::MAX >> 20)), None);
    }
}
