//! A Raft cluster of `ordu-http` servers on loopback ports, for the tests
//! that inject faults: start, kill (SIGKILL), signal (SIGSTOP, SIGCONT),
//! restart, and find the leader.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::{job, request_on, Server};

/// One server of a [`Cluster`]: its addresses, and its process while up.
pub struct Member {
    pub id: u64,
    pub api: SocketAddr,
    pub raft: SocketAddr,
    pub server: Option<Server>,
}

/// `ordu-http` servers of one Raft cluster, each in its own data
/// directory under `dir`, started, killed and paused by the tests.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub members: Vec<Member>,
    pub snapshot_every: u64,
}

/// A free loopback port.
pub fn free() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

impl Cluster {
    pub fn start(n: u64, snapshot_every: u64) -> Cluster {
        let members = (1..=n)
            .map(|id| Member {
                id,
                api: free(),
                raft: free(),
                server: None,
            })
            .collect();
        let mut c = Cluster {
            dir: tempfile::tempdir().unwrap(),
            members,
            snapshot_every,
        };
        for i in 0..c.members.len() {
            c.up(i);
        }
        c
    }

    /// Starts member `i` (again).
    pub fn up(&mut self, i: usize) {
        let servers: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("{}={}={}", m.id, m.raft, m.api))
            .collect();
        let m = &self.members[i];
        let dir = self.dir.path().join(format!("s{}", m.id));
        let (api, raft, id) = (m.api.to_string(), m.raft.to_string(), m.id.to_string());
        let every = self.snapshot_every.to_string();
        let mut args = vec![
            "--addr",
            &api,
            "--server-id",
            &id,
            "--raft-addr",
            &raft,
            "--data-dir",
            dir.to_str().unwrap(),
            "--snapshot-every",
            &every,
            "--demo-nodes",
            "3",
        ];
        for s in &servers {
            args.push("--server");
            args.push(s);
        }
        let mut server = Server::start(&args, None, &[]);
        let mut err = server.stderr();
        std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
        self.members[i].server = Some(server);
    }

    pub fn kill(&mut self, i: usize) {
        if let Some(mut s) = self.members[i].server.take() {
            s.child.kill().unwrap(); // SIGKILL
            s.child.wait().unwrap();
        }
    }

    pub fn signal(&self, i: usize, sig: &str) {
        let pid = self.members[i].server.as_ref().unwrap().child.id();
        let ok = std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    pub fn live(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| self.members[i].server.is_some())
            .collect()
    }

    /// The member every one of `among` names leader, once they agree.
    pub fn leader(&self, among: &[usize], within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            let named: BTreeSet<Option<usize>> = among
                .iter()
                .map(|&i| {
                    let got = get(self.members[i].api, "/v1/status/leader");
                    let addr = got.and_then(|(s, b)| (s == 200).then_some(b))?;
                    let addr = addr.trim().trim_matches('"').to_string();
                    self.members.iter().position(|m| m.raft.to_string() == addr)
                })
                .collect();
            if let [Some(l)] = named.iter().collect::<Vec<_>>().as_slice() {
                if among.contains(l) {
                    // Its store leads too: a write there is taken.
                    if put(self.members[*l].api, "leader-probe").is_some_and(|s| s == 200) {
                        return *l;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "no leader within {within:?}: {named:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A server's own state read as JSON (`?stale`), on a new connection.
fn stale_json(api: SocketAddr, path: &str) -> serde_json::Value {
    let sep = if path.contains('?') { '&' } else { '?' };
    let (status, body) = get(api, &format!("{path}{sep}stale")).expect("the server answers");
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// No node of `api`'s own state runs more CPU or memory than it has: the
/// scheduler's fit held through whatever the test did to the cluster.
pub fn no_node_overcommitted(api: SocketAddr) {
    let nodes = stale_json(api, "/v1/nodes");
    for n in nodes.as_array().unwrap() {
        let id = n["ID"].as_str().unwrap();
        let node = stale_json(api, &format!("/v1/node/{id}"));
        let allocs = stale_json(api, &format!("/v1/node/{id}/allocations"));
        let live: Vec<&serde_json::Value> = allocs
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["DesiredStatus"] == "run")
            .collect();
        for dim in ["CPU", "MemoryMB"] {
            let has = node["Resources"][dim].as_i64().unwrap();
            let used: i64 = live
                .iter()
                .map(|a| a["Resources"][dim].as_i64().unwrap_or(0))
                .sum();
            assert!(used <= has, "node {id}: {used} {dim} placed on {has}");
        }
    }
}

/// A GET on a new connection, with bounded waits; `None` if unanswered.
pub fn get(api: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&api, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    request_on(&mut s, "GET", path, "")
}

/// Registers job `id` on a new connection; the status, `None` if unanswered.
pub fn put(api: SocketAddr, id: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&api, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    request_on(&mut s, "PUT", "/v1/jobs", &job(id)).map(|(s, _)| s)
}
