//! Namespaces: a job is its namespace and its ID. Two jobs of one ID in two
//! namespaces are two jobs (their evaluations, allocations, versions and
//! indexes apart); lists are of one namespace or of every one (`*`);
//! namespaces are created by a write and `default` always exists.

mod support;

use std::time::{Duration, Instant};

use ordu::structs::Namespace;
use ordu::{
    Command, Config, ErrorKind, ListOptions, QueryOptions, SchedulingMode, State, Store,
    WriteOptions,
};
use serde_json::json;
use support::*;

fn in_ns(ns: &str) -> WriteOptions {
    WriteOptions::default().in_namespace(ns)
}

fn read_in(ns: &str) -> QueryOptions {
    QueryOptions::default().in_namespace(ns)
}

fn create(store: &Store, name: &str) -> u64 {
    store
        .upsert_namespace(name, Namespace::default(), &WriteOptions::default())
        .unwrap()
}

/// Registers `job` in `ns` through the request's namespace (the job names
/// none).
fn register_in(store: &Store, ns: &str, job: &serde_json::Value) -> ordu::Result<u64> {
    store
        .register_job_json(&body(job), &in_ns(ns))
        .map(|r| r.index)
}

fn ids<T>(items: &[T], f: impl Fn(&T) -> String) -> Vec<String> {
    items.iter().map(f).collect()
}

#[test]
fn one_id_in_two_namespaces_is_two_jobs() {
    let store = inline_store();
    add_node(&store, "n1");
    create(&store, "team");
    register(&store, &job("web", 1)).unwrap();
    register_in(&store, "team", &job("web", 2)).unwrap();

    let here = store.job("web", &now()).unwrap().value;
    let there = store.job("web", &read_in("team")).unwrap().value;
    assert_eq!(
        (here.namespace.as_str(), here.task_groups[0].count),
        ("default", 1)
    );
    assert_eq!(
        (there.namespace.as_str(), there.task_groups[0].count),
        ("team", 2)
    );

    // Each has its own evaluations and allocations, placed by its own run.
    let allocs = |q: &QueryOptions| store.job_allocations("web", false, q).unwrap().value;
    assert_eq!(allocs(&now()).len(), 1);
    assert_eq!(allocs(&read_in("team")).len(), 2);
    for a in allocs(&read_in("team")) {
        let full = store.allocation(&a.id, &now()).unwrap().value;
        assert_eq!(full.namespace, "team");
    }
    let evals = |q: &QueryOptions| store.job_evaluations("web", q).unwrap().value;
    assert_eq!(evals(&now()).len(), 1);
    assert_eq!(evals(&read_in("team")).len(), 1);
    assert_eq!(evals(&read_in("team"))[0].namespace, "team");

    // A namespace with no such job has none.
    create(&store, "empty");
    let err = store.job("web", &read_in("empty")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);

    // The summary and versions are per job too.
    let summary = store.job_summary("web", &read_in("team")).unwrap().value;
    assert_eq!(summary.namespace, "team");
    let versions = store.job_versions("web", &now()).unwrap().value.versions;
    assert_eq!(versions.len(), 1);

    // Deregistering one leaves the other.
    store
        .deregister_job_with("web", true, &in_ns("team"))
        .unwrap();
    assert!(store.job("web", &read_in("team")).is_err());
    assert_eq!(
        store.job("web", &now()).unwrap().value.task_groups[0].count,
        1
    );
}

#[test]
fn lists_are_of_one_namespace_or_of_every_one() {
    let store = inline_store();
    add_node(&store, "n1");
    for ns in ["a-team", "zeta"] {
        create(&store, ns);
    }
    register(&store, &job("web", 1)).unwrap();
    register(&store, &job("api", 1)).unwrap();
    register_in(&store, "a-team", &job("web", 1)).unwrap();
    register_in(&store, "zeta", &job("db", 1)).unwrap();

    let jobs = |q: &QueryOptions, prefix: &str| {
        ids(&store.jobs(prefix, q).unwrap().value, |j| {
            format!("{}/{}", j.namespace, j.id)
        })
    };
    assert_eq!(jobs(&now(), ""), ["default/api", "default/web"]);
    assert_eq!(jobs(&read_in("zeta"), ""), ["zeta/db"]);
    assert_eq!(
        jobs(&read_in("*"), ""),
        ["a-team/web", "default/api", "default/web", "zeta/db"]
    );
    assert_eq!(jobs(&read_in("*"), "w"), ["a-team/web", "default/web"]);
    assert_eq!(jobs(&read_in("a-team"), "a"), Vec::<String>::new());

    // Pages across namespaces: tokens are `<Namespace>.<ID>`.
    let mut list = ListOptions {
        per_page: 3,
        ..ListOptions::default()
    };
    let first = store.jobs_page(&list, &read_in("*")).unwrap().value;
    assert_eq!(first.items.len(), 3);
    assert_eq!(first.next_token.as_deref(), Some("zeta.db"));
    list.next_token = first.next_token.unwrap();
    let second = store.jobs_page(&list, &read_in("*")).unwrap().value;
    assert_eq!(ids(&second.items, |j| j.id.clone()), ["db"]);
    assert_eq!(second.next_token, None);
    // Backwards, within one namespace.
    let back = ListOptions {
        reverse: true,
        ..ListOptions::default()
    };
    let page = store.jobs_page(&back, &now()).unwrap().value;
    assert_eq!(ids(&page.items, |j| j.id.clone()), ["web", "api"]);

    // Evaluations and allocations: by namespace, `*`, and a job of one.
    let evals = |q: &QueryOptions, job: &str| {
        let list = ListOptions {
            job: job.to_string(),
            ..ListOptions::default()
        };
        store.evaluations(&list, q).unwrap().value.items
    };
    assert_eq!(evals(&now(), "").len(), 2);
    assert_eq!(evals(&read_in("*"), "").len(), 4);
    assert_eq!(evals(&read_in("*"), "web").len(), 2);
    assert_eq!(evals(&now(), "web").len(), 1);
    assert!(evals(&read_in("zeta"), "web").is_empty());
    let allocs = |q: &QueryOptions| {
        store
            .allocations(&ListOptions::default(), q)
            .unwrap()
            .value
            .items
    };
    assert_eq!(allocs(&now()).len(), 2);
    assert_eq!(allocs(&read_in("a-team")).len(), 1);
    assert_eq!(allocs(&read_in("*")).len(), 4);
    assert!(allocs(&read_in("nowhere")).is_empty());
}

#[test]
fn namespaces_are_created_by_a_write_and_default_always_exists() {
    let store = manual_store();
    let names = |s: &Store| ids(&s.namespaces("", &now()).unwrap().value, |n| n.name.clone());
    assert_eq!(names(&store), ["default"]);
    assert!(store.namespace("default", &now()).is_ok());

    // A register into a namespace that does not exist changes nothing.
    let before = snapshot(&store);
    let err = register_in(&store, "team", &job("web", 1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(err.field_errors()[0].path, "Namespace");
    assert!(err.to_string().contains("\"team\" does not exist"), "{err}");
    // So does a job that names it itself.
    let mut named = job("web", 1);
    named["Namespace"] = json!("team");
    assert_eq!(
        register(&store, &named).unwrap_err().kind(),
        ErrorKind::Invalid
    );
    assert!(snapshot(&store) == before);

    // Created, it lists in name order and takes jobs; a job's own
    // namespace wins over the request's.
    let created = create(&store, "team");
    create(&store, "alpha");
    assert_eq!(names(&store), ["alpha", "default", "team"]);
    let ns = store.namespace("team", &now()).unwrap();
    assert_eq!(
        (ns.value.create_index, ns.value.modify_index),
        (created, created)
    );
    register(&store, &named).unwrap();
    register_in(&store, "alpha", &named).unwrap();
    assert!(store.job("web", &read_in("team")).is_ok());
    assert!(store.job("web", &read_in("alpha")).is_err());

    // An update keeps its creation index; a body naming another namespace
    // than the path, or a bad name, is refused.
    let update = Namespace {
        description: "the team's".into(),
        ..Namespace::default()
    };
    let at = store
        .upsert_namespace("team", update, &WriteOptions::default())
        .unwrap();
    let ns = store.namespace("team", &now()).unwrap().value;
    assert_eq!((ns.create_index, ns.modify_index), (created, at));
    assert_eq!(ns.description, "the team's");
    let other = Namespace::named("alpha");
    let err = store
        .upsert_namespace("team", other, &WriteOptions::default())
        .unwrap_err();
    assert_eq!(err.field_errors()[0].path, "Name");
    for bad in ["*", "a b", "a.b", "", &"x".repeat(129)] {
        let err = store
            .upsert_namespace(bad, Namespace::default(), &WriteOptions::default())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{bad:?}");
        assert_eq!(err.field_errors()[0].path, "Name");
    }
    let long = Namespace {
        description: "d".repeat(257),
        ..Namespace::default()
    };
    let err = store
        .upsert_namespace("long", long, &WriteOptions::default())
        .unwrap_err();
    assert_eq!(err.field_errors()[0].path, "Description");

    // Deletes: not default, not one holding a job (stopped or not), not
    // one that does not exist; each refusal changes nothing.
    let before = snapshot(&store);
    let del = |name: &str| store.delete_namespace(name, &WriteOptions::default());
    assert_eq!(del("default").unwrap_err().kind(), ErrorKind::Conflict);
    let err = del("team").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.to_string().contains("\"web\""), "{err}");
    assert_eq!(del("nowhere").unwrap_err().kind(), ErrorKind::NotFound);
    assert!(snapshot(&store) == before);
    store
        .deregister_job_with("web", true, &in_ns("team"))
        .unwrap();
    del("team").unwrap();
    assert_eq!(names(&store), ["alpha", "default"]);
    assert_eq!(
        store.namespace("team", &now()).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn a_write_to_one_namespace_does_not_wake_a_read_of_another() {
    let store = std::sync::Arc::new(manual_store());
    create(&store, "team");
    register(&store, &job("web", 1)).unwrap();
    register_in(&store, "team", &job("web", 1)).unwrap();
    let here = store.job("web", &now()).unwrap().meta.index;
    let there = store.job("web", &read_in("team")).unwrap().meta.index;
    assert!(there > here);

    // A blocking read of default/web through writes to team/web: it times
    // out at its own index.
    let reader = {
        let store = store.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let q = QueryOptions::blocking(here, Duration::from_millis(400));
            let r = store.job("web", &q).unwrap();
            (r.meta.index, started.elapsed())
        })
    };
    for n in 2..5 {
        register_in(&store, "team", &job("web", n)).unwrap();
    }
    let (index, took) = reader.join().unwrap();
    assert_eq!(index, here);
    assert!(took >= Duration::from_millis(400), "{took:?}");

    // And a write to default/web wakes a reader of it.
    let reader = {
        let store = store.clone();
        std::thread::spawn(move || {
            let q = QueryOptions::blocking(here, Duration::from_secs(30));
            store.job("web", &q).unwrap().meta.index
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let at = register(&store, &job("web", 5)).unwrap().index;
    assert_eq!(reader.join().unwrap(), at);
    // The index of team/web stayed where its own last write left it.
    assert!(store.job("web", &read_in("team")).unwrap().meta.index < at);
}

#[test]
fn namespaces_survive_a_snapshot_and_a_replayed_log() {
    let (store, log) = recording_store_with(Config {
        mode: SchedulingMode::Inline,
        ..Config::default()
    });
    add_node(&store, "n1");
    create(&store, "team");
    register(&store, &job("web", 1)).unwrap();
    register_in(&store, "team", &job("web", 2)).unwrap();
    let snap = snapshot(&store);

    let restored = State::restore(&snap).unwrap();
    assert!(restored.snapshot() == snap);
    assert_eq!(restored.job("team", "web").unwrap().task_groups[0].count, 2);
    assert_eq!(restored.allocs_by_job("team", "web").len(), 2);
    assert_eq!(restored.namespace("team").unwrap().name, "team");

    // The same commands at the same indexes give the same bytes.
    let mut replica = State::new();
    for (i, c) in log.lock().unwrap().iter() {
        replica.apply(*i, c).unwrap();
    }
    assert!(replica.snapshot() == snap);
}

#[test]
fn a_logged_register_into_a_deleted_namespace_brings_it_back() {
    // The store refuses such a register before it is logged; a log may
    // still hold one (a namespace deleted between the check and the
    // write, or an entry from before namespaces), and every replica must
    // apply it alike.
    let (store, log) = recording_store();
    create(&store, "team");
    register_in(&store, "team", &job("web", 1)).unwrap();
    let entries = log.lock().unwrap().clone();
    let register = entries
        .iter()
        .find(|(_, c)| matches!(c, Command::JobRegister { .. }))
        .unwrap()
        .1
        .clone();
    let mut state = State::new();
    state.apply(1, &register).unwrap();
    let ns = state.namespace("team").unwrap();
    assert_eq!(ns.create_index, 1);
    assert!(state.job("team", "web").is_some());
    assert!(state.job("default", "web").is_none());
}

#[test]
fn the_same_job_id_in_two_namespaces_is_scheduled_apart() {
    // The broker serialises evaluations per job: the same ID in another
    // namespace is another job, and each run sees only its own allocations.
    let store = store_with(Config {
        mode: SchedulingMode::Manual,
        ..Config::default()
    });
    add_node(&store, "n1");
    create(&store, "team");
    register(&store, &job("web", 2)).unwrap();
    register_in(&store, "team", &job("web", 3)).unwrap();
    let a = store
        .dequeue_evaluation(&["service"], Duration::ZERO)
        .unwrap();
    let b = store
        .dequeue_evaluation(&["service"], Duration::ZERO)
        .unwrap();
    assert_ne!(a.eval.namespace, b.eval.namespace);
    store.process_evaluation(&a).unwrap();
    store.process_evaluation(&b).unwrap();
    let live = |q: &QueryOptions| store.job_allocations("web", false, q).unwrap().value.len();
    assert_eq!(live(&now()), 2);
    assert_eq!(live(&read_in("team")), 3);
    // Scaling one down stops only its own.
    register_in(&store, "team", &job("web", 1)).unwrap();
    store.process_ready();
    let running = |q: &QueryOptions| {
        store
            .job_allocations("web", false, q)
            .unwrap()
            .value
            .iter()
            .filter(|a| a.desired_status == "run")
            .count()
    };
    assert_eq!(running(&now()), 2);
    assert_eq!(running(&read_in("team")), 1);
}
