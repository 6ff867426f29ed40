//! Ranking: does a group fit a node on every dimension (CPU, memory, disk,
//! IOPS, bandwidth, reserved and dynamic ports), which address and ports does
//! it get, and how good a fit is it (bin-packing with job anti-affinity,
//! reference §5.8). Also the scheduler's small seeded random source.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use crate::state::NodeUsage;
use crate::structs::{NetworkResource, Node, Port, Resources, TaskGroup};

/// A small, fast, seeded PRNG (SplitMix64): the same seed gives the same
/// node order and dynamic ports, so the same inputs place the same way.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Fisher–Yates.
    pub(crate) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// How many fitting nodes are scored per placement: 2 for batch, and
/// `max(2, ceil(log2 n))` for the rest (Nomad's power of choices).
pub(crate) fn candidate_limit(batch: bool, n: usize) -> usize {
    if batch || n <= 2 {
        return 2;
    }
    let ceil_log2 = (usize::BITS - (n - 1).leading_zeros()) as usize;
    ceil_log2.max(2)
}

/// Lowest and highest dynamic port (exclusive), as Nomad draws them.
const DYNAMIC_PORTS: (i64, i64) = (20_000, 60_000);
/// Draws per dynamic port before the address is given up.
const PORT_TRIES: usize = 20;
/// Addresses of a node network's CIDR tried before giving up: a node with a
/// wide block must not make one placement scan millions of addresses.
const MAX_ADDRESSES: usize = 256;

/// What one allocation of a group asks for, prepared once per evaluation.
pub(crate) struct GroupAsk {
    /// Field-wise sum over the tasks (networks appended).
    pub(crate) total: Resources,
    /// Each task's ask, in group order.
    pub(crate) tasks: Vec<(String, Resources)>,
    /// True when some task asks for a network.
    pub(crate) networked: bool,
    /// The per-task resources of an allocation that was assigned nothing of
    /// its own (no networks): one map shared by every such allocation.
    pub(crate) plain: Arc<BTreeMap<String, Resources>>,
}

impl GroupAsk {
    pub(crate) fn new(group: &TaskGroup) -> Self {
        let tasks: Vec<(String, Resources)> = group
            .tasks
            .iter()
            .map(|t| (t.name.clone(), t.resources.clone()))
            .collect();
        let networked = tasks.iter().any(|(_, r)| !r.networks().is_empty());
        let plain = Arc::new(tasks.iter().cloned().collect());
        GroupAsk {
            total: group.resources(),
            tasks,
            networked,
            plain,
        }
    }
}

/// The node's capacity less its reservation, per dimension.
fn capacity(node: &Node) -> [i64; 4] {
    let t = &node.resources;
    let (rc, rm, rd, ri) = node
        .reserved
        .as_ref()
        .map_or((0, 0, 0, 0), |r| (r.cpu, r.memory_mb, r.disk_mb, r.iops));
    [
        t.cpu.saturating_sub(rc),
        t.memory_mb.saturating_sub(rm),
        t.disk_mb.saturating_sub(rd),
        t.iops.saturating_sub(ri),
    ]
}

/// Checks the scalar dimensions in Nomad's order (cpu, memory, disk, iops).
pub(crate) fn fit_scalars(node: &Node, used: &NodeUsage, ask: &Resources) -> Result<(), String> {
    let cap = capacity(node);
    let want = [
        used.cpu.saturating_add(ask.cpu),
        used.memory_mb.saturating_add(ask.memory_mb),
        used.disk_mb.saturating_add(ask.disk_mb),
        used.iops.saturating_add(ask.iops),
    ];
    const NAMES: [&str; 4] = [
        "cpu exhausted",
        "memory exhausted",
        "disk exhausted",
        "iops exhausted",
    ];
    for i in 0..4 {
        if want[i] > cap[i] {
            return Err(NAMES[i].to_string());
        }
    }
    Ok(())
}

/// Fits a group on a node: the scalar dimensions, then an address, bandwidth
/// and ports for each task's (first) network. Returns the per-task resources
/// with the assignments, or the exhausted dimension.
pub(crate) fn fit(
    node: &Node,
    used: &NodeUsage,
    ask: &GroupAsk,
    rng: &mut Rng,
) -> Result<BTreeMap<String, Resources>, String> {
    fit_scalars(node, used, &ask.total)?;
    let mut out = BTreeMap::new();
    if !ask.networked {
        for (name, r) in &ask.tasks {
            out.insert(name.clone(), r.clone());
        }
        return Ok(out);
    }
    // Bandwidth and ports taken by earlier tasks of this same allocation.
    let mut pending_bw: BTreeMap<String, i64> = BTreeMap::new();
    let mut pending_ports: BTreeSet<(String, i64)> = BTreeSet::new();
    for (name, r) in &ask.tasks {
        let mut res = r.clone();
        if let Some(want) = r.networks().first() {
            let offer = assign_network(node, used, want, &mut pending_bw, &mut pending_ports, rng)?;
            res.networks = Some(vec![offer]);
        }
        out.insert(name.clone(), res);
    }
    Ok(out)
}

/// The addresses of a node network: its CIDR's (ascending, bounded) or its IP.
fn addresses(net: &NetworkResource) -> Vec<String> {
    if net.cidr.is_empty() {
        return if net.ip.is_empty() {
            Vec::new()
        } else {
            vec![net.ip.clone()]
        };
    }
    let (addr, prefix) = match net.cidr.split_once('/') {
        Some((a, p)) => (a, p.parse::<u32>().ok()),
        None => (net.cidr.as_str(), None),
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return Vec::new();
    };
    match ip {
        IpAddr::V4(v4) => {
            let bits = prefix.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            let base = u32::from(v4) & mask;
            let size = if bits == 0 {
                u64::from(u32::MAX) + 1
            } else {
                1u64 << (32 - bits)
            };
            (0..size.min(MAX_ADDRESSES as u64))
                .map(|i| std::net::Ipv4Addr::from(base.wrapping_add(i as u32)).to_string())
                .collect()
        }
        IpAddr::V6(v6) => {
            let bits = prefix.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            let base = u128::from(v6) & mask;
            let size = if bits <= 64 {
                u128::MAX
            } else {
                1u128 << (128 - bits)
            };
            (0..size.min(MAX_ADDRESSES as u128))
                .map(|i| std::net::Ipv6Addr::from(base.wrapping_add(i)).to_string())
                .collect()
        }
    }
}

/// Megabits the node reserves on `device`.
fn reserved_mbits(node: &Node, device: &str) -> i64 {
    node.reserved.as_ref().map_or(0, |r| {
        r.networks()
            .iter()
            .filter(|n| n.device == device)
            .map(|n| n.mbits)
            .sum()
    })
}

/// True when the node keeps `port` on `ip` for itself.
fn node_reserves(node: &Node, ip: &str, port: i64) -> bool {
    node.reserved.as_ref().is_some_and(|r| {
        r.networks().iter().any(|n| {
            (n.ip.is_empty() || n.ip == ip) && n.reserved().iter().any(|p| p.value == port)
        })
    })
}

/// Finds an address for one network ask: the first node network (matching
/// the asked device, if any) with the bandwidth, and the first of its
/// addresses where the reserved ports are free and dynamic ports can be drawn.
fn assign_network(
    node: &Node,
    used: &NodeUsage,
    want: &NetworkResource,
    pending_bw: &mut BTreeMap<String, i64>,
    pending_ports: &mut BTreeSet<(String, i64)>,
    rng: &mut Rng,
) -> Result<NetworkResource, String> {
    let mut err = "network: no networks available".to_string();
    for net in node.resources.networks() {
        if net.device.is_empty() || (!want.device.is_empty() && want.device != net.device) {
            continue;
        }
        let cap = net.mbits.saturating_sub(reserved_mbits(node, &net.device));
        let bw = (used.mbits.get(&net.device).copied().unwrap_or(0))
            .saturating_add(pending_bw.get(&net.device).copied().unwrap_or(0));
        if bw.saturating_add(want.mbits) > cap {
            err = "bandwidth exceeded".into();
            continue;
        }
        let taken = |ip: &str, port: i64, pending: &BTreeSet<(String, i64)>| {
            let key = (ip.to_string(), port);
            used.ports.contains_key(&key) || pending.contains(&key) || node_reserves(node, ip, port)
        };
        'addr: for ip in addresses(net) {
            if want
                .reserved()
                .iter()
                .any(|p| taken(&ip, p.value, pending_ports))
            {
                err = "reserved port collision".into();
                continue;
            }
            let mut chosen: Vec<i64> = want.reserved().iter().map(|p| p.value).collect();
            let mut dynamic = Vec::with_capacity(want.dynamic().len());
            for p in want.dynamic() {
                let mut got = None;
                for _ in 0..PORT_TRIES {
                    let span = (DYNAMIC_PORTS.1 - DYNAMIC_PORTS.0) as usize;
                    let candidate = DYNAMIC_PORTS.0 + rng.below(span) as i64;
                    if !chosen.contains(&candidate) && !taken(&ip, candidate, pending_ports) {
                        got = Some(candidate);
                        break;
                    }
                }
                let Some(v) = got else {
                    err = "network: dynamic port selection failed".into();
                    continue 'addr;
                };
                chosen.push(v);
                dynamic.push(Port {
                    value: v,
                    ..p.clone()
                });
            }
            for v in chosen {
                pending_ports.insert((ip.clone(), v));
            }
            let pending = pending_bw.entry(net.device.clone()).or_default();
            *pending = pending.saturating_add(want.mbits);
            return Ok(NetworkResource {
                device: net.device.clone(),
                cidr: String::new(),
                ip,
                mbits: want.mbits,
                reserved_ports: want.reserved_ports.clone(),
                dynamic_ports: want.dynamic_ports.as_ref().map(|_| dynamic),
                extra: want.extra.clone(),
            });
        }
    }
    Err(err)
}

/// Nomad's BestFit-v3 bin-packing score of a node once it holds `cpu` MHz and
/// `memory_mb` MB: `20 − (10^freeCpu + 10^freeMem)`, clamped to `[0, 18]`;
/// higher is a tighter fit.
pub(crate) fn binpack(node: &Node, cpu: i64, memory_mb: i64) -> f64 {
    let cap = capacity(node);
    let free = |used: i64, cap: i64| {
        if cap <= 0 {
            0.0
        } else {
            1.0 - used as f64 / cap as f64
        }
    };
    // 10^x as e^(x·ln 10): the same value, several times cheaper than powf
    // on the hot path (every candidate of every placement).
    let pow10 = |x: f64| (x * std::f64::consts::LN_10).exp();
    let total = pow10(free(cpu, cap[0])) + pow10(free(memory_mb, cap[1]));
    (20.0 - total).clamp(0.0, 18.0)
}

/// The anti-affinity penalty for placing one more allocation of a group on a
/// node already holding `collisions` of them (MODERN): `−(collisions+1)/count`,
/// none when there is no collision.
pub(crate) fn anti_affinity(collisions: u32, desired: i64) -> Option<f64> {
    (collisions > 0).then(|| -f64::from(collisions + 1) / desired.max(1) as f64)
}

/// The final score: the mean of bin-packing normalised to `[0, 1]` and the
/// anti-affinity penalty when there is one.
pub(crate) fn final_score(binpack: f64, penalty: Option<f64>) -> f64 {
    match penalty {
        Some(p) => (binpack / 18.0 + p) / 2.0,
        None => binpack / 18.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(cpu: i64, mem: i64) -> Node {
        Node {
            id: "n".into(),
            resources: Resources {
                cpu,
                memory_mb: mem,
                disk_mb: 1000,
                iops: 100,
                networks: Some(vec![NetworkResource {
                    device: "eth0".into(),
                    cidr: "10.0.0.0/30".into(),
                    mbits: 100,
                    ..NetworkResource::default()
                }]),
                ..Resources::default()
            },
            ..Node::default()
        }
    }

    #[test]
    fn limit_is_log2() {
        assert_eq!(candidate_limit(false, 1), 2);
        assert_eq!(candidate_limit(false, 4), 2);
        assert_eq!(candidate_limit(false, 5), 3);
        assert_eq!(candidate_limit(false, 5000), 13);
        assert_eq!(candidate_limit(true, 5000), 2);
    }

    #[test]
    fn rng_is_seeded() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let mut v: Vec<u32> = (0..50).collect();
        let mut w = v.clone();
        a.shuffle(&mut v);
        b.shuffle(&mut w);
        assert_eq!(v, w);
        assert_ne!(v, (0..50).collect::<Vec<_>>());
        let mut c = Rng::new(8);
        assert!((0..1000).all(|_| c.below(10) < 10));
    }

    #[test]
    fn binpack_prefers_fuller_nodes() {
        let n = node(1000, 1000);
        assert_eq!(binpack(&n, 0, 0), 0.0);
        assert!((binpack(&n, 1000, 1000) - 18.0).abs() < 1e-9);
        assert!(binpack(&n, 800, 800) > binpack(&n, 200, 200));
        // freeCpu = freeMem = 0.5: 20 - 2*sqrt(10)
        assert!((binpack(&n, 500, 500) - (20.0 - 2.0 * 10f64.sqrt())).abs() < 1e-9);
    }

    #[test]
    fn scalar_dimensions_in_order() {
        let n = node(1000, 1000);
        let used = NodeUsage {
            cpu: 900,
            ..NodeUsage::default()
        };
        let ask = Resources {
            cpu: 200,
            memory_mb: 5000,
            ..Resources::default()
        };
        assert_eq!(fit_scalars(&n, &used, &ask).unwrap_err(), "cpu exhausted");
        let ask = Resources {
            cpu: 100,
            memory_mb: 5000,
            ..Resources::default()
        };
        assert_eq!(
            fit_scalars(&n, &used, &ask).unwrap_err(),
            "memory exhausted"
        );
        let ask = Resources {
            disk_mb: 1001,
            ..Resources::default()
        };
        assert_eq!(fit_scalars(&n, &used, &ask).unwrap_err(), "disk exhausted");
        let ask = Resources {
            iops: 101,
            ..Resources::default()
        };
        assert_eq!(fit_scalars(&n, &used, &ask).unwrap_err(), "iops exhausted");
    }

    #[test]
    fn ports_and_addresses() {
        let n = node(1000, 1000);
        let group: TaskGroup = serde_json::from_value(serde_json::json!({
            "Name": "g", "Tasks": [{"Name": "t", "Driver": "d", "Resources": {"CPU": 1, "MemoryMB": 1,
                "Networks": [{"MBits": 10, "ReservedPorts": [{"Label": "http", "Value": 80}],
                              "DynamicPorts": [{"Label": "admin"}]}]}}]
        }))
        .unwrap();
        let ask = GroupAsk::new(&group);
        let mut rng = Rng::new(1);
        let mut used = NodeUsage::default();
        let got = fit(&n, &used, &ask, &mut rng).unwrap();
        let net = &got["t"].networks()[0];
        assert_eq!(net.ip, "10.0.0.0");
        assert_eq!(net.device, "eth0");
        assert_eq!(net.mbits, 10);
        let dynp = net.dynamic()[0].value;
        assert!((20_000..60_000).contains(&dynp));
        assert_eq!(net.dynamic()[0].label, "admin");
        // Port 80 taken on the first address: the next address is used.
        used.ports.insert(("10.0.0.0".into(), 80), 1);
        let got = fit(&n, &used, &ask, &mut rng).unwrap();
        assert_eq!(got["t"].networks()[0].ip, "10.0.0.1");
        // Every address of the /30 taken: a port collision.
        for i in 0..4 {
            used.ports.insert((format!("10.0.0.{i}"), 80), 1);
        }
        assert_eq!(
            fit(&n, &used, &ask, &mut rng).unwrap_err(),
            "reserved port collision"
        );
        // Bandwidth.
        used.ports.clear();
        used.mbits.insert("eth0".into(), 95);
        assert_eq!(
            fit(&n, &used, &ask, &mut rng).unwrap_err(),
            "bandwidth exceeded"
        );
        // No network at all.
        let bare = Node {
            resources: Resources {
                cpu: 1000,
                memory_mb: 1000,
                ..Resources::default()
            },
            ..Node::default()
        };
        assert_eq!(
            fit(&bare, &NodeUsage::default(), &ask, &mut rng).unwrap_err(),
            "network: no networks available"
        );
    }

    #[test]
    fn anti_affinity_scores() {
        assert_eq!(anti_affinity(0, 10), None);
        assert_eq!(anti_affinity(1, 10), Some(-0.2));
        assert!(final_score(18.0, Some(-0.2)) < final_score(18.0, None));
    }
}
