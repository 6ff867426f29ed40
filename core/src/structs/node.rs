//! Nodes: the machines allocations are placed on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::job::{Extra, Resources};
use super::serde_util::null_default;
use super::status::NodeStatus;

/// A client machine.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Node {
    /// Unique ID.
    #[serde(rename = "ID", default)]
    pub id: String,
    /// Datacenter the node is in.
    #[serde(default)]
    pub datacenter: String,
    /// Human name (`${node.unique.name}`).
    #[serde(default)]
    pub name: String,
    /// Class (`${node.class}`).
    #[serde(default)]
    pub node_class: String,
    /// Fingerprinted attributes, e.g. `kernel.os`, `driver.docker`.
    #[serde(default, deserialize_with = "null_default")]
    pub attributes: BTreeMap<String, String>,
    /// Total capacity.
    #[serde(default, deserialize_with = "null_default")]
    pub resources: Resources,
    /// Capacity kept back from scheduling.
    #[serde(default)]
    pub reserved: Option<Resources>,
    /// Links to other systems.
    #[serde(default)]
    pub links: Option<BTreeMap<String, String>>,
    /// Operator metadata (`${meta.X}`).
    #[serde(default)]
    pub meta: Option<BTreeMap<String, String>>,
    /// Set by the server: no new work, existing work migrates.
    #[serde(default)]
    pub drain: bool,
    /// `initializing`, `ready` or `down` ([`NodeStatus`]). Kept as the client
    /// sent it, so that a bad one is named with the node's other field
    /// errors rather than failing the decode; compared as a [`NodeStatus`].
    #[serde(default)]
    pub status: String,
    /// Status detail.
    #[serde(default)]
    pub status_description: String,
    /// Index at which the node registered first.
    #[serde(default)]
    pub create_index: u64,
    /// Index of the last change.
    #[serde(default)]
    pub modify_index: u64,
    /// Fields ordu does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Node {
    /// Ready and not draining: may take new allocations.
    pub fn is_schedulable(&self) -> bool {
        self.status == NodeStatus::Ready && !self.drain
    }

    /// The short form listed by `/v1/nodes`.
    pub fn stub(&self) -> NodeListStub {
        NodeListStub {
            id: self.id.clone(),
            datacenter: self.datacenter.clone(),
            name: self.name.clone(),
            node_class: self.node_class.clone(),
            drain: self.drain,
            status: self.status.clone(),
            status_description: self.status_description.clone(),
            create_index: self.create_index,
            modify_index: self.modify_index,
        }
    }
}

/// One element of the node list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct NodeListStub {
    #[serde(rename = "ID")]
    pub id: String,
    pub datacenter: String,
    pub name: String,
    pub node_class: String,
    pub drain: bool,
    pub status: String,
    pub status_description: String,
    pub create_index: u64,
    pub modify_index: u64,
}
