//! The event stream (issue 15, point 8; DESIGN "One write, end to end", step
//! 5): every applied change appears once, in index order; topic filters;
//! the start index; a bounded buffer that says when it dropped what a
//! subscriber wanted; a replayed log gives the same events; both ways to
//! wait, with many waiters at once.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ordu::events::{EventBatch, EventSubscription, TopicFilter};
use ordu::structs::AllocClientUpdate;
use ordu::{Config, ErrorKind, State, Store, WriteOptions};
use support::*;

fn drain(sub: &mut EventSubscription) -> Vec<Arc<EventBatch>> {
    let mut out = Vec::new();
    while let Some(b) = sub.try_next().unwrap() {
        out.push(b);
    }
    out
}

fn soon() -> Instant {
    Instant::now() + Duration::from_millis(20)
}

/// Nodes, jobs placed by the inline scheduler, client updates, a
/// deregister: a bit of everything a store writes.
fn workload(store: &Store) {
    for n in ["n1", "n2"] {
        add_node(store, n);
    }
    register(store, &job("web", 3)).unwrap();
    register(store, &job("api", 2)).unwrap();
    register(store, &job("web", 4)).unwrap();
    let allocs = store.job_allocations("web", false, &now()).unwrap().value;
    for a in allocs.iter().take(2) {
        store
            .update_alloc_client(AllocClientUpdate {
                id: a.id.clone(),
                client_status: "running".into(),
                ..AllocClientUpdate::default()
            })
            .unwrap();
    }
    store
        .deregister_job("api", &WriteOptions::default())
        .unwrap();
}

#[test]
fn every_applied_change_appears_once_in_index_order() {
    let (store, log) = recording_store_with(Config::default());
    let mut sub = store.subscribe_events(TopicFilter::all(), 1).unwrap();
    workload(&store);
    let batches = drain(&mut sub);
    let indexes: Vec<u64> = batches.iter().map(|b| b.index).collect();
    assert!(indexes.windows(2).all(|w| w[0] < w[1]), "{indexes:?}");
    let logged: Vec<u64> = log.lock().unwrap().iter().map(|(i, _)| *i).collect();
    assert_eq!(indexes, logged, "one batch per command written");
    let mut seen = HashSet::new();
    for b in &batches {
        let mut in_batch = HashSet::new();
        for e in &b.events {
            assert_eq!(e.index, b.index);
            assert!(in_batch.insert((e.topic(), e.key().to_string())), "once");
            seen.insert((e.topic(), e.key().to_string(), e.index));
        }
    }
    // What the state holds now is what the last event of each object said.
    store.with_state(|s| {
        for j in s.jobs() {
            assert!(seen.contains(&("Job", j.id.clone(), j.modify_index)));
        }
        for e in s.evals() {
            assert!(seen.contains(&("Evaluation", e.id.clone(), e.modify_index)));
        }
        for a in s.allocs() {
            assert!(seen.contains(&("Allocation", a.id.clone(), a.modify_index)));
        }
        for n in s.nodes() {
            assert!(seen.contains(&("Node", n.id.clone(), n.modify_index)));
        }
    });
    // The deregistered job's last event is its deregister.
    let last_api = batches
        .iter()
        .flat_map(|b| &b.events)
        .rfind(|e| e.topic() == "Job" && e.key() == "api")
        .unwrap();
    assert_eq!(last_api.event_type, "JobDeregistered");
}

#[test]
fn frames_are_nomads() {
    let store = inline_store();
    let mut sub = store.subscribe_events(TopicFilter::all(), 0).unwrap();
    add_node(&store, "n1");
    let reply = register(&store, &job("web", 1)).unwrap();
    let frames: Vec<serde_json::Value> = drain(&mut sub)
        .iter()
        .map(|b| serde_json::from_str(&b.to_json()).unwrap())
        .collect();
    assert_eq!(frames[0]["Events"][0]["Topic"], "Node");
    assert_eq!(frames[0]["Events"][0]["Type"], "NodeRegistration");
    assert_eq!(frames[0]["Events"][0]["Payload"]["Node"]["ID"], "n1");
    let reg = frames
        .iter()
        .find(|f| f["Index"] == reply.index)
        .expect("the register's frame");
    let job_event = &reg["Events"][0];
    assert_eq!(job_event["Topic"], "Job");
    assert_eq!(job_event["Type"], "JobRegistered");
    assert_eq!(job_event["Key"], "web");
    assert_eq!(job_event["Namespace"], "default");
    assert_eq!(job_event["Index"], reply.index);
    assert_eq!(job_event["Payload"]["Job"]["ID"], "web");
    let eval_event = &reg["Events"][1];
    assert_eq!(eval_event["Topic"], "Evaluation");
    assert_eq!(eval_event["FilterKeys"][0], "web");
    // The scheduler's plan: allocations, as `PlanResult`.
    assert!(frames.iter().any(|f| f["Events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["Topic"] == "Allocation" && e["Type"] == "PlanResult")));
}

#[test]
fn topic_filters() {
    let store = inline_store();
    let filtered = |f: &[&str]| {
        store
            .subscribe_events(TopicFilter::parse(f).unwrap(), 0)
            .unwrap()
    };
    let mut web = filtered(&["Job:web"]);
    let mut web_evals = filtered(&["Evaluation:web"]);
    let mut nodes = filtered(&["Node"]);
    let mut all = filtered(&["*"]);
    let mut both = filtered(&["Job:api", "Node:*"]);
    workload(&store);
    let events = |s: &mut EventSubscription| {
        drain(s)
            .iter()
            .flat_map(|b| b.events.clone())
            .map(|e| (e.topic(), e.key().to_string()))
            .collect::<Vec<_>>()
    };
    let w = events(&mut web);
    assert!(!w.is_empty() && w.iter().all(|(t, k)| *t == "Job" && k == "web"));
    let we = events(&mut web_evals);
    assert!(!we.is_empty() && we.iter().all(|(t, _)| *t == "Evaluation"));
    let n = events(&mut nodes);
    assert_eq!(n.len(), 2, "{n:?}");
    let b = events(&mut both);
    assert!(b.iter().all(|(t, k)| *t == "Node" || k == "api"));
    assert!(b.iter().any(|(t, _)| *t == "Job"));
    assert!(events(&mut all).len() > w.len() + we.len() + n.len());
    assert!(TopicFilter::parse(&["Job:"]).is_err());
    // Namespaces: nodes have none and always pass.
    let mut other = store
        .subscribe_events(TopicFilter::all().namespace("other"), 0)
        .unwrap();
    register(&store, &job("late", 1)).unwrap();
    add_node(&store, "n3");
    let o = events(&mut other);
    assert_eq!(o, vec![("Node", "n3".to_string())]);
}

#[test]
fn start_index() {
    let store = inline_store();
    workload(&store);
    let now_index = store.index();
    // 0: only what comes next.
    let mut fresh = store.subscribe_events(TopicFilter::all(), 0).unwrap();
    assert!(fresh.try_next().unwrap().is_none());
    // From an index: the batches at and after it.
    let mut from = store.subscribe_events(TopicFilter::all(), 5).unwrap();
    let batches = drain(&mut from);
    assert!(batches[0].index >= 5 && batches[0].index <= now_index);
    assert_eq!(batches.last().unwrap().index, now_index);
    add_node(&store, "n9");
    assert_eq!(drain(&mut fresh).len(), 1);
    assert_eq!(fresh.index(), store.index());
}

#[test]
fn the_buffer_is_bounded_and_says_what_it_dropped() {
    let store = store_with(Config {
        event_buffer_size: 4,
        ..Config::default()
    });
    let mut slow = store.subscribe_events(TopicFilter::all(), 0).unwrap();
    for i in 0..10 {
        add_node(&store, &format!("n{i}"));
    }
    // An index older than the buffer: an error naming the oldest it holds.
    let err = store.subscribe_events(TopicFilter::all(), 1).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Limit);
    assert_eq!(store.oldest_event_index(), 7);
    match &err {
        ordu::Error::Limit { path, limit, .. } => {
            assert_eq!(path, "index");
            assert_eq!(*limit, 7);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("oldest index it holds is 7"),
        "{err}"
    );
    // A subscriber that fell behind is told, not skipped ahead.
    let err = slow.try_next().err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Limit);
    // From the oldest held, all is there.
    let mut ok = store.subscribe_events(TopicFilter::all(), 7).unwrap();
    assert_eq!(drain(&mut ok).len(), 4);
}

#[test]
fn a_replayed_log_gives_the_same_events() {
    let (store, log) = recording_store_with(Config::default());
    let mut sub = store.subscribe_events(TopicFilter::all(), 1).unwrap();
    workload(&store);
    let live: Vec<String> = drain(&mut sub).iter().map(|b| b.to_json()).collect();
    let mut state = State::new();
    let replayed: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(i, c)| EventBatch::from_applied(&state.apply(*i, c).unwrap()))
        .map(|b| b.to_json())
        .collect();
    assert_eq!(live, replayed);
    // Into a fresh store too.
    let fresh = inline_store();
    fresh.set_leader(false);
    let mut again = fresh.subscribe_events(TopicFilter::all(), 1).unwrap();
    for (i, c) in log.lock().unwrap().iter() {
        fresh.apply_committed(*i, c.clone()).unwrap();
    }
    let live_again: Vec<String> = drain(&mut again).iter().map(|b| b.to_json()).collect();
    assert_eq!(live, live_again);
}

#[test]
fn both_ways_to_wait() {
    let store = Arc::new(inline_store());
    // Nothing comes: the deadline ends the wait.
    let mut sub = store.subscribe_events(TopicFilter::all(), 0).unwrap();
    assert!(sub.next(soon()).unwrap().is_none());
    // Many blocked subscribers all get the write.
    let waiters: Vec<_> = (0..16)
        .map(|_| {
            let mut s = store.subscribe_events(TopicFilter::all(), 0).unwrap();
            std::thread::spawn(move || {
                s.next(Instant::now() + Duration::from_secs(10))
                    .unwrap()
                    .map(|b| b.index)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    add_node(&store, "n1");
    for w in waiters {
        assert_eq!(w.join().unwrap(), Some(store.index()));
    }
    // The future, on the smallest executor.
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            add_node(&store, "n2");
        })
    };
    let mut sub = store.subscribe_events(TopicFilter::all(), 0).unwrap();
    let (got, _) = block_on(sub.next_async(Instant::now() + Duration::from_secs(10)));
    writer.join().unwrap();
    assert_eq!(got.unwrap().unwrap().events[0].key(), "n2");
    let (none, _) = block_on(sub.next_async(soon()));
    assert!(none.unwrap().is_none());
}

#[test]
fn many_waiting_subscribers_of_both_kinds_take_every_batch() {
    // Threads blocked in `next` and futures awaiting `next_async`, all
    // waiting while a writer writes as fast as it can: each takes every
    // batch once, in order, and none is left waiting for a batch that came
    // (a lost wake-up would hold a subscriber until its wait's deadline:
    // `next` then finds the batch, late).
    const WRITES: u64 = 300;
    let store = Arc::new(inline_store());
    let first = store.index() + 1;
    let take_all = |mut sub: EventSubscription, future: bool| {
        std::thread::spawn(move || {
            let mut got = Vec::new();
            while got.len() < WRITES as usize {
                let deadline = Instant::now() + Duration::from_secs(60);
                let b = if future {
                    block_on(sub.next_async(deadline)).0
                } else {
                    sub.next(deadline)
                };
                got.push(b.unwrap().expect("a batch before the deadline").index);
            }
            got
        })
    };
    let subscribers: Vec<_> = (0..64)
        .map(|i| {
            let sub = store.subscribe_events(TopicFilter::all(), 0).unwrap();
            take_all(sub, i % 2 == 1)
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    for i in 0..WRITES {
        add_node(&store, &format!("n{i}"));
    }
    let want: Vec<u64> = (first..first + WRITES).collect();
    for s in subscribers {
        assert_eq!(s.join().unwrap(), want);
    }
    // Some 0.1 s here; a lost wake-up, a minute.
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(30),
        "took {took:?}: a wake-up was lost"
    );
}

#[test]
fn a_buffer_size_of_zero_turns_the_stream_off() {
    let store = store_with(Config {
        event_buffer_size: 0,
        ..Config::default()
    });
    add_node(&store, "n1");
    let err = store.subscribe_events(TopicFilter::all(), 0).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Limit);
}

#[test]
fn a_restore_tells_subscribers_what_they_missed() {
    let source = inline_store();
    workload(&source);
    let bytes = source.snapshot();
    let replica = inline_store();
    let mut before = replica.subscribe_events(TopicFilter::all(), 0).unwrap();
    replica.restore_snapshot(&bytes).unwrap();
    let err = before.try_next().err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Limit);
    // From the restored index on, all is well.
    let mut after = replica.subscribe_events(TopicFilter::all(), 0).unwrap();
    add_node(&replica, "n9");
    assert_eq!(drain(&mut after).len(), 1);
}
