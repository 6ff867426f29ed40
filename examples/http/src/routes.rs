//! Routing as Nomad's HTTP agent does it: a few fixed paths, and prefixes whose
//! rest is percent-decoded and dispatched by suffix, so that IDs may contain
//! `/` (`/v1/job/a/b` is job `a/b`; `/v1/job/a/b/evaluate` evaluates it).

use axum::http::Method;

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `GET /v1/jobs`
    ListJobs,
    /// `PUT|POST /v1/jobs` (no ID) or `/v1/job/<id>`
    RegisterJob(Option<String>),
    /// `GET /v1/job/<id>`
    GetJob(String),
    /// `DELETE /v1/job/<id>`
    DeregisterJob(String),
    /// `GET /v1/job/<id>/allocations`
    JobAllocations(String),
    /// `GET /v1/job/<id>/evaluations`
    JobEvaluations(String),
    /// `PUT|POST /v1/job/<id>/evaluate`
    EvaluateJob(String),
    /// `PUT|POST /v1/job/<id>/plan`: a dry run; served as a write (a
    /// follower forwards it to the leader) that writes nothing
    PlanJob(String),
    /// `GET /v1/job/<id>/versions`
    JobVersions(String),
    /// `PUT|POST /v1/job/<id>/revert`
    RevertJob(String),
    /// `PUT|POST /v1/job/<id>/stable`
    JobStability(String),
    /// `GET /v1/job/<id>/summary`
    JobSummary(String),
    /// `GET /v1/job/<id>/scale`
    JobScaleStatus(String),
    /// `PUT|POST /v1/job/<id>/scale`
    ScaleJob(String),
    /// `GET /v1/job/<id>/deployments`: always `[]`
    JobDeployments(String),
    /// `GET /v1/job/<id>/deployment`: always `null`
    JobDeployment(String),
    /// `PUT|POST /v1/job/<id>/periodic/force`: Nomad's error for a job that
    /// is not periodic
    PeriodicForce(String),
    /// `PUT|POST /v1/job/<id>/dispatch`: Nomad's error for a job that is not
    /// parameterized
    DispatchJob(String),
    /// `GET /v1/namespaces`
    ListNamespaces,
    /// `GET /v1/namespace/<name>`
    GetNamespace(String),
    /// `PUT|POST /v1/namespace` (the body's `Name`) or `/v1/namespace/<name>`
    UpsertNamespace(Option<String>),
    /// `DELETE /v1/namespace/<name>`
    DeleteNamespace(String),
    /// `GET /v1/nodes`
    ListNodes,
    /// `GET /v1/node/<id>`
    GetNode(String),
    /// `PUT|POST /v1/node/<id>`
    RegisterNode(String),
    /// `DELETE /v1/node/<id>`
    DeregisterNode(String),
    /// `PUT|POST /v1/node/<id>/status`
    NodeStatus(String),
    /// `PUT|POST /v1/node/<id>/drain`
    NodeDrain(String),
    /// `PUT|POST /v1/node/<id>/eligibility`
    NodeEligibility(String),
    /// `PUT|POST /v1/node/<id>/evaluate`
    NodeEvaluate(String),
    /// `GET /v1/node/<id>/allocations`
    NodeAllocations(String),
    /// `GET /v1/evaluations`
    ListEvaluations,
    /// `GET /v1/allocations`
    ListAllocations,
    /// `GET /v1/evaluation/<id>`
    GetEvaluation(String),
    /// `GET /v1/evaluation/<id>/allocations`
    EvalAllocations(String),
    /// `GET /v1/allocation/<id>`
    GetAllocation(String),
    /// `PUT|POST /v1/allocation/<id>/status`
    UpdateAllocation(String),
    /// `PUT|POST /v1/allocation/<id>/stop`
    StopAllocation(String),
    /// `GET /v1/agent/self`
    AgentSelf,
    /// `GET /v1/agent/members`
    AgentMembers,
    /// `GET /v1/status/leader`
    StatusLeader,
    /// `GET /v1/status/peers`
    StatusPeers,
    /// `GET /v1/regions`
    Regions,
    /// `GET /v1/operator/raft/configuration`
    RaftConfiguration,
    /// `PUT|POST /v1/operator/raft/peer`: add a server (ordu's; Nomad's
    /// servers join by gossip)
    RaftAddPeer,
    /// `DELETE /v1/operator/raft/peer?id=`
    RaftRemovePeer,
    /// `GET /v1/event/stream`
    EventStream,
}

impl Op {
    /// Reads answer with the read headers and may block.
    pub fn is_read(&self) -> bool {
        matches!(
            self,
            Op::ListJobs
                | Op::GetJob(_)
                | Op::JobAllocations(_)
                | Op::JobEvaluations(_)
                | Op::JobVersions(_)
                | Op::JobSummary(_)
                | Op::JobScaleStatus(_)
                | Op::JobDeployments(_)
                | Op::JobDeployment(_)
                | Op::ListNamespaces
                | Op::GetNamespace(_)
                | Op::ListNodes
                | Op::ListEvaluations
                | Op::ListAllocations
                | Op::GetNode(_)
                | Op::NodeAllocations(_)
                | Op::GetEvaluation(_)
                | Op::EvalAllocations(_)
                | Op::GetAllocation(_)
        )
    }

    /// About the agent and its cluster: answered at once, without the
    /// blocking-query headers, as Nomad's agent and status endpoints.
    pub fn is_agent(&self) -> bool {
        matches!(
            self,
            Op::AgentSelf | Op::AgentMembers | Op::StatusLeader | Op::StatusPeers | Op::Regions
        )
    }

    /// The cluster's membership: answered by [`crate::cluster`].
    pub fn is_operator(&self) -> bool {
        matches!(
            self,
            Op::RaftConfiguration | Op::RaftAddPeer | Op::RaftRemovePeer
        )
    }
}

/// The outcome of routing one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// A known route and a method it takes.
    Op(Op),
    /// A known route, another method: 405 `Invalid method`.
    MethodNotAllowed,
    /// No such route: 404.
    NotFound,
    /// The path does not percent-decode to UTF-8: 400.
    BadPath,
}

/// Routes `method` on the raw (still percent-encoded) URL path.
pub fn route(method: &Method, path: &str) -> Route {
    let read = *method == Method::GET;
    let write = *method == Method::PUT || *method == Method::POST;
    let delete = *method == Method::DELETE;
    let pick = |ok: bool, op: Op| {
        if ok {
            Route::Op(op)
        } else {
            Route::MethodNotAllowed
        }
    };

    match path {
        "/v1/jobs" => {
            return if read {
                Route::Op(Op::ListJobs)
            } else {
                pick(write, Op::RegisterJob(None))
            }
        }
        "/v1/nodes" => return pick(read, Op::ListNodes),
        "/v1/namespaces" => return pick(read, Op::ListNamespaces),
        "/v1/namespace" => return pick(write, Op::UpsertNamespace(None)),
        "/v1/evaluations" => return pick(read, Op::ListEvaluations),
        "/v1/allocations" => return pick(read, Op::ListAllocations),
        "/v1/agent/self" => return pick(read, Op::AgentSelf),
        "/v1/agent/members" => return pick(read, Op::AgentMembers),
        "/v1/status/leader" => return pick(read, Op::StatusLeader),
        "/v1/status/peers" => return pick(read, Op::StatusPeers),
        "/v1/regions" => return pick(read, Op::Regions),
        "/v1/event/stream" => return pick(read, Op::EventStream),
        "/v1/operator/raft/configuration" => return pick(read, Op::RaftConfiguration),
        "/v1/operator/raft/peer" => {
            return if delete {
                Route::Op(Op::RaftRemovePeer)
            } else {
                pick(write, Op::RaftAddPeer)
            }
        }
        _ => {}
    }
    let (kind, rest) = if let Some(r) = path.strip_prefix("/v1/job/") {
        ("job", r)
    } else if let Some(r) = path.strip_prefix("/v1/node/") {
        ("node", r)
    } else if let Some(r) = path.strip_prefix("/v1/evaluation/") {
        ("evaluation", r)
    } else if let Some(r) = path.strip_prefix("/v1/allocation/") {
        ("allocation", r)
    } else if let Some(r) = path.strip_prefix("/v1/namespace/") {
        ("namespace", r)
    } else {
        return Route::NotFound;
    };
    let Some(rest) = percent_decode(rest) else {
        return Route::BadPath;
    };
    let suffixed = |s: &str| rest.strip_suffix(s).map(str::to_string);
    match kind {
        "job" => {
            if let Some(id) = suffixed("/evaluate") {
                pick(write, Op::EvaluateJob(id))
            } else if let Some(id) = suffixed("/plan") {
                pick(write, Op::PlanJob(id))
            } else if let Some(id) = suffixed("/allocations") {
                pick(read, Op::JobAllocations(id))
            } else if let Some(id) = suffixed("/evaluations") {
                pick(read, Op::JobEvaluations(id))
            } else if let Some(id) = suffixed("/versions") {
                pick(read, Op::JobVersions(id))
            } else if let Some(id) = suffixed("/revert") {
                pick(write, Op::RevertJob(id))
            } else if let Some(id) = suffixed("/stable") {
                pick(write, Op::JobStability(id))
            } else if let Some(id) = suffixed("/summary") {
                pick(read, Op::JobSummary(id))
            } else if let Some(id) = suffixed("/scale") {
                if read {
                    Route::Op(Op::JobScaleStatus(id))
                } else {
                    pick(write, Op::ScaleJob(id))
                }
            } else if let Some(id) = suffixed("/deployments") {
                pick(read, Op::JobDeployments(id))
            } else if let Some(id) = suffixed("/deployment") {
                pick(read, Op::JobDeployment(id))
            } else if let Some(id) = suffixed("/periodic/force") {
                pick(write, Op::PeriodicForce(id))
            } else if let Some(id) = suffixed("/dispatch") {
                pick(write, Op::DispatchJob(id))
            } else if ordu::structs::routed_suffix(&rest).is_some() {
                // Nomad serves it; ordu does not yet. Never a job ID (register
                // refuses such IDs), so not `job not found`.
                Route::NotFound
            } else if read {
                Route::Op(Op::GetJob(rest))
            } else if write {
                Route::Op(Op::RegisterJob(Some(rest)))
            } else {
                pick(delete, Op::DeregisterJob(rest))
            }
        }
        "node" => {
            if let Some(id) = suffixed("/status") {
                pick(write, Op::NodeStatus(id))
            } else if let Some(id) = suffixed("/drain") {
                pick(write, Op::NodeDrain(id))
            } else if let Some(id) = suffixed("/eligibility") {
                pick(write, Op::NodeEligibility(id))
            } else if let Some(id) = suffixed("/evaluate") {
                pick(write, Op::NodeEvaluate(id))
            } else if let Some(id) = suffixed("/allocations") {
                pick(read, Op::NodeAllocations(id))
            } else if rest.contains('/') {
                // A sub-path ordu does not serve: node IDs have no `/`.
                Route::NotFound
            } else if read {
                Route::Op(Op::GetNode(rest))
            } else if write {
                Route::Op(Op::RegisterNode(rest))
            } else {
                pick(delete, Op::DeregisterNode(rest))
            }
        }
        // Namespace names have no `/` (letters, digits and `-`).
        "namespace" if rest.contains('/') => Route::NotFound,
        "namespace" if read => Route::Op(Op::GetNamespace(rest)),
        "namespace" if write => Route::Op(Op::UpsertNamespace(Some(rest))),
        "namespace" => pick(delete, Op::DeleteNamespace(rest)),
        "evaluation" if rest.ends_with("/allocations") => {
            match suffixed("/allocations").filter(|id| !id.contains('/')) {
                Some(id) => pick(read, Op::EvalAllocations(id)),
                None => Route::NotFound,
            }
        }
        // Evaluation and allocation IDs are UUIDs: a `/` is a sub-path.
        "allocation" if rest.ends_with("/stop") => {
            match suffixed("/stop").filter(|id| !id.contains('/')) {
                Some(id) => pick(write, Op::StopAllocation(id)),
                None => Route::NotFound,
            }
        }
        _ if rest.contains('/') && !(kind == "allocation" && rest.ends_with("/status")) => {
            Route::NotFound
        }
        "evaluation" => pick(read, Op::GetEvaluation(rest)),
        _ => match suffixed("/status") {
            Some(id) => pick(write, Op::UpdateAllocation(id)),
            None => pick(read, Op::GetAllocation(rest)),
        },
    }
}

/// Decodes `%XX` escapes (a `+` stays a `+` in a path). `None` when an
/// escape is malformed or the result is not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hi = (hex[0] as char).to_digit(16)?;
            let lo = (hex[1] as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(m: Method, p: &str) -> Route {
        route(&m, p)
    }
    fn op(o: Op) -> Route {
        Route::Op(o)
    }
    fn s(x: &str) -> String {
        x.to_string()
    }

    #[test]
    fn jobs_collection() {
        assert_eq!(r(Method::GET, "/v1/jobs"), op(Op::ListJobs));
        assert_eq!(r(Method::PUT, "/v1/jobs"), op(Op::RegisterJob(None)));
        assert_eq!(r(Method::POST, "/v1/jobs"), op(Op::RegisterJob(None)));
        assert_eq!(r(Method::DELETE, "/v1/jobs"), Route::MethodNotAllowed);
        assert_eq!(r(Method::PATCH, "/v1/jobs"), Route::MethodNotAllowed);
    }

    #[test]
    fn job_suffixes_and_slashes() {
        assert_eq!(r(Method::GET, "/v1/job/web"), op(Op::GetJob(s("web"))));
        assert_eq!(r(Method::GET, "/v1/job/a/b"), op(Op::GetJob(s("a/b"))));
        assert_eq!(
            r(Method::PUT, "/v1/job/a/b"),
            op(Op::RegisterJob(Some(s("a/b"))))
        );
        assert_eq!(
            r(Method::DELETE, "/v1/job/a%2Fb%20c"),
            op(Op::DeregisterJob(s("a/b c")))
        );
        assert_eq!(r(Method::PATCH, "/v1/job/web"), Route::MethodNotAllowed);
        assert_eq!(
            r(Method::POST, "/v1/job/a/b/evaluate"),
            op(Op::EvaluateJob(s("a/b")))
        );
        assert_eq!(
            r(Method::PUT, "/v1/job/a/b/plan"),
            op(Op::PlanJob(s("a/b")))
        );
        assert_eq!(r(Method::GET, "/v1/job/a/plan"), Route::MethodNotAllowed);
        assert_eq!(
            r(Method::GET, "/v1/job/a/b/evaluate"),
            Route::MethodNotAllowed
        );
        assert_eq!(
            r(Method::GET, "/v1/job/w/allocations"),
            op(Op::JobAllocations(s("w")))
        );
        assert_eq!(
            r(Method::POST, "/v1/job/w/allocations"),
            Route::MethodNotAllowed
        );
        assert_eq!(
            r(Method::GET, "/v1/job/w/evaluations"),
            op(Op::JobEvaluations(s("w")))
        );
        assert_eq!(
            r(Method::PUT, "/v1/job/w/evaluations"),
            Route::MethodNotAllowed
        );
        // The suffix is matched after decoding, as Go's router does.
        assert_eq!(
            r(Method::PUT, "/v1/job/w%2Fevaluate"),
            op(Op::EvaluateJob(s("w")))
        );
        // `+` is literal in a path.
        assert_eq!(r(Method::GET, "/v1/job/a+b"), op(Op::GetJob(s("a+b"))));
    }

    #[test]
    fn job_versions_revert_and_stable() {
        assert_eq!(
            r(Method::GET, "/v1/job/a/b/versions"),
            op(Op::JobVersions(s("a/b")))
        );
        assert!(Op::JobVersions(s("w")).is_read());
        assert_eq!(
            r(Method::PUT, "/v1/job/w/versions"),
            Route::MethodNotAllowed
        );
        for m in [Method::PUT, Method::POST] {
            assert_eq!(r(m.clone(), "/v1/job/w/revert"), op(Op::RevertJob(s("w"))));
            assert_eq!(
                r(m.clone(), "/v1/job/w/stable"),
                op(Op::JobStability(s("w")))
            );
        }
        assert_eq!(r(Method::GET, "/v1/job/w/revert"), Route::MethodNotAllowed);
        assert_eq!(r(Method::GET, "/v1/job/w/stable"), Route::MethodNotAllowed);
    }

    #[test]
    fn job_summary_scale_and_the_sub_resources_ordu_lacks() {
        assert_eq!(
            r(Method::GET, "/v1/job/a/b/summary"),
            op(Op::JobSummary(s("a/b")))
        );
        assert_eq!(
            r(Method::GET, "/v1/job/w/scale"),
            op(Op::JobScaleStatus(s("w")))
        );
        assert_eq!(r(Method::POST, "/v1/job/w/scale"), op(Op::ScaleJob(s("w"))));
        assert_eq!(r(Method::PUT, "/v1/job/w/scale"), op(Op::ScaleJob(s("w"))));
        assert_eq!(
            r(Method::DELETE, "/v1/job/w/scale"),
            Route::MethodNotAllowed
        );
        assert_eq!(
            r(Method::GET, "/v1/job/w/deployments"),
            op(Op::JobDeployments(s("w")))
        );
        assert_eq!(
            r(Method::GET, "/v1/job/w/deployment"),
            op(Op::JobDeployment(s("w")))
        );
        assert_eq!(
            r(Method::POST, "/v1/job/w/periodic/force"),
            op(Op::PeriodicForce(s("w")))
        );
        assert_eq!(
            r(Method::POST, "/v1/job/w/dispatch"),
            op(Op::DispatchJob(s("w")))
        );
        assert!(Op::JobSummary(s("w")).is_read());
        assert!(!Op::ScaleJob(s("w")).is_read());
    }

    #[test]
    fn nodes_evaluations_allocations() {
        assert_eq!(r(Method::GET, "/v1/nodes"), op(Op::ListNodes));
        assert_eq!(r(Method::PUT, "/v1/nodes"), Route::MethodNotAllowed);
        assert_eq!(r(Method::GET, "/v1/evaluations"), op(Op::ListEvaluations));
        assert_eq!(r(Method::GET, "/v1/allocations"), op(Op::ListAllocations));
        assert_eq!(r(Method::PUT, "/v1/allocations"), Route::MethodNotAllowed);
        assert!(Op::ListEvaluations.is_read());
        assert_eq!(r(Method::GET, "/v1/node/n"), op(Op::GetNode(s("n"))));
        assert_eq!(r(Method::PUT, "/v1/node/n"), op(Op::RegisterNode(s("n"))));
        assert_eq!(
            r(Method::DELETE, "/v1/node/n"),
            op(Op::DeregisterNode(s("n")))
        );
        assert_eq!(r(Method::PATCH, "/v1/node/n"), Route::MethodNotAllowed);
        assert_eq!(
            r(Method::POST, "/v1/node/n/status"),
            op(Op::NodeStatus(s("n")))
        );
        assert_eq!(r(Method::GET, "/v1/node/n/status"), Route::MethodNotAllowed);
        assert_eq!(
            r(Method::PUT, "/v1/node/n/drain"),
            op(Op::NodeDrain(s("n")))
        );
        assert_eq!(
            r(Method::GET, "/v1/node/n/allocations"),
            op(Op::NodeAllocations(s("n")))
        );
        assert_eq!(
            r(Method::GET, "/v1/evaluation/e"),
            op(Op::GetEvaluation(s("e")))
        );
        assert_eq!(r(Method::POST, "/v1/evaluation/e"), Route::MethodNotAllowed);
        assert_eq!(
            r(Method::GET, "/v1/evaluation/e/allocations"),
            op(Op::EvalAllocations(s("e")))
        );
        assert_eq!(
            r(Method::PUT, "/v1/evaluation/e/allocations"),
            Route::MethodNotAllowed
        );
        assert_eq!(
            r(Method::GET, "/v1/evaluation/e/x/allocations"),
            Route::NotFound
        );
        assert_eq!(
            r(Method::GET, "/v1/allocation/a"),
            op(Op::GetAllocation(s("a")))
        );
        assert_eq!(
            r(Method::DELETE, "/v1/allocation/a"),
            Route::MethodNotAllowed
        );
        assert_eq!(
            r(Method::PUT, "/v1/allocation/a/status"),
            op(Op::UpdateAllocation(s("a")))
        );
        assert_eq!(
            r(Method::GET, "/v1/allocation/a/status"),
            Route::MethodNotAllowed
        );
    }

    #[test]
    fn namespaces() {
        assert_eq!(r(Method::GET, "/v1/namespaces"), op(Op::ListNamespaces));
        assert_eq!(r(Method::PUT, "/v1/namespaces"), Route::MethodNotAllowed);
        for m in [Method::PUT, Method::POST] {
            assert_eq!(r(m.clone(), "/v1/namespace"), op(Op::UpsertNamespace(None)));
            assert_eq!(
                r(m, "/v1/namespace/team-a"),
                op(Op::UpsertNamespace(Some(s("team-a"))))
            );
        }
        assert_eq!(r(Method::GET, "/v1/namespace"), Route::MethodNotAllowed);
        assert_eq!(r(Method::DELETE, "/v1/namespace"), Route::MethodNotAllowed);
        assert_eq!(
            r(Method::GET, "/v1/namespace/team-a"),
            op(Op::GetNamespace(s("team-a")))
        );
        assert_eq!(
            r(Method::DELETE, "/v1/namespace/team-a"),
            op(Op::DeleteNamespace(s("team-a")))
        );
        assert_eq!(
            r(Method::PATCH, "/v1/namespace/team-a"),
            Route::MethodNotAllowed
        );
        assert_eq!(r(Method::GET, "/v1/namespace/a/b"), Route::NotFound);
        assert!(Op::GetNamespace(s("a")).is_read() && Op::ListNamespaces.is_read());
        assert!(!Op::UpsertNamespace(None).is_read());
        assert!(!Op::DeleteNamespace(s("a")).is_read());
    }

    #[test]
    fn agent_and_status() {
        assert_eq!(r(Method::GET, "/v1/agent/self"), op(Op::AgentSelf));
        assert_eq!(r(Method::GET, "/v1/agent/members"), op(Op::AgentMembers));
        assert_eq!(r(Method::GET, "/v1/status/leader"), op(Op::StatusLeader));
        assert_eq!(r(Method::GET, "/v1/status/peers"), op(Op::StatusPeers));
        assert_eq!(r(Method::GET, "/v1/regions"), op(Op::Regions));
        assert_eq!(r(Method::PUT, "/v1/regions"), Route::MethodNotAllowed);
        assert_eq!(r(Method::GET, "/v1/agent/selfish"), Route::NotFound);
        assert!(Op::AgentSelf.is_agent() && !Op::AgentSelf.is_read());
    }

    #[test]
    fn unknown_and_bad_paths() {
        for p in [
            "/",
            "/v1",
            "/v1/nope",
            "/v2/jobs",
            "/v1/jobsx",
            "/v1/job",
            "/v1/evaluationz/x",
            "/v1/node/n1/purge",
            "/v1/job/a/b/submission",
            "/v1/evaluation/e1/nope",
            "/v1/allocation/a1/restart",
            "/v1/allocation/a/b/stop",
        ] {
            assert_eq!(r(Method::GET, p), Route::NotFound, "{p}");
            assert_eq!(r(Method::POST, p), Route::NotFound, "{p}");
        }
        assert_eq!(r(Method::GET, "/v1/job/%zz"), Route::BadPath);
        assert_eq!(r(Method::GET, "/v1/job/%ff"), Route::BadPath);
        assert_eq!(r(Method::GET, "/v1/job/abc%"), Route::BadPath);
        assert_eq!(percent_decode("%C3%A9t%c3%a9").as_deref(), Some("été"));
    }

    #[test]
    fn the_node_and_allocation_writes_of_nomad_1() {
        for m in [Method::PUT, Method::POST] {
            assert_eq!(
                r(m.clone(), "/v1/node/n1/eligibility"),
                op(Op::NodeEligibility(s("n1")))
            );
            assert_eq!(
                r(m.clone(), "/v1/node/n1/evaluate"),
                op(Op::NodeEvaluate(s("n1")))
            );
            assert_eq!(
                r(m.clone(), "/v1/allocation/a1/stop"),
                op(Op::StopAllocation(s("a1")))
            );
        }
        assert_eq!(
            r(Method::GET, "/v1/allocation/a1/stop"),
            Route::MethodNotAllowed
        );
    }

    #[test]
    fn reads_are_the_get_routes() {
        assert!(Op::GetJob(s("x")).is_read());
        assert!(Op::ListNodes.is_read());
        assert!(!Op::RegisterJob(None).is_read());
        assert!(!Op::UpdateAllocation(s("a")).is_read());
    }
}
