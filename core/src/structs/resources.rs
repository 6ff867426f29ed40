//! Resources asked by a task or offered by a node, and their networks and
//! ports.

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::extra::Extra;
use super::serde_util::null_default;

/// CPU, memory, disk, IOPS and networks: asked by a task, offered by a node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resources {
    /// MHz.
    #[serde(rename = "CPU", default, deserialize_with = "null_default")]
    pub cpu: i64,
    /// Megabytes of memory.
    #[serde(rename = "MemoryMB", default, deserialize_with = "null_default")]
    pub memory_mb: i64,
    /// Megabytes of disk.
    #[serde(rename = "DiskMB", default, deserialize_with = "null_default")]
    pub disk_mb: i64,
    /// IO operations per second.
    #[serde(rename = "IOPS", default, deserialize_with = "null_default")]
    pub iops: i64,
    /// Networks; a task uses the first.
    #[serde(default)]
    pub networks: Option<Vec<NetworkResource>>,
    /// Fields ordu does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Resources {
    /// CPU a task gets when it does not say.
    pub const DEFAULT_CPU: i64 = 100;
    /// Memory a task gets when it does not say.
    pub const DEFAULT_MEMORY_MB: i64 = 300;

    /// What a task without `Resources` asks for.
    pub fn task_default() -> Self {
        Resources {
            cpu: Self::DEFAULT_CPU,
            memory_mb: Self::DEFAULT_MEMORY_MB,
            ..Self::zero()
        }
    }

    /// Nothing at all.
    pub fn zero() -> Self {
        Resources::default()
    }

    /// Adds `other` field by field; networks are appended.
    pub fn add(&mut self, other: &Resources) {
        // Saturating: validation bounds each field, this keeps a sum of many
        // from wrapping whatever the count.
        self.cpu = self.cpu.saturating_add(other.cpu);
        self.memory_mb = self.memory_mb.saturating_add(other.memory_mb);
        self.disk_mb = self.disk_mb.saturating_add(other.disk_mb);
        self.iops = self.iops.saturating_add(other.iops);
        if let Some(nets) = &other.networks {
            self.networks
                .get_or_insert_with(Vec::new)
                .extend(nets.iter().cloned());
        }
    }

    /// The networks, empty when none.
    pub fn networks(&self) -> &[NetworkResource] {
        self.networks.as_deref().unwrap_or(&[])
    }
}

/// A network ask (task) or offer (node).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkResource {
    /// Interface name.
    #[serde(default, deserialize_with = "null_default")]
    pub device: String,
    /// Node side: the block addresses come from.
    #[serde(rename = "CIDR", default, deserialize_with = "null_default")]
    pub cidr: String,
    /// Assigned address (filled in by the scheduler).
    #[serde(rename = "IP", default, deserialize_with = "null_default")]
    pub ip: String,
    /// Bandwidth in megabits.
    #[serde(rename = "MBits", default, deserialize_with = "null_default")]
    pub mbits: i64,
    /// Static ports. The seed's list of integers is accepted too.
    #[serde(default, deserialize_with = "ports")]
    pub reserved_ports: Option<Vec<Port>>,
    /// Ports the scheduler picks. The seed's list of labels is accepted too.
    #[serde(default, deserialize_with = "ports")]
    pub dynamic_ports: Option<Vec<Port>>,
    /// Fields ordu does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

impl NetworkResource {
    /// The reserved ports, empty when none.
    pub fn reserved(&self) -> &[Port] {
        self.reserved_ports.as_deref().unwrap_or(&[])
    }
    /// The dynamic ports, empty when none.
    pub fn dynamic(&self) -> &[Port] {
        self.dynamic_ports.as_deref().unwrap_or(&[])
    }
}

/// A labelled port.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Port {
    /// Name the task refers to.
    #[serde(default, deserialize_with = "null_default")]
    pub label: String,
    /// Port number on the node (0 until assigned for dynamic ports).
    #[serde(default, deserialize_with = "null_default")]
    pub value: i64,
    /// Port inside the task, when mapped.
    #[serde(default, deserialize_with = "null_default")]
    pub to: i64,
    /// Fields ordu does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A port as the seed's clients write it: a bare number, a bare label or an
/// object. Told apart by the JSON type, so an object costs no failed attempts
/// (an untagged enum would format two errors for every port object).
enum PortWire {
    Number(i64),
    Label(String),
    Port(Port),
}

impl<'de> Deserialize<'de> for PortWire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Wire;
        impl<'de> Visitor<'de> for Wire {
            type Value = PortWire;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a port: a number, a label or an object")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PortWire, E> {
                Ok(PortWire::Number(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PortWire, E> {
                i64::try_from(v)
                    .map(PortWire::Number)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PortWire, E> {
                Ok(PortWire::Label(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PortWire, A::Error> {
                Port::deserialize(de::value::MapAccessDeserializer::new(map)).map(PortWire::Port)
            }
        }
        d.deserialize_any(Wire)
    }
}

fn ports<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Port>>, D::Error> {
    let Some(list) = Option::<Vec<PortWire>>::deserialize(d)? else {
        return Ok(None);
    };
    Ok(Some(
        list.into_iter()
            .map(|p| match p {
                PortWire::Number(value) => Port {
                    value,
                    ..Port::default()
                },
                PortWire::Label(label) => Port {
                    label,
                    ..Port::default()
                },
                PortWire::Port(p) => p,
            })
            .collect(),
    ))
}
