//! Inline scheduling under concurrent writers: jobs registered, nodes coming
//! and going and clients reporting from many threads at once. Whatever the
//! interleaving, no node is over-committed, names stay unique, and every
//! evaluation ends terminal or blocked.

mod scheduling_support;

use std::collections::BTreeSet;
use std::sync::Arc;

use scheduling_support::*;

#[test]
fn concurrent_writers_never_over_commit() {
    let s = Arc::new(store());
    add_nodes(&s, 6, 2000, 2000);
    let mut threads = Vec::new();
    for t in 0..4 {
        let s = s.clone();
        threads.push(std::thread::spawn(move || {
            for round in 0..15 {
                let id = format!("t{t}-j{}", round % 5);
                register(&s, job_json(&id, 1 + (round % 4) as i64, 150 + 50 * t, 100));
                if round % 6 == 5 {
                    s.deregister_job(&id, &Default::default()).unwrap();
                }
            }
        }));
    }
    {
        let s = s.clone();
        threads.push(std::thread::spawn(move || {
            for round in 0..20 {
                let node = format!("node-{:03}", round % 6);
                match round % 4 {
                    0 => drop(s.update_node_status(&node, "down")),
                    1 => drop(s.update_node_status(&node, "ready")),
                    2 => drop(s.update_node_drain(&node, true)),
                    _ => drop(s.update_node_drain(&node, false)),
                }
                add_node(&s, node_json(&format!("extra-{round}"), "dc1", 1000, 1000));
            }
        }));
    }
    {
        let s = s.clone();
        threads.push(std::thread::spawn(move || {
            for round in 0..40 {
                let ids: Vec<String> =
                    s.with_state(|st| st.allocs().map(|a| a.id.clone()).collect());
                if let Some(id) = ids.get(round * 7 % ids.len().max(1)) {
                    let status = ["running", "complete", "failed"][round % 3];
                    client_status(&s, id, status);
                }
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    s.with_state(|st| {
        let mut names = BTreeSet::new();
        for n in st.nodes() {
            if let Some(u) = st.node_usage(&n.id) {
                assert!(u.fits(n).is_ok(), "{} over-committed: {u:?}", n.id);
            }
        }
        for a in st.allocs().filter(|a| !a.is_terminal()) {
            assert!(
                names.insert((a.job_id.clone(), a.name.clone())),
                "{} twice",
                a.name
            );
        }
        for e in st.evals() {
            assert!(
                e.is_terminal() || e.status == "blocked",
                "{} ({}) is {}",
                e.id,
                e.triggered_by,
                e.status
            );
        }
    });
}
