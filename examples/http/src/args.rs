//! The command line: the flags, their bounds, and the usage text.

use std::net::SocketAddr;
use std::time::Duration;

use ordu::Config;

use crate::{limits, params};

pub(crate) const USAGE: &str = "\
usage: ordu-http [--addr HOST:PORT] [--region NAME] [--datacenter NAME] [--demo-nodes N]
                 [--deregister purge|stop] [--job-tracked-versions N] [--event-buffer-size N]
                 [--gc-after DURATION] [--threads N] [--spin DURATION]
                 [--read-timeout DURATION] [--max-body-bytes-in-flight BYTES]
                 [--max-conns N] [--log-requests] [--data-dir DIR [--snapshot-every N] [--snapshot-bytes BYTES] [--commit-delay DURATION]]
                 [--server-id ID --raft-addr HOST:PORT --server ID=RAFT_ADDR=HTTP_ADDR ...]

  --addr HOST:PORT   listen address (default 127.0.0.1:4646; port 0 picks a free one)
  --region NAME      the region the store holds (default global)
  --datacenter NAME  the datacenter /v1/agent/self reports this server in (default dc1)
  --demo-nodes N     register N ready nodes in datacenter dc1, and one each in us2
                     and eu1, with the docker, exec and java drivers (default 0)
  --deregister purge|stop
                     what DELETE /v1/job/<id> does: purge removes the job at once
                     (the seed's endpoint; the default); stop keeps it, stopped
                     (Stop: true, a new version), until ?purge=true or collection,
                     as Nomad 1.x does
  --job-tracked-versions N
                     versions of each job kept, the current one included
                     (default 6, as Nomad; 1 to 1000)
  --event-buffer-size N
                     write batches /v1/event/stream keeps for ?index= and slow
                     subscribers (default 1024; 0: no event stream; at most
                     1000000)
  --gc-after DURATION
                     collect terminal evaluations and allocations this much older
                     than now, once a minute (Go duration, default 1h; 0: never)
  --threads N        serving threads, connections dealt out in turn
                     (default: half the CPUs, at least 1)
  --spin DURATION    how long a serving thread that has run out of requests keeps
                     its CPU busy before it sleeps (Go duration, default 100us;
                     0: sleep at once); see src/spin.rs
  --read-timeout DURATION
                     how long a request's head may take to arrive (also how long
                     an idle keep-alive connection stays open), and then its body
                     (Go duration, default 30s); a late body gets 408
  --max-body-bytes-in-flight BYTES
                     request body bytes held at once, all connections together
                     (a number, or with KiB, MiB or GiB; default 64MiB, at least
                     the 8MiB body limit); a body that finds it full gets 503
  --max-conns N      open connections at most; past it a new connection gets 503
                     and is closed (default: the descriptor limit, raised to its
                     hard limit, less a reserve)
  --data-dir DIR     keep the state in DIR (created if missing; one server per
                     directory): every write is on disk before it is answered, and
                     a restart recovers it (default: in memory, lost on exit)
  --snapshot-every N with --data-dir: write a snapshot (in the background) and
                     drop the log before it every N entries (default 10000; 0:
                     not by count)
  --snapshot-bytes BYTES  or once the entries since the last one hold BYTES
                     (default 64MiB; 0: not by size)
  --commit-delay DURATION
                     with --data-dir: how long a plan that would have a sync to
                     itself waits for a client's write to share it (Go duration
                     up to 10ms, default 200us; 0: never waits)
  --server-id ID     run as server ID (a number) of a Raft cluster, its Raft log
                     and snapshots in --data-dir (which it needs); writes, and
                     reads without ?stale, go to the leader (forwarded by a
                     server that is not)
  --raft-addr HOST:PORT
                     with --server-id: where this server listens for Raft
  --server ID=RAFT_ADDR=HTTP_ADDR
                     with --server-id, once for each server of the cluster, this
                     one too (e.g. 1=127.0.0.1:4647=127.0.0.1:4646): a new cluster
                     starts with them as its voters, proposed by the lowest ID; a
                     restarted server keeps the membership its log holds
  --log-requests     log one line per request to stderr (method, path, status,
                     duration); RUST_LOG=ordu_http::request=info does the same,
                     and RUST_LOG takes the usual tracing filters
";

/// Longest `--spin`.
const MAX_SPIN: Duration = Duration::from_millis(10);
/// The longest `--commit-delay`: past it a plan waits longer than most syncs.
const MAX_COMMIT_DELAY: Duration = Duration::from_millis(10);

/// Most demo nodes `--demo-nodes` registers (a bound on a number from the
/// command line).
const MAX_DEMO_NODES: usize = 10_000;

/// Most `--job-tracked-versions` (a bound on a number from the command line).
const MAX_JOB_TRACKED_VERSIONS: usize = 1_000;

/// Most `--event-buffer-size`: a million batches of one write's events.
const MAX_EVENT_BUFFER_SIZE: usize = 1_000_000;

/// Most serving threads `--threads` starts.
pub(crate) const MAX_THREADS: usize = 256;

#[derive(Debug, PartialEq)]
pub(crate) struct Args {
    pub(crate) addr: SocketAddr,
    pub(crate) region: String,
    pub(crate) datacenter: String,
    pub(crate) demo_nodes: usize,
    pub(crate) gc_after: Option<Duration>,
    /// Serving threads; `None`: half the CPUs.
    pub(crate) threads: Option<usize>,
    /// How long a serving thread spins before it sleeps (see [`crate::spin`]).
    pub(crate) spin: Duration,
    /// How long a request's head, then its body, may take.
    pub(crate) read_timeout: Duration,
    pub(crate) bytes_in_flight: usize,
    /// `None`: from the descriptor limit.
    pub(crate) max_conns: Option<usize>,
    pub(crate) log_requests: bool,
    /// Where the state is kept; `None`: in memory.
    pub(crate) data_dir: Option<std::path::PathBuf>,
    pub(crate) snapshot_every: u64,
    pub(crate) snapshot_bytes: u64,
    pub(crate) commit_delay: Duration,
    /// What a deregister without `purge` does.
    pub(crate) deregister: ordu::DeregisterMode,
    /// Versions of each job kept, the current one included.
    pub(crate) job_tracked_versions: usize,
    /// Write batches the event stream keeps (0: none).
    pub(crate) event_buffer_size: usize,
    /// A cluster server's ID, Raft address and the cluster's servers.
    pub(crate) server_id: Option<u64>,
    pub(crate) raft_addr: Option<SocketAddr>,
    pub(crate) servers: std::collections::BTreeMap<u64, ordu_cluster::ServerNode>,
}

/// The least `--max-body-bytes-in-flight`: one body at the store's limit.
fn min_bytes_in_flight() -> usize {
    Config::default().limits.max_request_bytes
}

pub(crate) fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut a = Args {
        addr: SocketAddr::from(([127, 0, 0, 1], 4646)),
        region: "global".into(),
        datacenter: "dc1".into(),
        demo_nodes: 0,
        gc_after: Some(Duration::from_secs(3600)),
        threads: None,
        spin: Duration::from_micros(100),
        read_timeout: limits::DEFAULT_READ_TIMEOUT,
        bytes_in_flight: limits::DEFAULT_BYTES_IN_FLIGHT,
        max_conns: None,
        log_requests: false,
        data_dir: None,
        snapshot_every: ordu_durable::Options::default().snapshot_every,
        snapshot_bytes: ordu_durable::Options::default().snapshot_bytes,
        commit_delay: ordu_durable::DEFAULT_COMMIT_DELAY,
        deregister: ordu::DeregisterMode::Purge,
        job_tracked_versions: ordu::store::DEFAULT_JOB_TRACKED_VERSIONS,
        event_buffer_size: ordu::store::DEFAULT_EVENT_BUFFER_SIZE,
        server_id: None,
        raft_addr: None,
        servers: std::collections::BTreeMap::new(),
    };
    while let Some(flag) = args.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.clone(), None),
        };
        if name == "-h" || name == "--help" {
            return Ok(None);
        }
        if name == "--log-requests" && inline.is_none() {
            a.log_requests = true;
            continue;
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--addr" => {
                let v = value()?;
                a.addr = v.parse().map_err(|e| {
                    format!("--addr {v:?}: {e} (want HOST:PORT, e.g. 127.0.0.1:4646)")
                })?;
            }
            "--region" => {
                a.region = value()?;
                if a.region.is_empty() {
                    return Err("--region must not be empty".into());
                }
            }
            "--deregister" => {
                let v = value()?;
                a.deregister = match v.as_str() {
                    "purge" => ordu::DeregisterMode::Purge,
                    "stop" => ordu::DeregisterMode::Stop,
                    _ => return Err(format!("--deregister {v:?}: want purge or stop")),
                };
            }
            "--job-tracked-versions" => {
                let v = value()?;
                a.job_tracked_versions = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_JOB_TRACKED_VERSIONS).contains(n))
                    .ok_or_else(|| {
                        format!(
                            "--job-tracked-versions {v:?}: want a number from 1 to \
                             {MAX_JOB_TRACKED_VERSIONS}"
                        )
                    })?;
            }
            "--event-buffer-size" => {
                let v = value()?;
                a.event_buffer_size = v
                    .parse()
                    .ok()
                    .filter(|n| *n <= MAX_EVENT_BUFFER_SIZE)
                    .ok_or_else(|| {
                        format!(
                            "--event-buffer-size {v:?}: want a number from 0 to \
                             {MAX_EVENT_BUFFER_SIZE}"
                        )
                    })?;
            }
            "--datacenter" => {
                a.datacenter = value()?;
                if a.datacenter.is_empty() {
                    return Err("--datacenter must not be empty".into());
                }
            }
            "--demo-nodes" => {
                let v = value()?;
                a.demo_nodes =
                    v.parse()
                        .ok()
                        .filter(|n| *n <= MAX_DEMO_NODES)
                        .ok_or_else(|| {
                            format!("--demo-nodes {v:?}: want a number from 0 to {MAX_DEMO_NODES}")
                        })?;
            }
            "--gc-after" => {
                let v = value()?;
                let d = params::parse_go_duration(&v).ok_or_else(|| {
                    format!("--gc-after {v:?}: want a Go duration such as 1h or 30m")
                })?;
                a.gc_after = (!d.is_zero()).then_some(d);
            }
            "--threads" => {
                let v = value()?;
                a.threads = Some(
                    v.parse()
                        .ok()
                        .filter(|n| (1..=MAX_THREADS).contains(n))
                        .ok_or_else(|| {
                            format!("--threads {v:?}: want a number from 1 to {MAX_THREADS}")
                        })?,
                );
            }
            "--spin" => {
                let v = value()?;
                a.spin = params::parse_go_duration(&v)
                    .filter(|d| *d <= MAX_SPIN)
                    .ok_or_else(|| {
                        format!("--spin {v:?}: want a Go duration from 0 to 10ms, such as 100us")
                    })?;
            }
            "--read-timeout" => {
                let v = value()?;
                a.read_timeout = params::parse_go_duration(&v)
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        format!("--read-timeout {v:?}: want a Go duration above 0, such as 30s")
                    })?;
            }
            "--max-body-bytes-in-flight" => {
                let v = value()?;
                let least = min_bytes_in_flight();
                a.bytes_in_flight =
                    limits::parse_bytes(&v)
                        .filter(|n| *n >= least)
                        .ok_or_else(|| {
                            format!(
                            "--max-body-bytes-in-flight {v:?}: want a byte count such as 64MiB, \
                             at least the body limit ({least})"
                        )
                        })?;
            }
            "--max-conns" => {
                let v = value()?;
                a.max_conns = Some(v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    format!("--max-conns {v:?}: want a number of connections, at least 1")
                })?);
            }
            "--data-dir" => {
                let v = value()?;
                if v.is_empty() {
                    return Err("--data-dir must not be empty".into());
                }
                a.data_dir = Some(v.into());
            }
            "--snapshot-every" => {
                let v = value()?;
                a.snapshot_every = v.parse().map_err(|_| {
                    format!("--snapshot-every {v:?}: want a number of entries (0: never)")
                })?;
            }
            "--snapshot-bytes" => {
                let v = value()?;
                a.snapshot_bytes = limits::parse_bytes(&v)
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or_else(|| {
                        format!(
                            "--snapshot-bytes {v:?}: want a byte count such as 64MiB (0: never)"
                        )
                    })?;
            }
            "--commit-delay" => {
                let v = value()?;
                a.commit_delay = params::parse_go_duration(&v)
                    .filter(|d| *d <= MAX_COMMIT_DELAY)
                    .ok_or_else(|| {
                        format!(
                            "--commit-delay {v:?}: want a Go duration from 0 to 10ms, such as 200us"
                        )
                    })?;
            }
            "--server-id" => {
                let v = value()?;
                a.server_id = Some(
                    v.parse()
                        .map_err(|_| format!("--server-id {v:?}: want a number"))?,
                );
            }
            "--raft-addr" => {
                let v = value()?;
                a.raft_addr = Some(v.parse().map_err(|e| {
                    format!("--raft-addr {v:?}: {e} (want HOST:PORT, e.g. 127.0.0.1:4647)")
                })?);
            }
            "--server" => {
                let v = value()?;
                let bad = || format!("--server {v:?}: want ID=RAFT_ADDR=HTTP_ADDR");
                let mut parts = v.splitn(3, '=');
                let (Some(id), Some(raft), Some(api)) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(bad());
                };
                let id: u64 = id.parse().map_err(|_| bad())?;
                raft.parse::<SocketAddr>().map_err(|_| bad())?;
                api.parse::<SocketAddr>().map_err(|_| bad())?;
                let node = ordu_cluster::ServerNode {
                    raft_addr: raft.to_string(),
                    api_addr: api.to_string(),
                };
                if a.servers.insert(id, node).is_some() {
                    return Err(format!("--server {id} is given twice"));
                }
            }
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    if let Some(id) = a.server_id {
        if a.data_dir.is_none() {
            return Err("--server-id needs --data-dir (its Raft log and snapshots)".into());
        }
        if a.raft_addr.is_none() {
            return Err("--server-id needs --raft-addr".into());
        }
        if !a.servers.contains_key(&id) {
            return Err(format!(
                "--server-id {id}: no --server {id}=... names this server"
            ));
        }
    } else if a.raft_addr.is_some() || !a.servers.is_empty() {
        return Err("--raft-addr and --server go with --server-id".into());
    }
    Ok(Some(a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thread_count;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags_parse() {
        let a = parse(&[]).unwrap().unwrap();
        assert_eq!(a.addr.to_string(), "127.0.0.1:4646");
        assert_eq!(a.region, "global");
        assert_eq!(a.demo_nodes, 0);
        let a = parse(&["--addr", "0.0.0.0:80", "--region=eu", "--demo-nodes", "3"])
            .unwrap()
            .unwrap();
        assert_eq!(a.addr.to_string(), "0.0.0.0:80");
        assert_eq!(a.region, "eu");
        assert_eq!(a.demo_nodes, 3);
        assert_eq!(parse(&["--help"]).unwrap(), None);
        assert!(parse(&["--addr"]).unwrap_err().contains("needs a value"));
        assert!(parse(&["--addr", "nowhere"]).is_err());
        assert!(parse(&["--demo-nodes", "-1"]).is_err());
        assert!(parse(&["--demo-nodes", "99999999999"]).is_err());
        assert_eq!(a.data_dir, None);
        let d = parse(&["--data-dir", "/tmp/d", "--snapshot-every=5"])
            .unwrap()
            .unwrap();
        assert_eq!(d.data_dir.as_deref(), Some(std::path::Path::new("/tmp/d")));
        assert_eq!(d.snapshot_every, 5);
        let b = parse(&["--data-dir", "/tmp/d", "--snapshot-bytes", "1MiB"])
            .unwrap()
            .unwrap();
        assert_eq!(b.snapshot_bytes, 1 << 20);
        assert!(parse(&["--snapshot-bytes", "lots"]).is_err());

        assert_eq!((a.job_tracked_versions, a.event_buffer_size), (6, 1024));
        let e = parse(&["--job-tracked-versions", "1", "--event-buffer-size=0"])
            .unwrap()
            .unwrap();
        assert_eq!((e.job_tracked_versions, e.event_buffer_size), (1, 0));
        for bad in [
            ["--job-tracked-versions", "0"],
            ["--job-tracked-versions", "1001"],
            ["--event-buffer-size", "-1"],
            ["--event-buffer-size", "1000001"],
            ["--event-buffer-size", "18446744073709551616"],
        ] {
            assert!(parse(&bad).unwrap_err().contains(bad[0]), "{bad:?}");
        }
    }

    #[test]
    fn cluster_flags_name_this_server_among_the_servers() {
        let servers = [
            "--server",
            "1=127.0.0.1:4647=127.0.0.1:4646",
            "--server",
            "2=127.0.0.1:4657=127.0.0.1:4656",
        ];
        let mut args = vec!["--server-id", "2", "--raft-addr", "127.0.0.1:4657"];
        args.extend(["--data-dir", "/tmp/d"]);
        args.extend(servers);
        let a = parse(&args).unwrap().unwrap();
        assert_eq!(a.server_id, Some(2));
        assert_eq!(a.servers.len(), 2);
        assert_eq!(a.servers[&1].api_addr, "127.0.0.1:4646");
        let err = |args: &[&str]| parse(args).unwrap_err();
        assert!(err(&["--server-id", "1", "--raft-addr", "127.0.0.1:1"]).contains("--data-dir"));
        let mut no_self = vec!["--server-id", "3", "--raft-addr", "127.0.0.1:1"];
        no_self.extend(["--data-dir", "/tmp/d"]);
        no_self.extend(servers);
        assert!(err(&no_self).contains("no --server 3"));
        assert!(err(&["--server", "1=nowhere=127.0.0.1:1"]).contains("ID=RAFT_ADDR=HTTP_ADDR"));
        assert!(err(&["--server", "1=127.0.0.1:1=127.0.0.1:2"]).contains("go with --server-id"));
        let twice = [
            "--server",
            "1=127.0.0.1:1=127.0.0.1:2",
            "--server",
            "1=127.0.0.1:3=127.0.0.1:4",
        ];
        assert!(err(&twice).contains("twice"));
        assert!(parse(&["--data-dir", ""]).is_err());
        assert!(parse(&["--snapshot-every", "-1"]).is_err());
        assert!(parse(&["--region", ""]).is_err());
        assert!(parse(&["--bogus"]).unwrap_err().contains("--bogus"));
        assert_eq!(a.gc_after, Some(Duration::from_secs(3600)));
        let g = parse(&["--gc-after", "90m"]).unwrap().unwrap();
        assert_eq!(g.gc_after, Some(Duration::from_secs(5400)));
        assert_eq!(parse(&["--gc-after=0"]).unwrap().unwrap().gc_after, None);
        assert!(parse(&["--gc-after", "10"]).is_err());
        assert_eq!(a.threads, None);
        assert_eq!(
            parse(&["--threads", "3"]).unwrap().unwrap().threads,
            Some(3)
        );
        assert!(parse(&["--threads", "0"]).is_err());
        assert!(parse(&["--threads", "100000"]).is_err());
        assert_eq!(a.spin, Duration::from_micros(100));
        let dereg = |v: &str| parse(&["--deregister", v]).map(|a| a.unwrap().deregister);
        assert_eq!(dereg("stop"), Ok(ordu::DeregisterMode::Stop));
        assert_eq!(dereg("purge"), Ok(ordu::DeregisterMode::Purge));
        assert!(dereg("soft").unwrap_err().contains("--deregister \"soft\""));
        let delay = |v: &str| parse(&["--commit-delay", v]).map(|a| a.unwrap().commit_delay);
        assert_eq!(delay("0"), Ok(Duration::ZERO));
        assert_eq!(delay("1ms"), Ok(Duration::from_millis(1)));
        assert!(delay("1s").unwrap_err().contains("--commit-delay \"1s\""));
        let spin = |v: &str| parse(&["--spin", v]).map(|a| a.unwrap().spin);
        assert_eq!(spin("0"), Ok(Duration::ZERO));
        assert_eq!(spin("250us"), Ok(Duration::from_micros(250)));
        assert!(spin("11ms").unwrap_err().contains("--spin \"11ms\""));
        assert!(spin("100").is_err());
        assert!(thread_count(None) >= 1);
        assert_eq!(thread_count(Some(3)), 3);
    }
}
