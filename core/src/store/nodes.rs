//! Proposing node writes, and the evaluations a node change triggers.

use super::*;

impl Store {
    // ---- nodes ----

    /// Registers or updates a node (its `CreateIndex` and `Drain` are kept).
    /// Capacity that appears unblocks blocked evaluations, and system jobs get
    /// an evaluation to place on it.
    pub fn register_node(&self, mut node: Node) -> Result<NodeUpdateResponse> {
        validate_node(&node)?;
        if node.scheduling_eligibility.is_empty() {
            // A new node takes work; a known one keeps what the server set.
            node.scheduling_eligibility = NODE_ELIGIBLE.to_string();
        }
        let evals = self.with_state(|s| {
            let mut out = Vec::new();
            if node.status == NodeStatus::Ready {
                self.system_job_evals(s, &node.id, &mut out);
            }
            if s.node(&node.id)
                .is_some_and(|old| old.status != node.status && node.status == NodeStatus::Down)
            {
                self.node_job_evals(s, &node.id, TRIGGER_NODE_UPDATE, &mut out);
            }
            out
        });
        let id = node.id.clone();
        self.node_write(Command::NodeRegister { node, evals }, &id)
    }

    /// Registers a node from JSON: `{"Node": {...}}` or the node itself.
    pub fn register_node_json(&self, body: &[u8]) -> Result<NodeUpdateResponse> {
        let node = crate::structs::decode_node(body, &self.config.limits)?;
        self.register_node(node)
    }

    /// Removes a node; its allocations' jobs are evaluated so they move.
    pub fn deregister_node(&self, id: &str) -> Result<NodeUpdateResponse> {
        let evals = self.with_state(|s| {
            let mut out = Vec::new();
            self.node_job_evals(s, id, TRIGGER_NODE_UPDATE, &mut out);
            out
        });
        self.node_write(
            Command::NodeDeregister {
                node_id: id.to_string(),
                evals,
            },
            id,
        )
    }

    /// Sets a node's status. `down` makes its allocations lost and replaced
    /// elsewhere; `ready` adds capacity.
    pub fn update_node_status(&self, id: &str, status: &str) -> Result<NodeUpdateResponse> {
        validate_node_status(status)?;
        let evals = self.with_state(|s| {
            let mut out = Vec::new();
            let old = s.node(id).map(|n| n.status.clone());
            if old.as_deref() != Some(status) {
                if status == NodeStatus::Down {
                    self.node_job_evals(s, id, TRIGGER_NODE_UPDATE, &mut out);
                } else if status == NodeStatus::Ready {
                    self.system_job_evals(s, id, &mut out);
                }
            }
            out
        });
        self.node_write(
            Command::NodeUpdateStatus {
                node_id: id.to_string(),
                status: status.to_string(),
                evals,
            },
            id,
        )
    }

    /// Sets or clears a node's drain flag, as v0.2's
    /// `PUT /v1/node/<id>/drain?enable=` does and as Nomad 1.x still takes it:
    /// enabling is a forced drain (`Deadline` -1 s), disabling ends the drain
    /// and makes the node eligible again. See [`Store::drain_node`].
    pub fn update_node_drain(&self, id: &str, drain: bool) -> Result<NodeUpdateResponse> {
        let spec = drain.then_some(DrainSpec {
            deadline: -1_000_000_000,
            ignore_system_jobs: false,
        });
        self.drain_node(id, spec.as_ref(), !drain)
    }

    /// Starts, changes or ends a node's drain (Nomad's `Node.UpdateDrain`).
    ///
    /// With a spec, the node gets a `DrainStrategy` (its `ForceDeadline` and
    /// `StartedAt` stamped now from the store's clock), `Drain: true` and
    /// `SchedulingEligibility: ineligible`; without one the drain ends, and
    /// `mark_eligible` makes the node eligible again.
    ///
    /// Migration is not Nomad's gradual drainer: the same entry marks every
    /// live allocation on the node to migrate (those of system jobs too,
    /// unless `IgnoreSystemJobs`) and creates a `node-drain` evaluation per
    /// job concerned, so the schedulers move them at once, each job's no more
    /// than its `Update.MaxParallel` at a time. What cannot move yet (no
    /// room elsewhere) keeps running until the deadline, when
    /// [`Store::advance_drains`] stops it; that also ends the drain once
    /// nothing it moves runs on the node, as Nomad's drainer does.
    /// Ending a drain evaluates the node's jobs and the system jobs, as
    /// capacity that appears.
    pub fn drain_node(
        &self,
        id: &str,
        spec: Option<&DrainSpec>,
        mark_eligible: bool,
    ) -> Result<NodeUpdateResponse> {
        let now = self.clock.now();
        let (migrate, evals, strategy) = self.with_state(|s| {
            let mut migrate = Vec::new();
            let mut evals = Vec::new();
            let Some(node) = s.node(id) else {
                return (migrate, evals, None);
            };
            let Some(spec) = spec else {
                if mark_eligible {
                    self.node_evals(s, id, &mut evals);
                }
                return (migrate, evals, None);
            };
            // A drain already under way keeps when it started.
            let mut strategy = DrainStrategy::new(spec, now);
            if let Some(old) = &node.drain_strategy {
                strategy.started_at = old.started_at.clone();
            }
            let mut jobs: Vec<(&str, &str)> = Vec::new();
            for a in s.allocs_by_node(id) {
                if a.is_terminal() || (spec.ignore_system_jobs && a.job.job_type == JOB_TYPE_SYSTEM)
                {
                    continue;
                }
                if !jobs.contains(&(a.namespace.as_str(), a.job_id.as_str())) {
                    if let Some(job) = s.job(&a.namespace, &a.job_id) {
                        jobs.push((&job.namespace, &job.id));
                        let mut e = self.new_eval(job, TRIGGER_NODE_DRAIN);
                        e.node_id = id.to_string();
                        e.node_modify_index = s.node_index(id);
                        evals.push(e);
                    }
                }
                migrate.push(a.id.clone());
            }
            (migrate, evals, Some(strategy))
        });
        self.node_write(
            Command::NodeUpdateDrainStrategy {
                node_id: id.to_string(),
                drain_strategy: strategy,
                mark_eligible,
                migrate,
                evals,
                time: now,
            },
            id,
        )
    }

    /// Carries drains on, as Nomad's drainer does on the leader; a host calls
    /// it on a timer (ordu-http: every second). A drain whose node no longer
    /// runs anything it moves ends (the node stays ineligible, as in Nomad).
    /// Past its deadline (a forced drain's at once), what it moves that still
    /// runs is stopped, with a `node-drain` evaluation per job so that the
    /// schedulers place it elsewhere or block until there is room; the next
    /// call then ends the drain. One write per node. Returns the index of the
    /// last write, or `None` when there was nothing to do (or this store is
    /// not the leader).
    pub fn advance_drains(&self) -> Result<Option<u64>> {
        if !self.is_leader() {
            return Ok(None);
        }
        let now = self.clock.now();
        let steps = self.with_state(|s| {
            let mut steps = Vec::new();
            for node in s.nodes() {
                let Some(strategy) = &node.drain_strategy else {
                    continue;
                };
                let moving: Vec<Arc<Allocation>> = s
                    .allocs_by_node(&node.id)
                    .into_iter()
                    .filter(|a| {
                        let left = strategy.ignore_system_jobs && a.job.job_type == JOB_TYPE_SYSTEM;
                        !(a.is_terminal() || left)
                    })
                    .collect();
                if moving.is_empty() {
                    steps.push(Command::NodeUpdateDrainStrategy {
                        node_id: node.id.clone(),
                        drain_strategy: None,
                        mark_eligible: false,
                        migrate: Vec::new(),
                        evals: Vec::new(),
                        time: now,
                    });
                } else if strategy.deadline_passed(now) {
                    steps.push(self.drain_deadline_plan(s, &node.id, &moving, now));
                }
            }
            steps
        });
        let mut last = None;
        for cmd in steps {
            // A plan's evaluations are not queued by the write (a scheduler's
            // plan queues its own once its evaluation is acked): these are.
            let queue: Vec<String> = match &cmd {
                Command::PlanApply { plan } => plan.evals.iter().map(|e| e.id.clone()).collect(),
                _ => Vec::new(),
            };
            // The state may have moved on since it was read: a node gone or
            // an allocation stopped meanwhile is skipped until the next call.
            match self.commit(cmd) {
                Ok(applied) => {
                    if !queue.is_empty() {
                        let evals: Vec<_> = self.with_state(|s| {
                            queue.iter().filter_map(|id| s.eval(id).cloned()).collect()
                        });
                        let superseded: Vec<_> = {
                            let mut b = self.broker.lock();
                            evals.into_iter().flat_map(|e| b.enqueue(e)).collect()
                        };
                        self.cancel(superseded);
                        self.capacity_added(applied.index);
                    }
                    last = Some(applied.index);
                }
                Err(Error::NotFound { .. } | Error::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if last.is_some() {
            self.run_inline();
        }
        Ok(last)
    }

    /// The plan that stops what a drain moves and still runs once its
    /// deadline has passed, with a `node-drain` evaluation per job.
    fn drain_deadline_plan(
        &self,
        s: &State,
        node_id: &str,
        moving: &[Arc<Allocation>],
        now: i64,
    ) -> Command {
        let mut evals: Vec<Evaluation> = Vec::new();
        for a in moving {
            if evals
                .iter()
                .any(|e| e.job_id == a.job_id && e.namespace == a.namespace)
            {
                continue;
            }
            if let Some(job) = s.job(&a.namespace, &a.job_id) {
                let mut e = self.new_eval(job, TRIGGER_NODE_DRAIN);
                e.node_id = node_id.to_string();
                e.node_modify_index = s.node_index(node_id);
                evals.push(e);
            }
        }
        let stops = moving
            .iter()
            .map(|a| crate::structs::AllocStop {
                id: a.id.clone(),
                desired_status: crate::structs::AllocDesiredStatus::Stop,
                desired_description: "alloc is being migrated: node drain deadline reached"
                    .to_string(),
                client_status: None,
                next_allocation: String::new(),
            })
            .collect();
        Command::PlanApply {
            plan: Plan {
                eval_id: evals.first().map(|e| e.id.clone()).unwrap_or_default(),
                job: None,
                all_at_once: false,
                stops,
                placements: Vec::new(),
                evals,
                time: now,
            },
        }
    }

    /// Sets a node's scheduling eligibility (`eligible` or `ineligible`;
    /// Nomad's `Node.UpdateEligibility`). An ineligible node takes no new
    /// placements and keeps what runs there; made eligible again, its jobs
    /// and the system jobs are evaluated and blocked evaluations retried, as
    /// for capacity that appears. A draining node cannot be made eligible
    /// (an invalid error, as Nomad refuses it).
    pub fn update_node_eligibility(
        &self,
        id: &str,
        eligibility: &str,
    ) -> Result<NodeUpdateResponse> {
        if eligibility != NODE_ELIGIBLE && eligibility != NODE_INELIGIBLE {
            return Err(Error::invalid_field(
                "Eligibility",
                format!("invalid scheduling eligibility {eligibility:?}"),
            ));
        }
        let evals = self.with_state(|s| {
            let mut out = Vec::new();
            if let Some(n) = s.node(id) {
                if eligibility == NODE_ELIGIBLE && n.drain {
                    return Err(Error::invalid_field(
                        "Eligibility",
                        "can not set node's scheduling eligibility to eligible while it is draining",
                    ));
                }
                if eligibility == NODE_ELIGIBLE && !n.is_eligible() {
                    self.node_evals(s, id, &mut out);
                }
            }
            Ok(out)
        })?;
        self.node_write(
            Command::NodeUpdateEligibility {
                node_id: id.to_string(),
                eligibility: eligibility.to_string(),
                evals,
            },
            id,
        )
    }

    /// Creates a `node-update` evaluation for every job with live
    /// allocations on the node and for every system job (Nomad's
    /// `Node.Evaluate`). Nothing is written when there is none to create
    /// (`EvalIDs` empty, index 0). An unknown node is not found.
    pub fn evaluate_node(&self, id: &str) -> Result<NodeUpdateResponse> {
        let (evals, node_index) = self.with_state(|s| {
            let node = s.node(id).ok_or_else(|| Error::NotFound {
                what: "node",
                id: id.to_string(),
                index: s.nodes_index(),
            })?;
            let mut out = Vec::new();
            self.node_evals(s, id, &mut out);
            Ok((out, node.modify_index))
        })?;
        if evals.is_empty() {
            return Ok(NodeUpdateResponse {
                node_modify_index: node_index,
                ..NodeUpdateResponse::default()
            });
        }
        let eval_ids: Vec<String> = evals.iter().map(|e| e.id.clone()).collect();
        let applied = self.commit(Command::EvalUpsert { evals })?;
        self.run_inline();
        Ok(NodeUpdateResponse {
            eval_ids,
            eval_create_index: applied.index,
            node_modify_index: node_index,
            index: applied.index,
        })
    }

    /// Applies a node change. Any node change may let a blocked evaluation
    /// through: capacity that appears, but also a node leaving the candidates
    /// (an all-at-once placement that failed only on that node now fits).
    fn node_write(&self, cmd: Command, id: &str) -> Result<NodeUpdateResponse> {
        let eval_ids: Vec<String> = command_evals(&cmd).map(str::to_string).collect();
        let applied = self.commit(cmd)?;
        self.capacity_added(applied.index);
        self.run_inline();
        Ok(NodeUpdateResponse {
            eval_create_index: if eval_ids.is_empty() {
                0
            } else {
                applied.index
            },
            eval_ids,
            node_modify_index: self.with_state(|s| s.node_index(id)),
            index: applied.index,
        })
    }

    /// One `node-update` evaluation per job with live allocations on the node.
    fn node_job_evals(&self, s: &State, node_id: &str, trigger: &str, out: &mut Vec<Evaluation>) {
        let mut jobs: Vec<(&str, &str)> = Vec::new();
        let allocs = s.allocs_by_node(node_id);
        for a in &allocs {
            let job = (a.namespace.as_str(), a.job_id.as_str());
            if !a.is_terminal() && !jobs.contains(&job) {
                jobs.push(job);
            }
        }
        for (ns, job_id) in jobs {
            if let Some(job) = s.job(ns, job_id) {
                let mut e = self.new_eval(job, trigger);
                e.node_id = node_id.to_string();
                e.node_modify_index = s.node_index(node_id);
                out.push(e);
            }
        }
    }

    /// Nomad's node evaluations: one `node-update` evaluation per job with
    /// live allocations on the node, and one per other system job.
    fn node_evals(&self, s: &State, node_id: &str, out: &mut Vec<Evaluation>) {
        self.node_job_evals(s, node_id, TRIGGER_NODE_UPDATE, out);
        let mut system = Vec::new();
        self.system_job_evals(s, node_id, &mut system);
        for e in system {
            if !out
                .iter()
                .any(|o| o.job_id == e.job_id && o.namespace == e.namespace)
            {
                out.push(e);
            }
        }
    }

    /// One `node-update` evaluation per system job, for a node that can take work.
    fn system_job_evals(&self, s: &State, node_id: &str, out: &mut Vec<Evaluation>) {
        for job in s
            .jobs()
            .filter(|j| j.job_type == JOB_TYPE_SYSTEM && !j.stop)
        {
            let mut e = self.new_eval(job, TRIGGER_NODE_UPDATE);
            e.node_id = node_id.to_string();
            out.push(e);
        }
    }
}
