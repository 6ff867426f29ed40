//! Formats that last: log entries and snapshots carry a version, bytes of
//! another version are refused by name, and the golden files in
//! `testdata/golden/` (a log and a snapshot written by format version 1) are
//! still read back to the same state. `ORDU_BLESS=1` writes them again; do
//! that only with a new format version, keeping the old files' test.

mod support;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ordu::log::{decode_entry, encode_entry, EntryLog, LogError};
use ordu::{ErrorKind, State};
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

fn log_text(entries: &[(u64, Vec<u8>)]) -> String {
    entries
        .iter()
        .map(|(i, e)| format!("{i} {}\n", std::str::from_utf8(e).unwrap()))
        .collect()
}

fn parse_log(text: &str) -> Entries {
    text.lines()
        .map(|l| {
            let (i, e) = l.split_once(' ').unwrap();
            (i.parse().unwrap(), e.as_bytes().to_vec())
        })
        .collect()
}

#[test]
fn golden_log_and_snapshot_read_back() {
    if std::env::var_os("ORDU_BLESS").is_some() {
        let (entries, snap) = write_log();
        std::fs::create_dir_all(golden("")).unwrap();
        std::fs::write(golden("log-v1.txt"), log_text(&entries)).unwrap();
        std::fs::write(golden("snapshot-v1.json"), snap).unwrap();
    }
    let log = parse_log(&std::fs::read_to_string(golden("log-v1.txt")).unwrap());
    let snap = std::fs::read(golden("snapshot-v1.json")).unwrap();
    assert!(log.len() >= 8, "{} entries", log.len());

    // The log replays into the snapshot's state.
    let replica = manual_store();
    for (index, entry) in &log {
        replica.apply_entry(*index, entry).unwrap();
    }
    assert!(
        replica.snapshot() == snap,
        "the golden log no longer replays to its snapshot"
    );

    // The snapshot restores to the same bytes and the same reads.
    let restored = State::restore(&snap).unwrap();
    assert!(restored.snapshot() == snap);
    let store = manual_store();
    store.restore_snapshot(&snap).unwrap();
    let web = store.job("web", &now()).unwrap();
    assert_eq!(web.value.task_groups[0].count, 2);
    assert_eq!(store.index(), log.last().unwrap().0);
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
    other["version"] = 2.into();
    let err = store
        .restore_snapshot(other.to_string().as_bytes())
        .unwrap_err();
    assert!(
        err.to_string().contains("snapshot: format version 2"),
        "{err}"
    );
    let err = store.restore_snapshot(b"[1,2").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(store.snapshot() == before);
}
