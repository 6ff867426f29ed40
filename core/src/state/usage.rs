//! What a node's live allocations use, kept up to date by `apply` so that fit
//! checks do not rescan allocations.

use std::collections::BTreeMap;

use crate::structs::{Allocation, NetworkResource, Node};

/// Resources used on one node by its non-terminal allocations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeUsage {
    /// MHz.
    pub cpu: i64,
    /// Megabytes.
    pub memory_mb: i64,
    /// Megabytes.
    pub disk_mb: i64,
    /// Operations per second.
    pub iops: i64,
    /// Megabits per network device.
    pub mbits: BTreeMap<String, i64>,
    /// Ports in use per `(IP, port)`, with how many allocations hold each.
    pub ports: BTreeMap<(String, i64), u32>,
    /// Number of live allocations.
    pub allocs: usize,
}

impl NodeUsage {
    /// Counts `a` in.
    pub fn add(&mut self, a: &Allocation) {
        self.apply(a, 1);
    }

    /// Counts `a` out.
    pub fn remove(&mut self, a: &Allocation) {
        self.apply(a, -1);
    }

    fn apply(&mut self, a: &Allocation, sign: i64) {
        let r = &a.resources;
        let add = |total: &mut i64, v: i64| *total = total.saturating_add(sign.saturating_mul(v));
        add(&mut self.cpu, r.cpu);
        add(&mut self.memory_mb, r.memory_mb);
        add(&mut self.disk_mb, r.disk_mb);
        add(&mut self.iops, r.iops);
        if sign > 0 {
            self.allocs += 1;
        } else {
            self.allocs = self.allocs.saturating_sub(1);
        }
        for net in alloc_networks(a) {
            add(self.mbits.entry(net.device.clone()).or_default(), net.mbits);
            for p in net.reserved().iter().chain(net.dynamic()) {
                let key = (net.ip.clone(), p.value);
                if sign > 0 {
                    *self.ports.entry(key).or_default() += 1;
                } else if let Some(n) = self.ports.get_mut(&key) {
                    *n -= 1;
                    if *n == 0 {
                        self.ports.remove(&key);
                    }
                }
            }
        }
    }

    /// Ok when this usage fits the node's capacity less its reservation;
    /// otherwise the first exhausted dimension, in Nomad's words and order.
    pub fn fits(&self, node: &Node) -> Result<(), String> {
        let total = &node.resources;
        let reserved = node.reserved.clone().unwrap_or_default();
        let dims = [
            ("cpu", self.cpu, total.cpu.saturating_sub(reserved.cpu)),
            (
                "memory",
                self.memory_mb,
                total.memory_mb.saturating_sub(reserved.memory_mb),
            ),
            (
                "disk",
                self.disk_mb,
                total.disk_mb.saturating_sub(reserved.disk_mb),
            ),
            ("iops", self.iops, total.iops.saturating_sub(reserved.iops)),
        ];
        for (name, used, cap) in dims {
            if used > cap {
                return Err(format!("{name} exhausted"));
            }
        }
        for (device, used) in &self.mbits {
            if *used <= 0 {
                continue;
            }
            let cap: i64 = total
                .networks()
                .iter()
                .filter(|n| &n.device == device)
                .map(|n| n.mbits)
                .sum::<i64>()
                - reserved
                    .networks()
                    .iter()
                    .filter(|n| &n.device == device)
                    .map(|n| n.mbits)
                    .sum::<i64>();
            if *used > cap {
                return Err("bandwidth exceeded".into());
            }
        }
        for ((ip, port), n) in &self.ports {
            let node_reserved = reserved.networks().iter().any(|net| {
                (net.ip.is_empty() || &net.ip == ip)
                    && net.reserved().iter().any(|p| p.value == *port)
            });
            if *n > 1 || node_reserved {
                return Err("reserved port collision".into());
            }
        }
        Ok(())
    }
}

/// The networks an allocation holds: the assigned ones per task, or the
/// group's ask when none were assigned.
pub(crate) fn alloc_networks(a: &Allocation) -> impl Iterator<Item = &NetworkResource> {
    let assigned: Vec<&NetworkResource> = a
        .task_resources
        .values()
        .flat_map(|r| r.networks())
        .collect();
    let nets = if assigned.is_empty() && a.task_resources.is_empty() {
        a.resources.networks().iter().collect()
    } else {
        assigned
    };
    nets.into_iter()
}
