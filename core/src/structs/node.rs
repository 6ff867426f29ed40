//! Nodes: the machines allocations are placed on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::job::{Extra, Resources};
use super::serde_util::{deserialize_with_extra, null_default};

/// Registered, not yet ready for work.
pub const NODE_STATUS_INITIALIZING: &str = "initializing";
/// Takes allocations.
pub const NODE_STATUS_READY: &str = "ready";
/// Gone: its allocations are lost and replaced.
pub const NODE_STATUS_DOWN: &str = "down";
/// Every node status.
pub const NODE_STATUSES: [&str; 3] = [
    NODE_STATUS_INITIALIZING,
    NODE_STATUS_READY,
    NODE_STATUS_DOWN,
];

/// A client machine.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Node {
    /// Unique ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Datacenter the node is in.
    pub datacenter: String,
    /// Human name (`${node.unique.name}`).
    pub name: String,
    /// Class (`${node.class}`).
    pub node_class: String,
    /// Fingerprinted attributes, e.g. `kernel.os`, `driver.docker`.
    pub attributes: BTreeMap<String, String>,
    /// Total capacity.
    pub resources: Resources,
    /// Capacity kept back from scheduling.
    pub reserved: Option<Resources>,
    /// Links to other systems.
    pub links: Option<BTreeMap<String, String>>,
    /// Operator metadata (`${meta.X}`).
    pub meta: Option<BTreeMap<String, String>>,
    /// Set by the server: no new work, existing work migrates.
    pub drain: bool,
    /// `initializing`, `ready` or `down`.
    pub status: String,
    /// Status detail.
    pub status_description: String,
    /// Index at which the node registered first.
    pub create_index: u64,
    /// Index of the last change.
    pub modify_index: u64,
    /// Fields ordu does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

deserialize_with_extra! {
    Node as "struct Node", extra {
        id: String = "ID",
        datacenter: String = "Datacenter",
        name: String = "Name",
        node_class: String = "NodeClass",
        attributes: BTreeMap<String, String> = "Attributes" (null_default),
        resources: Resources = "Resources" (null_default),
        reserved: Option<Resources> = "Reserved",
        links: Option<BTreeMap<String, String>> = "Links",
        meta: Option<BTreeMap<String, String>> = "Meta",
        drain: bool = "Drain",
        status: String = "Status",
        status_description: String = "StatusDescription",
        create_index: u64 = "CreateIndex",
        modify_index: u64 = "ModifyIndex",
    }
}

impl Node {
    /// Ready and not draining: may take new allocations.
    pub fn is_schedulable(&self) -> bool {
        self.status == NODE_STATUS_READY && !self.drain
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
