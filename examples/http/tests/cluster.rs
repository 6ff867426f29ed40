//! Three `ordu-http` servers as one Raft cluster, under faults: the leader
//! killed under a write load of several clients, a follower that missed a
//! compaction, a server paused past the election timeout, the whole
//! cluster restarted. Every write answered 200 is on every server after
//! the cluster settles, and no job is placed twice.

mod common;

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::{free, get, Cluster, Member};
use common::{job, request_on};

impl Cluster {
    /// Waits until every live member holds every job in `ids` (read with
    /// `?stale`, from its own state).
    fn settled(&self, ids: &BTreeSet<String>, within: Duration) {
        let deadline = Instant::now() + within;
        for i in self.live() {
            loop {
                let have = jobs_on(self.members[i].api);
                let missing: Vec<&String> = ids.difference(&have).collect();
                if missing.is_empty() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "server {} lacks {} answered writes, e.g. {:?}",
                    self.members[i].id,
                    missing.len(),
                    &missing[..missing.len().min(3)]
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// The scheduler's invariants on every live member's final state: no
    /// job has more than one running allocation of a name (each job asks
    /// for one), so nothing is placed twice and names are unique, and no
    /// node is over-committed.
    fn placed_once(&self) {
        for i in self.live() {
            let api = self.members[i].api;
            common::cluster::no_node_overcommitted(api);
            let mut s = TcpStream::connect(api).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            for id in jobs_on(api) {
                let (status, body) = request_on(
                    &mut s,
                    "GET",
                    &format!("/v1/job/{id}/allocations?stale"),
                    "",
                )
                .unwrap();
                assert_eq!(status, 200, "{body}");
                let allocs: serde_json::Value = serde_json::from_str(&body).unwrap();
                let running: Vec<&str> = allocs
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|a| a["DesiredStatus"] == "run")
                    .map(|a| a["Name"].as_str().unwrap())
                    .collect();
                let names: BTreeSet<&&str> = running.iter().collect();
                assert_eq!(
                    names.len(),
                    running.len(),
                    "server {}: {id} placed twice: {running:?}",
                    self.members[i].id
                );
                assert!(running.len() <= 1, "{id}: {running:?}");
            }
        }
    }
}

/// The job IDs a server holds, from its own state.
fn jobs_on(api: SocketAddr) -> BTreeSet<String> {
    let Some((200, body)) = get(api, "/v1/jobs?stale") else {
        return BTreeSet::new();
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|j| j["ID"].as_str().unwrap().to_string())
        .filter(|id| id != "leader-probe")
        .collect()
}

/// Clients writing jobs round the members' HTTP addresses (followers
/// forward), each over its own keep-alive connection to one member,
/// recording what was answered 200 and what an error.
struct Load {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<BTreeSet<String>>>,
    refused: Arc<Mutex<BTreeSet<String>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(apis: &[SocketAddr], clients: usize, tag: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(BTreeSet::new()));
        let refused = Arc::new(Mutex::new(BTreeSet::new()));
        let threads = (0..clients)
            .map(|c| {
                let api = apis[c % apis.len()];
                let (stop, acked, refused) = (stop.clone(), acked.clone(), refused.clone());
                let tag = tag.to_string();
                std::thread::spawn(move || {
                    let mut conn: Option<TcpStream> = None;
                    for n in 0.. {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        let id = format!("{tag}-c{c}-{n}");
                        if conn.is_none() {
                            conn = TcpStream::connect_timeout(&api, Duration::from_millis(500))
                                .ok()
                                .inspect(|s| {
                                    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                                });
                        }
                        let Some(s) = conn.as_mut() else {
                            std::thread::sleep(Duration::from_millis(50));
                            continue;
                        };
                        match request_on(s, "PUT", "/v1/jobs", &job(&id)) {
                            Some((200, _)) => {
                                acked.lock().unwrap().insert(id);
                            }
                            Some(_) => {
                                refused.lock().unwrap().insert(id);
                                std::thread::sleep(Duration::from_millis(20));
                            }
                            // Not answered: either way.
                            None => conn = None,
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            acked,
            refused,
            threads,
        }
    }

    fn acked(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    fn stop(self) -> (BTreeSet<String>, BTreeSet<String>) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            t.join().unwrap();
        }
        let acked = std::mem::take(&mut *self.acked.lock().unwrap());
        let refused = std::mem::take(&mut *self.refused.lock().unwrap());
        (acked, refused)
    }
}

fn apis(c: &Cluster) -> Vec<SocketAddr> {
    c.members.iter().map(|m| m.api).collect()
}

#[test]
fn a_killed_leader_is_replaced_and_no_answered_write_is_lost() {
    let mut c = Cluster::start(3, 10_000);
    let all = c.live();
    let first = c.leader(&all, Duration::from_secs(15));
    let load = Load::start(&apis(&c), 4, "k");
    std::thread::sleep(Duration::from_millis(800));
    let before = load.acked();
    assert!(before > 0, "no write answered before the kill");
    c.kill(first);
    let killed = Instant::now();
    let rest = c.live();
    let second = c.leader(&rest, Duration::from_secs(15));
    let elected = killed.elapsed();
    eprintln!(
        "leader {} killed; {} elected after {elected:?}",
        first + 1,
        second + 1
    );
    assert_ne!(first, second);
    let resumed = load.acked();
    std::thread::sleep(Duration::from_millis(800));
    let (acked, refused) = load.stop();
    assert!(
        acked.len() > resumed,
        "writes did not resume under the new leader"
    );
    eprintln!(
        "{} writes answered 200 ({before} before the kill), {} answered an error",
        acked.len(),
        refused.len()
    );
    c.up(first);
    c.settled(&acked, Duration::from_secs(20));
    c.placed_once();
    // A write refused is whole or absent: a register is one entry, so a
    // refused job that is there has its evaluation too.
    let leader_api = c.members[c.leader(&c.live(), Duration::from_secs(15))].api;
    for id in refused.iter().take(20) {
        if let Some((200, _)) = get(leader_api, &format!("/v1/job/{id}")) {
            let (_, evals) = get(leader_api, &format!("/v1/job/{id}/evaluations")).unwrap();
            assert!(
                evals.contains("\"ID\""),
                "{id} is there without its evaluation"
            );
        }
    }
}

#[test]
fn a_follower_that_missed_a_compaction_catches_up_from_a_snapshot() {
    let mut c = Cluster::start(3, 50);
    let all = c.live();
    let leader = c.leader(&all, Duration::from_secs(15));
    let follower = (leader + 1) % 3;
    c.kill(follower);
    let others: Vec<SocketAddr> = c.live().iter().map(|&i| c.members[i].api).collect();
    let load = Load::start(&others, 3, "s");
    let deadline = Instant::now() + Duration::from_secs(20);
    while load.acked() < 150 {
        assert!(
            Instant::now() < deadline,
            "the load made too little progress"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (acked, _) = load.stop();
    c.up(follower);
    c.settled(&acked, Duration::from_secs(20));
    c.placed_once();
    let dir = c.dir.path().join(format!("s{}", follower + 1));
    assert!(
        dir.join("raft-snapshot.snap").exists(),
        "the follower caught up without a snapshot"
    );
}

#[test]
fn a_paused_server_and_a_whole_cluster_restart_lose_nothing() {
    let mut c = Cluster::start(3, 10_000);
    let all = c.live();
    let first = c.leader(&all, Duration::from_secs(15));
    let load = Load::start(&apis(&c), 3, "p");
    std::thread::sleep(Duration::from_millis(500));
    // The leader stops answering past the election timeout, then resumes
    // (and steps down once it hears of the newer term).
    c.signal(first, "-STOP");
    let rest: Vec<usize> = all.iter().copied().filter(|&i| i != first).collect();
    let second = c.leader(&rest, Duration::from_secs(15));
    assert_ne!(first, second);
    std::thread::sleep(Duration::from_millis(500));
    c.signal(first, "-CONT");
    std::thread::sleep(Duration::from_millis(500));
    let (acked, _) = load.stop();
    c.settled(&acked, Duration::from_secs(20));
    c.leader(&all, Duration::from_secs(15));

    // Every server down, then up again: the same jobs.
    for i in 0..3 {
        c.kill(i);
    }
    for i in 0..3 {
        c.up(i);
    }
    c.leader(&all, Duration::from_secs(20));
    c.settled(&acked, Duration::from_secs(20));
    c.placed_once();
}

fn call(api: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(api).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    request_on(&mut s, method, path, body).unwrap()
}

/// The voters a server's membership names, by ID.
fn voters(api: SocketAddr) -> BTreeSet<String> {
    let (status, body) = call(api, "GET", "/v1/operator/raft/configuration", "");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["Servers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Voter"] == true)
        .map(|s| s["ID"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_server_joins_and_catches_up_and_another_is_removed() {
    let mut c = Cluster::start(3, 10_000);
    let all = c.live();
    let leader = c.leader(&all, Duration::from_secs(15));
    let load = Load::start(&apis(&c), 2, "m");
    while load.acked() < 30 {
        std::thread::sleep(Duration::from_millis(20));
    }
    // A fourth server, started with the cluster's list and itself; it waits
    // to be added rather than starting a cluster of its own.
    c.members.push(Member {
        id: 4,
        api: free(),
        raft: free(),
        server: None,
    });
    c.up(3);
    let new = &c.members[3];
    let add = format!(
        r#"{{"ID": 4, "RaftAddr": "{}", "HTTPAddr": "{}"}}"#,
        new.raft, new.api
    );
    // Sent to a follower: forwarded to the leader.
    let follower = (leader + 1) % 3;
    let (status, body) = call(
        c.members[follower].api,
        "PUT",
        "/v1/operator/raft/peer",
        &add,
    );
    assert_eq!(status, 200, "{body}");
    let four: BTreeSet<String> = ["1", "2", "3", "4"].iter().map(|s| s.to_string()).collect();
    assert_eq!(voters(c.members[leader].api), four);
    let (acked, _) = load.stop();
    c.settled(&acked, Duration::from_secs(20));

    // A follower leaves; the three left go on.
    let gone = (leader + 2) % 3;
    let id = c.members[gone].id;
    let (status, body) = call(
        c.members[leader].api,
        "DELETE",
        &format!("/v1/operator/raft/peer?id={id}"),
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert!(!voters(c.members[leader].api).contains(&id.to_string()));
    c.kill(gone);
    let rest = c.live();
    let now = c.leader(&rest, Duration::from_secs(15));
    let load = Load::start(&[c.members[now].api], 1, "after");
    while load.acked() < 5 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (more, _) = load.stop();
    c.settled(&more, Duration::from_secs(20));
    c.placed_once();
}

/// The namespace travels with a request a follower forwards: a namespace
/// created and a job registered in it through followers are the leader's,
/// a forwarded read of `?namespace=` answers that namespace's job, and
/// every server holds both once settled.
#[test]
fn namespaced_writes_and_reads_through_followers() {
    let c = Cluster::start(3, 10_000);
    let all = c.live();
    let leader = c.leader(&all, Duration::from_secs(15));
    let (one, two) = (
        c.members[(leader + 1) % 3].api,
        c.members[(leader + 2) % 3].api,
    );
    let (status, body) = call(one, "PUT", "/v1/namespace", r#"{"Name":"team-a"}"#);
    assert_eq!((status, body.as_str()), (200, "null"));
    let (status, body) = call(one, "PUT", "/v1/job/web?namespace=team-a", &job("web"));
    assert_eq!(status, 200, "{body}");
    let theirs = write_index(&body);
    let mine = job("web").replace("exec", "docker");
    let (status, body) = call(two, "PUT", "/v1/job/web", &mine);
    assert_eq!(status, 200, "{body}");

    let (status, body) = call(two, "GET", "/v1/job/web?namespace=team-a", "");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["Namespace"].as_str(), v["CreateIndex"].as_u64()),
        (Some("team-a"), Some(theirs))
    );
    let (status, body) = call(one, "GET", "/v1/jobs?namespace=*", "");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let keys: Vec<(&str, &str)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["Namespace"].as_str().unwrap(), j["ID"].as_str().unwrap()))
        .filter(|k| k.1 != "leader-probe")
        .collect();
    assert_eq!(keys, [("default", "web"), ("team-a", "web")]);

    // Every server applies the same: its own state (`?stale`) has both.
    let deadline = Instant::now() + Duration::from_secs(20);
    for i in all {
        let api = c.members[i].api;
        loop {
            let ns = get(api, "/v1/namespace/team-a?stale").map(|g| g.0);
            let job = get(api, "/v1/job/web?namespace=team-a&stale");
            if ns == Some(200) && job.as_ref().is_some_and(|j| j.1.contains("exec")) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "server {} lacks team-a's job",
                i + 1
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // A refusal is the leader's too: the namespace holds a job.
    let (status, body) = call(two, "DELETE", "/v1/namespace/team-a", "");
    assert_eq!(status, 500, "{body}");
}

fn write_index(body: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["Index"]
        .as_u64()
        .unwrap_or_else(|| panic!("no Index in {body}"))
}
