//! The router in-process (no socket): what the conformance suite checks
//! over HTTP, in the few places where the host itself decides.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::http::{Method, Request};
use hyper::service::Service as _;

use super::*;

const JOB: &str = r#"{"Job":{"ID":"web","Datacenters":["dc1"],
    "TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"exec"}]}]}}"#;

fn app() -> (Service, Arc<Store>, watch::Sender<bool>) {
    let store = Arc::new(Store::default());
    let (tx, rx) = watch::channel(false);
    (
        service(store.clone(), rx, test_agent(), BodyLimits::default()),
        store,
        tx,
    )
}

async fn call(app: &Service, method: Method, uri: &str, body: &str) -> (u16, String, u64) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app.call(req).await.unwrap();
    let status = resp.status().as_u16();
    let index = resp
        .headers()
        .get("x-nomad-index")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap(), index)
}

/// A queued-mode store with the demo nodes, as `main` makes it.
fn queued_app() -> (Service, Arc<Store>, watch::Sender<bool>) {
    let store = Arc::new(Store::new(ordu::Config {
        mode: ordu::SchedulingMode::Queued,
        ..ordu::Config::default()
    }));
    crate::demo::register_demo_nodes(&store, 3).unwrap();
    store.process_queued();
    let (tx, rx) = watch::channel(false);
    (
        service(store.clone(), rx, test_agent(), BodyLimits::default()),
        store,
        tx,
    )
}

/// An evaluation's status as a client reads it, over the router.
async fn eval_status(router: &Service, id: &str) -> String {
    let (status, body, _) = call(router, Method::GET, &format!("/v1/evaluation/{id}"), "").await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["Status"].as_str().unwrap().to_string()
}

/// Concurrent writes to a queued store are processed together:
/// re-registers of one job schedule once per group (the broker keeps the
/// newest of those waiting and cancels the others), and a read after the
/// answers sees every evaluation processed or superseded.
#[tokio::test]
async fn writes_are_processed_together_and_reads_see_them_processed() {
    let (router, store, _tx) = queued_app();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let router = router.clone();
            tokio::spawn(async move {
                let (status, body, _) = call(&router, Method::PUT, "/v1/jobs", JOB).await;
                assert_eq!(status, 200, "{body}");
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                v["EvalID"].as_str().unwrap().to_string()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    let mut complete = 0;
    for id in &ids {
        let read = eval_status(&router, id).await;
        assert!(
            read == "complete" || read == "canceled",
            "{id} read as {read} after its write was answered"
        );
        complete += usize::from(read == "complete");
    }
    assert!((1..=2).contains(&complete), "{complete} of 8 scheduled");
    let allocs = store
        .job_allocations("web", false, &QueryOptions::default())
        .unwrap()
        .value;
    assert_eq!(allocs.len(), 1, "placed once, not once per write");
}

/// A write alone is processed by the task it spawns, with no read.
#[tokio::test]
async fn a_write_is_processed_without_a_read() {
    let (router, store, _tx) = queued_app();
    let (status, body, _) = call(&router, Method::PUT, "/v1/jobs", JOB).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = v["EvalID"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // Looked at past the store's read barrier, which would process
        // it itself.
        let status = store.with_state(|s| s.eval(&id).map(|e| e.status));
        if status.is_some_and(|s| s == "complete") {
            break;
        }
        assert!(Instant::now() < deadline, "still {status:?}");
        tokio::task::yield_now().await;
    }
    assert!(!store.processing_behind());
}

/// The same under stress: many writers on two threads, writes of several
/// kinds and jobs; every read after an answer sees the write processed,
/// and none hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouped_processing_under_many_writers() {
    let (router, store, _tx) = queued_app();
    let tasks: Vec<_> = (0..32)
        .map(|n| {
            let router = router.clone();
            tokio::spawn(async move {
                let job = JOB.replace("\"web\"", &format!("\"web-{}\"", n % 4));
                let id = format!("web-{}", n % 4);
                for round in 0..20 {
                    let (method, uri, body) = match round % 3 {
                        0 | 1 => (Method::PUT, "/v1/jobs".to_string(), job.as_str()),
                        _ => (Method::PUT, format!("/v1/job/{id}/evaluate"), ""),
                    };
                    let (status, reply, _) = call(&router, method, &uri, body).await;
                    assert_eq!(status, 200, "{reply}");
                    let v: serde_json::Value = serde_json::from_str(&reply).unwrap();
                    let eval = v["EvalID"].as_str().unwrap();
                    let read = eval_status(&router, eval).await;
                    assert!(
                        read == "complete" || read == "canceled",
                        "{eval} read as {read} after its write was answered"
                    );
                }
            })
        })
        .collect();
    let all = async {
        for t in tasks {
            t.await.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("every write answered");
    for n in 0..4 {
        let allocs = store
            .job_allocations(&format!("web-{n}"), false, &QueryOptions::default())
            .unwrap()
            .value;
        assert_eq!(allocs.len(), 1, "web-{n}");
    }
}

/// The handler state alone, for what the router hides.
fn bare_app() -> Arc<App> {
    let (_, rx) = watch::channel(false);
    Arc::new(App {
        store: Arc::new(Store::default()),
        shutdown: rx,
        writes: Semaphore::new(1),
        synced_writes: None,
        processing: tokio::sync::Mutex::new(()),
        job_json: JobJson::default(),
        bodies: Budget::new(crate::limits::DEFAULT_BYTES_IN_FLIGHT),
        read_timeout: crate::limits::DEFAULT_READ_TIMEOUT,
        scheduled: AtomicBool::new(false),
        agent: test_agent(),
    })
}

fn test_agent() -> Agent {
    Agent {
        name: "test".into(),
        datacenter: "dc1".into(),
        addr: std::net::Ipv4Addr::LOCALHOST.into(),
        port: 4646,
    }
}

/// The write turn is one at a time, and a held one is awaited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_write_turn_is_one_at_a_time() {
    let app = bare_app();
    let held = app.write_turn().await.expect("free turn");
    // Timed from here, not from when the task first runs: under load it
    // may start late, and the hold is what is measured.
    let started = Instant::now();
    let waiter = {
        let app = app.clone();
        tokio::spawn(async move {
            let _turn = app.write_turn().await.expect("turn");
            started.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiter.is_finished(), "got the turn while it was held");
    drop(held);
    assert!(waiter.await.unwrap() >= Duration::from_millis(20));
    // Many short writers from both threads: never two at once.
    let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (app, inside) = (app.clone(), inside.clone());
            tokio::spawn(async move {
                for _ in 0..200 {
                    let _turn = app.write_turn().await.expect("turn");
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                    std::hint::spin_loop();
                    inside.fetch_sub(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// A job's JSON is rendered again exactly when the job changed, and is
/// what a render of the job gives.
#[tokio::test]
async fn job_json_follows_the_job() {
    let (app, store, _tx) = app();
    let job = |s: &Store| {
        s.job("web", &QueryOptions::default())
            .unwrap()
            .value
            .as_ref()
            .clone()
    };
    let cache = JobJson::default();
    assert_eq!(call(&app, Method::PUT, "/v1/job/web", JOB).await.0, 200);
    let v1 = job(&store);
    let first = cache.render(&v1, false).unwrap();
    assert_eq!(first, encode(&v1, false).unwrap());
    let again = cache.render(&v1, false).unwrap();
    assert_eq!(first.as_ptr(), again.as_ptr(), "rendered again");
    // Pretty is not cached.
    assert_eq!(cache.render(&v1, true).unwrap(), encode(&v1, true).unwrap());
    // A new spec: new bytes, the new count in them.
    let bigger = JOB.replace(r#""Name":"g","#, r#""Name":"g","Count":3,"#);
    assert_eq!(call(&app, Method::PUT, "/v1/job/web", &bigger).await.0, 200);
    let v2 = job(&store);
    assert_ne!(v2.modify_index, v1.modify_index);
    let second = cache.render(&v2, false).unwrap();
    assert_eq!(second, encode(&v2, false).unwrap());
    assert!(String::from_utf8_lossy(&second).contains(r#""Count":3"#));
    // Deleted and registered again at the same ModifyIndex is impossible,
    // but a new CreateIndex alone is enough to render again.
    let mut v3 = v2.clone();
    v3.create_index += 1;
    v3.priority = 99;
    assert_eq!(
        cache.render(&v3, false).unwrap(),
        encode(&v3, false).unwrap()
    );
    // Over the bound it starts over rather than grow.
    for i in 0..JOB_JSON_MAX + 10 {
        let mut j = v1.clone();
        j.id = format!("job-{i}");
        cache.render(&j, false).unwrap();
    }
    assert!(cache.0.lock().unwrap().jobs.len() <= JOB_JSON_MAX);
    // And over its bytes: big jobs do not pile up.
    let big_meta: std::collections::BTreeMap<String, String> = (0..1000)
        .map(|i| (format!("k{i:05}"), "v".repeat(300)))
        .collect();
    for i in 0..120 {
        let mut j = v1.clone();
        j.id = format!("big-{i}");
        j.meta = Some(big_meta.clone());
        let body = cache.render(&j, false).unwrap();
        assert_eq!(body, encode(&j, false).unwrap());
        let map = cache.0.lock().unwrap();
        assert!(map.bytes <= JOB_JSON_MAX_BYTES, "{} bytes kept", map.bytes);
        assert_eq!(
            map.bytes,
            map.jobs.values().map(|e| e.body.len()).sum::<usize>()
        );
    }
    // A job over a sixteenth of the bound is never kept.
    let mut huge = v1.clone();
    huge.id = "huge".into();
    huge.meta = Some(
        (0..12_000)
            .map(|i| (format!("k{i:05}"), "v".repeat(200)))
            .collect(),
    );
    let body = cache.render(&huge, false).unwrap();
    assert!(body.len() > JOB_JSON_MAX_BYTES / 16);
    assert!(!cache.0.lock().unwrap().jobs.contains_key("huge"));
}

/// An open long-poll keeps its handler's future for as long as it
/// waits, 10,000 of them at once in the load benchmark: the future must
/// stay small.
#[test]
fn a_long_poll_future_stays_small() {
    let app = bare_app();
    let req = Request::builder()
        .uri("/v1/job/web?index=5&wait=1m")
        .body(Body::empty())
        .unwrap();
    let f = handle(app, req);
    let size = std::mem::size_of_val(&f);
    assert!(size <= 1_450, "a long-poll's future is {size} bytes");
}

#[tokio::test]
async fn routes_methods_and_parameters() {
    let (app, _, _tx) = app();
    let (s, body, index) = call(&app, Method::PUT, "/v1/job/web", JOB).await;
    assert_eq!(s, 200, "{body}");
    assert!(index > 0);
    let (s, body, i) = call(&app, Method::GET, "/v1/job/web?pretty", "").await;
    assert_eq!((s, i), (200, index));
    assert!(body.contains("\n    \"ID\": \"web\""), "{body}");
    assert_eq!(
        call(&app, Method::PATCH, "/v1/job/web", "").await.1,
        "Invalid method"
    );
    assert_eq!(call(&app, Method::GET, "/v1/nope", "").await.0, 404);
    let (s, body, _) = call(&app, Method::GET, "/v1/job/web?index=x", "").await;
    assert_eq!((s, body.as_str()), (400, "Invalid index"));
    let (s, body, _) = call(&app, Method::GET, "/v1/job/web?index=1&wait=10", "").await;
    assert_eq!((s, body.as_str()), (400, "Invalid wait time"));
    let (s, body, _) = call(&app, Method::GET, "/v1/job/web?region=mars", "").await;
    assert_eq!((s, body.as_str()), (500, "No path to region"));
    // A missing job: 404 with the index headers.
    let (s, body, _) = call(&app, Method::GET, "/v1/job/nope", "").await;
    assert_eq!((s, body.as_str()), (404, "job not found"));
    // Bad booleans are 400; `True` (python-nomad) is fine.
    let uri = "/v1/job/web/allocations?all=maybe";
    assert_eq!(call(&app, Method::GET, uri, "").await.0, 400);
    let uri = "/v1/job/web/allocations?all=True";
    assert_eq!(call(&app, Method::GET, uri, "").await.0, 200);
    // Lists: a bad per_page or reverse is 400; a bad token too.
    for uri in [
        "/v1/evaluations?per_page=-1",
        "/v1/allocations?per_page=x",
        "/v1/jobs?reverse=maybe",
        "/v1/evaluations?next_token=nodot",
    ] {
        assert_eq!(call(&app, Method::GET, uri, "").await.0, 400, "{uri}");
    }
    let (s, body, _) = call(&app, Method::GET, "/v1/evaluations?per_page=1", "").await;
    assert_eq!(s, 200, "{body}");
    assert!(body.starts_with("[{"), "{body}");
}

#[tokio::test]
async fn evaluate_takes_an_empty_body_or_a_matching_one() {
    let (app, _, _tx) = app();
    call(&app, Method::PUT, "/v1/job/web", JOB).await;
    assert_eq!(
        call(&app, Method::POST, "/v1/job/web/evaluate", "").await.0,
        200
    );
    let same = r#"{"JobID":"web"}"#;
    assert_eq!(
        call(&app, Method::POST, "/v1/job/web/evaluate", same)
            .await
            .0,
        200
    );
    let other = r#"{"JobID":"api"}"#;
    let (s, body, _) = call(&app, Method::POST, "/v1/job/web/evaluate", other).await;
    assert_eq!((s, body.as_str()), (400, "JobID not same as job name"));
    let (s, body, _) = call(&app, Method::POST, "/v1/job/nope/evaluate", "").await;
    assert_eq!((s, body.as_str()), (500, "job not found"));
}

/// A body that never yields a frame.
struct Never;

impl hyper::body::Body for Never {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        std::task::Poll::Pending
    }
}

/// `Expect: 100-continue` with a `Content-Length` over the limit is
/// answered with the limit error without reading the body (reading it
/// is what makes hyper send `100 Continue`): a body that never comes
/// does not hold the answer.
#[tokio::test]
async fn an_expected_oversized_body_is_refused_unread() {
    let (app, store, _tx) = app();
    let limit = store.config().limits.max_request_bytes as u64;
    let req = Request::builder()
        .method(Method::PUT)
        .uri("/v1/jobs")
        .header("expect", "100-continue")
        .header("content-length", (limit + 1).to_string())
        .body(Body::new(Never))
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(5), app.call(req))
        .await
        .expect("answered without the body")
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("limit"), "{body:?}");
    assert_eq!(store.index(), 0);
}

/// A body is counted against the server's budget as it is read, and
/// given back once answered: one that does not fit is refused with 503
/// (having written nothing), one that fits is served, and nothing stays
/// counted after either.
#[tokio::test]
async fn bodies_are_counted_against_the_budget_and_given_back() {
    let store = Arc::new(Store::default());
    let (_tx, rx) = watch::channel(false);
    let limits = BodyLimits {
        bytes_in_flight: 4096,
        ..BodyLimits::default()
    };
    let app = service(store.clone(), rx, test_agent(), limits);
    let pad = |n: usize| {
        let job = JOB.replace(r#""ID":"web","#, r#""ID":"web","Meta":{"pad":"PAD"},"#);
        job.replace("PAD", &"x".repeat(n))
    };
    let (s, body, _) = call(&app, Method::PUT, "/v1/jobs", &pad(5000)).await;
    assert_eq!(s, 503, "{body}");
    assert!(body.contains("--max-body-bytes-in-flight"), "{body}");
    assert_eq!(store.index(), 0);
    assert_eq!(app.0.bodies.used(), 0);
    let (s, body, _) = call(&app, Method::PUT, "/v1/jobs", &pad(3000)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(app.0.bodies.used(), 0);
    // An announced length is not taken at its word.
    let req = Request::builder()
        .method(Method::PUT)
        .uri("/v1/jobs")
        .header("content-length", "8000000")
        .body(Body::from(pad(10)))
        .unwrap();
    assert_eq!(app.call(req).await.unwrap().status(), 200);
}

/// A register body over `CHECK_APART_BYTES` is checked on the blocking
/// pool: it answers as a small one does, refusals included.
#[tokio::test]
async fn a_large_register_is_checked_apart_and_answers_the_same() {
    let (app, store, _tx) = app();
    let pad = "x".repeat(CHECK_APART_BYTES);
    let big = |id: &str, priority: u32| {
        format!(
            r#"{{"Job":{{"ID":"{id}","Priority":{priority},"Datacenters":["dc1"],"Meta":{{"pad":"{pad}"}},
            "TaskGroups":[{{"Name":"g","Tasks":[{{"Name":"t","Driver":"exec"}}]}}]}}}}"#
        )
    };
    let (s, body, _) = call(&app, Method::PUT, "/v1/jobs", &big("bad", 0)).await;
    assert_eq!(s, 500, "{body}");
    assert!(body.contains("Priority: job priority"), "{body}");
    assert_eq!(store.index(), 0);
    let (s, body, index) = call(&app, Method::PUT, "/v1/jobs", &big("big", 50)).await;
    assert_eq!(s, 200, "{body}");
    assert!(index > 0);
    let (s, _, _) = call(&app, Method::GET, "/v1/job/big", "").await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn an_oversized_body_is_400_and_writes_nothing() {
    let (app, store, _tx) = app();
    let limit = store.config().limits.max_request_bytes;
    let big = format!(
        r#"{{"Job":{{"ID":"big","Meta":{{"pad":"{}"}}}}}}"#,
        "x".repeat(limit)
    );
    let (s, body, _) = call(&app, Method::PUT, "/v1/jobs", &big).await;
    assert_eq!(s, 400);
    assert!(body.contains("limit"), "{body}");
    assert_eq!(store.index(), 0);
}

/// Namespaces over the router: created by a write, `?namespace=` on job
/// reads, writes and lists, and the job JSON kept per namespace (two jobs
/// with one ID share the cache's slot, never each other's bytes).
#[tokio::test]
async fn namespaces_keep_jobs_with_one_id_apart() {
    let (app, store, _tx) = app();
    let (s, body, _) = call(&app, Method::PUT, "/v1/job/web?namespace=team-a", JOB).await;
    assert_eq!(s, 500, "a missing namespace: {body}");
    assert!(body.contains("Namespace: "), "{body}");
    assert_eq!(store.index(), 0, "nothing written");

    let (s, body, created) = call(&app, Method::PUT, "/v1/namespace", r#"{"Name":"team-a"}"#).await;
    assert_eq!((s, body.as_str()), (200, "null"));
    assert!(created > 0);
    let (s, body, i) = call(&app, Method::GET, "/v1/namespace/team-a", "").await;
    assert_eq!((s, i), (200, created), "{body}");
    let (s, body, _) = call(&app, Method::GET, "/v1/namespaces?prefix=team", "").await;
    assert_eq!(s, 200);
    assert!(
        body.contains(r#""Name":"team-a""#) && !body.contains("default"),
        "{body}"
    );
    let (s, body, _) = call(&app, Method::GET, "/v1/namespace/nope", "").await;
    assert_eq!((s, body.as_str()), (404, "namespace not found"));

    call(&app, Method::PUT, "/v1/job/web", JOB).await;
    let theirs = JOB.replace(r#""exec""#, r#""docker""#);
    let (s, body, _) = call(&app, Method::PUT, "/v1/job/web?namespace=team-a", &theirs).await;
    assert_eq!(s, 200, "{body}");
    // Read each twice: the second answer comes from the cache.
    for _ in 0..2 {
        let (_, mine, _) = call(&app, Method::GET, "/v1/job/web", "").await;
        assert!(mine.contains(r#""Namespace":"default""#) && mine.contains("exec"));
        let (_, theirs, _) = call(&app, Method::GET, "/v1/job/web?namespace=team-a", "").await;
        assert!(theirs.contains(r#""Namespace":"team-a""#) && theirs.contains("docker"));
    }
    let (_, body, _) = call(&app, Method::GET, "/v1/jobs?namespace=*", "").await;
    let both: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    let keys: Vec<_> = both
        .iter()
        .map(|j| (j["Namespace"].clone(), j["ID"].clone()))
        .collect();
    assert_eq!(
        keys,
        [
            ("default".into(), "web".into()),
            ("team-a".into(), "web".into())
        ]
    );
    let (_, body, _) = call(&app, Method::GET, "/v1/jobs?namespace=*&per_page=1", "").await;
    assert!(body.contains("default"), "{body}");

    let (s, body, _) = call(&app, Method::DELETE, "/v1/namespace/team-a", "").await;
    assert_eq!(s, 500, "a namespace holding a job: {body}");
    let (s, _, _) = call(
        &app,
        Method::DELETE,
        "/v1/job/web?namespace=team-a&purge=true",
        "",
    )
    .await;
    assert_eq!(s, 200);
    let (s, _, _) = call(&app, Method::GET, "/v1/job/web?namespace=team-a", "").await;
    assert_eq!(s, 404);
    let (s, _, _) = call(&app, Method::GET, "/v1/job/web", "").await;
    assert_eq!(s, 200, "default's job stays");
    let (s, body, deleted) = call(&app, Method::DELETE, "/v1/namespace/team-a", "").await;
    assert_eq!((s, body.as_str()), (200, "null"));
    assert!(deleted > created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_wakes_on_a_write_and_not_on_another_job() {
    let (app, _, _tx) = app();
    call(&app, Method::PUT, "/v1/job/web", JOB).await;
    let (_, _, index) = call(&app, Method::GET, "/v1/job/web", "").await;
    let poll = {
        let app = app.clone();
        tokio::spawn(async move {
            let uri = format!("/v1/job/web?index={index}&wait=30s");
            call(&app, Method::GET, &uri, "").await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let other = JOB.replace("\"web\"", "\"api\"");
    call(&app, Method::PUT, "/v1/job/api", &other).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !poll.is_finished(),
        "another job's write woke the long-poll"
    );
    let changed = JOB.replace("\"exec\"", "\"docker\"");
    let (s, _, written) = call(&app, Method::PUT, "/v1/job/web", &changed).await;
    assert_eq!(s, 200);
    let (s, body, got) = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .expect("the write woke the long-poll")
        .unwrap();
    assert_eq!(s, 200);
    assert!(got >= written && got > index, "{got} {written} {index}");
    assert!(body.contains("docker"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_open_long_polls_with_the_current_state() {
    let (app, _, tx) = app();
    call(&app, Method::PUT, "/v1/job/web", JOB).await;
    let (_, _, index) = call(&app, Method::GET, "/v1/jobs", "").await;
    let polls: Vec<_> = (0..50)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                let uri = format!("/v1/jobs?index={index}&wait=5m");
                call(&app, Method::GET, &uri, "").await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(polls.iter().all(|p| !p.is_finished()));
    tx.send(true).unwrap();
    for p in polls {
        let (s, body, i) = tokio::time::timeout(Duration::from_secs(5), p)
            .await
            .expect("shutdown answered the long-poll")
            .unwrap();
        assert_eq!((s, i), (200, index));
        assert!(body.contains("\"web\""), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_sends_each_write_and_ends_on_shutdown() {
    let (app, _, tx) = app();
    let req = Request::builder()
        .uri("/v1/event/stream?topic=Job:web")
        .body(Body::empty())
        .unwrap();
    let resp = app.call(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    call(&app, Method::PUT, "/v1/job/web", JOB).await;
    let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("a frame for the write")
        .unwrap()
        .unwrap();
    let line = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
    assert!(line.ends_with('\n'), "{line}");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["Events"][0]["Type"], "JobRegistered");
    assert_eq!(v["Events"][0]["Key"], "web");
    // Shutdown ends the open stream: no more frames.
    tx.send(true).unwrap();
    let mut more = 0;
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(f) = body.frame().await {
            f.unwrap();
            more += 1;
        }
    })
    .await;
    assert!(end.is_ok(), "the stream did not end on shutdown");
    // Frames of the write's scheduling may have come before it ended.
    assert!(more < 10);
}

#[tokio::test]
async fn an_event_stream_from_an_index_the_buffer_dropped_is_400() {
    let store = Arc::new(Store::new(ordu::Config {
        event_buffer_size: 2,
        ..ordu::Config::default()
    }));
    let (_tx, rx) = watch::channel(false);
    let app = service(store, rx, test_agent(), BodyLimits::default());
    for i in 0..4 {
        let node = format!(
            r#"{{"Node":{{"ID":"n{i}","Name":"n{i}","Datacenter":"dc1","Status":"ready"}}}}"#
        );
        let (s, body, _) = call(&app, Method::PUT, &format!("/v1/node/n{i}"), &node).await;
        assert_eq!(s, 200, "{body}");
    }
    let (s, body, _) = call(&app, Method::GET, "/v1/event/stream?index=1", "").await;
    assert_eq!(s, 400);
    assert!(body.contains("oldest index it holds is 3"), "{body}");
}
