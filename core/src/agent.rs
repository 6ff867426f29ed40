//! What the agent says about itself and its cluster, in Nomad's shapes:
//! `/v1/agent/self`, `/v1/agent/members`, `/v1/status/leader`,
//! `/v1/status/peers` and `/v1/regions`.
//!
//! An embedded store is a cluster of one server that is its own leader and
//! holds one region. The host knows what the core cannot (its name and the
//! address it serves on) and passes it in as an [`Agent`]; every front end
//! builds the same answers from it. The shapes are those the v0.2
//! command-line tool decodes (`agent-info`, `agent-members`): the member list
//! is a bare array, as Nomad answered before 0.5 wrapped it in an object.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::store::Store;

/// ordu's version, reported as the agent's build.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The serving host as the agent endpoints describe it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// The server's name (Nomad uses the host name); members are named
    /// `<name>.<region>`.
    #[serde(rename = "Name")]
    pub name: String,
    /// The datacenter the server is in.
    #[serde(rename = "Datacenter")]
    pub datacenter: String,
    /// The address it serves on.
    #[serde(rename = "Addr")]
    pub addr: IpAddr,
    /// The port it serves on.
    #[serde(rename = "Port")]
    pub port: u16,
}

/// One member of the server gossip pool (`/v1/agent/members`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct Member {
    pub name: String,
    pub addr: String,
    pub port: u16,
    pub tags: BTreeMap<String, String>,
    pub status: String,
    pub protocol_min: u8,
    pub protocol_max: u8,
    pub protocol_cur: u8,
    pub delegate_min: u8,
    pub delegate_max: u8,
    pub delegate_cur: u8,
}

/// `/v1/agent/self`: the agent's configuration, its member entry and its
/// statistics, under Nomad's lower-case keys.
#[derive(Clone, Debug, Serialize)]
pub struct AgentSelf {
    /// The parts of Nomad's agent configuration that describe this server.
    pub config: serde_json::Value,
    /// This server as a member of the pool.
    pub member: Member,
    /// Statistics by subsystem, every value a string, as Nomad's.
    pub stats: BTreeMap<String, BTreeMap<String, String>>,
}

impl Agent {
    /// `host:port` as Nomad writes a server address (`[v6]:port` for IPv6).
    pub fn address(&self) -> String {
        std::net::SocketAddr::new(self.addr, self.port).to_string()
    }

    /// This server as a pool member, alive.
    pub fn member(&self, region: &str) -> Member {
        let tags = [
            ("role", "nomad".to_string()),
            ("region", region.to_string()),
            ("dc", self.datacenter.clone()),
            ("build", VERSION.to_string()),
            ("port", self.port.to_string()),
            ("bootstrap", "1".to_string()),
            ("vsn", "1".to_string()),
            ("mvn", "1".to_string()),
        ];
        Member {
            name: format!("{}.{}", self.name, region),
            addr: self.addr.to_string(),
            port: self.port,
            tags: tags.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            status: "alive".to_string(),
            // The protocol range of the gossip library Nomad reports; ordu
            // speaks no gossip, and clients only print these.
            protocol_min: 1,
            protocol_max: 5,
            protocol_cur: 2,
            delegate_min: 2,
            delegate_max: 4,
            delegate_cur: 4,
        }
    }

    /// `/v1/agent/members`: this server alone.
    pub fn members(&self, store: &Store) -> Vec<Member> {
        vec![self.member(&store.config().region)]
    }

    /// `/v1/status/leader`: this server, which leads itself.
    pub fn leader(&self) -> String {
        self.address()
    }

    /// `/v1/status/peers`: the servers of the region, this one.
    pub fn peers(&self) -> Vec<String> {
        vec![self.address()]
    }

    /// `/v1/agent/self`.
    pub fn agent_self(&self, store: &Store) -> AgentSelf {
        let region = store.config().region.clone();
        let config = serde_json::json!({
            "Region": region,
            "Datacenter": self.datacenter,
            "NodeName": self.name,
            "BindAddr": self.addr.to_string(),
            "Ports": {"HTTP": self.port},
            "Server": {"Enabled": true, "BootstrapExpect": 1},
            "Client": {"Enabled": false},
            "Version": {"Version": VERSION, "VersionPrerelease": "", "Revision": ""},
        });
        let stats = store.with_state(|s| {
            let nomad = [
                ("server", "true".to_string()),
                ("leader", "true".to_string()),
                ("leader_addr", self.address()),
                ("bootstrap", "true".to_string()),
                ("known_regions", "1".to_string()),
            ];
            let state = [
                ("index", s.index().to_string()),
                ("jobs", s.job_count().to_string()),
                ("evaluations", s.eval_count().to_string()),
                ("allocations", s.alloc_count().to_string()),
                ("nodes", s.node_count().to_string()),
            ];
            let section = |pairs: &[(&str, String)]| {
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect::<BTreeMap<_, _>>()
            };
            BTreeMap::from([
                ("nomad".to_string(), section(&nomad)),
                ("ordu".to_string(), section(&state)),
            ])
        });
        AgentSelf {
            config,
            member: self.member(&region),
            stats,
        }
    }
}

/// `/v1/regions`: the one region the store holds.
pub fn regions(store: &Store) -> Vec<String> {
    vec![store.config().region.clone()]
}
