//! A store's configuration from JSON, with its bounds.

use super::*;

/// The options of a store created from JSON. Every key is optional:
/// `{"region": "global", "mode": "inline" | "grouped" | "queued" | "manual", "delivery_limit": 3,
///   "nack_timeout": "60s", "seed": 1, "deregister": "purge" | "stop",
///   "job_tracked_versions": 6,
///   "event_buffer_size": 1024 (0: no event stream),
///   "limits": {"max_group_count": 10000,
///   "max_job_count": 100000, "max_request_bytes": 8388608,
///   "max_constraints": 1000}}`
/// (`nack_timeout` in Go's duration syntax, from 1ms to 24h), and, read by
/// [`store_config`] only, `"data_dir"` and `"snapshot_every"`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigJson {
    region: Option<String>,
    mode: Option<String>,
    delivery_limit: Option<u32>,
    nack_timeout: Option<String>,
    seed: Option<u64>,
    limits: Option<LimitsJson>,
    data_dir: Option<String>,
    snapshot_every: Option<u64>,
    deregister: Option<String>,
    job_tracked_versions: Option<i64>,
    event_buffer_size: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsJson {
    max_group_count: Option<i64>,
    max_job_count: Option<i64>,
    max_request_bytes: Option<i64>,
    max_constraints: Option<i64>,
}

/// The most versions of a job a config may keep.
const MAX_JOB_TRACKED_VERSIONS: i64 = 1_000;
/// The largest count limit a config may set (allocations per group or job).
const MAX_COUNT_LIMIT: i64 = 10_000_000;
/// The largest request size a config may allow: 1 GiB.
const MAX_REQUEST_BYTES_LIMIT: i64 = 1 << 30;
/// The most event batches a config may keep.
const MAX_EVENT_BUFFER_SIZE: i64 = 1_000_000;
/// The most constraints per job a config may allow.
const MAX_CONSTRAINTS_LIMIT: i64 = 100_000;

/// `v` when it is from 1 to `max`, else an error naming `key`.
fn limit_in(key: &str, v: i64, max: i64) -> Result<i64> {
    if (1..=max).contains(&v) {
        Ok(v)
    } else {
        Err(Error::invalid_field(
            key,
            format!("{v}: want a whole number from 1 to {max}"),
        ))
    }
}

/// A [`Config`] from JSON (empty input means every default). `data_dir` and
/// `snapshot_every` are refused: they need a host that keeps a data
/// directory, which reads them with [`store_config`].
pub fn config(bytes: &[u8]) -> Result<Config> {
    let c = store_config(bytes)?;
    if c.data_dir.is_some() {
        return Err(Error::invalid_field(
            "data_dir",
            "a data directory is kept by a host (the C and Python bindings), not by this store",
        ));
    }
    Ok(c.config)
}

/// A store's options from JSON ([`ConfigJson`]), with where a host keeps its
/// state: the C and Python bindings open `data_dir` as a durable log
/// (`ordu-durable`); the core only reads the keys and touches no file.
#[derive(Clone, Debug, Default)]
pub struct StoreConfig {
    /// The store's own options.
    pub config: Config,
    /// `"data_dir"`: the directory to keep the store's log and snapshots in
    /// (None: the store is kept in memory). Never empty.
    pub data_dir: Option<String>,
    /// `"snapshot_every"`: entries between two snapshots of the durable log
    /// (0: never; None: the durable log's default). Only with `data_dir`.
    pub snapshot_every: Option<u64>,
}

/// A [`StoreConfig`] from JSON (empty input means every default, in memory).
/// A `data_dir` that is not a string, or empty, or a `snapshot_every` that is
/// not a whole number from 0 or given without `data_dir`, is an invalid
/// error naming the field.
pub fn store_config(bytes: &[u8]) -> Result<StoreConfig> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(StoreConfig::default());
    }
    let j: ConfigJson = decode(bytes, &Limits::default())?;
    if j.data_dir.as_deref() == Some("") {
        return Err(Error::invalid_field("data_dir", "must not be empty"));
    }
    if j.snapshot_every.is_some() && j.data_dir.is_none() {
        return Err(Error::invalid_field(
            "snapshot_every",
            "applies only to a store with a data_dir",
        ));
    }
    Ok(StoreConfig {
        data_dir: j.data_dir.clone(),
        snapshot_every: j.snapshot_every,
        config: config_of(j)?,
    })
}

/// The [`Config`] a decoded [`ConfigJson`] describes.
fn config_of(j: ConfigJson) -> Result<Config> {
    let mut c = Config::default();
    if let Some(r) = j.region {
        if r.is_empty() {
            return Err(Error::invalid_field("region", "must not be empty"));
        }
        c.region = r;
    }
    match j.mode.as_deref() {
        None | Some("inline") => {}
        Some("manual") => c.mode = SchedulingMode::Manual,
        Some("grouped") => c.mode = SchedulingMode::Grouped,
        Some("queued") => c.mode = SchedulingMode::Queued,
        Some(m) => {
            return Err(Error::invalid_field(
                "mode",
                format!(
                    "unknown scheduling mode {m:?}: want \"inline\", \"grouped\", \"queued\" or \"manual\""
                ),
            ))
        }
    }
    match j.deregister.as_deref() {
        None | Some("purge") => {}
        Some("stop") => c.deregister = DeregisterMode::Stop,
        Some(d) => {
            return Err(Error::invalid_field(
                "deregister",
                format!("unknown deregister mode {d:?}: want \"purge\" or \"stop\""),
            ))
        }
    }
    if let Some(n) = j.job_tracked_versions {
        c.job_tracked_versions =
            limit_in("job_tracked_versions", n, MAX_JOB_TRACKED_VERSIONS)? as usize;
    }
    if let Some(d) = j.delivery_limit {
        c.delivery_limit = d;
    }
    if let Some(t) = j.nack_timeout {
        c.nack_timeout = crate::params::parse_go_duration(&t)
            .filter(|d| (Duration::from_millis(1)..=Duration::from_secs(86_400)).contains(d))
            .ok_or_else(|| {
                Error::invalid_field(
                    "nack_timeout",
                    format!("{t:?}: want a Go duration from 1ms to 24h, such as \"60s\""),
                )
            })?;
    }
    if let Some(s) = j.seed {
        c.seed = s;
    }
    if let Some(n) = j.event_buffer_size {
        // 0 turns the stream off.
        c.event_buffer_size = if n == 0 {
            0
        } else {
            limit_in("event_buffer_size", n, MAX_EVENT_BUFFER_SIZE)? as usize
        };
    }
    if let Some(l) = j.limits {
        // A limit of 0 or below would refuse everything or nothing sensibly, and a
        // huge one defeats the point of having it: both are a host's mistake.
        if let Some(v) = l.max_group_count {
            c.limits.max_group_count = limit_in("limits.max_group_count", v, MAX_COUNT_LIMIT)?;
        }
        if let Some(v) = l.max_job_count {
            c.limits.max_job_count = limit_in("limits.max_job_count", v, MAX_COUNT_LIMIT)?;
        }
        if let Some(v) = l.max_request_bytes {
            c.limits.max_request_bytes =
                limit_in("limits.max_request_bytes", v, MAX_REQUEST_BYTES_LIMIT)? as usize;
        }
        if let Some(v) = l.max_constraints {
            c.limits.max_constraints =
                limit_in("limits.max_constraints", v, MAX_CONSTRAINTS_LIMIT)? as usize;
        }
    }
    Ok(c)
}
