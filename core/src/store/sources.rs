//! Where a store takes its time and its IDs from: the system clock and
//! random UUIDs, or, for tests and replays, a manual clock and counters.

use super::*;

/// The time source of a store. `apply` never reads it: the store stamps times
/// into commands.
pub trait Clock: Send + Sync {
    /// Unix nanoseconds.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64)
    }
}

/// A clock that moves only when told, for deterministic tests.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock reading `now` nanoseconds.
    pub fn new(now: i64) -> Self {
        ManualClock(Arc::new(AtomicU64::new(now as u64)))
    }
    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_nanos() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst) as i64
    }
}

/// The source of new IDs (evaluations, allocations).
pub trait IdSource: Send + Sync {
    /// A new unique ID in UUID form.
    fn new_id(&self) -> String;
}

/// Random version-4 UUIDs.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn new_id(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
}

/// How many evaluations the store writes canceled between the collections of
/// canceled evaluations it runs itself (see [`Store::collect_canceled`]).
pub(super) const CANCELED_COLLECT_EVERY: u64 = 4096;

/// UUID-shaped IDs from a counter, for deterministic tests.
#[derive(Debug, Default)]
pub struct SequentialIds(AtomicU64);

impl SequentialIds {
    /// IDs counting on from `n` (stores that mint IDs side by side, such as
    /// replicas that lead in turn, each start elsewhere).
    pub fn after(n: u64) -> Self {
        SequentialIds(AtomicU64::new(n))
    }
}

impl IdSource for SequentialIds {
    fn new_id(&self) -> String {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        format!("00000000-0000-4000-8000-{n:012x}")
    }
}
