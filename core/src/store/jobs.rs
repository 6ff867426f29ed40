//! Proposing job writes: register (with check-and-set), evaluate, deregister.

use super::*;

/// A job register that passed every check that does not need the state
/// ([`Store::check_register`]), ready for [`Store::commit_register`].
#[derive(Clone, Debug)]
pub struct CheckedRegister {
    job: Job,
    enforce_index: Option<u64>,
}

impl CheckedRegister {
    /// The job, with its defaults.
    pub fn job(&self) -> &Job {
        &self.job
    }
}

/// The ID of a plan's throwaway evaluation (never stored).
const PLAN_EVAL_ID: &str = "00000000-0000-0000-0000-000000000000";
/// IDs a plan mints for allocations and evaluations it never stores: out of
/// the way of the store's random (v4) IDs.
const PLAN_ID_PREFIX: &str = "ffffffff-ffff-0000-0000-";
/// How Go writes its zero time, as Nomad answers `NextPeriodicLaunch` for a
/// job that is not periodic.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl Store {
    // ---- jobs ----

    /// Registers (creates or updates) a job and creates its evaluation, in one
    /// command. Defaults are applied first, then every rule is checked; a
    /// rejected request changes nothing. An identical spec creates an
    /// evaluation but leaves the job as it was. In inline mode the evaluation is
    /// processed before this returns.
    pub fn register_job(
        &self,
        req: JobRegisterRequest,
        opts: &WriteOptions,
    ) -> Result<JobWriteResponse> {
        let checked = self.check_register(req, opts)?;
        self.commit_register(checked)
    }

    /// The first half of [`Store::register_job`]: the region, the defaults and
    /// every rule, without the state. A host that writes from several threads
    /// can do this part in parallel and hand the result to
    /// [`Store::commit_register`], which is the part that writes one at a time.
    pub fn check_register(
        &self,
        req: JobRegisterRequest,
        opts: &WriteOptions,
    ) -> Result<CheckedRegister> {
        self.check_region(opts.region.as_deref())?;
        let Some(mut job) = req.job else {
            // Nomad answers this at the HTTP layer, as a 400.
            return Err(Error::Invalid {
                stage: crate::error::Stage::Decode,
                errors: vec![crate::error::FieldError::new(
                    "Job",
                    "Job must be specified",
                )],
            });
        };
        // The job's own namespace wins over the request's, as in Nomad.
        if job.namespace.is_empty() {
            job.namespace = opts.namespace().to_string();
        }
        job.canonicalize(&self.config.region);
        self.check_region(Some(&job.region))?;
        validate_job(&job, &self.config.limits)?;
        Ok(CheckedRegister {
            job,
            enforce_index: req.enforce_index.then_some(req.job_modify_index),
        })
    }

    /// The second half of [`Store::register_job`]: writes the checked job
    /// and its evaluation (the job-modify-index check happens here, against
    /// the state of the moment) and, inline, processes the evaluation.
    pub fn commit_register(&self, checked: CheckedRegister) -> Result<JobWriteResponse> {
        let CheckedRegister {
            mut job,
            enforce_index,
        } = checked;
        self.require_namespace(&job.namespace)?;
        job.submit_time = self.clock.now();
        let eval = self.new_eval(&job, TRIGGER_JOB_REGISTER);
        let eval_id = eval.id.clone();
        let applied = self.commit(Command::JobRegister {
            job,
            eval,
            enforce_index,
        })?;
        self.run_inline();
        Ok(JobWriteResponse {
            eval_id,
            eval_create_index: applied.index,
            job_modify_index: applied.job_modify_index,
            index: applied.index,
            ..JobWriteResponse::default()
        })
    }

    /// A scheduler dry run (Nomad's job plan): what registering `req.job`
    /// now would do, without doing any of it.
    ///
    /// The job gets the defaults and checks of [`Store::check_register`]
    /// (a job register would refuse is refused the same way), then the
    /// scheduler of its type runs against the current state with the job as
    /// the register would store it (the same version and indexes) and a
    /// throwaway evaluation, with the seed the next real scheduler run will
    /// use: so, as long as nothing else is written in between, the plan is
    /// what a register then does. Nothing is written for the plan: no
    /// table, no index, no ID or seed drawn, no broker or waiter touched
    /// (in grouped and queued modes it first waits, as a read does, for the
    /// evaluations of writes answered before it), so a plan may run
    /// on any store (on a replicated follower it sees that replica's state;
    /// a front end forwards it to the leader like a write).
    ///
    /// The answer has the annotations per group, `FailedTGAllocs` of the
    /// run, the stored job's `JobModifyIndex` (0 for a new job) for a later
    /// check-and-set register, and with `req.diff` the [`JobDiff`](crate::structs::JobDiff) to the
    /// stored job.
    pub fn plan_job(&self, req: JobPlanRequest, opts: &WriteOptions) -> Result<JobPlanResponse> {
        // As a read: the evaluations of writes answered before are
        // processed first (grouped and queued modes), so the plan sees
        // their results and the seed the next run really takes.
        self.read_barrier();
        let checked = self.check_register(
            JobRegisterRequest {
                job: req.job,
                ..JobRegisterRequest::default()
            },
            opts,
        )?;
        let mut job = checked.job;
        self.require_namespace(&job.namespace)?;
        job.submit_time = self.clock.now();
        // Read while the state is held, so that the seed and the state
        // belong together as far as a dry run can tell.
        let st = self.state.read();
        let stored = st.job(&job.namespace, &job.id).cloned();
        let candidate = st.job_as_registered(job, st.index() + 1);
        let eval = Evaluation {
            id: PLAN_EVAL_ID.to_string(),
            namespace: candidate.namespace.clone(),
            priority: candidate.priority,
            eval_type: candidate.job_type.clone(),
            triggered_by: TRIGGER_JOB_REGISTER.to_string(),
            job_id: candidate.id.clone(),
            job_modify_index: candidate.job_modify_index,
            status: EvalStatus::Pending,
            ..Evaluation::default()
        };
        // The seed the next real run takes; `runs` is not advanced.
        let run = self.runs.load(Ordering::Relaxed);
        let mut minted = 0u64;
        let mut new_id = || {
            minted += 1;
            format!("{PLAN_ID_PREFIX}{minted:012x}")
        };
        let mut ctx = Context {
            now: self.clock.now(),
            seed: self.config.seed ^ run.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            new_id: &mut new_id,
        };
        let plan = scheduler::process_job(&st, &eval, Some(candidate.clone()), &mut ctx);
        let updates = scheduler::annotate::desired_updates(&st, &candidate, &plan);
        let failed = plan
            .evals
            .first()
            .map(|e| e.failed_tg_allocs.clone())
            .filter(|f| !f.is_empty());
        let diff = req
            .diff
            .then(|| crate::structs::job_diff(stored.as_deref(), &candidate, &updates));
        let job_modify_index = stored.as_ref().map_or(0, |j| j.job_modify_index);
        Ok(JobPlanResponse {
            annotations: PlanAnnotations {
                desired_tg_updates: updates,
                preempted_allocs: None,
            },
            failed_tg_allocs: failed,
            job_modify_index,
            created_evals: None,
            diff,
            next_periodic_launch: GO_ZERO_TIME.to_string(),
            warnings: String::new(),
            index: job_modify_index,
        })
    }

    /// [`Store::plan_job`] from the JSON body of `PUT /v1/job/<id>/plan`.
    pub fn plan_job_json(&self, body: &[u8], opts: &WriteOptions) -> Result<JobPlanResponse> {
        let req = crate::structs::decode::<JobPlanRequest>(body, &self.config.limits)?;
        self.plan_job(req, opts)
    }

    /// Registers a job from the JSON body of `PUT /v1/jobs`.
    pub fn register_job_json(&self, body: &[u8], opts: &WriteOptions) -> Result<JobWriteResponse> {
        let req = crate::structs::decode::<JobRegisterRequest>(body, &self.config.limits)?;
        self.register_job(req, opts)
    }

    /// Creates a `job-register` evaluation for an existing job; a missing job is
    /// [`Error::NotFound`].
    pub fn evaluate_job(&self, id: &str, opts: &WriteOptions) -> Result<JobWriteResponse> {
        self.check_region(opts.region.as_deref())?;
        let job = self.existing_job(opts.namespace(), id)?;
        let eval = self.new_eval(&job, TRIGGER_JOB_REGISTER);
        let eval_id = eval.id.clone();
        let applied = self.commit(Command::EvalUpsert { evals: vec![eval] })?;
        self.run_inline();
        Ok(JobWriteResponse {
            eval_id,
            eval_create_index: applied.index,
            job_modify_index: job.job_modify_index,
            index: applied.index,
            ..JobWriteResponse::default()
        })
    }

    /// Reverts a job to a version it keeps: that version's spec is
    /// registered as a new version, with a `job-register` evaluation (the
    /// answer is a register's). With `enforce_prior_version`, only if the
    /// job is still at that version when the write applies (a check-and-set
    /// on its `JobModifyIndex`). Errors as Nomad's: a missing job is
    /// [`Error::NotFound`]; the current version, or another current version
    /// than the one enforced, [`Error::Conflict`]; a version not kept,
    /// [`Error::NotFound`] of a `job version`.
    pub fn revert_job(
        &self,
        req: JobRevertRequest,
        opts: &WriteOptions,
    ) -> Result<JobWriteResponse> {
        self.check_region(opts.region.as_deref())?;
        let (ns, id) = (opts.namespace(), req.job_id.as_str());
        let (cur, old) = self.with_state(|s| {
            (
                s.job(ns, id).cloned(),
                s.job_version(ns, id, req.job_version),
            )
        });
        let cur = cur.ok_or_else(|| job_not_found(id))?;
        if req.job_version == cur.version {
            return Err(conflict("can't revert to current version".into()));
        }
        let Some(old) = old else {
            return Err(Error::NotFound {
                what: "job version",
                id: crate::state::job_version_id(id, req.job_version),
                index: 0,
            });
        };
        if let Some(want) = req.enforce_prior_version {
            if cur.version != want {
                return Err(conflict(format!(
                    "Current job has version {}; enforcing version {want}",
                    cur.version
                )));
            }
        }
        let mut job = (*old).clone();
        job.stable = false;
        self.commit_register(CheckedRegister {
            job,
            enforce_index: req.enforce_prior_version.map(|_| cur.job_modify_index),
        })
    }

    /// Marks a version of a job stable (or not), as Nomad's job stability
    /// update: the version's `Stable` changes, nothing else (no evaluation,
    /// no new version). A missing job or version is [`Error::NotFound`].
    pub fn set_job_stability(
        &self,
        req: JobStabilityRequest,
        opts: &WriteOptions,
    ) -> Result<JobStabilityResponse> {
        self.check_region(opts.region.as_deref())?;
        let applied = self.commit(Command::JobStability {
            namespace: opts.namespace().to_string(),
            job_id: req.job_id,
            version: req.job_version,
            stable: req.stable,
        })?;
        Ok(JobStabilityResponse {
            index: applied.index,
        })
    }

    /// Scales a task group as Nomad's `POST /v1/job/<id>/scale`: the job
    /// with the group's new `Count` is registered as a new version, with a
    /// `job-scaling` evaluation, in one command; the answer is a register's.
    /// Without a `Count` (a scaling event only, which ordu does not keep)
    /// nothing is written: `EvalID` empty, `Index` 0. Errors as Nomad's: a
    /// missing group name, a negative count, a count with `Error`, an
    /// unknown group or a system job above 1 are [`Error::Invalid`] at the
    /// decode stage (HTTP 400); a missing job [`Error::NotFound`]; a count
    /// the store's limits refuse, as a register; a `JobModifyIndex` (above
    /// 0) that is not the job's, [`Error::Conflict`].
    pub fn scale_job(
        &self,
        id: &str,
        req: JobScaleRequest,
        opts: &WriteOptions,
    ) -> Result<JobWriteResponse> {
        self.check_region(opts.region.as_deref())?;
        let bad = |m: String| Error::Invalid {
            stage: crate::error::Stage::Decode,
            errors: vec![crate::error::FieldError::new("", m)],
        };
        if req.target.get("Job").is_some_and(|j| j != id) {
            return Err(Error::invalid_field(
                "Target.Job",
                "job ID in payload did not match URL",
            ));
        }
        let group = req.target.get("Group").cloned().unwrap_or_default();
        if group.is_empty() {
            return Err(bad("missing task group name for scaling action".into()));
        }
        if let Some(n) = req.count {
            if n < 0 {
                return Err(bad("scaling action count can't be negative".into()));
            }
            if req.error {
                return Err(bad(
                    "scaling action should not contain count if error is true".into(),
                ));
            }
        }
        let mut tries = 0;
        loop {
            let job = self.existing_job(opts.namespace(), id)?;
            if job.job_type == JOB_TYPE_SYSTEM && req.count.is_some_and(|n| n > 1) {
                return Err(bad(
                    r#"jobs of type "system" can only be scaled to 1 or 0"#.into()
                ));
            }
            let Some(at) = job.task_groups.iter().position(|g| g.name == group) else {
                return Err(bad(format!(
                    "task group {group:?} specified for scaling does not exist in job"
                )));
            };
            let Some(count) = req.count else {
                return Ok(JobWriteResponse {
                    job_modify_index: job.modify_index,
                    ..JobWriteResponse::default()
                });
            };
            if req.job_modify_index > 0 && req.job_modify_index != job.job_modify_index {
                return Err(conflict(format!(
                    "Enforcing job modify index {}: job exists with conflicting job modify index: {}",
                    req.job_modify_index, job.job_modify_index
                )));
            }
            let mut scaled = (*job).clone();
            scaled.task_groups[at].count = count;
            validate_job(&scaled, &self.config.limits)?;
            scaled.submit_time = self.clock.now();
            let eval = self.new_eval(&scaled, TRIGGER_SCALING);
            let eval_id = eval.id.clone();
            match self.commit(Command::JobRegister {
                job: scaled,
                eval,
                enforce_index: Some(job.job_modify_index),
            }) {
                Ok(applied) => {
                    self.run_inline();
                    return Ok(JobWriteResponse {
                        eval_id,
                        eval_create_index: applied.index,
                        job_modify_index: applied.job_modify_index,
                        index: applied.index,
                        ..JobWriteResponse::default()
                    });
                }
                // Changed by another write in between: scale the job as it
                // is now, unless the caller named the version it scales.
                Err(Error::Conflict { .. }) if req.job_modify_index == 0 && tries < 8 => tries += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Nomad's periodic force launch (`POST /v1/job/<id>/periodic/force`):
    /// ordu has no periodic jobs, so this always answers what Nomad does
    /// for a job that is not one ([`Error::Conflict`], `can't force launch
    /// non-periodic job`), or [`Error::NotFound`] for a missing job.
    /// Nothing is written.
    pub fn force_periodic_job(&self, id: &str, opts: &WriteOptions) -> Result<JobWriteResponse> {
        self.check_region(opts.region.as_deref())?;
        self.existing_job(opts.namespace(), id)?;
        Err(conflict("can't force launch non-periodic job".into()))
    }

    /// Nomad's dispatch (`POST /v1/job/<id>/dispatch`): ordu has no
    /// parameterized jobs, so this always answers what Nomad does for a job
    /// that is not one ([`Error::Conflict`], `Specified job "<id>" is not a
    /// parameterized job`), or [`Error::NotFound`] for a missing job (Nomad:
    /// `parameterized job not found`). Nothing is written.
    pub fn dispatch_job(&self, id: &str, opts: &WriteOptions) -> Result<JobWriteResponse> {
        self.check_region(opts.region.as_deref())?;
        self.existing_job(opts.namespace(), id)?;
        Err(conflict(format!(
            "Specified job {id:?} is not a parameterized job"
        )))
    }

    /// The job `id` of `namespace` as it is now; not found is the write's
    /// error.
    fn existing_job(&self, namespace: &str, id: &str) -> Result<Arc<Job>> {
        self.with_state(|s| s.job(namespace, id).cloned())
            .ok_or_else(|| job_not_found(id))
    }

    /// Jobs are registered only in a namespace that exists (as in Nomad,
    /// where a namespace is created by a write). Checked before the write
    /// is proposed, not when it applies: a namespace deleted in between
    /// comes back with the job (see [`State::apply`]) rather than a log
    /// entry being refused by one replica's state and not another's.
    fn require_namespace(&self, namespace: &str) -> Result<()> {
        if self.with_state(|s| s.has_namespace(namespace)) {
            Ok(())
        } else {
            Err(Error::invalid_field(
                "Namespace",
                format!("namespace {namespace:?} does not exist"),
            ))
        }
    }

    /// Deregisters a job as [`Config::deregister`] says, without a purge:
    /// see [`Store::deregister_job_with`].
    pub fn deregister_job(&self, id: &str, opts: &WriteOptions) -> Result<JobWriteResponse> {
        self.deregister_job_with(id, false, opts)
    }

    /// Deregisters a job, with the `job-deregister` evaluation that stops its
    /// allocations (they and the job's evaluations stay readable until
    /// collected). With `purge`, or a store whose [`Config::deregister`] is
    /// [`DeregisterMode::Purge`], the job is removed; otherwise it is stopped:
    /// kept, copied with `Stop: true` as a new version, as Nomad 1.x does. A
    /// job that does not exist: nothing is written, and the answer has an
    /// empty `EvalID` and index 0.
    pub fn deregister_job_with(
        &self,
        id: &str,
        purge: bool,
        opts: &WriteOptions,
    ) -> Result<JobWriteResponse> {
        self.check_region(opts.region.as_deref())?;
        let purge = purge || self.config.deregister == DeregisterMode::Purge;
        // A stop that lost to a register in between is made again from the
        // job as it is now; each retry follows a write that got through.
        let mut tries = 0;
        let (eval_id, applied) = loop {
            let Some(job) = self.with_state(|s| s.job(opts.namespace(), id).cloned()) else {
                return Ok(JobWriteResponse::default());
            };
            let eval = self.new_eval(&job, TRIGGER_JOB_DEREGISTER);
            let eval_id = eval.id.clone();
            let cmd = if purge {
                // The evaluation names the job's namespace.
                Command::JobDeregister {
                    job_id: id.to_string(),
                    eval,
                }
            } else {
                let mut stopped = (*job).clone();
                stopped.stop = true;
                stopped.submit_time = self.clock.now();
                Command::JobRegister {
                    job: stopped,
                    eval,
                    enforce_index: Some(job.job_modify_index),
                }
            };
            match self.commit(cmd) {
                Ok(a) => break (eval_id, a),
                // Removed by another thread in between: as if it never existed.
                Err(Error::NotFound { .. }) => return Ok(JobWriteResponse::default()),
                Err(Error::Conflict { .. }) if !purge && tries < 8 => tries += 1,
                Err(e) => return Err(e),
            }
        };
        let blocked = self
            .broker
            .lock()
            .untrack_blocked(&job_key(opts.namespace(), id));
        self.cancel(blocked.into_iter().collect());
        self.run_inline();
        Ok(JobWriteResponse {
            eval_id,
            eval_create_index: applied.index,
            job_modify_index: if purge {
                applied.index
            } else {
                applied.job_modify_index
            },
            index: applied.index,
            ..JobWriteResponse::default()
        })
    }
}

/// A write's error for a job that does not exist.
fn job_not_found(id: &str) -> Error {
    Error::NotFound {
        what: "job",
        id: id.to_string(),
        index: 0,
    }
}
