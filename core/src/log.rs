//! The log seam: every write becomes a [`Command`], goes to a log the host owns,
//! and is applied only once that log has committed it, at the index it gives.
//!
//! The seam is a trait the host implements ([`Log`]), called by the store with
//! each command before anything changes. A sans-I/O queue that the host drains
//! (as quinn-proto and raft-rs offer) suits a host that already runs an event
//! loop; ordu's writers are plain synchronous calls from any thread (Rust
//! threads, C programs, Python with the GIL released), and a call that returns
//! once the entry is durable or agreed keeps each of them a single call, with
//! no driver loop for every host to write. The store does not hold its state
//! lock while the log works, so reads and blocking reads go on during an fsync
//! or a Raft round trip; appends are ordered by a turn of their own.
//!
//! What the log answers decides what is visible: an error refuses the write
//! and nothing changes (no table, no index, no waiter woken); an index commits
//! the command there. Indexes must grow but may skip (a Raft log holds entries
//! that are not ordu's), and the index a log gives is the one every read
//! reports, so it is the same on every replica.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::command::Command;
use crate::state::Applied;

/// Why a log did not commit an entry (disk full, not the leader, ...). Its
/// text is the write's error message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogError(pub String);

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LogError {}

/// Where a store's commands go before they apply.
pub trait Log: Send + Sync {
    /// Commits `command`, the store's next entry after index `after` (the last
    /// one this log committed, or the restored state's), and answers the index
    /// it committed at, which must be above `after`. It returns only once the
    /// entry is as safe as the host promises (written and synced, agreed by a
    /// quorum); an error means the entry is not in the log and never will be.
    fn append(&self, after: u64, command: &Command) -> Result<u64, LogError>;

    /// Whether [`Log::append_batch`] commits several entries as one (one
    /// sync, one round trip for all). The store then gathers the writes that
    /// arrive while an append is in flight and hands them over together:
    /// group commit, so that many writers are bounded by the log's commit
    /// rate times the batch, not by one commit each.
    fn batches(&self) -> bool {
        false
    }

    /// Commits `commands`, in order, at consecutive indexes from the one it
    /// answers (above `after`); all of them or none. Called only when
    /// [`Log::batches`] says so.
    fn append_batch(&self, after: u64, commands: &[&Command]) -> Result<u64, LogError> {
        match commands {
            [one] => self.append(after, one),
            _ => Err(LogError("this log commits one entry at a time".into())),
        }
    }

    /// Whether the log applies what it commits to this store itself, in
    /// its own order, through [`Store::apply_committed_outcome`], as a Raft
    /// state machine applies every committed entry on every server, the
    /// leader's own among them. The store then neither orders appends nor
    /// applies them: a write goes to [`Log::append_applied`], and its answer
    /// is the outcome that gives.
    ///
    /// [`Store::apply_committed_outcome`]: crate::Store::apply_committed_outcome
    fn applies(&self) -> bool {
        false
    }

    /// How long a write of the store's own (a plan or an evaluation's
    /// outcome, made after a client's write was answered) that would commit
    /// alone may wait for a client's write to share its commit, as
    /// PostgreSQL's `commit_delay` does. Only a log that batches is asked.
    /// A client of one connection sends its next write soon after its
    /// answer: without the wait, that write queues behind the plan of the
    /// one before and each write costs two commits in turn. Zero (the
    /// default) never waits.
    fn commit_delay(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    /// Commits `command` and returns once it was applied to this store,
    /// with the outcome of applying it (apply may refuse it, as it refuses a
    /// check-and-set that lost to an earlier entry). An error means the
    /// entry was not applied here and, as with [`Log::append`], is not
    /// committed. Called only when [`Log::applies`] says so.
    fn append_applied(&self, command: &Command) -> Result<crate::Result<Applied>, LogError> {
        let _ = command;
        Err(LogError("this log does not apply its entries".into()))
    }
}

/// A shared log: the host keeps a handle to it (to read it back, to stop it).
impl<L: Log + ?Sized> Log for std::sync::Arc<L> {
    fn append(&self, after: u64, command: &Command) -> Result<u64, LogError> {
        (**self).append(after, command)
    }

    fn batches(&self) -> bool {
        (**self).batches()
    }

    fn append_batch(&self, after: u64, commands: &[&Command]) -> Result<u64, LogError> {
        (**self).append_batch(after, commands)
    }

    fn applies(&self) -> bool {
        (**self).applies()
    }

    fn commit_delay(&self) -> std::time::Duration {
        (**self).commit_delay()
    }

    fn append_applied(&self, command: &Command) -> Result<crate::Result<Applied>, LogError> {
        (**self).append_applied(command)
    }
}

/// The default log: keeps nothing and commits every entry at once, at the
/// index after the last.
#[derive(Debug, Default)]
pub struct MemoryLog;

impl Log for MemoryLog {
    fn append(&self, after: u64, _command: &Command) -> Result<u64, LogError> {
        Ok(after + 1)
    }
}

/// Another log, with `f` called on each entry it commits (after it did, before
/// the entry applies). A host that only watches commands, refusing none, wraps
/// [`MemoryLog`] in this.
pub struct Observed<L, F> {
    inner: L,
    f: F,
    appended: AtomicU64,
}

impl<L: Log, F: Fn(u64, &Command) + Send + Sync> Observed<L, F> {
    /// Calls `f` with each entry `inner` commits.
    pub fn new(inner: L, f: F) -> Self {
        Observed {
            inner,
            f,
            appended: AtomicU64::new(0),
        }
    }

    /// How many entries were committed.
    pub fn appended(&self) -> u64 {
        self.appended.load(Ordering::Relaxed)
    }
}

impl<L: Log, F: Fn(u64, &Command) + Send + Sync> Log for Observed<L, F> {
    fn append(&self, after: u64, command: &Command) -> Result<u64, LogError> {
        let index = self.inner.append(after, command)?;
        self.appended.fetch_add(1, Ordering::Relaxed);
        (self.f)(index, command);
        Ok(index)
    }

    fn batches(&self) -> bool {
        self.inner.batches()
    }

    fn commit_delay(&self) -> std::time::Duration {
        self.inner.commit_delay()
    }

    fn append_batch(&self, after: u64, commands: &[&Command]) -> Result<u64, LogError> {
        let first = self.inner.append_batch(after, commands)?;
        self.appended
            .fetch_add(commands.len() as u64, Ordering::Relaxed);
        for (index, command) in (first..).zip(commands) {
            (self.f)(index, command);
        }
        Ok(first)
    }
}

/// The format version of log entries ([`encode_entry`]); a change that older
/// code could not read takes the next number.
pub const ENTRY_VERSION: u32 = 1;

#[derive(serde::Serialize)]
struct EntryRef<'a> {
    version: u32,
    command: &'a Command,
}

/// A command as the bytes of a log entry: JSON with the format's version,
/// `{"version": 1, "command": {...}}`. Hosts that keep entries as bytes (a
/// file, SQLite, Raft) store these and hand them back to
/// [`crate::Store::apply_entry`].
pub fn encode_entry(command: &Command) -> Vec<u8> {
    let e = EntryRef {
        version: ENTRY_VERSION,
        command,
    };
    serde_json::to_vec(&e).expect("a command serialises")
}

/// The command in entry bytes from [`encode_entry`]. Bytes of another
/// version, or that do not decode, are an invalid-input error naming `entry`.
pub fn decode_entry(bytes: &[u8]) -> crate::Result<Command> {
    #[derive(serde::Deserialize)]
    struct Version {
        version: u32,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        command: Command,
    }
    let bad = |m: String| crate::Error::Invalid {
        stage: crate::Stage::Decode,
        errors: vec![crate::FieldError::new("entry", m)],
    };
    let v: Version = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    if v.version != ENTRY_VERSION {
        return Err(bad(format!(
            "format version {} is not {ENTRY_VERSION}, the one this ordu reads",
            v.version
        )));
    }
    let e: Entry = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    Ok(e.command)
}

/// A log kept by a host that deals in bytes (the C and Python bindings):
/// each command is encoded ([`encode_entry`]) and handed to `f` with the
/// index it must follow; `f` answers the index it committed at, or why not.
pub struct EntryLog<F>(pub F);

impl<F: Fn(u64, &[u8]) -> Result<u64, LogError> + Send + Sync> Log for EntryLog<F> {
    fn append(&self, after: u64, command: &Command) -> Result<u64, LogError> {
        (self.0)(after, &encode_entry(command))
    }
}
