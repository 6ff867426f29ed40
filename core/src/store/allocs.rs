//! Client updates of allocations, and garbage collection of what is terminal.

use super::*;

impl Store {
    // ---- allocations ----

    /// Records what a client reports about an allocation: only `ClientStatus`,
    /// `ClientDescription` and `TaskStates` change. A failed or lost allocation
    /// gets its job evaluated so it is replaced; capacity freed unblocks
    /// blocked evaluations.
    pub fn update_alloc_client(&self, update: AllocClientUpdate) -> Result<u64> {
        validate_alloc_update(&update)?;
        let (evals, frees) = self.with_state(|s| {
            let Some(a) = s.alloc(&update.id) else {
                return (Vec::new(), false);
            };
            let becomes_terminal = !a.is_terminal()
                && AllocClientStatus::parse(&update.client_status)
                    .is_some_and(AllocClientStatus::is_terminal);
            let mut evals = Vec::new();
            if becomes_terminal {
                // A failed or lost allocation is replaced; so is a finished
                // one of a service or system job, which should be running. A
                // finished batch allocation is done: nothing to evaluate.
                if let Some(job) = s.job(&a.namespace, &a.job_id) {
                    let finished = update.client_status == AllocClientStatus::Complete;
                    if !finished || job.job_type != crate::structs::JOB_TYPE_BATCH {
                        evals.push(self.new_eval(job, TRIGGER_ALLOC_FAILURE));
                    }
                }
            }
            (evals, becomes_terminal)
        });
        let applied = self.commit(Command::AllocClientUpdate {
            updates: vec![update],
            evals,
            time: self.clock.now(),
        })?;
        if frees {
            self.capacity_added(applied.index);
        }
        self.run_inline();
        Ok(applied.index)
    }

    /// Stops an allocation as Nomad 1.x does: one entry marks it to migrate
    /// (`DesiredTransition.Migrate`) and creates an `alloc-stop` evaluation
    /// of its job, whose scheduler run stops it and, while the job still
    /// wants it, places a replacement (elsewhere if its node takes no new
    /// work; a system job's is placed again on the same node). An unknown
    /// allocation is [`Error::NotFound`] with `what` `allocation`
    /// (`Unknown allocation "<id>"`).
    pub fn stop_allocation(&self, id: &str, opts: &WriteOptions) -> Result<AllocStopResponse> {
        self.check_region(opts.region.as_deref())?;
        let not_found = |index| Error::NotFound {
            what: "allocation",
            id: id.to_string(),
            index,
        };
        let a = self
            .with_state(|s| s.alloc(id).cloned().ok_or(s.allocs_index()))
            .map_err(not_found)?;
        // The allocation's own job, as Nomad's: it may be a later version
        // than the stored one, or the job may be gone.
        let eval = self.new_eval(&a.job, TRIGGER_ALLOC_STOP);
        let eval_id = eval.id.clone();
        let applied = self.commit(Command::AllocUpdateDesiredTransition {
            allocs: vec![id.to_string()],
            transition: DesiredTransition {
                migrate: Some(true),
                ..DesiredTransition::default()
            },
            evals: vec![eval],
            time: self.clock.now(),
        })?;
        self.run_inline();
        Ok(AllocStopResponse {
            eval_id,
            index: applied.index,
        })
    }

    // ---- garbage collection ----

    /// Removes terminal evaluations last modified before `older_than` (unix ns)
    /// whose allocations are all terminal, together with those allocations, and
    /// terminal allocations of jobs that no longer exist, and stopped jobs
    /// ([`DeregisterMode::Stop`]) stopped before `older_than` whose
    /// evaluations and allocations are all terminal, with those. The host decides when
    /// and with what threshold. Returns the index of the write, or `None` when
    /// there was nothing to collect.
    pub fn garbage_collect(&self, older_than: i64) -> Result<Option<u64>> {
        let (evals, allocs, jobs) = self.with_state(|s| {
            let canceled = self.canceled_beyond_kept(s);
            let mut evals = canceled.clone();
            let mut allocs = Vec::new();
            // Stopped jobs whose stop is old enough and whose work is all
            // done go, with their evaluations and allocations.
            let mut jobs = Vec::new();
            for j in s.jobs().filter(|j| j.stop && j.submit_time < older_than) {
                let (job_evals, job_allocs) = (
                    s.evals_by_job(&j.namespace, &j.id),
                    s.allocs_by_job(&j.namespace, &j.id),
                );
                if job_evals.iter().all(|e| e.is_terminal())
                    && job_allocs.iter().all(|a| a.is_terminal())
                {
                    jobs.push(JobRef::new(&j.namespace, &j.id));
                    evals.extend(job_evals.iter().map(|e| e.id.clone()));
                    allocs.extend(job_allocs.iter().map(|a| a.id.clone()));
                }
            }
            for e in s.evals() {
                if !e.is_terminal()
                    || e.modify_time >= older_than
                    || canceled.binary_search(&e.id).is_ok()
                {
                    continue;
                }
                let eval_allocs: Vec<_> = s
                    .allocs_by_job(&e.namespace, &e.job_id)
                    .into_iter()
                    .filter(|a| a.eval_id == e.id)
                    .collect();
                if eval_allocs
                    .iter()
                    .all(|a| a.is_terminal() && a.modify_time < older_than)
                {
                    evals.push(e.id.clone());
                    allocs.extend(eval_allocs.iter().map(|a| a.id.clone()));
                }
            }
            for a in s.allocs() {
                if a.is_terminal()
                    && a.modify_time < older_than
                    && s.job(&a.namespace, &a.job_id).is_none()
                {
                    allocs.push(a.id.clone());
                }
            }
            allocs.sort();
            allocs.dedup();
            evals.sort();
            evals.dedup();
            (evals, allocs, jobs)
        });
        if evals.is_empty() && allocs.is_empty() && jobs.is_empty() {
            return Ok(None);
        }
        let applied = self.commit(Command::GarbageCollect {
            evals,
            allocs,
            jobs,
        })?;
        Ok(Some(applied.index))
    }

    /// Removes, of each job's canceled evaluations without allocations, all
    /// but the newest [`Config::canceled_evals_kept`], whatever their age: a
    /// host calls it often (it costs a scan of the evaluations) so that
    /// re-registers coalesced by the broker do not pile up until the age
    /// threshold of [`Store::garbage_collect`]. The choice is made here, on
    /// the proposing side, and the write names what it removes, so every
    /// replica applying it agrees. Returns the index of the write, or `None`
    /// when there was nothing to collect.
    pub fn collect_canceled(&self) -> Result<Option<u64>> {
        let evals = self.with_state(|s| self.canceled_beyond_kept(s));
        if evals.is_empty() {
            return Ok(None);
        }
        let applied = self.commit(Command::GarbageCollect {
            evals,
            allocs: Vec::new(),
            jobs: Vec::new(),
        })?;
        Ok(Some(applied.index))
    }

    /// The canceled evaluations without allocations beyond the newest kept
    /// per job, sorted.
    fn canceled_beyond_kept(&self, s: &State) -> Vec<String> {
        let mut by_job: HashMap<(&str, &str), Vec<&Arc<Evaluation>>> = HashMap::new();
        for e in s.evals() {
            if e.status == EvalStatus::Canceled {
                by_job
                    .entry((e.namespace.as_str(), e.job_id.as_str()))
                    .or_default()
                    .push(e);
            }
        }
        let mut out = Vec::new();
        for (job, mut canceled) in by_job {
            if canceled.len() <= self.config.canceled_evals_kept {
                continue;
            }
            // Newest first; the ID breaks ties so the choice is the same
            // whatever order the table iterates in.
            canceled.sort_by(|a, b| (b.create_index, &b.id).cmp(&(a.create_index, &a.id)));
            let allocs = s.allocs_by_job(job.0, job.1);
            out.extend(
                canceled[self.config.canceled_evals_kept..]
                    .iter()
                    .filter(|e| !allocs.iter().any(|a| a.eval_id == e.id))
                    .map(|e| e.id.clone()),
            );
        }
        out.sort();
        out
    }
}
