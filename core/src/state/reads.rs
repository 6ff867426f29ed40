//! The state's reads: jobs (by namespace and ID), their versions, summary
//! and scale status, evaluations, allocations, nodes, namespaces, and the
//! indexes of each.

use super::*;

impl State {
    /// Every version kept of a job, newest (the job itself) first; empty
    /// when the job does not exist.
    pub fn job_versions(&self, namespace: &str, id: &str) -> Vec<Arc<Job>> {
        let key = job_key(namespace, id);
        let Some(job) = self.jobs.get(&key) else {
            return Vec::new();
        };
        let mut out = vec![job.clone()];
        out.extend(self.job_versions.get(&key).into_iter().flatten().cloned());
        out
    }

    /// One version of a job, the current one or a kept one.
    pub fn job_version(&self, namespace: &str, id: &str, version: u64) -> Option<Arc<Job>> {
        self.job_version_by_key(&job_key(namespace, id), version)
    }

    pub(super) fn job_version_by_key(&self, key: &str, version: u64) -> Option<Arc<Job>> {
        let job = self.jobs.get(key)?;
        if job.version == version {
            return Some(job.clone());
        }
        self.job_versions
            .get(key)?
            .iter()
            .find(|j| j.version == version)
            .cloned()
    }

    /// A job's summary (Nomad's `JobSummary`): per task group of the job
    /// (and any other group its allocations or evaluations name), its
    /// allocations by client status, of every incarnation of the job ID,
    /// and `Queued` from the evaluation written last that names the group.
    /// `ModifyIndex` is [`State::job_summary_index`]. None without the job.
    pub fn job_summary(&self, namespace: &str, id: &str) -> Option<JobSummary> {
        let key = job_key(namespace, id);
        let job = self.jobs.get(&key)?;
        let mut summary: BTreeMap<String, TaskGroupSummary> = job
            .task_groups
            .iter()
            .map(|g| (g.name.clone(), TaskGroupSummary::default()))
            .collect();
        for (g, counts) in self.derived.summaries.get(&key).into_iter().flatten() {
            let queued = summary.get(g).map_or(0, |s| s.queued);
            summary.insert(g.clone(), TaskGroupSummary { queued, ..*counts });
        }
        for (g, by_eval) in self.derived.queued.get(&key).into_iter().flatten() {
            if let Some((_, n)) = by_eval.last_key_value() {
                entry_mut_b(&mut summary, g).queued = *n;
            }
        }
        Some(JobSummary {
            job_id: job.id.clone(),
            namespace: job.namespace.clone(),
            summary,
            children: Default::default(),
            create_index: job.create_index,
            modify_index: self.job_summary_index(namespace, id),
        })
    }

    /// The index of a job summary: the last change to the job, its
    /// allocations or its evaluations.
    pub fn job_summary_index(&self, namespace: &str, id: &str) -> u64 {
        self.job_indexes
            .get(&job_key(namespace, id))
            .map_or(0, |i| i.job.max(i.allocs).max(i.evals))
    }

    /// A job's scale status (Nomad's `JobScaleStatus`): per task group, its
    /// `Count` and its allocations of the current incarnation that are
    /// neither terminal nor unknown (`Placed`), and of those the running.
    /// None without the job.
    pub fn job_scale_status(&self, namespace: &str, id: &str) -> Option<JobScaleStatus> {
        let job = self.jobs.get(&job_key(namespace, id))?;
        let mut groups: BTreeMap<String, TaskGroupScaleStatus> = job
            .task_groups
            .iter()
            .map(|g| {
                let status = TaskGroupScaleStatus {
                    desired: g.count,
                    ..TaskGroupScaleStatus::default()
                };
                (g.name.clone(), status)
            })
            .collect();
        for a in self.allocs_by_job(namespace, id) {
            if a.job.create_index != job.create_index || a.is_terminal() {
                continue;
            }
            if let Some(g) = groups.get_mut(&a.task_group) {
                g.placed += 1;
                if a.client_status == AllocClientStatus::Running {
                    g.running += 1;
                }
            }
        }
        Some(JobScaleStatus {
            job_id: job.id.clone(),
            namespace: job.namespace.clone(),
            job_create_index: job.create_index,
            job_modify_index: job.modify_index,
            job_stopped: job.stop,
            task_groups: groups,
        })
    }

    /// A namespace; `default` always exists.
    pub fn namespace(&self, name: &str) -> Option<Arc<Namespace>> {
        match self.namespaces.get(name) {
            Some(ns) => Some(ns.clone()),
            None if name == DEFAULT_NAMESPACE => Some(Arc::new(Namespace::default_namespace())),
            None => None,
        }
    }

    /// Every namespace whose name starts with `prefix`, by name.
    pub fn namespaces(&self, prefix: &str) -> Vec<Arc<Namespace>> {
        let mut out: Vec<Arc<Namespace>> = self
            .namespaces
            .range(prefix.to_string()..)
            .take_while(|(name, _)| name.starts_with(prefix))
            .map(|(_, ns)| ns.clone())
            .collect();
        if DEFAULT_NAMESPACE.starts_with(prefix) && !self.namespaces.contains_key(DEFAULT_NAMESPACE)
        {
            let at = out.partition_point(|ns| ns.name.as_str() < DEFAULT_NAMESPACE);
            out.insert(at, Arc::new(Namespace::default_namespace()));
        }
        out
    }

    /// Index of the last change to any namespace.
    pub fn namespaces_index(&self) -> u64 {
        self.tables.namespaces
    }

    /// Whether jobs of `namespace` may be registered: it exists.
    pub fn has_namespace(&self, name: &str) -> bool {
        name == DEFAULT_NAMESPACE || self.namespaces.contains_key(name)
    }

    /// A job by namespace and ID.
    pub fn job(&self, namespace: &str, id: &str) -> Option<&Arc<Job>> {
        self.jobs.get(&job_key(namespace, id))
    }

    /// The job as a register of `job` at `index` would store it, without
    /// storing it: the stored job when the spec is the same, else `job` with
    /// the indexes, version and status [`State::apply`] gives it.
    pub fn job_as_registered(&self, job: Job, index: u64) -> Arc<Job> {
        let existing = self.jobs.get(&job.key());
        match as_registered(existing, Cow::Owned(job), index) {
            Some(j) => Arc::new(j),
            None => existing.expect("only a stored job is the same").clone(),
        }
    }

    /// Jobs of `namespace` (`*`: of every namespace) whose ID starts with
    /// `prefix`, in namespace and then ID order.
    pub fn jobs_with_prefix<'a>(
        &'a self,
        namespace: &'a str,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Job>> {
        // In one namespace its keys with the prefix are one run of the map.
        let run = (namespace != ANY_NAMESPACE).then(|| job_key(namespace, prefix));
        self.jobs
            .range(run.clone().unwrap_or_default()..)
            .take_while(move |(k, _)| run.as_ref().is_none_or(|r| k.starts_with(r.as_str())))
            .filter(move |(_, j)| j.id.starts_with(prefix))
            .map(|(_, j)| j)
    }

    /// Every job, in namespace and then ID order.
    pub fn jobs(&self) -> impl Iterator<Item = &Arc<Job>> {
        self.jobs.values()
    }

    /// An evaluation by ID.
    pub fn eval(&self, id: &str) -> Option<&Arc<Evaluation>> {
        self.evals.get(id)
    }

    /// Every evaluation, in ID order.
    pub fn evals(&self) -> impl Iterator<Item = &Arc<Evaluation>> {
        let mut all: Vec<(&String, &Arc<Evaluation>)> = self.evals.iter().collect();
        all.sort_unstable_by_key(|(id, _)| *id);
        all.into_iter().map(|(_, e)| e)
    }

    /// A job's evaluations, in ID order.
    pub fn evals_by_job(&self, namespace: &str, job_id: &str) -> Vec<Arc<Evaluation>> {
        let Some(ids) = self.derived.evals_by_job.get(&job_key(namespace, job_id)) else {
            return Vec::new();
        };
        let mut evals: Vec<Arc<Evaluation>> = ids.iter().map(|id| self.evals[id].clone()).collect();
        evals.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        evals
    }

    /// An allocation by ID.
    pub fn alloc(&self, id: &str) -> Option<&Arc<Allocation>> {
        self.allocs.get(id)
    }

    /// Every allocation, in ID order.
    pub fn allocs(&self) -> impl Iterator<Item = &Arc<Allocation>> {
        let mut all: Vec<(&String, &Arc<Allocation>)> = self.allocs.iter().collect();
        all.sort_unstable_by_key(|(id, _)| *id);
        all.into_iter().map(|(_, a)| a)
    }

    /// Number of allocations (every status).
    pub fn alloc_count(&self) -> usize {
        self.allocs.len()
    }

    /// Number of jobs.
    pub fn job_count(&self) -> usize {
        self.jobs.len()
    }

    /// Number of evaluations (every status).
    pub fn eval_count(&self) -> usize {
        self.evals.len()
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// A job's allocations (every incarnation), in ID order.
    pub fn allocs_by_job(&self, namespace: &str, job_id: &str) -> Vec<Arc<Allocation>> {
        let mut out: Vec<Arc<Allocation>> = self
            .derived
            .allocs_by_job
            .get(&job_key(namespace, job_id))
            .map(|ids| ids.iter().map(|id| self.allocs[id].clone()).collect())
            .unwrap_or_default();
        out.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// A node's allocations, in ID order.
    pub fn allocs_by_node(&self, node_id: &str) -> Vec<Arc<Allocation>> {
        let mut out: Vec<Arc<Allocation>> = self
            .derived
            .allocs_by_node
            .get(node_id)
            .map(|ids| ids.iter().map(|id| self.allocs[id].clone()).collect())
            .unwrap_or_default();
        out.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// A node by ID.
    pub fn node(&self, id: &str) -> Option<&Arc<Node>> {
        self.nodes.get(id)
    }

    /// Every node, in ID order.
    pub fn nodes(&self) -> impl Iterator<Item = &Arc<Node>> {
        self.nodes.values()
    }

    /// What the node's live (non-terminal) allocations use.
    pub fn node_usage(&self, node_id: &str) -> Option<&NodeUsage> {
        self.derived.usage.get(node_id)
    }

    /// Index of the last change to a job (also its removal).
    pub fn job_index(&self, namespace: &str, id: &str) -> u64 {
        self.job_index_by_key(&job_key(namespace, id))
    }
    pub(super) fn job_index_by_key(&self, key: &str) -> u64 {
        self.job_indexes.get(key).map_or(0, |i| i.job)
    }
    /// Index of the last change to a job's allocations.
    pub fn job_allocs_index(&self, namespace: &str, id: &str) -> u64 {
        self.job_indexes
            .get(&job_key(namespace, id))
            .map_or(0, |i| i.allocs)
    }
    /// Index of the last change to a job's evaluations.
    pub fn job_evals_index(&self, namespace: &str, id: &str) -> u64 {
        self.job_indexes
            .get(&job_key(namespace, id))
            .map_or(0, |i| i.evals)
    }
    /// Index of the last change to the job list.
    pub fn jobs_index(&self) -> u64 {
        self.tables.jobs
    }
    /// Index of the last change to any evaluation.
    pub fn evals_index(&self) -> u64 {
        self.tables.evals
    }
    /// Index of the last change to any allocation.
    pub fn allocs_index(&self) -> u64 {
        self.tables.allocs
    }
    /// Index of the last change to a node.
    pub fn node_index(&self, id: &str) -> u64 {
        self.node_indexes.get(id).map_or(0, |i| i.node)
    }
    /// Index of the last change to a node's allocations.
    pub fn node_allocs_index(&self, id: &str) -> u64 {
        self.node_indexes.get(id).map_or(0, |i| i.allocs)
    }
    /// Index of the last change to the node list.
    pub fn nodes_index(&self) -> u64 {
        self.tables.nodes
    }
}
