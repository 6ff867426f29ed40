//! Formats that last: log entries and snapshots carry a version, bytes of
//! another version are refused by name, and the golden files in
//! `testdata/golden/` are still read back to the same state:
//!
//! - `log-v1.txt` and `snapshot-v1.json`: entry format 1 as first written
//!   (every plan placement with its job) and snapshot format 1 (every
//!   allocation with its job);
//! - `log-v1-lifted.txt` and `snapshot-v2.json`: entry format 1 as written
//!   now (a plan's placements without their job, which the plan holds once;
//!   older readers take it from the plan, so the version stayed) and snapshot
//!   format 2 (each job once);
//! - `snapshot-v3.json`: snapshot format 3 (format 2 and the versions each
//!   job keeps), which `log-v1-lifted.txt` replays to; a format 2 snapshot
//!   restores to the same state without the kept versions.
//! - `snapshot-v4.json`: snapshot format 4 (format 3 with namespaces: the
//!   job tables as lists, `job_indexes` by `<Namespace>.<ID>`, and the
//!   namespace table), which `log-v1-lifted.txt` now replays to; a format 3
//!   snapshot restores to the same state.
//!
//! `ORDU_BLESS=1` writes the current pair again; do that only with a new
//! format version, under new names, keeping the old files and their test.

mod support;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ordu::log::{decode_entry, encode_entry, EntryLog, LogError};
use ordu::{ErrorKind, QueryOptions, State, Store};
use support::*;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/golden")
        .join(name)
}

/// Log entries as bytes, with their indexes.
type Entries = Vec<(u64, Vec<u8>)>;

/// A workload through a log of entry bytes; its entries and final snapshot.
fn write_log() -> (Entries, Vec<u8>) {
    let entries: Arc<Mutex<Entries>> = Arc::default();
    let sink = entries.clone();
    let store = manual_store().with_log(EntryLog(move |after: u64, e: &[u8]| {
        sink.lock().unwrap().push((after + 1, e.to_vec()));
        Ok::<u64, LogError>(after + 1)
    }));
    for n in ["n1", "n2"] {
        store
            .register_node_json(node(n).to_string().as_bytes())
            .unwrap();
    }
    store
        .register_job_json(&seed_body(), &Default::default())
        .unwrap();
    register(&store, &job("web", 3)).unwrap();
    store.process_ready();
    register(&store, &job("web", 2)).unwrap();
    store.process_ready();
    let entries = entries.lock().unwrap().clone();
    (entries, store.snapshot())
}

fn parse_log(text: &str) -> Entries {
    text.lines()
        .map(|l| {
            let (i, e) = l.split_once(' ').unwrap();
            (i.parse().unwrap(), e.as_bytes().to_vec())
        })
        .collect()
}

fn replay(entries: &[(u64, Vec<u8>)]) -> Store {
    let replica = manual_store();
    for (index, entry) in entries {
        replica.apply_entry(*index, entry).unwrap();
    }
    replica
}

fn read_golden_log(name: &str) -> Entries {
    parse_log(&std::fs::read_to_string(golden(name)).unwrap())
}

/// The allocations of `web` share one copy of the job, the job table's.
fn assert_jobs_shared(store: &Store) {
    let job = store.job("web", &now()).unwrap().value;
    let allocs = store.job_allocations("web", false, &now()).unwrap().value;
    assert!(!allocs.is_empty());
    for stub in allocs {
        let a = store.allocation(&stub.id, &now()).unwrap().value;
        if a.job.version == job.version && a.job.job_modify_index == job.job_modify_index {
            assert!(Arc::ptr_eq(&a.job, &job), "{} holds its own job", a.id);
        }
    }
}

#[test]
fn golden_log_and_snapshot_read_back() {
    if std::env::var_os("ORDU_BLESS").is_some() {
        // The log stays as written (its format did not change): the
        // current snapshot format is written from its replay.
        let replica = replay(&read_golden_log("log-v1-lifted.txt"));
        std::fs::write(golden("snapshot-v4.json"), replica.snapshot()).unwrap();
    }
    let log = read_golden_log("log-v1-lifted.txt");
    let snap = std::fs::read(golden("snapshot-v4.json")).unwrap();
    assert!(log.len() >= 8, "{} entries", log.len());

    // The log replays into the snapshot's state, sharing jobs as the
    // leader did.
    let replica = replay(&log);
    assert!(
        replica.snapshot() == snap,
        "the golden log no longer replays to its snapshot"
    );
    assert_jobs_shared(&replica);

    // The snapshot restores to the same bytes and the same reads.
    let restored = State::restore(&snap).unwrap();
    assert!(restored.snapshot() == snap);
    let store = manual_store();
    store.restore_snapshot(&snap).unwrap();
    let web = store.job("web", &now()).unwrap();
    assert_eq!(web.value.task_groups[0].count, 2);
    assert_eq!(store.index(), log.last().unwrap().0);
    assert_jobs_shared(&store);
}

#[test]
fn first_format_files_read_back_to_what_this_version_writes() {
    let old_log = read_golden_log("log-v1.txt");
    let old_snap = std::fs::read(golden("snapshot-v1.json")).unwrap();
    let snap = std::fs::read(golden("snapshot-v4.json")).unwrap();
    assert!(old_snap.starts_with(br#"{"version":1,"#));

    // Entries with a job in every placement replay to the state the
    // current log gives, and the format-1 snapshot restores to it too.
    let replica = replay(&old_log);
    assert!(
        replica.snapshot() == snap,
        "log-v1 replays to another state"
    );
    assert_jobs_shared(&replica);
    // Format 1 kept no versions: it restores to what format 2 does.
    let store = manual_store();
    store.restore_snapshot(&old_snap).unwrap();
    let v2 = manual_store();
    v2.restore_snapshot(&std::fs::read(golden("snapshot-v2.json")).unwrap())
        .unwrap();
    assert!(
        store.snapshot() == v2.snapshot(),
        "snapshot-v1 restores to another state"
    );
    assert_jobs_shared(&store);
}

#[test]
fn a_format_3_snapshot_restores_to_what_format_4_holds() {
    let v3 = std::fs::read(golden("snapshot-v3.json")).unwrap();
    let v4 = std::fs::read(golden("snapshot-v4.json")).unwrap();
    assert!(v3.starts_with(br#"{"version":3,"#));
    assert!(v4.starts_with(br#"{"version":4,"#));
    let store = manual_store();
    store.restore_snapshot(&v3).unwrap();
    assert!(
        store.snapshot() == v4,
        "snapshot-v3 restores to another state"
    );
    assert_jobs_shared(&store);
    // Its jobs are in `default`, and nowhere else.
    let web = store.job("web", &now()).unwrap().value;
    assert_eq!(web.namespace, "default");
    let other = QueryOptions::default().in_namespace("other");
    assert_eq!(
        store.job("web", &other).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn a_format_2_snapshot_restores_without_the_kept_versions() {
    let v2 = std::fs::read(golden("snapshot-v2.json")).unwrap();
    let v3 = std::fs::read(golden("snapshot-v3.json")).unwrap();
    assert!(v2.starts_with(br#"{"version":2,"#));
    assert!(v3.starts_with(br#"{"version":3,"#));
    let old = manual_store();
    old.restore_snapshot(&v2).unwrap();
    let new = manual_store();
    new.restore_snapshot(&v3).unwrap();
    // The same tables; only the versions `web` replaced are missing.
    let versions = |s: &Store| {
        s.job_versions("web", &now())
            .unwrap()
            .value
            .versions
            .iter()
            .map(|v| v.job.version)
            .collect::<Vec<_>>()
    };
    assert_eq!(versions(&old), vec![1]);
    assert_eq!(versions(&new), vec![1, 0]);
    assert_eq!(old.index(), new.index());
    assert_eq!(
        *old.job("web", &now()).unwrap().value,
        *new.job("web", &now()).unwrap().value
    );
    let mut a: serde_json::Value = serde_json::from_slice(&old.snapshot()).unwrap();
    let mut b: serde_json::Value = serde_json::from_slice(&new.snapshot()).unwrap();
    a["state"]["job_versions"] = serde_json::json!([]);
    b["state"]["job_versions"] = serde_json::json!([]);
    assert_eq!(a, b);
    assert_jobs_shared(&old);
}

#[test]
fn a_plan_entry_and_a_snapshot_hold_each_job_once() {
    let (entries, snap) = write_log();
    let mut plans = 0;
    for (_, e) in &entries {
        let v: serde_json::Value = serde_json::from_slice(e).unwrap();
        let Some(plan) = v["command"].get("PlanApply") else {
            continue;
        };
        let placements = plan["plan"]["Placements"].as_array().unwrap();
        if placements.is_empty() {
            continue;
        }
        plans += 1;
        assert!(plan["plan"]["Job"]["ID"].is_string(), "{plan}");
        for p in placements {
            assert!(p.get("Job").is_none(), "a placement carries its job: {p}");
        }
    }
    assert!(plans >= 2, "{plans} plans with placements");

    let v: serde_json::Value = serde_json::from_slice(&snap).unwrap();
    let state = &v["state"];
    let allocs = state["allocs"].as_array().unwrap();
    let jobs = state["alloc_jobs"].as_array().unwrap();
    // web at two versions (3 then 2 instances: an update in place keeps
    // the version's allocations) and the seed job, which places nothing.
    assert!(
        allocs.len() >= 3 && jobs.len() <= 2,
        "{} {}",
        allocs.len(),
        jobs.len()
    );
    for a in allocs {
        let n = a[0].as_u64().unwrap() as usize;
        assert!(n < jobs.len());
        assert!(a[1].get("Job").is_none(), "{a}");
        assert_eq!(a[1]["JobID"], jobs[n]["ID"]);
    }
}

#[test]
fn a_snapshot_naming_a_job_it_lacks_or_another_or_an_allocation_twice_is_refused() {
    let (_, snap) = write_log();
    let v: serde_json::Value = serde_json::from_slice(&snap).unwrap();
    let store = manual_store();
    register(&store, &job("api", 1)).unwrap();
    let before = store.snapshot();

    let mut missing = v.clone();
    missing["state"]["allocs"][0][0] = 99.into();
    let err = store
        .restore_snapshot(missing.to_string().as_bytes())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(
        err.to_string().contains("job 99 is not in alloc_jobs"),
        "{err}"
    );

    // Every allocation here is of web; the seed job places nothing, so an
    // index into alloc_jobs of another job is made by adding one.
    let mut other = v.clone();
    let seed = other["state"]["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["ID"] == "binstore-storagelocker")
        .unwrap()
        .clone();
    let jobs = other["state"]["alloc_jobs"].as_array_mut().unwrap();
    jobs.push(seed);
    let n = jobs.len() - 1;
    other["state"]["allocs"][0][0] = n.into();
    let err = store
        .restore_snapshot(other.to_string().as_bytes())
        .unwrap_err();
    assert!(err.to_string().contains("names job"), "{err}");

    let mut twice = v.clone();
    let first = twice["state"]["allocs"][0].clone();
    twice["state"]["allocs"].as_array_mut().unwrap().push(first);
    let err = store
        .restore_snapshot(twice.to_string().as_bytes())
        .unwrap_err();
    assert!(err.to_string().contains("appears twice"), "{err}");
    assert!(store.snapshot() == before);
}

#[test]
fn entries_round_trip_and_name_their_version() {
    let (entries, _) = write_log();
    for (_, e) in &entries {
        let cmd = decode_entry(e).unwrap();
        assert_eq!(&encode_entry(&cmd), e);
        let text = std::str::from_utf8(e).unwrap();
        assert!(text.starts_with(r#"{"version":1,"command":"#), "{text:.60}");
    }
    let err = decode_entry(br#"{"version":9,"command":{}}"#).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.to_string().contains("entry: format version 9"), "{err}");
    let err = decode_entry(b"{").unwrap_err();
    assert!(err.to_string().contains("entry:"), "{err}");
}

#[test]
fn a_snapshot_of_another_version_is_refused_and_changes_nothing() {
    let store = manual_store();
    register(&store, &job("web", 1)).unwrap();
    let before = store.snapshot();
    let mut other: serde_json::Value = serde_json::from_slice(&before).unwrap();
    other["version"] = 5.into();
    let err = store
        .restore_snapshot(other.to_string().as_bytes())
        .unwrap_err();
    assert!(
        err.to_string().contains("snapshot: format version 5"),
        "{err}"
    );
    let err = store.restore_snapshot(b"[1,2").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(store.snapshot() == before);
}

#[test]
fn a_plan_placing_without_a_job_is_refused_wherever_it_lands() {
    // Placements are logged without their job, so a plan that places must
    // carry one; every replica refuses one that does not, and nothing moves.
    let (entries, _) = write_log();
    let replica = replay(&entries);
    let before = replica.snapshot();
    let plan = ordu::structs::Plan {
        eval_id: "e".into(),
        placements: vec![ordu::structs::Allocation {
            id: "a".into(),
            job_id: "web".into(),
            node_id: "n1".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let cmd = ordu::Command::PlanApply { plan };
    let index = replica.index() + 5;
    let err = replica.apply_committed(index, cmd.clone()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("carries no job"), "{err}");
    let mut state = State::restore(&before).unwrap();
    assert!(state.apply(index, &cmd).is_err());
    assert!(state.snapshot() == before && replica.snapshot() == before);

    // Nor may it place another job's allocation under its job.
    let web = replica.job("web", &now()).unwrap().value;
    let ordu::Command::PlanApply { mut plan } = cmd else {
        unreachable!()
    };
    plan.job = Some(web);
    plan.placements[0].job_id = "api".into();
    let err = replica
        .apply_committed(index + 1, ordu::Command::PlanApply { plan })
        .unwrap_err();
    assert!(
        err.to_string().contains("places allocation a of job"),
        "{err}"
    );
    assert!(replica.snapshot() == before);
}
