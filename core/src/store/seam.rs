//! The log seam: a write is checked, handed to the host's [`Log`], and
//! applied at the index it gives; entries a log committed elsewhere, and
//! snapshots, come in here too. See [`crate::log`] for the why.

use super::*;

impl Store {
    /// Replaces the state (a snapshot restored or replayed), re-queues its
    /// pending and blocked evaluations, and wakes every waiter. The writes
    /// a snapshot holds have no events: an event subscriber from before its
    /// index is told it fell behind ([`crate::events`]).
    pub fn restore(&self, mut state: State) {
        state.set_job_tracked_versions(self.config.job_tracked_versions);
        let canceled = {
            // No append in flight while the state is swapped; the log's last
            // index stays (indexes never go back).
            let _turn = self.log_turn.lock();
            // Subscribers before the restored index miss writes: told so.
            self.events.restored(state.index());
            *self.state.write() = state;
            self.rebuild_broker()
        };
        self.requeue();
        self.cancel(canceled);
        self.watch.notify_all();
        self.run_inline();
    }

    /// Applies an already-built command through the log, at the next index it
    /// gives, as any write does.
    pub fn apply(&self, cmd: Command) -> Result<u64> {
        Ok(self.commit(cmd)?.index)
    }

    /// Applies a command that a log committed elsewhere at `index` (a
    /// replica's, or one replayed at start), without handing it to this
    /// store's log. `index` must be above every index applied or logged here.
    pub fn apply_committed(&self, index: u64, cmd: Command) -> Result<u64> {
        Ok(self.apply_committed_outcome(index, cmd)?.index)
    }

    /// [`Store::apply_committed`], answering all that applying told: what a
    /// log that applies its own entries ([`Log::applies`]) hands back to the
    /// write that proposed the entry.
    pub fn apply_committed_outcome(&self, index: u64, cmd: Command) -> Result<Applied> {
        let mut last = self.log_turn.lock();
        let after = (*last).max(self.state.read().index());
        if index <= after {
            return Err(Error::Conflict {
                message: format!("index {index} is not after the last applied, {after}"),
                current_index: after,
            });
        }
        *last = index;
        let applied = self.apply_at(index, cmd, false);
        drop(last);
        applied
    }

    /// [`Store::apply_committed`] for entry bytes from
    /// [`crate::log::encode_entry`] (a host's log read back, or shipped from
    /// the leader).
    pub fn apply_entry(&self, index: u64, entry: &[u8]) -> Result<u64> {
        self.apply_committed(index, crate::log::decode_entry(entry)?)
    }

    /// The whole state as snapshot bytes ([`State::snapshot`]).
    pub fn snapshot(&self) -> Vec<u8> {
        self.state.read().snapshot()
    }

    /// Replaces the state with one from [`Store::snapshot`] bytes (see
    /// [`Store::restore`]); bytes that do not decode change nothing.
    pub fn restore_snapshot(&self, bytes: &[u8]) -> Result<()> {
        self.restore(State::restore(bytes)?);
        Ok(())
    }

    /// Whether the store's log commits batches ([`Log::batches`]): writes
    /// made concurrently then share its commits, so a host should make them
    /// from several threads rather than one at a time.
    pub fn log_batches(&self) -> bool {
        self.log.batches()
    }

    /// Hands `cmd` to the log and, once it committed, applies it at the index
    /// the log gave, wakes its waiters and queues its evaluations. A log that
    /// refuses changes nothing. The state's lock is taken only to apply, so
    /// readers go on while the log works.
    pub(super) fn commit(&self, cmd: Command) -> Result<Applied> {
        self.commit_as(cmd, Writer::Client)
    }

    /// [`Store::commit`] of a write the store makes itself (leader duties):
    /// with a batching log, and writes answered before their evaluations
    /// run, it may wait a little for a client's write to share its commit
    /// ([`Log::commit_delay`]).
    pub(super) fn commit_own(&self, cmd: Command) -> Result<Applied> {
        // Inline and grouped, the client's write waits for this one: no
        // write of its can come to share the commit, so none is waited for.
        let writer = match self.config.mode {
            SchedulingMode::Queued | SchedulingMode::Manual => Writer::Store,
            SchedulingMode::Inline | SchedulingMode::Grouped => Writer::Client,
        };
        self.commit_as(cmd, writer)
    }

    fn commit_as(&self, cmd: Command, writer: Writer) -> Result<Applied> {
        if self.log.applies() {
            return self.commit_applied(cmd);
        }
        if self.log.batches() {
            return self.commit_grouped(cmd, writer);
        }
        let mut last = self.log_turn.lock();
        if !self.is_leader() {
            return Err(not_leader());
        }
        let after = {
            // Refused here, a write never reaches the log. `apply` decides
            // again at the state the entry lands on (the same one here: the
            // turn is held; on a replica, whatever came before it).
            let st = self.state.read();
            st.check(&cmd)?;
            (*last).max(st.index())
        };
        let index = self
            .log
            .append(after, &cmd)
            .map_err(|e| Error::Unavailable { message: e.0 })?;
        if index <= after {
            return Err(Error::Unavailable {
                message: format!("the log committed at index {index}, not after {after}"),
            });
        }
        *last = index;
        let applied = self.apply_at(index, cmd, true);
        drop(last);
        applied
    }

    /// Applies a committed command at `index` (above the state's), wakes its
    /// waiters and queues its evaluations. `checked`: [`State::check`]ed at
    /// the state it applies to, under the same log turn.
    fn apply_at(&self, index: u64, cmd: Command, checked: bool) -> Result<Applied> {
        let (applied, evals) = {
            let mut st = self.state.write();
            let eval_ids: Vec<String> = command_evals(&cmd).map(str::to_string).collect();
            let applied = if checked {
                st.apply_checked_owned(index, cmd)
            } else {
                st.apply_owned(index, cmd)?
            };
            let evals: Vec<_> = eval_ids
                .iter()
                .filter_map(|id| st.eval(id).cloned())
                .collect();
            (applied, evals)
        };
        let mut applied = applied;
        // Published before waking, under the log turn: in index order.
        // The buffer takes them; the write's answer need not hold them.
        if self.config.event_buffer_size == 0 {
            applied.changes = Vec::new();
        } else if let Some(batch) = crate::events::EventBatch::take_from(&mut applied) {
            self.events.publish(batch);
        }
        self.watch.notify(applied.keys.iter().copied());
        // A follower keeps no broker: a leader it becomes rebuilds one.
        if !evals.is_empty() && self.is_leader() {
            let superseded: Vec<_> = {
                let mut b = self.broker.lock();
                evals.into_iter().flat_map(|e| b.enqueue(e)).collect()
            };
            if !superseded.is_empty() {
                self.superseded.lock().extend(superseded);
            }
        }
        Ok(applied)
    }
}

/// Writes waiting for a batching log, in arrival order. The one at the front
/// hands the log every command queued behind it, up to [`MAX_BATCH`], in one
/// call; the others wait for their answer.
#[derive(Default)]
pub(super) struct WriteQueue {
    /// Writes not yet taken into a batch, oldest first.
    waiting: std::collections::VecDeque<(u64, Command)>,
    /// Answers of a batch's writes, until each writer takes its own: kept
    /// apart so that the next batch can begin before they all woke.
    answers: std::collections::HashMap<u64, Result<Applied>>,
    /// A batch is with the log: the next one gathers meanwhile.
    busy: bool,
    /// The front write is the store's own, waiting for a client's write to
    /// share its commit: the next write to arrive leads the batch at once.
    lingering: bool,
    /// Numbers each write, so that a waiter finds its own answer.
    next: u64,
}

/// Commands handed to the log in one batch at most: bounds what one writer
/// does for others, and the size of one log transaction.
const MAX_BATCH: usize = 256;

impl Store {
    /// [`Store::commit`] for a log that batches: the writes that arrive while
    /// one batch is with the log wait in a queue, and the first of them then
    /// hands all of theirs over at once. Each command is checked at the
    /// state as the batch begins (refused there, it never reaches the log)
    /// and decided again by `apply`, which sees the batch's earlier entries:
    /// two check-and-sets of one job in one batch, the second is refused.
    ///
    /// A write of the store's own that would commit alone waits up to the
    /// log's [`Log::commit_delay`] first; the client's write that arrives
    /// meanwhile leads the batch at once, taking it along.
    fn commit_grouped(&self, cmd: Command, writer: Writer) -> Result<Applied> {
        let mut q = self.write_queue.lock();
        let ticket = q.next;
        q.next += 1;
        q.waiting.push_back((ticket, cmd));
        let mut linger_until = None;
        loop {
            if let Some(answer) = q.answers.remove(&ticket) {
                return answer;
            }
            if !q.busy {
                match q.waiting.front() {
                    Some((front, _)) if *front == ticket => {
                        if writer == Writer::Store && q.waiting.len() == 1 {
                            let until = *linger_until.get_or_insert_with(|| {
                                Instant::now().checked_add(self.log.commit_delay())
                            });
                            if let Some(until) = until.filter(|u| Instant::now() < *u) {
                                q.lingering = true;
                                self.write_done.wait_until(&mut q, until);
                                continue;
                            }
                        }
                        break;
                    }
                    // The front lingers: this write leads, taking it along.
                    _ if q.lingering => break,
                    // Taken into a batch that is over, yet not answered.
                    _ if !q.waiting.iter().any(|(t, _)| *t == ticket) => {
                        return Err(Error::Unavailable {
                            message: "the write's batch gave it no answer".into(),
                        })
                    }
                    _ => {}
                }
            }
            self.write_done.wait(&mut q);
        }
        // This write leads a batch: every command queued so far.
        q.busy = true;
        q.lingering = false;
        let n = q.waiting.len().min(MAX_BATCH);
        let batch: Vec<(u64, Command)> = q.waiting.drain(..n).collect();
        drop(q);
        let mut unwedge = Unwedge {
            store: self,
            leader: ticket,
            tickets: batch.iter().map(|(t, _)| *t).collect(),
            armed: true,
        };
        let answers = self.commit_batch(batch);
        unwedge.armed = false;
        drop(unwedge);
        let mut q = self.write_queue.lock();
        let mut mine = None;
        for (t, answer) in answers {
            if t == ticket {
                mine = Some(answer);
            } else {
                q.answers.insert(t, answer);
            }
        }
        q.busy = false;
        self.write_done.notify_all();
        mine.unwrap_or_else(|| {
            Err(Error::Unavailable {
                message: "the write's batch gave it no answer".into(),
            })
        })
    }

    /// [`Store::commit`] for a log that applies its entries itself: no turn
    /// is held while it works (its apply takes the turn), and the order is
    /// the log's. The check here only spares the log a write that would be
    /// refused; apply decides at the state the entry lands on.
    fn commit_applied(&self, cmd: Command) -> Result<Applied> {
        if !self.is_leader() {
            return Err(not_leader());
        }
        self.state.read().check(&cmd)?;
        self.log
            .append_applied(&cmd)
            .map_err(|e| Error::Unavailable { message: e.0 })?
    }

    /// Logs `batch` in one append and applies each at its index, in order.
    fn commit_batch(&self, batch: Vec<(u64, Command)>) -> Vec<(u64, Result<Applied>)> {
        let mut last = self.log_turn.lock();
        let mut answers = Vec::with_capacity(batch.len());
        if !self.is_leader() {
            for (ticket, _) in batch {
                answers.push((ticket, Err(not_leader())));
            }
            return answers;
        }
        let (after, logged) = {
            let st = self.state.read();
            let mut logged = Vec::with_capacity(batch.len());
            for (ticket, cmd) in batch {
                match st.check(&cmd) {
                    Ok(()) => logged.push((ticket, cmd)),
                    Err(e) => answers.push((ticket, Err(e))),
                }
            }
            ((*last).max(st.index()), logged)
        };
        if logged.is_empty() {
            return answers;
        }
        let commands: Vec<&Command> = logged.iter().map(|(_, c)| c).collect();
        let first = match self.log.append_batch(after, &commands) {
            Ok(first) if first > after => first,
            other => {
                let message = match other {
                    Ok(first) => format!("the log committed at index {first}, not after {after}"),
                    Err(e) => e.0,
                };
                let e = Error::Unavailable { message };
                answers.extend(logged.iter().map(|(t, _)| (*t, Err(e.clone()))));
                return answers;
            }
        };
        drop(commands);
        for ((ticket, cmd), index) in logged.into_iter().zip(first..) {
            *last = index;
            // Checked against the state before the batch only: apply
            // decides again, after the batch's earlier entries.
            answers.push((ticket, self.apply_at(index, cmd, false)));
        }
        answers
    }
}

/// Should the writer that leads a batch unwind (a panic in apply), its
/// batch's other writes are answered with an error and the queue is free
/// again, so that the writes behind it are not left waiting for ever.
struct Unwedge<'a> {
    store: &'a Store,
    /// The write that leads the batch (not always its first: a write that
    /// found the front lingering leads it).
    leader: u64,
    tickets: Vec<u64>,
    armed: bool,
}

impl Drop for Unwedge<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut q = self.store.write_queue.lock();
        for t in self.tickets.iter().filter(|t| **t != self.leader) {
            q.answers.entry(*t).or_insert_with(|| {
                Err(Error::Unavailable {
                    message: "the write failed inside ordu".into(),
                })
            });
        }
        q.busy = false;
        self.store.write_done.notify_all();
    }
}

/// Who makes a write: a client (through the store's API), or the store
/// itself (leader duties), whose write may wait for company.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Writer {
    Client,
    Store,
}

fn not_leader() -> Error {
    Error::Unavailable {
        message: "this server is not the leader".into(),
    }
}
