//! The log seam: a write is checked, handed to the host's [`Log`], and
//! applied at the index it gives; entries a log committed elsewhere, and
//! snapshots, come in here too. See [`crate::log`] for the why.

use super::*;

impl Store {
    /// Replaces the state (a snapshot restored or replayed), re-queues its
    /// pending and blocked evaluations, and wakes every waiter.
    pub fn restore(&self, state: State) {
        let canceled = {
            // No append in flight while the state is swapped; the log's last
            // index stays (indexes never go back).
            let _turn = self.log_turn.lock();
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
        Ok(applied?.index)
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

    /// Hands `cmd` to the log and, once it committed, applies it at the index
    /// the log gave, wakes its waiters and queues its evaluations. A log that
    /// refuses changes nothing. The state's lock is taken only to apply, so
    /// readers go on while the log works.
    pub(super) fn commit(&self, cmd: Command) -> Result<Applied> {
        let mut last = self.log_turn.lock();
        if !self.is_leader() {
            return Err(Error::Unavailable {
                message: "this server is not the leader".into(),
            });
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
