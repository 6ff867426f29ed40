//! Decoding of a job register body, nothing else: the small service job of
//! the re-register bench, or a job read from a file. Meant to be run under
//! callgrind, where a run with `--count 0` gives the fixed cost to subtract.
//!
//! ```text
//! cargo bench -p ordu --bench decode --no-run
//! valgrind --tool=callgrind target/release/deps/decode-<hash> --count 1000 [--job FILE]
//! ```

use ordu::structs::{decode, JobRegisterRequest, Limits};

const BODY: &str = r#"{"Job": {"ID": "bench", "Datacenters": ["dc1"], "TaskGroups": [{"Name": "web", "Count": 2, "Tasks": [{"Name": "nginx", "Driver": "docker", "Config": {"image": "nginx"}, "Resources": {"CPU": 500, "MemoryMB": 256, "Networks": [{"MBits": 10, "DynamicPorts": [{"Label": "http"}]}]}}]}]}}"#;

fn main() {
    let mut count = 100_000usize;
    let mut body = BODY.to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--count" => count = args.next().and_then(|v| v.parse().ok()).expect("--count N"),
            "--job" => {
                let path = args.next().expect("--job FILE");
                let job = std::fs::read_to_string(&path).expect("readable job file");
                body = format!(r#"{{"Job": {job}}}"#);
            }
            // cargo bench passes --bench
            _ => {}
        }
    }
    let limits = Limits::default();
    let bytes = body.as_bytes();
    let t = std::time::Instant::now();
    for _ in 0..count {
        let req = decode::<JobRegisterRequest>(std::hint::black_box(bytes), &limits).unwrap();
        assert!(req.job.is_some());
        std::hint::black_box(req);
    }
    if count > 0 {
        let per = t.elapsed().as_secs_f64() * 1e9 / count as f64;
        println!("{count} decodes of {} bytes: {per:.0} ns each", bytes.len());
    }
}
