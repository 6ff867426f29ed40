use super::*;

#[test]
fn config_from_json() {
    let c = config(br#"{"region":"eu","mode":"manual","limits":{"max_group_count":5}}"#).unwrap();
    assert_eq!(c.region, "eu");
    assert_eq!(c.mode, SchedulingMode::Manual);
    assert_eq!(c.limits.max_group_count, 5);
    assert_eq!(config(b"").unwrap().region, "global");
    let err = config(br#"{"mode":"fast"}"#).unwrap_err();
    assert_eq!(err.field_errors()[0].path, "mode");
    assert_eq!(c.nack_timeout, Duration::from_secs(60));
    let c = config(br#"{"nack_timeout":"1m30s"}"#).unwrap();
    assert_eq!(c.nack_timeout, Duration::from_secs(90));
    for bad in [r#""0s""#, r#""25h""#, r#""60""#, "60"] {
        let body = format!(r#"{{"nack_timeout":{bad}}}"#);
        let err = config(body.as_bytes()).unwrap_err();
        assert_eq!(err.field_errors()[0].path, "nack_timeout", "{bad}");
    }
    let err = config(br#"{"regoin":"x"}"#).unwrap_err();
    assert!(err.to_string().contains("regoin"), "{err}");
}

#[test]
fn register_and_read_over_json() {
    let store = Store::default();
    let r = register_job(
        &store,
        br#"{"Job":{"ID":"web","TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"exec"}]}]}}"#,
        &write_options(None, None),
    )
    .unwrap();
    assert_eq!(r.index, 1);
    let got = job(&store, "web", &query(0, 0, None, None)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(v["ID"], "web");
    assert_eq!(v["Priority"], 50);
    let err = job(&store, "nope", &query(0, 0, None, None)).unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::NotFound);
}

const JOB: &[u8] =
    br#"{"Job":{"ID":"web","TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"exec"}]}]}}"#;

#[test]
fn manual_mode_over_json() {
    let store = Store::new(config(br#"{"mode":"manual"}"#).unwrap());
    assert!(dequeue_evaluation(&store, &[], 0).is_none());
    let w = register_job(&store, JOB, &write_options(None, None)).unwrap();
    assert!(dequeue_evaluation(&store, &["batch"], 0).is_none());
    let d = dequeue_evaluation(&store, &["service"], 1000).expect("the register's eval");
    let v: serde_json::Value = serde_json::from_str(&delivery(&d).unwrap().body).unwrap();
    assert_eq!(v["Eval"]["JobID"], "web");
    assert_eq!(v["Attempt"], 1);
    assert!(!v["Token"].as_str().unwrap().is_empty());
    let r = process_evaluation(&store, &d).unwrap();
    assert!(r.index > w.index);
    let e = evaluation(&store, &d.eval.id, &query(0, 0, None, None)).unwrap();
    assert!(e.body.contains(r#""Status":"complete""#), "{}", e.body);
    // A second process of the same delivery no longer holds the token.
    assert_eq!(
        process_evaluation(&store, &d).unwrap_err().kind(),
        crate::ErrorKind::Conflict
    );
}

#[test]
fn path_ids_must_match_the_body() {
    let store = Store::default();
    let err = register_job_at(&store, Some("other"), JOB, &write_options(None, None)).unwrap_err();
    assert_eq!(err.http_status(false), 400);
    assert!(
        err.to_string().contains("Job ID does not match name"),
        "{err}"
    );
    assert_eq!(store.index(), 0, "a mismatch writes nothing");
    assert_eq!(
        register_job_at(&store, Some("web"), JOB, &write_options(None, None))
            .unwrap()
            .index,
        1
    );

    let node = br#"{"Node":{"Name":"n","Datacenter":"dc1","Status":"ready"}}"#;
    register_node_at(&store, Some("n1"), node, None).unwrap();
    let got = self::node(&store, "n1", &query(0, 0, None, None)).unwrap();
    assert!(got.body.contains(r#""ID":"n1""#), "{}", got.body);
    let other = br#"{"ID":"n2","Name":"n","Datacenter":"dc1"}"#;
    let err = register_node_at(&store, Some("n1"), other, None).unwrap_err();
    assert!(err.to_string().contains("Node ID does not match"), "{err}");
    let err = register_node_at(&store, Some("n1"), node, Some("mars")).unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::Region);
    let err = register_job_at(
        &store,
        Some("web"),
        b"not json",
        &write_options(Some("mars"), None),
    )
    .unwrap_err();
    assert_eq!(
        err.kind(),
        crate::ErrorKind::Region,
        "the region is checked first"
    );
}

#[test]
fn body_size_and_budget() {
    let store = Store::default();
    let max = store.config().limits.max_request_bytes as u64;
    assert!(check_body_size(&store, max).is_ok());
    assert_eq!(
        check_body_size(&store, max + 1).unwrap_err().kind(),
        crate::ErrorKind::Limit
    );
    assert_eq!(wait_budget(0), DEFAULT_WAIT);
    assert_eq!(wait_budget(u64::MAX), MAX_WAIT);
    assert_eq!(wait_budget(250), Duration::from_millis(250));
}

#[test]
fn slices_time_out_wake_and_stop() {
    let store = std::sync::Arc::new(Store::default());
    register_job(&store, JOB, &write_options(None, None)).unwrap();
    let read = |q: &QueryOptions| job(&store, "web", q);
    let at = read(&query(0, 0, None, None)).unwrap().index;
    // Times out after the budget, with the current answer.
    let mut slices = 0;
    let started = Instant::now();
    let r = read_in_slices(
        &store,
        at,
        120,
        None,
        None,
        Duration::from_millis(20),
        read,
        || {
            slices += 1;
            Ok::<_, ()>(ControlFlow::Continue(()))
        },
    )
    .unwrap()
    .unwrap();
    assert_eq!(r.index, at);
    assert!(started.elapsed() >= Duration::from_millis(120));
    assert!(slices >= 3, "waited in slices: {slices}");
    // `between` failing ends the wait at once.
    let r = read_in_slices(
        &store,
        at,
        10_000,
        None,
        None,
        Duration::from_millis(5),
        read,
        || Err("stop"),
    );
    assert_eq!(r.unwrap_err(), "stop");
    // `between` breaking ends it at once with the last answer.
    let started = Instant::now();
    let r = read_in_slices(
        &store,
        at,
        10_000,
        None,
        None,
        Duration::from_millis(5),
        read,
        || Ok::<_, ()>(ControlFlow::Break(())),
    )
    .unwrap()
    .unwrap();
    assert_eq!(r.index, at);
    assert!(started.elapsed() < Duration::from_secs(5));
    // A write wakes it within a slice's reach.
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            let changed = br#"{"Job":{"ID":"web","Priority":60,"TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"exec"}]}]}}"#;
            register_job(&store, changed, &write_options(None, None)).unwrap();
        })
    };
    let r = read_in_slices(
        &store,
        at,
        10_000,
        None,
        None,
        Duration::from_millis(20),
        read,
        || Ok::<_, ()>(ControlFlow::Continue(())),
    )
    .unwrap()
    .unwrap();
    assert!(r.index > at);
    writer.join().unwrap();
    // Not found waits too; other errors answer at once.
    let r = read_in_slices(
        &store,
        store.index(),
        60,
        None,
        None,
        Duration::from_millis(20),
        |q: &QueryOptions| job(&store, "nope", q),
        || Ok::<_, ()>(ControlFlow::Continue(())),
    )
    .unwrap();
    assert_eq!(r.unwrap_err().kind(), crate::ErrorKind::NotFound);
    let r = read_in_slices(
        &store,
        1,
        10_000,
        Some("mars"),
        None,
        Duration::from_millis(20),
        read,
        || Ok::<_, ()>(ControlFlow::Continue(())),
    )
    .unwrap();
    assert_eq!(r.unwrap_err().kind(), crate::ErrorKind::Region);
}
