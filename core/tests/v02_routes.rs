//! What the v0.2 command-line tool reads and writes besides jobs (issue 11):
//! an evaluation's allocations (its monitor after `run` and `stop`), a drain
//! toggled by `?enable=` with no body, and the agent and status endpoints.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ordu::Agent;
use ordu::{host, ErrorKind};
use serde_json::{json, Value};
use support::*;

fn eval_allocs(store: &ordu::Store, id: &str) -> (Vec<String>, u64) {
    let q = store.eval_allocations(id, &now()).unwrap();
    (q.value.iter().map(|a| a.id.clone()).collect(), q.meta.index)
}

#[test]
fn an_evaluation_lists_the_allocations_it_placed() {
    let store = manual_store();
    add_node(&store, "n1");
    let first = register(&store, &job("a", 2)).unwrap().eval_id;
    place(&store, "a", "n1", &[("x1", 0), ("x2", 1)]);
    // Another job's allocations never show under this evaluation.
    register(&store, &job("b", 1)).unwrap();
    place(&store, "b", "n1", &[("y1", 0)]);

    let (ids, index) = eval_allocs(&store, &first);
    assert_eq!(ids, ["x1", "x2"]);
    // The allocation table's index, as Nomad answers.
    assert_eq!(index, store.with_state(|s| s.allocs_index()));

    // A later evaluation of the same job has none of them.
    let second = register(&store, &job("a", 3)).unwrap().eval_id;
    assert_eq!(eval_allocs(&store, &second).0, Vec::<String>::new());
}

#[test]
fn an_unknown_evaluation_answers_an_empty_list() {
    let store = manual_store();
    register(&store, &job("a", 1)).unwrap();
    let (ids, index) = eval_allocs(&store, "no-such-eval");
    assert!(ids.is_empty());
    assert!(index >= 1, "never index 0 once the store has had a write");
    let reply = host::eval_allocations(&store, "no-such-eval", &now()).unwrap();
    assert_eq!(reply.body, "[]");
}

#[test]
fn a_blocked_evaluation_allocations_read_wakes_on_its_placement_only() {
    let store = Arc::new(manual_store());
    add_node(&store, "n1");
    let eval = register(&store, &job("a", 1)).unwrap().eval_id;
    register(&store, &job("b", 1)).unwrap();
    let start = store.index();
    let w = {
        let store = store.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            // Another job's placement first: the read must not answer it.
            place(&store, "b", "n1", &[("y1", 0)]);
            std::thread::sleep(Duration::from_millis(50));
            place(&store, "a", "n1", &[("x1", 0)]);
        })
    };
    let t = Instant::now();
    // Not woken by job b's placement: the first answer has job a's.
    let q = store
        .eval_allocations(&eval, &after(start, Duration::from_secs(20)))
        .unwrap();
    assert!(q.meta.index > start);
    let ids: Vec<_> = q.value.iter().map(|a| a.id.clone()).collect();
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_eq!(ids, ["x1"]);
    w.join().unwrap();
}

fn drained(store: &ordu::Store, id: &str) -> bool {
    store.node(id, &now()).unwrap().value.drain
}

#[test]
fn drain_takes_enable_from_the_query_with_an_empty_body() {
    let store = manual_store();
    add_node(&store, "n1");
    host::update_node_drain_query(&store, "n1", Some("true"), b"").unwrap();
    assert!(drained(&store, "n1"));
    host::update_node_drain_query(&store, "n1", Some("0"), b"  \n").unwrap();
    assert!(!drained(&store, "n1"));
    // The body form still works, and agreeing forms together too.
    host::update_node_drain_query(&store, "n1", None, br#"{"Drain": true}"#).unwrap();
    assert!(drained(&store, "n1"));
    host::update_node_drain_query(&store, "n1", Some("false"), br#"{"Drain": false}"#).unwrap();
    assert!(!drained(&store, "n1"));
}

#[test]
fn a_bad_or_missing_enable_is_refused_and_changes_nothing() {
    let store = manual_store();
    add_node(&store, "n1");
    let before = store.index();
    for (enable, body, says) in [
        (None, &b""[..], "missing enable value"),
        (Some("yes"), &b""[..], "invalid enable value"),
        (Some("true"), &br#"{"Drain": false}"#[..], "does not match"),
    ] {
        let e = host::update_node_drain_query(&store, "n1", enable, body).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "{enable:?}");
        assert!(e.to_string().contains(says), "{e}");
    }
    assert_eq!(store.index(), before);
    assert!(!drained(&store, "n1"));
}

fn agent() -> Agent {
    Agent {
        name: "host1".into(),
        datacenter: "dc7".into(),
        addr: "10.1.2.3".parse().unwrap(),
        port: 4646,
    }
}

fn agent_json(store: &ordu::Store, what: &str) -> Value {
    serde_json::from_str(&host::agent(store, &agent(), what).unwrap().body).unwrap()
}

#[test]
fn the_agent_endpoints_describe_one_server_that_leads_itself() {
    let store = store_with(ordu::Config {
        region: "eu".into(),
        ..ordu::Config::default()
    });
    assert_eq!(agent_json(&store, "leader"), json!("10.1.2.3:4646"));
    assert_eq!(agent_json(&store, "peers"), json!(["10.1.2.3:4646"]));
    assert_eq!(agent_json(&store, "regions"), json!(["eu"]));

    // The bare list the v0.2 `agent-members` decodes.
    let members = agent_json(&store, "members");
    let m = &members.as_array().unwrap()[..];
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["Name"], "host1.eu");
    assert_eq!(m[0]["Addr"], "10.1.2.3");
    assert_eq!(m[0]["Port"], 4646);
    assert_eq!(m[0]["Status"], "alive");
    assert_eq!(m[0]["Tags"]["region"], "eu");
    assert_eq!(m[0]["Tags"]["dc"], "dc7");
    assert_eq!(m[0]["Tags"]["role"], "nomad");

    let me = agent_json(&store, "self");
    assert_eq!(me["config"]["Region"], "eu");
    assert_eq!(me["config"]["Datacenter"], "dc7");
    assert_eq!(me["config"]["NodeName"], "host1");
    assert_eq!(me["config"]["Server"]["Enabled"], true);
    assert_eq!(me["member"], m[0]);
    assert_eq!(me["stats"]["nomad"]["leader"], "true");
    assert_eq!(me["stats"]["nomad"]["leader_addr"], "10.1.2.3:4646");
    // Stats are the store's own, every value a string.
    register(&store, &job("a", 1)).unwrap();
    let me = agent_json(&store, "self");
    assert_eq!(me["stats"]["ordu"]["jobs"], "1");
    assert_eq!(me["stats"]["ordu"]["index"], store.index().to_string());
}

#[test]
fn an_ipv6_server_is_bracketed_and_an_unknown_question_refused() {
    let store = manual_store();
    let a = Agent {
        addr: "::1".parse().unwrap(),
        ..agent()
    };
    assert_eq!(a.leader(), "[::1]:4646");
    let e = host::agent(&store, &a, "weather").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
}
