//! Namespaces, evaluations, allocations, nodes, the agent, and the duties a
//! host runs (drains, collection, scheduling by hand).

use super::*;

/// Every namespace whose name starts with `prefix` (`GET /v1/namespaces`).
pub fn namespaces(store: &Store, prefix: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.namespaces(prefix, q))
}

/// A namespace (`GET /v1/namespace/<name>`).
pub fn namespace(store: &Store, name: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.namespace(name, q))
}

/// Creates or updates a namespace (`PUT /v1/namespace[/<name>]`) from its
/// JSON (`{"Name", "Description", "Meta", "Quota"}`); `name` is the
/// path's, empty without one. Answers `null` at the write's index, as Nomad
/// answers nothing.
pub fn upsert_namespace(
    store: &Store,
    name: &str,
    body: &[u8],
    region: Option<&str>,
) -> Result<Reply> {
    check_region(store, region)?;
    let index = store.upsert_namespace_json(name, body, &write_opts(region))?;
    reply(&(), index)
}

/// Deletes a namespace (`DELETE /v1/namespace/<name>`; see
/// [`Store::delete_namespace`]). Answers `null` at the write's index.
pub fn delete_namespace(store: &Store, name: &str, region: Option<&str>) -> Result<Reply> {
    let index = store.delete_namespace(name, &write_opts(region))?;
    reply(&(), index)
}

/// An evaluation.
pub fn evaluation(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.evaluation(id, q))
}

/// An evaluation's allocation stubs (`[]` for an unknown evaluation).
pub fn eval_allocations(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.eval_allocations(id, q))
}

/// What the agent and status endpoints answer for the host `agent`
/// (see [`crate::agent`]): `what` is `self`, `members`, `leader`, `peers` or
/// `regions`. The index is 0: these are not blocking queries.
pub fn agent(store: &Store, agent: &crate::Agent, what: &str) -> Result<Reply> {
    match what {
        "self" => reply(&agent.agent_self(store), 0),
        "members" => reply(&agent.members(store), 0),
        "leader" => reply(&agent.leader(), 0),
        "peers" => reply(&agent.peers(), 0),
        "regions" => reply(&crate::agent::regions(store), 0),
        _ => Err(Error::Invalid {
            stage: Stage::Decode,
            errors: vec![crate::FieldError::new(
                "what",
                format!("{what:?} is not one of self, members, leader, peers, regions"),
            )],
        }),
    }
}

/// An allocation.
pub fn allocation(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.allocation(id, q))
}

/// A node.
pub fn node(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.node(id, q))
}

/// The node list.
pub fn nodes(store: &Store, prefix: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.nodes(prefix, q))
}

/// A node's allocations.
pub fn node_allocations(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.node_allocations(id, q))
}

/// Registers a node from `{"Node": {...}}` or the bare node.
pub fn register_node(store: &Store, body: &[u8]) -> Result<Reply> {
    let r = store.register_node_json(body)?;
    reply(&r, r.index)
}

/// Removes a node.
pub fn deregister_node(store: &Store, id: &str) -> Result<Reply> {
    let r = store.deregister_node(id)?;
    reply(&r, r.index)
}

/// Sets a node's status from `{"Status": "ready"}`.
pub fn update_node_status(store: &Store, id: &str, body: &[u8]) -> Result<Reply> {
    #[derive(Deserialize)]
    struct Body {
        #[serde(rename = "Status")]
        status: String,
    }
    let b: Body = decode(body, &store.config().limits)?;
    let r = store.update_node_status(id, &b.status)?;
    reply(&r, r.index)
}

/// Sets a node's drain flag from `{"Drain": true}`.
pub fn update_node_drain(store: &Store, id: &str, body: &[u8]) -> Result<Reply> {
    update_node_drain_query(store, id, None, body)
}

/// Drains a node as `PUT|POST /v1/node/<id>/drain` does. The `enable` query
/// parameter (v0.2's command-line tool, with an empty body) or the body
/// `{"Drain": true}` set the v0.2 flag, which Nomad 1.x reads as a forced
/// drain or its end ([`Store::update_node_drain`]); with both, they must
/// agree. Any other body is Nomad 1.x's
/// `{"NodeID", "DrainSpec": {"Deadline", "IgnoreSystemJobs"} | null, "MarkEligible"}`
/// ([`Store::drain_node`]; the path's node wins over `NodeID`).
pub fn update_node_drain_query(
    store: &Store,
    id: &str,
    enable: Option<&str>,
    body: &[u8],
) -> Result<Reply> {
    #[derive(Deserialize)]
    struct Body {
        #[serde(rename = "Drain")]
        drain: bool,
    }
    let bad = |message: &str| Error::Invalid {
        stage: Stage::Decode,
        errors: vec![crate::FieldError::new("enable", message)],
    };
    let from_query = match enable {
        Some(raw) => {
            Some(crate::params::parse_go_bool(raw).ok_or_else(|| bad("invalid enable value"))?)
        }
        None => None,
    };
    let empty = body.iter().all(u8::is_ascii_whitespace);
    let drain = match (from_query, empty) {
        (Some(d), true) => d,
        (None, true) => return Err(bad("missing enable value")),
        (query, false) => {
            let limits = &store.config().limits;
            let v: serde_json::Value = decode(body, limits)?;
            let legacy = v.get("Drain").is_some()
                && v.get("DrainSpec").is_none()
                && v.get("MarkEligible").is_none();
            if !legacy && query.is_none() {
                let req: NodeDrainRequest = decode(body, limits)?;
                let r = store.drain_node(id, req.drain_spec.as_ref(), req.mark_eligible)?;
                return reply(&r, r.index);
            }
            let b: Body = decode(body, limits)?;
            if query.is_some_and(|q| q != b.drain) {
                return Err(bad("enable value does not match the body's Drain"));
            }
            b.drain
        }
    };
    let r = store.update_node_drain(id, drain)?;
    reply(&r, r.index)
}

/// Drains a node from Nomad 1.x's body
/// `{"NodeID", "DrainSpec": {"Deadline": ns, "IgnoreSystemJobs": bool} | null, "MarkEligible": bool}`
/// (see [`Store::drain_node`]); the node is `id`, whatever `NodeID` says.
pub fn drain_node(store: &Store, id: &str, body: &[u8]) -> Result<Reply> {
    let req: NodeDrainRequest = decode(body, &store.config().limits)?;
    let r = store.drain_node(id, req.drain_spec.as_ref(), req.mark_eligible)?;
    reply(&r, r.index)
}

/// Sets a node's scheduling eligibility from `{"NodeID", "Eligibility"}`
/// (`eligible` or `ineligible`; the node is `id`). Answers Nomad's
/// `{"EvalIDs", "EvalCreateIndex", "NodeModifyIndex", "Index"}`.
pub fn update_node_eligibility(store: &Store, id: &str, body: &[u8]) -> Result<Reply> {
    let req: NodeEligibilityRequest = decode(body, &store.config().limits)?;
    let r = store.update_node_eligibility(id, &req.eligibility)?;
    reply(&r, r.index)
}

/// Creates the node's evaluations (see [`Store::evaluate_node`]).
pub fn evaluate_node(store: &Store, id: &str) -> Result<Reply> {
    let r = store.evaluate_node(id)?;
    reply(&r, r.index)
}

/// Stops an allocation (see [`Store::stop_allocation`]): `{"EvalID", "Index"}`.
pub fn stop_allocation(store: &Store, id: &str, region: Option<&str>) -> Result<Reply> {
    let r = store.stop_allocation(id, &write_opts(region))?;
    reply(&r, r.index)
}

/// Records a client's report on an allocation from
/// `{"ClientStatus": "running", "ClientDescription": "", "TaskStates": {...}}`.
/// `id`, when given, is the allocation (and must match an `ID` in the body).
pub fn update_alloc_client(store: &Store, id: Option<&str>, body: &[u8]) -> Result<Reply> {
    let mut u: AllocClientUpdate = decode(body, &store.config().limits)?;
    if let Some(id) = id {
        if !u.id.is_empty() && u.id != id {
            return Err(Error::Invalid {
                stage: Stage::Decode,
                errors: vec![crate::FieldError::new(
                    "ID",
                    format!("allocation ID {:?} does not match {id:?}", u.id),
                )],
            });
        }
        u.id = id.to_string();
    }
    let index = store.update_alloc_client(u)?;
    reply(&serde_json::json!({ "Index": index }), index)
}

/// Carries drains on (see [`Store::advance_drains`]); a host calls it on a
/// timer. Answers `{"Index": n}` (0 when there was nothing to do).
pub fn advance_drains(store: &Store) -> Result<Reply> {
    let index = store.advance_drains()?.unwrap_or(0);
    reply(&serde_json::json!({ "Index": index }), index)
}

/// Collects terminal evaluations and allocations older than `older_than`
/// (unix ns). Answers `{"Index": n}` (0 when nothing was collected).
pub fn garbage_collect(store: &Store, older_than: i64) -> Result<Reply> {
    let index = store.garbage_collect(older_than)?.unwrap_or(0);
    reply(&serde_json::json!({ "Index": index }), index)
}

/// Manual mode: the next ready evaluation of one of `types` (all when empty),
/// waiting up to `wait_ms` milliseconds (0: not at all; capped at the reads'
/// longest wait) for one. `None` when none arrived in time.
pub fn dequeue_evaluation(store: &Store, types: &[&str], wait_ms: u64) -> Option<crate::Delivery> {
    store.dequeue_evaluation(types, Duration::from_millis(wait_ms).min(MAX_WAIT))
}

/// A dequeued evaluation as `{"Eval": {...}, "Token": "...", "Attempt": n}`,
/// with the evaluation's modify index.
pub fn delivery(d: &crate::Delivery) -> Result<Reply> {
    reply(
        &serde_json::json!({ "Eval": &*d.eval, "Token": d.token, "Attempt": d.attempt }),
        d.eval.modify_index,
    )
}

/// Manual mode: plans, submits and acks a dequeued evaluation (nacked when
/// its plans keep conflicting). Answers `{"Index": n}`, the plan's index.
pub fn process_evaluation(store: &Store, d: &crate::Delivery) -> Result<Reply> {
    let index = store.process_evaluation(d)?;
    reply(&serde_json::json!({ "Index": index }), index)
}

/// Registers a node as `PUT /v1/node/<id>` does: `{"Node": {...}}` or the bare
/// node; when `id` is given, a node without an ID takes it and a node with
/// another ID is a decode error (`Node ID does not match`, HTTP 400). The
/// region is checked first.
pub fn register_node_at(
    store: &Store,
    id: Option<&str>,
    body: &[u8],
    region: Option<&str>,
) -> Result<Reply> {
    check_region(store, region)?;
    let mut node = crate::structs::decode_node(body, &store.config().limits)?;
    if let Some(id) = id {
        if node.id.is_empty() {
            node.id = id.to_string();
        } else if node.id != id {
            return Err(path_mismatch("Node ID does not match"));
        }
    }
    let r = store.register_node(node)?;
    reply(&r, r.index)
}
