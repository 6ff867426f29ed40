//! Carrying out a command: [`Tx`] makes every mutation, keeping the
//! derived lookups, the indexes and the watch keys in step with the tables.

use super::*;

/// The job a register of `job` at `index` stores over `existing`: `None`
/// when the spec is the same (the stored job stays as it is), else the job
/// with the indexes, version and status the register gives it. One rule for
/// apply and for a dry run ([`State::job_as_registered`]).
pub(super) fn as_registered(
    existing: Option<&Arc<Job>>,
    job: Cow<'_, Job>,
    index: u64,
) -> Option<Job> {
    if existing.is_some_and(|old| old.same_spec(&job)) {
        return None;
    }
    let mut j = job.into_owned();
    j.create_index = existing.map_or(index, |o| o.create_index);
    j.modify_index = index;
    j.job_modify_index = index;
    j.version = existing.map_or(0, |o| o.version + 1);
    j.status = existing.map_or(JOB_STATUS_PENDING.to_string(), |o| o.status.clone());
    j.status_description.clear();
    Some(j)
}

/// One command being applied: every mutation goes through here so that the
/// indexes and watch keys stay in step with the tables.
pub(super) struct Tx<'a> {
    pub(super) state: &'a mut State,
    pub(super) index: u64,
    pub(super) applied: Applied,
    pub(super) jobs_to_status: BTreeSet<String>,
}

impl Tx<'_> {
    pub(super) fn run(&mut self, cmd: &Command) {
        match cmd {
            Command::JobRegister { job, eval, .. } => {
                self.job_register(Cow::Borrowed(job), eval.clone())
            }
            Command::JobDeregister { job_id, eval } => {
                let key = job_key(&eval.namespace, job_id);
                if let Some(old) = self.state.jobs.remove(&key) {
                    self.applied.changes.push(Change::Job(old));
                }
                self.state.job_versions.remove(&key);
                self.touch_job(&key);
                self.upsert_eval(eval.clone());
            }
            Command::EvalUpsert { evals } => self.upsert_evals(evals),
            Command::PlanApply { plan } => self.plan_apply(plan.clone()),
            Command::NodeRegister { node, evals } => {
                self.node_register(node);
                self.upsert_evals(evals);
            }
            Command::NodeDeregister { node_id, evals } => {
                if let Some(old) = self.state.nodes.remove(node_id) {
                    self.applied.changes.push(Change::Node(old));
                }
                self.touch_node(node_id);
                self.upsert_evals(evals);
            }
            Command::NodeUpdateStatus {
                node_id,
                status,
                evals,
            } => {
                self.update_node(node_id, |n| n.status = status.clone());
                self.upsert_evals(evals);
            }
            Command::NodeUpdateDrain {
                node_id,
                drain,
                evals,
            } => {
                self.update_node(node_id, |n| n.drain = *drain);
                self.upsert_evals(evals);
            }
            Command::AllocClientUpdate {
                updates,
                evals,
                time,
            } => {
                for u in updates {
                    self.client_update(u, *time);
                }
                self.upsert_evals(evals);
            }
            Command::AllocUpdateDesiredTransition {
                allocs,
                transition,
                evals,
                time,
            } => {
                for id in allocs {
                    self.desired_transition(id, transition, *time);
                }
                self.upsert_evals(evals);
            }
            Command::NodeUpdateEligibility {
                node_id,
                eligibility,
                evals,
            } => {
                self.update_node(node_id, |n| n.scheduling_eligibility = eligibility.clone());
                self.upsert_evals(evals);
            }
            Command::NodeUpdateDrainStrategy {
                node_id,
                drain_strategy,
                mark_eligible,
                migrate,
                evals,
                time,
            } => {
                self.update_node(node_id, |n| {
                    n.drain = drain_strategy.is_some();
                    n.drain_strategy = drain_strategy.clone();
                    if drain_strategy.is_some() {
                        n.scheduling_eligibility = NODE_INELIGIBLE.to_string();
                    } else if *mark_eligible {
                        n.scheduling_eligibility = NODE_ELIGIBLE.to_string();
                    }
                });
                let ask = DesiredTransition {
                    migrate: Some(true),
                    ..DesiredTransition::default()
                };
                for id in migrate {
                    self.desired_transition(id, &ask, *time);
                }
                self.upsert_evals(evals);
            }
            Command::JobStability {
                namespace,
                job_id,
                version,
                stable,
            } => self.job_stability(&job_key(namespace, job_id), *version, *stable),
            Command::NamespaceUpsert { namespaces } => {
                for n in namespaces {
                    self.namespace_upsert(n);
                }
            }
            Command::NamespaceDelete { names } => {
                for name in names {
                    self.namespace_delete(name);
                }
            }
            Command::GarbageCollect {
                evals,
                allocs,
                jobs,
            } => {
                for id in evals {
                    self.delete_eval(id);
                }
                for id in allocs {
                    self.delete_alloc(id);
                }
                for job in jobs {
                    let key = job.key();
                    // Registered again since it was chosen: it lives on.
                    if self.state.jobs.get(&key).is_some_and(|j| j.stop) {
                        if let Some(old) = self.state.jobs.remove(&key) {
                            self.applied.changes.push(Change::Job(old));
                        }
                        self.state.job_versions.remove(&key);
                        self.touch_job(&key);
                    }
                }
            }
        }
    }

    /// [`Tx::run`] for a command given up: what it carries moves into the
    /// tables.
    pub(super) fn run_owned(&mut self, cmd: Command) {
        match cmd {
            Command::JobRegister { job, eval, .. } => self.job_register(Cow::Owned(job), eval),
            Command::PlanApply { plan } => self.plan_apply(plan),
            Command::EvalUpsert { evals } => {
                for e in evals {
                    self.upsert_eval(e);
                }
            }
            other => self.run(&other),
        }
    }

    pub(super) fn finish(mut self) -> Applied {
        let jobs = std::mem::take(&mut self.jobs_to_status);
        for id in jobs {
            self.refresh_job_status(&id);
        }
        // The lists of every evaluation and every allocation: one key each,
        // however many rows the command wrote.
        if self.state.tables.evals == self.index {
            self.applied.keys.push(keys::evals());
        }
        if self.state.tables.allocs == self.index {
            self.applied.keys.push(keys::allocs());
        }
        self.applied.keys.sort_unstable();
        self.applied.keys.dedup();
        dedup_changes(&mut self.applied.changes);
        self.applied
    }

    // ---- indexes and keys ----

    /// `key`: the job's table key, as for every job-keyed table below.
    fn touch_job(&mut self, key: &str) {
        self.state
            .job_indexes
            .entry(key.to_string())
            .or_default()
            .job = self.index;
        self.state.tables.jobs = self.index;
        self.applied.keys.push(keys::job(key));
        self.applied.keys.push(keys::jobs());
    }

    fn touch_job_evals(&mut self, job_key: &str) {
        ordered_entry_mut(&mut self.state.job_indexes, job_key).evals = self.index;
        self.state.tables.evals = self.index;
        self.applied.keys.push(keys::job_evals(job_key));
    }

    /// Runs for every allocation a command writes (a plan writes thousands
    /// of the same job): no key is cloned for an entry that exists.
    fn touch_alloc(&mut self, a: &Allocation) {
        let job = a.job_key();
        ordered_entry_mut(&mut self.state.job_indexes, &job).allocs = self.index;
        self.state.tables.allocs = self.index;
        self.applied.keys.push(keys::alloc(&a.id));
        self.applied.keys.push(keys::job_allocs(&job));
        if !a.eval_id.is_empty() {
            self.applied.keys.push(keys::eval_allocs(&a.eval_id));
        }
        if !a.node_id.is_empty() {
            ordered_entry_mut(&mut self.state.node_indexes, &a.node_id).allocs = self.index;
            self.applied.keys.push(keys::node_allocs(&a.node_id));
        }
        if !self.jobs_to_status.contains(&job) {
            self.jobs_to_status.insert(job);
        }
    }

    fn touch_node(&mut self, id: &str) {
        self.state
            .node_indexes
            .entry(id.to_string())
            .or_default()
            .node = self.index;
        self.state.tables.nodes = self.index;
        self.applied.keys.push(keys::node(id));
        self.applied.keys.push(keys::nodes());
    }

    // ---- jobs ----

    fn job_register(&mut self, job: Cow<'_, Job>, mut eval: Evaluation) {
        let key = job.key();
        if !self.state.has_namespace(&job.namespace) {
            // The store refuses a job of a namespace that does not exist;
            // one deleted since (or a log written before namespaces) makes
            // it here, and the namespace comes back rather than the job
            // being refused on one replica's log and not on another's.
            self.namespace_upsert(&Namespace::named(&job.namespace));
        }
        let existing = self.state.jobs.get(&key).cloned();
        let job_modify_index = match as_registered(existing.as_ref(), job, self.index) {
            Some(j) => {
                let id = key;
                let j = Arc::new(j);
                self.applied.changes.push(Change::Job(j.clone()));
                if let Some(old) = self.state.jobs.insert(id.clone(), j) {
                    let keep = self.state.tracked_versions.0 - 1;
                    let kept = self.state.job_versions.entry(id.clone()).or_default();
                    kept.push_front(old);
                    kept.truncate(keep);
                    if kept.is_empty() {
                        self.state.job_versions.remove(&id);
                    }
                }
                self.touch_job(&id);
                self.index
            }
            None => existing.as_ref().map_or(0, |o| o.job_modify_index),
        };
        self.applied.job_modify_index = job_modify_index;
        eval.job_modify_index = job_modify_index;
        self.upsert_eval(eval);
    }

    /// Marks a version stable or not: the job itself (its `ModifyIndex`
    /// moves, its `JobModifyIndex` and `Version` stay, as Nomad's) or a kept
    /// version. Checked: the version exists.
    fn job_stability(&mut self, id: &str, version: u64, stable: bool) {
        let Some(job) = self.state.jobs.get(id) else {
            return;
        };
        if job.version == version {
            let mut j = (**job).clone();
            j.stable = stable;
            j.modify_index = self.index;
            let j = Arc::new(j);
            self.applied.changes.push(Change::Job(j.clone()));
            self.state.jobs.insert(id.to_string(), j);
        } else if let Some(old) = self
            .state
            .job_versions
            .get_mut(id)
            .and_then(|kept| kept.iter_mut().find(|j| j.version == version))
        {
            Arc::make_mut(old).stable = stable;
        } else {
            return;
        }
        self.touch_job(id);
    }

    // ---- namespaces ----

    fn namespace_upsert(&mut self, ns: &Namespace) {
        let mut ns = ns.clone();
        ns.create_index = self
            .state
            .namespaces
            .get(&ns.name)
            .map_or(self.index, |old| old.create_index);
        ns.modify_index = self.index;
        self.state.tables.namespaces = self.index;
        self.state.namespaces.insert(ns.name.clone(), Arc::new(ns));
        self.applied.keys.push(keys::namespaces());
    }

    fn namespace_delete(&mut self, name: &str) {
        if self.state.namespaces.remove(name).is_some() {
            self.state.tables.namespaces = self.index;
            self.applied.keys.push(keys::namespaces());
        }
    }

    /// Job status as Nomad derives it: system jobs run unless stopped; any live
    /// allocation means running; any open evaluation pending; else dead once it
    /// has had evaluations, pending before.
    fn refresh_job_status(&mut self, id: &str) {
        let Some(job) = self.state.jobs.get(id) else {
            return;
        };
        let status = if job.job_type == JOB_TYPE_SYSTEM {
            if job.stop {
                JOB_STATUS_DEAD
            } else {
                JOB_STATUS_RUNNING
            }
        } else {
            let live_alloc = self
                .state
                .derived
                .allocs_by_job
                .get(id)
                .is_some_and(|ids| ids.iter().any(|a| !self.state.allocs[a].is_terminal()));
            let evals = self.state.derived.evals_by_job.get(id);
            let open_eval = self.state.derived.open_evals.contains_key(id);
            debug_assert_eq!(
                open_eval,
                evals.is_some_and(|ids| ids.iter().any(|e| is_open(&self.state.evals[e]))),
                "open evaluations of job {id} miscounted"
            );
            if live_alloc {
                JOB_STATUS_RUNNING
            } else if open_eval {
                JOB_STATUS_PENDING
            } else if job.stop || evals.is_some_and(|e| !e.is_empty()) {
                JOB_STATUS_DEAD
            } else {
                JOB_STATUS_PENDING
            }
        };
        if job.status != status {
            let mut j = (**job).clone();
            j.status = status.to_string();
            j.modify_index = self.index;
            let j = Arc::new(j);
            self.applied.changes.push(Change::Job(j.clone()));
            self.state.jobs.insert(id.to_string(), j);
            self.touch_job(id);
        }
    }

    // ---- evaluations ----

    fn upsert_evals(&mut self, evals: &[Evaluation]) {
        for e in evals {
            self.upsert_eval(e.clone());
        }
    }

    /// Terminal statuses are absorbing: an update to a terminal evaluation is
    /// dropped.
    fn upsert_eval(&mut self, mut e: Evaluation) {
        let existing = self.state.evals.get(&e.id);
        if existing.is_some_and(|e| e.is_terminal()) {
            return;
        }
        e.create_index = existing.map_or(self.index, |o| o.create_index);
        if let Some(old) = existing {
            let old = old.clone();
            self.state.derived.queue_eval(&old, false);
        }
        let existing = self.state.evals.get(&e.id);
        match existing {
            Some(old) => {
                e.create_time = old.create_time;
                if is_open(old) {
                    count(&mut self.state.derived.open_evals, &old.job_key(), false);
                }
                if old.job_key() != e.job_key() {
                    // Moved to another job (a host's own command may do it).
                    let (old_job, id) = (old.job_key(), e.id.clone());
                    let sets = &mut self.state.derived.evals_by_job;
                    if let Some(set) = sets.get_mut(&old_job) {
                        set.remove(&id);
                        if set.is_empty() {
                            sets.remove(&old_job);
                        }
                    }
                    entry_mut(sets, &e.job_key()).insert(id);
                    self.touch_job_evals(&old_job);
                    self.jobs_to_status.insert(old_job);
                }
            }
            None => {
                entry_mut(&mut self.state.derived.evals_by_job, &e.job_key()).insert(e.id.clone());
                self.state
                    .derived
                    .evals_by_create
                    .insert((self.index, e.id.clone()));
            }
        }
        if is_open(&e) {
            count(&mut self.state.derived.open_evals, &e.job_key(), true);
        }
        e.modify_index = self.index;
        self.state.derived.queue_eval(&e, true);
        self.applied.keys.push(keys::eval(&e.id));
        self.touch_job_evals(&e.job_key());
        if !self.jobs_to_status.contains(&e.job_key()) {
            self.jobs_to_status.insert(e.job_key());
        }
        let e = Arc::new(e);
        self.applied.changes.push(Change::Eval(e.clone()));
        self.state.evals.insert(e.id.clone(), e);
    }

    fn delete_eval(&mut self, id: &str) {
        if let Some(e) = self.state.evals.remove(id) {
            self.state.derived.queue_eval(&e, false);
            self.state
                .derived
                .evals_by_create
                .remove(&(e.create_index, e.id.clone()));
            if let Some(set) = self.state.derived.evals_by_job.get_mut(&e.job_key()) {
                set.remove(id);
                if set.is_empty() {
                    self.state.derived.evals_by_job.remove(&e.job_key());
                }
            }
            if is_open(&e) {
                count(&mut self.state.derived.open_evals, &e.job_key(), false);
            }
            self.applied.keys.push(keys::eval(id));
            self.touch_job_evals(&e.job_key());
            self.jobs_to_status.insert(e.job_key());
        }
    }

    // ---- allocations ----

    /// Stores `a`, keeping the lookups and the node's usage in step.
    fn put_alloc(&mut self, a: Allocation) {
        // One walk of the (large) allocation table: insert, and get the old
        // value back.
        let a = Arc::new(a);
        self.applied.changes.push(Change::Alloc(a.clone()));
        let old = self.state.allocs.insert(a.id.clone(), a.clone());
        let d = &mut self.state.derived;
        if let Some(o) = &old {
            d.count_alloc(o, false);
        }
        d.count_alloc(&a, true);
        if old
            .as_ref()
            .is_none_or(|o| o.create_index != a.create_index)
        {
            if let Some(o) = &old {
                d.allocs_by_create.remove(&(o.create_index, o.id.clone()));
            }
            d.allocs_by_create.insert((a.create_index, a.id.clone()));
        }
        if let Some(old) = &old {
            if !old.is_terminal() {
                entry_mut(&mut d.usage, &old.node_id).remove(old);
            }
            if old.node_id != a.node_id {
                if let Some(set) = d.allocs_by_node.get_mut(&old.node_id) {
                    set.remove(&old.id);
                }
            }
            if old.job_key() != a.job_key() {
                if let Some(set) = d.allocs_by_job.get_mut(&old.job_key()) {
                    set.remove(&old.id);
                }
            }
            if old.eval_id != a.eval_id && !old.eval_id.is_empty() {
                // It leaves the old evaluation's list.
                self.applied.keys.push(keys::eval_allocs(&old.eval_id));
            }
        }
        if !a.is_terminal() {
            entry_mut(&mut d.usage, &a.node_id).add(&a);
        }
        entry_mut(&mut d.allocs_by_job, &a.job_key()).insert(a.id.clone());
        if !a.node_id.is_empty() {
            entry_mut(&mut d.allocs_by_node, &a.node_id).insert(a.id.clone());
        }
        self.touch_alloc(&a);
    }

    fn delete_alloc(&mut self, id: &str) {
        let Some(a) = self.state.allocs.remove(id) else {
            return;
        };
        let d = &mut self.state.derived;
        d.count_alloc(&a, false);
        d.allocs_by_create.remove(&(a.create_index, a.id.clone()));
        if !a.is_terminal() {
            d.usage.entry(a.node_id.clone()).or_default().remove(&a);
        }
        for map in [&mut d.allocs_by_job] {
            if let Some(set) = map.get_mut(&a.job_key()) {
                set.remove(id);
                if set.is_empty() {
                    map.remove(&a.job_key());
                }
            }
        }
        if let Some(set) = d.allocs_by_node.get_mut(&a.node_id) {
            set.remove(id);
            if set.is_empty() {
                d.allocs_by_node.remove(&a.node_id);
            }
        }
        self.touch_alloc(&a);
    }

    fn plan_apply(&mut self, plan: Plan) {
        for stop in &plan.stops {
            let Some(old) = self.state.allocs.get(&stop.id) else {
                continue;
            };
            let mut a = (**old).clone();
            a.desired_status = stop.desired_status;
            a.desired_description = stop.desired_description.clone();
            if let Some(cs) = &stop.client_status {
                a.client_status = *cs;
            }
            if !stop.next_allocation.is_empty() {
                a.next_allocation = stop.next_allocation.clone();
            }
            a.modify_index = self.index;
            a.alloc_modify_index = self.index;
            a.modify_time = plan.time;
            self.put_alloc(a);
        }
        // Every placement runs the plan's job; the stored job is shared when
        // it is the same one (it is, unless the job changed since the plan
        // was made), so that a replayed log holds one copy as the leader does.
        let job = plan.job.map(|j| share_job(&self.state.jobs, j));
        for mut a in plan.placements {
            if let Some(job) = &job {
                a.job = job.clone();
            }
            match self.state.existing_alloc(&a) {
                // An in-place update keeps what the client reported.
                Some(old) => {
                    a.create_index = old.create_index;
                    a.create_time = old.create_time;
                    a.client_status = old.client_status;
                    a.client_description = old.client_description.clone();
                    a.task_states = old.task_states.clone();
                }
                None => {
                    a.create_index = self.index;
                    a.create_time = plan.time;
                }
            }
            a.modify_index = self.index;
            a.alloc_modify_index = self.index;
            a.modify_time = plan.time;
            self.put_alloc(a);
        }
        for e in plan.evals {
            self.upsert_eval(e);
        }
    }

    /// Merges `t` into an allocation's `DesiredTransition` (the fields it
    /// sets; the others stay).
    fn desired_transition(&mut self, id: &str, t: &DesiredTransition, time: i64) {
        let Some(old) = self.state.allocs.get(id) else {
            return;
        };
        let mut a = (**old).clone();
        let d = &mut a.desired_transition;
        for (to, from) in [
            (&mut d.migrate, t.migrate),
            (&mut d.reschedule, t.reschedule),
            (&mut d.force_reschedule, t.force_reschedule),
            (&mut d.no_shutdown_delay, t.no_shutdown_delay),
        ] {
            if from.is_some() {
                *to = from;
            }
        }
        a.modify_index = self.index;
        a.modify_time = time;
        self.put_alloc(a);
    }

    fn client_update(&mut self, u: &AllocClientUpdate, time: i64) {
        let Some(old) = self.state.allocs.get(&u.id) else {
            return;
        };
        let mut a = (**old).clone();
        // Complete, failed and lost are final: the allocation's node room
        // was given back and its name may already run elsewhere, so a late
        // report cannot bring it back to life.
        // The update was checked when it was proposed; a status this ordu
        // does not know (an entry from a newer one) leaves the stored one.
        if let Some(status) = AllocClientStatus::parse(&u.client_status) {
            if !a.client_terminal() {
                a.client_status = status;
            }
        }
        a.client_description = u.client_description.clone();
        if u.task_states.is_some() {
            a.task_states = u.task_states.clone();
        }
        a.modify_index = self.index;
        a.modify_time = time;
        self.put_alloc(a);
    }

    // ---- nodes ----

    fn node_register(&mut self, node: &Node) {
        let mut n = node.clone();
        if let Some(old) = self.state.nodes.get(&n.id) {
            n.create_index = old.create_index;
            // Server-owned: a client's re-registration keeps them.
            n.drain = old.drain;
            n.drain_strategy = old.drain_strategy.clone();
            if !old.scheduling_eligibility.is_empty() {
                n.scheduling_eligibility = old.scheduling_eligibility.clone();
            }
        } else {
            n.create_index = self.index;
        }
        if n.status.is_empty() {
            n.status = NodeStatus::Initializing.to_string();
        }
        n.modify_index = self.index;
        let n = Arc::new(n);
        self.applied.changes.push(Change::Node(n.clone()));
        self.state.nodes.insert(n.id.clone(), n);
        self.touch_node(&node.id);
    }

    fn update_node(&mut self, id: &str, f: impl FnOnce(&mut Node)) {
        let Some(old) = self.state.nodes.get(id) else {
            return;
        };
        let mut n = (**old).clone();
        f(&mut n);
        n.modify_index = self.index;
        let n = Arc::new(n);
        self.applied.changes.push(Change::Node(n.clone()));
        self.state.nodes.insert(id.to_string(), n);
        self.touch_node(id);
    }
}
