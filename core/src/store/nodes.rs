//! Proposing node writes, and the evaluations a node change triggers.

use super::*;

impl Store {
    // ---- nodes ----

    /// Registers or updates a node (its `CreateIndex` and `Drain` are kept).
    /// Capacity that appears unblocks blocked evaluations, and system jobs get
    /// an evaluation to place on it.
    pub fn register_node(&self, node: Node) -> Result<NodeUpdateResponse> {
        validate_node(&node)?;
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

    /// Sets or clears a node's drain flag. Draining migrates its allocations.
    pub fn update_node_drain(&self, id: &str, drain: bool) -> Result<NodeUpdateResponse> {
        let evals = self.with_state(|s| {
            let mut out = Vec::new();
            if s.node(id).is_some_and(|n| n.drain != drain) {
                if drain {
                    self.node_job_evals(s, id, TRIGGER_NODE_DRAIN, &mut out);
                } else {
                    self.system_job_evals(s, id, &mut out);
                }
            }
            out
        });
        self.node_write(
            Command::NodeUpdateDrain {
                node_id: id.to_string(),
                drain,
                evals,
            },
            id,
        )
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
        let mut jobs: Vec<&str> = Vec::new();
        let allocs = s.allocs_by_node(node_id);
        for a in &allocs {
            if !a.is_terminal() && !jobs.contains(&a.job_id.as_str()) {
                jobs.push(&a.job_id);
            }
        }
        for job_id in jobs {
            if let Some(job) = s.job(job_id) {
                let mut e = self.new_eval(job, trigger);
                e.node_id = node_id.to_string();
                e.node_modify_index = s.node_index(node_id);
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
