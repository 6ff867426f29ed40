//! The evaluation broker: pending evaluations in priority order, at most one per
//! job in flight, newer pending ones coalesced, delivery limits, and the blocked
//! evaluations waiting for capacity.
//!
//! The broker is leader state, not replicated state: it is rebuilt from the
//! stored evaluations when a store restores a state ([`crate::Store::restore`])
//! and never read by `apply`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::structs::{EvalStatus, Evaluation};

/// Ready-queue order: higher priority first, then older (lower create index).
type ReadyKey = (Reverse<i64>, u64, String);

/// An evaluation handed to a worker.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The evaluation.
    pub eval: Arc<Evaluation>,
    /// Fences ack, nack and plan submission to this delivery.
    pub token: String,
    /// How many times it has been handed out, this time included.
    pub attempt: u32,
}

/// What the broker wants done after an ack or nack.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    /// Evaluations superseded by a newer one of the same job: write them `canceled`.
    pub canceled: Vec<Arc<Evaluation>>,
    /// Evaluations over the delivery limit: write them `failed`.
    pub failed: Vec<Arc<Evaluation>>,
}

/// The broker. Not thread-safe by itself: the store guards it with a lock.
#[derive(Debug, Default)]
pub struct Broker {
    delivery_limit: u32,
    ready: BTreeSet<ReadyKey>,
    evals: HashMap<String, Arc<Evaluation>>,
    /// Jobs with an evaluation ready or out with a worker, and which one.
    in_flight: HashMap<String, String>,
    /// The newest evaluation waiting behind the in-flight one, per job.
    waiting: HashMap<String, Arc<Evaluation>>,
    /// Evaluations held until a due time (unix ns): rolling follow-ups.
    delayed: BTreeMap<(i64, String), Arc<Evaluation>>,
    /// Evaluations out with a worker: token, attempt, and when it was handed
    /// out (unix ns).
    unacked: HashMap<String, (String, u32, i64)>,
    deliveries: HashMap<String, u32>,
    /// Blocked evaluations waiting for capacity, one per job.
    blocked: HashMap<String, Arc<Evaluation>>,
}

impl Broker {
    /// An empty broker that fails an evaluation after `delivery_limit` nacks.
    pub fn new(delivery_limit: u32) -> Self {
        Broker {
            delivery_limit: delivery_limit.max(1),
            ..Broker::default()
        }
    }

    /// Takes in an evaluation written to the state: pending ones are queued
    /// (or held until `now >= CreateTime + Wait`), blocked ones tracked. Returns
    /// evaluations this one supersedes.
    pub fn enqueue(&mut self, eval: Arc<Evaluation>) -> Vec<Arc<Evaluation>> {
        match eval.status {
            EvalStatus::Pending if eval.wait > 0 => {
                let due = eval.create_time.saturating_add(eval.wait);
                self.delayed.insert((due, eval.id.clone()), eval);
                Vec::new()
            }
            EvalStatus::Pending => self.make_ready(eval),
            EvalStatus::Blocked => self.block(eval),
            _ => Vec::new(),
        }
    }

    fn block(&mut self, eval: Arc<Evaluation>) -> Vec<Arc<Evaluation>> {
        if self.evals.contains_key(&eval.id) {
            // Being processed: a re-block comes back through `ack`.
            return Vec::new();
        }
        match self.blocked.insert(eval.job_key(), eval.clone()) {
            Some(old) if old.id != eval.id => vec![old],
            _ => Vec::new(),
        }
    }

    fn make_ready(&mut self, eval: Arc<Evaluation>) -> Vec<Arc<Evaluation>> {
        if self.evals.contains_key(&eval.id) {
            return Vec::new();
        }
        match self.in_flight.get(&eval.job_key()) {
            Some(current) if current != &eval.id => {
                // Only the newest waiting evaluation matters; older ones are canceled.
                match self.waiting.insert(eval.job_key(), eval) {
                    Some(old) => vec![old],
                    None => Vec::new(),
                }
            }
            _ => {
                self.in_flight.insert(eval.job_key(), eval.id.clone());
                self.ready
                    .insert((Reverse(eval.priority), eval.create_index, eval.id.clone()));
                self.evals.insert(eval.id.clone(), eval);
                Vec::new()
            }
        }
    }

    /// Moves held evaluations whose time has come into the ready queue.
    pub fn promote_due(&mut self, now: i64) -> Vec<Arc<Evaluation>> {
        let mut canceled = Vec::new();
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let eval = entry.remove();
            canceled.extend(self.make_ready(eval));
        }
        canceled
    }

    /// The next ready evaluation of one of `types` (all types when empty),
    /// handed out at `now` (unix ns).
    pub fn dequeue(&mut self, types: &[&str], token: String, now: i64) -> Option<Delivery> {
        let key = self
            .ready
            .iter()
            .find(|(_, _, id)| {
                types.is_empty() || types.contains(&self.evals[id].eval_type.as_str())
            })?
            .clone();
        self.ready.remove(&key);
        let eval = self.evals[&key.2].clone();
        let n = self.deliveries.entry(eval.id.clone()).or_default();
        *n += 1;
        let attempt = *n;
        self.unacked
            .insert(eval.id.clone(), (token.clone(), attempt, now));
        Some(Delivery {
            eval,
            token,
            attempt,
        })
    }

    /// True when there is something to dequeue.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Checks that `eval_id` is out with the holder of `token`.
    pub fn check_token(&self, eval_id: &str, token: &str) -> Result<(), String> {
        match self.unacked.get(eval_id) {
            None => Err(format!("evaluation {eval_id} is not outstanding")),
            Some((t, _, _)) if t != token => Err("evaluation token does not match".into()),
            Some(_) => Ok(()),
        }
    }

    /// The evaluation is done: frees the job's slot and readies the next one.
    pub fn ack(&mut self, eval_id: &str, token: &str) -> Result<Outcome, String> {
        self.check_token(eval_id, token)?;
        self.unacked.remove(eval_id);
        self.deliveries.remove(eval_id);
        let eval = self.evals.remove(eval_id).expect("unacked evals are known");
        self.in_flight.remove(&eval.job_key());
        let mut out = Outcome::default();
        if let Some(next) = self.waiting.remove(&eval.job_key()) {
            out.canceled.extend(self.make_ready(next));
        }
        Ok(out)
    }

    /// The evaluation failed to process: queue it again, or past the delivery
    /// limit give it up (the caller writes it `failed`).
    pub fn nack(&mut self, eval_id: &str, token: &str) -> Result<Outcome, String> {
        self.check_token(eval_id, token)?;
        let (_, attempt, _) = self.unacked.remove(eval_id).expect("checked");
        Ok(self.give_back(eval_id, attempt))
    }

    /// A delivery ended without an ack: queue the evaluation again, or past
    /// the delivery limit give it up.
    fn give_back(&mut self, eval_id: &str, attempt: u32) -> Outcome {
        let eval = self.evals[eval_id].clone();
        if attempt >= self.delivery_limit {
            let mut out = self.ack_unchecked(&eval);
            out.failed.push(eval);
            return out;
        }
        self.ready
            .insert((Reverse(eval.priority), eval.create_index, eval.id.clone()));
        Outcome::default()
    }

    /// Deliveries handed out `timeout` (ns) or more before `now` and neither
    /// acked nor nacked count as nacked, as Nomad's nack timeout does: a
    /// worker that died or hung does not hold its job's evaluations up for
    /// ever. Their tokens stop working.
    pub fn expire(&mut self, now: i64, timeout: i64) -> Outcome {
        let mut late: Vec<(String, u32)> = self
            .unacked
            .iter()
            .filter(|(_, (_, _, at))| now.saturating_sub(*at) >= timeout)
            .map(|(id, (_, attempt, _))| (id.clone(), *attempt))
            .collect();
        let mut out = Outcome::default();
        if late.is_empty() {
            return out;
        }
        late.sort();
        for (id, attempt) in late {
            self.unacked.remove(&id);
            let o = self.give_back(&id, attempt);
            out.canceled.extend(o.canceled);
            out.failed.extend(o.failed);
        }
        out
    }

    fn ack_unchecked(&mut self, eval: &Evaluation) -> Outcome {
        self.evals.remove(&eval.id);
        self.deliveries.remove(&eval.id);
        self.in_flight.remove(&eval.job_key());
        let mut out = Outcome::default();
        if let Some(next) = self.waiting.remove(&eval.job_key()) {
            out.canceled.extend(self.make_ready(next));
        }
        out
    }

    /// Capacity changed: every blocked evaluation goes back to the ready
    /// queue. Returns the evaluations this supersedes (an older one waiting
    /// behind an in-flight evaluation of the same job), to be canceled.
    pub fn unblock_all(&mut self) -> Vec<Arc<Evaluation>> {
        let mut blocked: Vec<_> = self.blocked.drain().map(|(_, e)| e).collect();
        // In creation order, so the ready queue's order does not depend on
        // the map's.
        blocked.sort_by_key(|e| (e.create_index, e.id.clone()));
        let mut canceled = Vec::new();
        for e in blocked {
            // Unblocked evaluations are processed like pending ones.
            canceled.extend(self.make_ready(e));
        }
        canceled
    }

    /// Capacity appeared that the job's blocked evaluation did not see:
    /// it goes back to the ready queue. Returns the evaluations this
    /// supersedes, to be canceled.
    pub fn unblock(&mut self, job_key: &str) -> Vec<Arc<Evaluation>> {
        match self.blocked.remove(job_key) {
            Some(e) => self.make_ready(e),
            None => Vec::new(),
        }
    }

    /// Stops tracking the job's blocked evaluation (a newer evaluation placed
    /// everything, or the job is gone). Returns it, to be canceled.
    pub fn untrack_blocked(&mut self, job_key: &str) -> Option<Arc<Evaluation>> {
        self.blocked.remove(job_key)
    }

    /// The blocked evaluation tracked for a job.
    pub fn blocked(&self, job_key: &str) -> Option<&Arc<Evaluation>> {
        self.blocked.get(job_key)
    }

    /// Counts for tests and metrics: (ready, unacked, waiting, delayed, blocked).
    pub fn stats(&self) -> (usize, usize, usize, usize, usize) {
        (
            self.ready.len(),
            self.unacked.len(),
            self.waiting.len(),
            self.delayed.len(),
            self.blocked.len(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, job: &str, prio: i64, idx: u64) -> Arc<Evaluation> {
        Arc::new(Evaluation {
            id: id.into(),
            job_id: job.into(),
            priority: prio,
            create_index: idx,
            eval_type: "service".into(),
            status: EvalStatus::Pending,
            ..Evaluation::default()
        })
    }

    #[test]
    fn priority_then_age() {
        let mut b = Broker::new(3);
        b.enqueue(ev("a", "j1", 50, 1));
        b.enqueue(ev("b", "j2", 70, 2));
        b.enqueue(ev("c", "j3", 50, 0));
        let order: Vec<_> = (0..3)
            .map(|i| b.dequeue(&[], i.to_string(), 0).unwrap().eval.id.clone())
            .collect();
        assert_eq!(order, ["b", "c", "a"]);
    }

    #[test]
    fn one_per_job_and_coalescing() {
        let mut b = Broker::new(3);
        b.enqueue(ev("a", "j", 50, 1));
        assert!(b.enqueue(ev("b", "j", 50, 2)).is_empty());
        let superseded = b.enqueue(ev("c", "j", 50, 3));
        assert_eq!(superseded[0].id, "b", "older waiting eval is canceled");
        let d = b.dequeue(&[], "t".into(), 0).unwrap();
        assert!(
            b.dequeue(&[], "u".into(), 0).is_none(),
            "one in flight per job"
        );
        b.ack(&d.eval.id, "t").unwrap();
        assert_eq!(b.dequeue(&[], "v".into(), 0).unwrap().eval.id, "c");
    }

    #[test]
    fn delivery_limit_fails() {
        let mut b = Broker::new(2);
        b.enqueue(ev("a", "j", 50, 1));
        let d = b.dequeue(&[], "1".into(), 0).unwrap();
        assert!(b.nack(&d.eval.id, "bad").is_err(), "token fences nack");
        assert!(b.nack("a", "1").unwrap().failed.is_empty());
        let d = b.dequeue(&[], "2".into(), 0).unwrap();
        assert_eq!(d.attempt, 2);
        let out = b.nack("a", "2").unwrap();
        assert_eq!(out.failed[0].id, "a");
        assert!(b.dequeue(&[], "3".into(), 0).is_none());
    }

    #[test]
    fn late_deliveries_are_given_back() {
        let mut b = Broker::new(2);
        b.enqueue(ev("a", "j", 50, 1));
        b.enqueue(ev("b", "k", 50, 2));
        let a = b.dequeue(&[], "1".into(), 100).unwrap();
        let bd = b.dequeue(&[], "2".into(), 150).unwrap();
        assert_eq!(b.expire(159, 10), Outcome::default(), "b is not late yet");
        assert_eq!(b.stats().1, 1, "a was given back");
        assert!(b.ack(&a.eval.id, "1").is_err(), "a's old token is dead");
        let again = b.dequeue(&[], "3".into(), 160).unwrap();
        assert_eq!((again.eval.id.as_str(), again.attempt), ("a", 2));
        b.ack(&bd.eval.id, "2").unwrap();
        // The second delivery of a is the last one: late, it fails.
        let out = b.expire(170, 10);
        assert_eq!(out.failed.len(), 1);
        assert_eq!(out.failed[0].id, "a");
        assert_eq!(b.stats(), (0, 0, 0, 0, 0));
    }
}
