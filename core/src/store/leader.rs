//! Leader duties: the broker, the scheduling modes and the evaluations they
//! run, and what changes when a store starts or stops leading.

use super::*;

impl Store {
    /// After the broker was rebuilt from the state: what it holds counts as
    /// queued, whatever index earlier groups reached (a restored state may
    /// be older, a leader again may have applied nothing since). Under the
    /// scheduling lock, so that no group begun before the rebuild records
    /// its index afterwards.
    pub(super) fn requeue(&self) {
        let _guard = self.scheduling.lock();
        self.processed_upto.store(0, Ordering::SeqCst);
    }

    /// Whether this store leads: only a leader takes writes of its own, runs
    /// the broker and the schedulers; a follower applies what its log
    /// committed ([`Store::apply_committed`]) and serves reads. A store leads
    /// from the start unless the host says otherwise.
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::SeqCst)
    }

    /// Makes this store lead or follow, as its host's log says. Gaining
    /// leadership rebuilds the broker from the state (pending, blocked and
    /// delayed evaluations go on, as on Nomad's new leader); losing it drops
    /// the broker, and deliveries handed out before are refused.
    pub fn set_leader(&self, lead: bool) {
        let canceled = {
            let _turn = self.log_turn.lock();
            if self.leader.swap(lead, Ordering::SeqCst) == lead {
                return;
            }
            if lead {
                self.rebuild_broker()
            } else {
                self.superseded.lock().clear();
                *self.broker.lock() = Broker::new(self.config.delivery_limit);
                // Nothing stays queued: the broker that held it is gone, and
                // a leader this store becomes again queues from the state.
                let queued = self.queued_upto.load(Ordering::SeqCst);
                self.processed_upto.fetch_max(queued, Ordering::SeqCst);
                Vec::new()
            }
        };
        if lead {
            self.requeue();
            self.cancel(canceled);
            self.run_inline();
        }
    }

    /// A broker holding the state's pending and blocked evaluations; returns
    /// those superseded on the way (to be written canceled). Called with the
    /// log turn held, so that no write's evaluations are queued twice.
    pub(super) fn rebuild_broker(&self) -> Vec<Arc<Evaluation>> {
        let evals: Vec<_> = self.state.read().evals().cloned().collect();
        self.superseded.lock().clear();
        let mut b = self.broker.lock();
        *b = Broker::new(self.config.delivery_limit);
        if !self.is_leader() {
            return Vec::new();
        }
        evals.into_iter().flat_map(|e| b.enqueue(e)).collect()
    }

    /// Writes superseded evaluations as canceled.
    pub(super) fn cancel(&self, evals: Vec<Arc<Evaluation>>) {
        self.finish_evals(evals, EvalStatus::Canceled, "");
    }

    fn finish_evals(&self, evals: Vec<Arc<Evaluation>>, status: EvalStatus, why: &str) {
        if evals.is_empty() {
            return;
        }
        let now = self.clock.now();
        let evals: Vec<Evaluation> = evals
            .into_iter()
            .map(|e| Evaluation {
                status,
                status_description: why.to_string(),
                modify_time: now,
                ..(*e).clone()
            })
            .collect();
        let n = evals.len() as u64;
        // Terminal updates cannot conflict.
        let written = self.commit_own(Command::EvalUpsert { evals }).is_ok();
        if written && status == EvalStatus::Canceled {
            // Collected every so many cancels, not on the host's timer: a
            // busy server cancels tens of thousands a minute. The scan is of
            // every evaluation, so its cost is spread over that many writes.
            let since = self.canceled_since_collect.fetch_add(n, Ordering::Relaxed) + n;
            if since >= CANCELED_COLLECT_EVERY {
                self.canceled_since_collect.store(0, Ordering::Relaxed);
                let _ = self.collect_canceled();
            }
        }
    }

    // ---- scheduling ----

    /// Processes every ready evaluation when the store schedules inline.
    /// After a write: what its scheduling mode does with its evaluations.
    pub(super) fn run_inline(&self) {
        match self.config.mode {
            SchedulingMode::Inline => self.process_ready(),
            SchedulingMode::Grouped => {
                let mine = self.index();
                self.queued_upto.fetch_max(mine, Ordering::SeqCst);
                self.process_groups(mine);
            }
            // Recorded before the write answers, so that every read after
            // the answer finds it behind and processes it first.
            SchedulingMode::Queued => {
                self.queued_upto.fetch_max(self.index(), Ordering::SeqCst);
            }
            SchedulingMode::Manual => {}
        }
    }

    /// Whether writes queued evaluations not yet processed (grouped and
    /// queued modes). Never on a follower: it has no broker, so nothing it
    /// could process, and a read there must not wait for work that only a
    /// leader does.
    fn behind(&self) -> bool {
        self.is_leader()
            && self.processed_upto.load(Ordering::SeqCst) < self.queued_upto.load(Ordering::SeqCst)
    }

    /// Whether writes answered so far left evaluations that no group has
    /// processed yet (queued and grouped modes; always false in inline and
    /// manual modes, and on a follower, which processes nothing). A queued
    /// host calls [`Store::process_queued`] when it is true; reads do it
    /// themselves otherwise.
    pub fn processing_behind(&self) -> bool {
        self.behind()
    }

    /// Queued mode: processes, on this thread, the evaluations of every
    /// write answered so far, as one group (see [`SchedulingMode::Queued`]):
    /// one thread at a time, under the lock scheduler runs take; a call
    /// that finds a group in progress waits for it, and does nothing more
    /// when that group covered the writes queued when the call began.
    /// Evaluations of one job queued by several writes coalesce as in the
    /// broker: one runs at a time, the newest of those waiting behind it
    /// runs next, and the others are written canceled without running.
    ///
    /// Returns the index up to which queued writes are now processed (all
    /// writes at or below it had their evaluations processed). On a
    /// follower it processes nothing and returns at once. Works in grouped
    /// mode too; in inline and manual modes nothing is queued.
    pub fn process_queued(&self) -> u64 {
        if self.is_leader() {
            self.process_groups(self.queued_upto.load(Ordering::SeqCst));
        }
        self.processed_upto.load(Ordering::SeqCst)
    }

    /// Grouped and queued modes, for the write at `mine`: waits for the
    /// group in progress, then processes the next one unless it already
    /// took `mine` in. A thread never works past its own write's group, so
    /// a steady stream of writes cannot keep one writer processing forever.
    fn process_groups(&self, mine: u64) {
        if self.processed_upto.load(Ordering::SeqCst) >= mine {
            return;
        }
        let _guard = self.scheduling.lock();
        if self.processed_upto.load(Ordering::SeqCst) < mine {
            self.process_group();
        }
    }

    /// One group, with the scheduling lock held: everything queued up to
    /// now (the group's index is taken first, so it covers every write
    /// applied before). The plans it writes are not queued writes of their
    /// own.
    fn process_group(&self) {
        // Taken under the log turn: a write holds it until its evaluations
        // are in the broker, and the state's index moves before they are,
        // so an index read without it could name a write whose evaluations
        // this group then never sees.
        let upto = {
            let _turn = self.log_turn.lock();
            self.index()
        };
        let work = || {
            while let Some(d) = self.dequeue_now(&[]) {
                let _ = self.process_evaluation(&d);
            }
        };
        let ready = self.broker.lock().stats().0;
        let helpers = self.config.scheduler_workers.min(ready).saturating_sub(1);
        if helpers == 0 {
            work();
        } else {
            std::thread::scope(|s| {
                for _ in 0..helpers {
                    // A helper that cannot start leaves its share to the others.
                    let _ = std::thread::Builder::new()
                        .name("ordu-scheduler".into())
                        .spawn_scoped(s, work);
                }
                work();
            });
        }
        self.processed_upto.fetch_max(upto, Ordering::SeqCst);
    }

    /// Grouped and queued modes, before a read: waits for (or does) the
    /// processing of the writes answered before it. A no-op on a follower
    /// (see [`Store::behind`]).
    pub(super) fn read_barrier(&self) {
        if matches!(
            self.config.mode,
            SchedulingMode::Inline | SchedulingMode::Manual
        ) || !self.behind()
        {
            return;
        }
        self.process_groups(self.queued_upto.load(Ordering::SeqCst));
    }

    /// Processes ready (and due) evaluations on this thread until none is left.
    /// Inline stores call this on every write; a host may call it on a timer so
    /// that rolling-update follow-ups run when their wait is over.
    pub fn process_ready(&self) {
        let _guard = self.scheduling.lock();
        while let Some(d) = self.dequeue_now(&[]) {
            let _ = self.process_evaluation(&d);
        }
    }

    fn dequeue_now(&self, types: &[&str]) -> Option<Delivery> {
        if !self.is_leader() {
            return None;
        }
        let superseded = std::mem::take(&mut *self.superseded.lock());
        self.cancel(superseded);
        let now = self.clock.now();
        let timeout = i64::try_from(self.config.nack_timeout.as_nanos()).unwrap_or(i64::MAX);
        let (delivery, canceled, late) = {
            let mut b = self.broker.lock();
            let late = b.expire(now, timeout);
            let canceled = b.promote_due(now);
            (b.dequeue(types, self.ids.new_id(), now), canceled, late)
        };
        self.cancel(canceled);
        self.after_ack(late);
        delivery
    }

    /// Manual mode: the next ready evaluation of one of `types` (all when
    /// empty), waiting up to `wait` for one.
    pub fn dequeue_evaluation(&self, types: &[&str], wait: Duration) -> Option<Delivery> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(d) = self.dequeue_now(types) {
                return Some(d);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            // Evaluations arrive with writes; poll in short slices.
            std::thread::sleep((deadline - now).min(Duration::from_millis(5)));
        }
    }

    /// Runs the scheduler for a dequeued evaluation and returns its plan
    /// without applying it.
    pub fn plan_evaluation(&self, d: &Delivery) -> Result<Plan> {
        self.broker
            .lock()
            .check_token(&d.eval.id, &d.token)
            .map_err(conflict)?;
        let run = self.runs.fetch_add(1, Ordering::Relaxed);
        let seed = self.config.seed ^ run.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut new_id = || self.ids.new_id();
        let mut ctx = Context {
            now: self.clock.now(),
            seed,
            new_id: &mut new_id,
        };
        let st = self.state.read();
        Ok(scheduler::process(&st, &d.eval, &mut ctx))
    }

    /// Capacity appeared at `index`: every blocked evaluation is retried.
    pub(super) fn capacity_added(&self, index: u64) {
        // Recorded before the broker is told, so that a plan being submitted
        // concurrently either sees the index or has its blocked evaluation
        // already tracked (and so unblocked here).
        self.capacity_index.fetch_max(index, Ordering::SeqCst);
        let canceled = self.broker.lock().unblock_all();
        self.cancel(canceled);
    }

    /// Applies a plan for a dequeued evaluation (fenced by its token), then
    /// acks it. A plan that no longer fits is a conflict: plan again.
    pub fn submit_plan(&self, d: &Delivery, plan: Plan) -> Result<u64> {
        self.broker
            .lock()
            .check_token(&d.eval.id, &d.token)
            .map_err(conflict)?;
        let plan_evals: Vec<String> = plan.evals.iter().map(|e| e.id.clone()).collect();
        // The state the plan was made from: capacity added after it was not
        // seen, so a blocked evaluation it creates is retried at once.
        let snapshot = plan
            .evals
            .iter()
            .find(|e| e.id == d.eval.id)
            .map_or(0, |e| e.snapshot_index);
        let job_key = d.eval.job_key();
        // Stopped allocations give their room back at once (the scheduler
        // counts them out), whether or not a client ever reports them done.
        let frees = !plan.stops.is_empty();
        let applied = self.commit_own(Command::PlanApply { plan })?;
        let outcome = self
            .broker
            .lock()
            .ack(&d.eval.id, &d.token)
            .map_err(conflict)?;
        self.after_ack(outcome);
        // Blocked and follow-up evaluations of the plan enter the broker now
        // that the processed one has left it.
        let (evals, placed_all) = self.with_state(|s| {
            let evals: Vec<_> = plan_evals
                .iter()
                .filter_map(|id| s.eval(id).cloned())
                .collect();
            let placed_all = s
                .eval(&d.eval.id)
                .is_some_and(|e| e.status == EvalStatus::Complete && e.failed_tg_allocs.is_empty());
            (evals, placed_all)
        });
        let mut canceled = Vec::new();
        {
            let mut b = self.broker.lock();
            if placed_all && evals.iter().all(|e| e.status != EvalStatus::Blocked) {
                canceled.extend(b.untrack_blocked(&job_key).filter(|e| e.id != d.eval.id));
            }
            let blocks = evals.iter().any(|e| e.status == EvalStatus::Blocked);
            for e in evals {
                canceled.extend(b.enqueue(e));
            }
            if blocks && self.capacity_index.load(Ordering::SeqCst) > snapshot {
                canceled.extend(b.unblock(&job_key));
            }
        }
        self.cancel(canceled);
        if frees {
            self.capacity_added(applied.index);
        }
        Ok(applied.index)
    }

    /// Plans, submits and acks a dequeued evaluation; retries a plan that
    /// conflicts, and nacks after `MAX_PLAN_ATTEMPTS` (5) attempts.
    pub fn process_evaluation(&self, d: &Delivery) -> Result<u64> {
        let mut last = None;
        for _ in 0..MAX_PLAN_ATTEMPTS {
            let plan = self.plan_evaluation(d)?;
            match self.submit_plan(d, plan) {
                Ok(i) => return Ok(i),
                Err(e @ Error::Conflict { .. }) => last = Some(e),
                Err(e) => {
                    last = Some(e);
                    break;
                }
            }
        }
        self.nack_evaluation(d)?;
        Err(last.expect("at least one attempt"))
    }

    /// Acks a dequeued evaluation without a plan.
    pub fn ack_evaluation(&self, d: &Delivery) -> Result<()> {
        let outcome = self
            .broker
            .lock()
            .ack(&d.eval.id, &d.token)
            .map_err(conflict)?;
        self.after_ack(outcome);
        Ok(())
    }

    /// Gives a dequeued evaluation back: it is delivered again, or written
    /// `failed` once it reached the delivery limit.
    pub fn nack_evaluation(&self, d: &Delivery) -> Result<()> {
        let outcome = self
            .broker
            .lock()
            .nack(&d.eval.id, &d.token)
            .map_err(conflict)?;
        self.after_ack(outcome);
        Ok(())
    }

    fn after_ack(&self, outcome: Outcome) {
        self.cancel(outcome.canceled);
        let why = format!(
            "evaluation reached delivery limit ({})",
            self.config.delivery_limit
        );
        self.finish_evals(outcome.failed, EvalStatus::Failed, &why);
    }

    /// Broker counts: (ready, unacked, waiting, delayed, blocked).
    pub fn broker_stats(&self) -> (usize, usize, usize, usize, usize) {
        self.broker.lock().stats()
    }
}

#[cfg(test)]
mod grouped_tests {
    use std::sync::mpsc;

    use super::*;

    /// A write in grouped mode waits for the group in progress and returns
    /// with its evaluation processed; a read made meanwhile waits too, and
    /// sees it processed.
    #[test]
    fn writes_and_reads_wait_for_the_group_in_progress() {
        let store = Arc::new(Store::new(Config {
            mode: SchedulingMode::Grouped,
            ..Config::default()
        }));
        let node = br#"{"Node":{"ID":"n1","Name":"n1","Datacenter":"dc1","Status":"ready",
            "Attributes":{"driver.exec":"1"},"Resources":{"CPU":4000,"MemoryMB":8192}}}"#;
        crate::host::register_node_at(&store, None, node, None).unwrap();
        let before = store.index();
        let group = store.scheduling.lock();
        let (tx, rx) = mpsc::channel();
        {
            let store = store.clone();
            std::thread::spawn(move || {
                let body = br#"{"Job":{"ID":"web","Datacenters":["dc1"],"TaskGroups":[{"Name":"g",
                    "Tasks":[{"Name":"t","Driver":"exec"}]}]}}"#;
                let reply = crate::host::register_job(
                    &store,
                    body,
                    &crate::host::write_options(None, None),
                )
                .unwrap();
                tx.send(reply.body).unwrap();
            });
        }
        // The write applied, and waits for the group.
        let deadline = Instant::now() + Duration::from_secs(5);
        while store.with_state(|s| s.index()) == before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let id = store.with_state(|s| {
            let e = s.evals().next().expect("the write applied").clone();
            assert_eq!(e.status, EvalStatus::Pending);
            e.id.clone()
        });
        let (read_tx, read_rx) = mpsc::channel();
        {
            let (store, id) = (store.clone(), id.clone());
            std::thread::spawn(move || {
                let e = store.evaluation(&id, &QueryOptions::default()).unwrap();
                read_tx.send(e.value.status).unwrap();
            });
        }
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            rx.try_recv().is_err(),
            "the write did not wait for its group"
        );
        assert!(
            read_rx.try_recv().is_err(),
            "a read did not wait for the group"
        );
        drop(group);
        let reply = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(reply.contains(&id), "{reply}");
        assert_eq!(
            store.with_state(|s| s.eval(&id).unwrap().status),
            EvalStatus::Complete
        );
        let seen = read_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(seen, EvalStatus::Complete);
    }
}
