//! Three servers in one process, on loopback: one state, a leader elected
//! again when the leader goes, and no answered write lost.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ordu::{Config, QueryOptions, SchedulingMode, Store, WriteOptions};
use ordu_cluster::{Cluster, NodeId, Options, ServerNode};
use serde_json::json;

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn servers(n: u64) -> BTreeMap<NodeId, ServerNode> {
    (1..=n)
        .map(|id| {
            (
                id,
                ServerNode {
                    raft_addr: free_addr().to_string(),
                    api_addr: format!("127.0.0.1:{}", 4600 + id),
                },
            )
        })
        .collect()
}

fn config() -> Config {
    Config {
        mode: SchedulingMode::Queued,
        ..Config::default()
    }
}

async fn start(id: NodeId, dir: &std::path::Path, all: &BTreeMap<NodeId, ServerNode>) -> Cluster {
    let addr = all[&id].raft_addr.parse().unwrap();
    Cluster::start(
        Options::new(id, dir.join(format!("s{id}")), addr, all.clone()),
        config(),
    )
    .await
    .unwrap()
}

/// The leader among `nodes`, once they agree on one and its store leads.
async fn leader(nodes: &[Cluster], within: Duration) -> Cluster {
    let deadline = Instant::now() + within;
    loop {
        let leads: Vec<&Cluster> = nodes.iter().filter(|c| c.store().is_leader()).collect();
        if let [one] = leads.as_slice() {
            let id = one.id;
            if nodes.iter().all(|c| c.leader().map(|l| l.0) == Some(id)) {
                return (*one).clone();
            }
        }
        assert!(Instant::now() < deadline, "no leader within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn register(store: &Store, id: &str) -> ordu::Result<u64> {
    let body = json!({"Job": {
        "ID": id,
        "TaskGroups": [{"Name": "g", "Count": 1,
            "Tasks": [{"Name": "t", "Driver": "exec", "Config": {"command": "/bin/true"}}]}]
    }});
    store
        .register_job_json(body.to_string().as_bytes(), &WriteOptions::default())
        .map(|r| r.index)
}

async fn write(store: &Arc<Store>, id: &str) -> ordu::Result<u64> {
    let (store, id) = (store.clone(), id.to_string());
    tokio::task::spawn_blocking(move || register(&store, &id))
        .await
        .unwrap()
}

async fn add_node(store: &Arc<Store>) {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let node = json!({
            "ID": "n1", "Name": "n1", "Datacenter": "dc1", "Status": "ready",
            "Attributes": {"kernel.os": "linux", "driver.exec": "1"},
            "Resources": {"CPU": 400000, "MemoryMB": 819200, "DiskMB": 10000000}
        });
        store
            .register_node_json(node.to_string().as_bytes())
            .unwrap();
    })
    .await
    .unwrap();
}

/// Waits until every store holds every job in `ids`.
async fn everywhere(nodes: &[Cluster], ids: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    for c in nodes {
        for id in ids {
            while c.store().job(id, &QueryOptions::default()).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "{id} is not on server {} within 10 s",
                    c.id
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_servers_keep_one_state_and_elect_again_when_the_leader_goes() {
    let dir = tempfile::tempdir().unwrap();
    let all = servers(3);
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(start(id, dir.path(), &all).await);
    }
    let first = leader(&nodes, Duration::from_secs(10)).await;
    add_node(first.store()).await;
    let mut ids = Vec::new();
    let mut last = 0;
    let t = Instant::now();
    for n in 0..20 {
        let id = format!("before-{n}");
        let index = write(first.store(), &id).await.unwrap();
        assert!(index > last, "index {index} after {last}");
        last = index;
        ids.push(id);
    }
    eprintln!("20 writes in a row on the leader: {:?}", t.elapsed());
    // A follower refuses writes: it is not the leader.
    let follower = nodes.iter().find(|c| c.id != first.id).unwrap();
    let err = write(follower.store(), "on-a-follower").await.unwrap_err();
    assert_eq!(err.kind(), ordu::ErrorKind::Unavailable, "{err}");
    everywhere(&nodes, &ids).await;

    // The leader goes: the other two elect one and writes go on.
    let gone = first.id;
    first.shutdown().await;
    let t = Instant::now();
    let rest: Vec<Cluster> = nodes.iter().filter(|c| c.id != gone).cloned().collect();
    let second = leader(&rest, Duration::from_secs(10)).await;
    eprintln!("new leader {} after {:?}", second.id, t.elapsed());
    assert_ne!(second.id, gone);
    for n in 0..10 {
        let id = format!("after-{n}");
        let index = write(second.store(), &id).await.unwrap();
        assert!(index > last, "index {index} went back below {last}");
        last = index;
        ids.push(id);
    }
    everywhere(&rest, &ids).await;
    // The states agree.
    let deadline = Instant::now() + Duration::from_secs(10);
    while rest
        .iter()
        .any(|c| c.store().index() != second.store().index())
    {
        assert!(
            Instant::now() < deadline,
            "the servers never agreed on an index"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let a = rest[0].store().with_state(|s| s.snapshot());
    let b = rest[1].store().with_state(|s| s.snapshot());
    assert!(a == b, "two servers hold different states");
}
