//! Raft's messages between servers: JSON over HTTP/1.1 POSTs to the
//! peer's Raft address (`/raft/append`, `/raft/vote`, `/raft/snapshot`),
//! answered with the peer's `Result` as JSON.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError,
    Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{NodeId, ServerNode, TypeConfig};

/// An append of more entries than one is cut to about this many bytes.
/// openraft waits one heartbeat interval for an append's answer: a batch of
/// big plans (hundreds of MB) was never answered in time on a busy machine,
/// so its follower never caught up, and its elections unseated every leader.
const APPEND_BYTES: usize = 1 << 20;

/// Connections to the other servers; one pool for all of them.
#[derive(Clone)]
pub struct Network {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Network {
    pub fn new() -> Network {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(1)));
        Network {
            client: Client::builder(TokioExecutor::new()).build(http),
        }
    }
}

impl Default for Network {
    fn default() -> Self {
        Network::new()
    }
}

/// One peer.
pub struct Peer {
    target: NodeId,
    addr: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// A failure to reach the peer: Raft backs off and tries again.
#[derive(Debug)]
struct Failed(String);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failed {}

impl Peer {
    async fn call<Q, A, E>(
        &self,
        path: &str,
        req: &Q,
        ttl: Duration,
    ) -> Result<A, RPCError<NodeId, ServerNode, RaftError<NodeId, E>>>
    where
        Q: Serialize,
        A: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        self.send(path, encode(req)?, ttl).await
    }

    async fn send<A, E>(
        &self,
        path: &str,
        body: Vec<u8>,
        ttl: Duration,
    ) -> Result<A, RPCError<NodeId, ServerNode, RaftError<NodeId, E>>>
    where
        A: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let request = hyper::Request::post(format!("http://{}/raft/{path}", self.addr))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let unreachable = |e: String| RPCError::Unreachable(Unreachable::new(&Failed(e)));
        let answer = tokio::time::timeout(ttl, async {
            let resp = self
                .client
                .request(request)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| unreachable(e.to_string()))?
                .to_bytes();
            if !status.is_success() {
                return Err(unreachable(format!(
                    "{} answered {status}: {}",
                    self.addr,
                    String::from_utf8_lossy(&bytes)
                )));
            }
            Ok(bytes)
        })
        .await
        .map_err(|_| unreachable(format!("{} did not answer within {ttl:?}", self.addr)))??;
        let result: Result<A, RaftError<NodeId, E>> = serde_json::from_slice(&answer)
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

fn encode<Q: Serialize, E: std::error::Error>(
    req: &Q,
) -> Result<Vec<u8>, RPCError<NodeId, ServerNode, RaftError<NodeId, E>>> {
    serde_json::to_vec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))
}

/// How many of `entries` entries fit [`APPEND_BYTES`] when they encode to
/// `bytes`; none to say when all do (or there is one, which goes alone).
fn entries_hint(entries: usize, bytes: usize) -> Option<u64> {
    if bytes <= APPEND_BYTES || entries <= 1 {
        return None;
    }
    let fit = (entries as u128 * APPEND_BYTES as u128 / bytes as u128) as u64;
    Some(fit.clamp(1, entries as u64 - 1))
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, node: &ServerNode) -> Peer {
        Peer {
            target,
            addr: node.raft_addr.clone(),
            client: self.client.clone(),
        }
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, ServerNode, RaftError<NodeId>>>
    {
        let body = encode(&rpc)?;
        if let Some(fit) = entries_hint(rpc.entries.len(), body.len()) {
            // openraft sends fewer entries at once for the next few appends.
            return Err(RPCError::PayloadTooLarge(
                PayloadTooLarge::new_entries_hint(fit),
            ));
        }
        self.send("append", body, option.hard_ttl()).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, ServerNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call("snapshot", &rpc, option.hard_ttl()).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, ServerNode, RaftError<NodeId>>> {
        self.call("vote", &rpc, option.hard_ttl()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_past_the_byte_budget_are_cut_in_proportion() {
        assert_eq!(entries_hint(300, APPEND_BYTES), None);
        assert_eq!(entries_hint(1, 100 * APPEND_BYTES), None, "one goes alone");
        assert_eq!(entries_hint(300, 3 * APPEND_BYTES), Some(100));
        assert_eq!(entries_hint(2, 1000 * APPEND_BYTES), Some(1));
        assert_eq!(entries_hint(10, APPEND_BYTES + 1), Some(9), "always fewer");
        assert_eq!(
            entries_hint(usize::MAX, usize::MAX),
            Some(APPEND_BYTES as u64)
        );
    }
}
