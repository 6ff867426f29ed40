//! `ordu-http` as one server of a Raft cluster (`ordu-cluster`): where a
//! request is answered (writes and default reads by the leader, forwarded
//! there as Nomad forwards its RPCs; `?stale` reads by any server), the
//! leader headers, and what the status and agent endpoints say.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use ordu::agent::{AgentSelf, Member};
use ordu_cluster::Cluster;

/// The cluster this server is part of; unset for a server on its own.
static CLUSTER: OnceLock<Cluster> = OnceLock::new();

/// Sent on a forwarded request, so that a server that is not the leader
/// either never forwards it again (no loops while leadership moves).
pub const FORWARDED: &str = "x-ordu-forwarded";

pub fn set(c: Cluster) {
    let _ = CLUSTER.set(c);
}

pub fn get() -> Option<&'static Cluster> {
    CLUSTER.get()
}

/// `X-Nomad-KnownLeader`: whether this server knows a leader (always on
/// its own).
pub fn known_leader() -> bool {
    CLUSTER.get().is_none_or(|c| c.leader().is_some())
}

/// `X-Nomad-LastContact`, in milliseconds: since this server last heard
/// from the leader (0 on the leader, and on a server on its own).
pub fn last_contact_ms() -> u64 {
    CLUSTER
        .get()
        .and_then(Cluster::last_contact)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Where a request is answered.
pub enum Target {
    Here,
    /// The leader's HTTP address.
    Leader(String),
    /// No leader known, or one that forwarded to a server that is not it.
    NoLeader,
}

/// Writes, and reads without `?stale`, go to the leader.
pub fn target(write: bool, stale: bool, forwarded: bool) -> Target {
    let Some(c) = CLUSTER.get() else {
        return Target::Here;
    };
    if !write && stale {
        return Target::Here;
    }
    match c.leader() {
        Some((id, _)) if id == c.id => Target::Here,
        Some((_, node)) if !forwarded => Target::Leader(node.api_addr),
        _ => Target::NoLeader,
    }
}

/// Before a request this server answers as the leader (a write, or a read
/// without `?stale`): confirms with a quorum that it still leads and holds
/// every committed entry ([`Cluster::confirm_leadership`]), so that neither
/// a read nor a refusal is answered from a deposed leader's stale state.
/// The error is the answer when it does not lead.
pub async fn confirm(stale_read: bool) -> Result<(), Response<Body>> {
    let Some(c) = CLUSTER.get() else {
        return Ok(());
    };
    if stale_read {
        return Ok(());
    }
    c.confirm_leadership().await.map_err(|e| {
        let mut r = Response::new(Body::from(format!("No cluster leader: {e}")));
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

pub fn no_leader() -> Response<Body> {
    let mut r = Response::new(Body::from("No cluster leader"));
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r
}

fn client() -> &'static Client<HttpConnector, Full<Bytes>> {
    static CLIENT: OnceLock<Client<HttpConnector, Full<Bytes>>> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(std::time::Duration::from_secs(2)));
        Client::builder(TokioExecutor::new()).build(http)
    })
}

/// Sends the request to the leader at `addr` and answers with its answer,
/// streamed back as it comes (a forwarded long-poll waits there).
pub async fn forward(
    addr: &str,
    method: Method,
    uri: &Uri,
    content_type: Option<HeaderValue>,
    body: Vec<u8>,
) -> Response<Body> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header(FORWARDED, "1");
    if let Some(ct) = content_type {
        req = req.header(axum::http::header::CONTENT_TYPE, ct);
    }
    let Ok(req) = req.body(Full::new(Bytes::from(body))) else {
        return no_leader();
    };
    match client().request(req).await {
        Ok(resp) => resp.map(Body::new),
        Err(e) => {
            let mut r = Response::new(Body::from(format!(
                "No cluster leader: the leader at {addr} did not answer: {e}"
            )));
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
    }
}

/// The servers as `/v1/status/peers` lists them: their Raft addresses.
pub fn peers() -> Option<Vec<String>> {
    let c = CLUSTER.get()?;
    Some(c.servers().values().map(|n| n.raft_addr.clone()).collect())
}

/// `/v1/status/leader`: the leader's Raft address, empty when none is
/// known (as Nomad answers during an election).
pub fn leader() -> Option<String> {
    let c = CLUSTER.get()?;
    Some(c.leader().map(|(_, n)| n.raft_addr).unwrap_or_default())
}

/// `/v1/agent/members`: every server of the membership, this one as the
/// agent describes itself and the others by their addresses.
pub fn members(me: &Member) -> Option<Vec<Member>> {
    let c = CLUSTER.get()?;
    let leader = c.leader().map(|l| l.0);
    let servers: BTreeMap<_, _> = c.servers();
    Some(
        servers
            .iter()
            .map(|(id, node)| {
                let mut m = me.clone();
                if *id != c.id {
                    let (host, port) = split(&node.api_addr);
                    m.name = format!("server-{id}.{}", region_of(me));
                    m.addr = host;
                    m.port = port;
                }
                m.tags.insert("id".into(), id.to_string());
                m.tags.insert("raft_addr".into(), node.raft_addr.clone());
                m.tags
                    .insert("leader".into(), (leader == Some(*id)).to_string());
                m
            })
            .collect(),
    )
}

fn region_of(m: &Member) -> String {
    m.tags.get("region").cloned().unwrap_or_default()
}

fn split(addr: &str) -> (String, u16) {
    match addr.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().unwrap_or(0)),
        None => (addr.to_string(), 0),
    }
}

/// `/v1/agent/self` with what Raft says: whether this server leads, the
/// leader's address, the number of servers.
pub fn patch_self(a: &mut AgentSelf) {
    let Some(c) = CLUSTER.get() else { return };
    let leader = c.leader();
    if let Some(nomad) = a.stats.get_mut("nomad") {
        nomad.insert(
            "leader".into(),
            (leader.as_ref().map(|l| l.0) == Some(c.id)).to_string(),
        );
        nomad.insert(
            "leader_addr".into(),
            leader.map(|l| l.1.raft_addr).unwrap_or_default(),
        );
        nomad.insert("bootstrap".into(), "false".into());
    }
    // Nomad reports the configured expectation; ordu's is the membership.
    a.config["Server"]["BootstrapExpect"] = c.servers().len().into();
    let m = c.raft().metrics().borrow().clone();
    let raft: BTreeMap<String, String> = [
        ("state", format!("{:?}", m.state)),
        ("term", m.current_term.to_string()),
        ("last_log_index", m.last_log_index.unwrap_or(0).to_string()),
        (
            "applied_index",
            m.last_applied.map_or(0, |l| l.index).to_string(),
        ),
        ("num_peers", c.servers().len().saturating_sub(1).to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    a.stats.insert("raft".into(), raft);
}

/// Bodies of membership changes are small.
const MAX_OPERATOR_BODY: usize = 64 << 10;

fn plain(status: StatusCode, message: String) -> Response<Body> {
    let mut r = Response::new(Body::from(message));
    *r.status_mut() = status;
    r
}

fn json_answer(v: &serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Body::from(v.to_string()));
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// `/v1/operator/raft/...`: the membership as Nomad's operator API shows
/// it, and adding or removing a server (on the leader, forwarded there by
/// another server).
pub async fn operator(
    op: crate::routes::Op,
    method: Method,
    uri: Uri,
    content_type: Option<HeaderValue>,
    forwarded: bool,
    body: Body,
) -> Response<Body> {
    use crate::routes::Op;
    use http_body_util::BodyExt;
    let Some(c) = CLUSTER.get() else {
        return plain(
            StatusCode::BAD_REQUEST,
            "this server is not part of a cluster (see --server-id)".into(),
        );
    };
    if op == Op::RaftConfiguration {
        let leader = c.leader().map(|l| l.0);
        let voters = c.voters();
        let servers: Vec<serde_json::Value> = c
            .servers()
            .into_iter()
            .map(|(id, n)| {
                serde_json::json!({
                    "ID": id.to_string(),
                    "Node": format!("server-{id}"),
                    "Address": n.raft_addr,
                    "HTTPAddr": n.api_addr,
                    "Leader": leader == Some(id),
                    "Voter": voters.contains(&id),
                    "RaftProtocol": "3",
                })
            })
            .collect();
        return json_answer(&serde_json::json!({
            "Index": c.membership_index(),
            "Servers": servers,
        }));
    }
    let bytes = match http_body_util::Limited::new(body, MAX_OPERATOR_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes().to_vec(),
        Err(e) => return plain(StatusCode::BAD_REQUEST, format!("request body: {e}")),
    };
    match target(true, false, forwarded) {
        Target::NoLeader => return no_leader(),
        Target::Leader(addr) => return forward(&addr, method, &uri, content_type, bytes).await,
        Target::Here => {}
    }
    let done = if op == Op::RaftAddPeer {
        #[derive(serde::Deserialize)]
        struct Add {
            #[serde(rename = "ID")]
            id: u64,
            #[serde(rename = "RaftAddr")]
            raft_addr: std::net::SocketAddr,
            #[serde(rename = "HTTPAddr")]
            http_addr: std::net::SocketAddr,
        }
        let add: Add = match serde_json::from_slice(&bytes) {
            Ok(a) => a,
            Err(e) => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    format!("want {{\"ID\": N, \"RaftAddr\": \"HOST:PORT\", \"HTTPAddr\": \"HOST:PORT\"}}: {e}"),
                )
            }
        };
        let node = ordu_cluster::ServerNode {
            raft_addr: add.raft_addr.to_string(),
            api_addr: add.http_addr.to_string(),
        };
        c.add_server(add.id, node).await
    } else {
        let id = uri.query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "id")
                .and_then(|(_, v)| v.parse::<u64>().ok())
        });
        let Some(id) = id else {
            return plain(
                StatusCode::BAD_REQUEST,
                "want ?id=N, the server's ID".into(),
            );
        };
        c.remove_server(id).await
    };
    match done {
        Ok(()) => json_answer(&serde_json::json!({"Index": c.membership_index()})),
        Err(e) => plain(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}
