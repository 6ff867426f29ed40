//! A get through the C ABI against the same get in Rust.
//!
//! Both read the seed job from a store holding it and a node, non-blocking
//! (`min_index` 0), and produce its JSON: Rust through the core's `ordu::host::job` (what
//! the Rust API gives a host that wants JSON), C through `ordu_job_get` plus
//! `ordu_string_free` (what a C host pays: argument checks, the panic
//! boundary, the last-error slot and the owned result). Rounds of the two
//! alternate so that the shared machine's noise falls on both; the figures
//! are medians of per-call times over the rounds. `Store::job`, which hands
//! back the typed job without JSON, is printed for scale.
//!
//! Run: cargo bench -p ordu-ffi --no-run, then the printed
//! target/release/deps/get-* binary (or `cargo bench -p ordu-ffi`).

use std::ffi::{c_char, CStr};
use std::hint::black_box;
use std::ptr;
use std::time::Instant;

use ordu_core::{host, QueryOptions};

// The exports, called as a C host would, through their C ABI symbols.
extern "C" {
    fn ordu_store_new(config: *const c_char, len: usize, out: *mut *mut OrduStore) -> i32;
    fn ordu_store_free(store: *mut OrduStore);
    fn ordu_node_register(
        store: *const OrduStore,
        body: *const c_char,
        len: usize,
        out: *mut *mut OrduString,
        index_out: *mut u64,
    ) -> i32;
    fn ordu_job_register(
        store: *const OrduStore,
        body: *const c_char,
        len: usize,
        ns: *const c_char,
        region: *const c_char,
        out: *mut *mut OrduString,
        index_out: *mut u64,
    ) -> i32;
    fn ordu_job_get(
        store: *const OrduStore,
        job_id: *const c_char,
        ns: *const c_char,
        region: *const c_char,
        min_index: u64,
        wait_ms: u64,
        out: *mut *mut OrduString,
        index_out: *mut u64,
    ) -> i32;
    fn ordu_string_len(s: *const OrduString) -> usize;
    fn ordu_string_free(s: *mut OrduString);
}

#[repr(C)]
struct OrduStore {
    _private: [u8; 0],
}
#[repr(C)]
struct OrduString {
    _private: [u8; 0],
}

const NODE: &str = r#"{"Node": {"ID": "node-1", "Name": "node-1", "Datacenter": "us2",
  "Status": "ready", "Attributes": {"kernel.os": "linux", "kernel.arch": "amd64",
  "driver.docker": "1", "driver.java": "1"}, "Resources": {"CPU": 8000,
  "MemoryMB": 16384, "DiskMB": 100000, "Networks": [{"Device": "eth0",
  "CIDR": "10.0.0.1/32", "MBits": 1000}]}}}"#;
const JOB_ID: &CStr = c"binstore-storagelocker";

/// Median over `rounds` of the mean time per call of `batch` calls, in ns,
/// for each of the closures, rounds interleaved.
fn medians(rounds: usize, batch: usize, fs: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    let mut samples = vec![Vec::with_capacity(rounds); fs.len()];
    for _ in 0..rounds {
        for (f, s) in fs.iter_mut().zip(samples.iter_mut()) {
            let start = Instant::now();
            for _ in 0..batch {
                f();
            }
            s.push(start.elapsed().as_nanos() as f64 / batch as f64);
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect()
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing
    // we need: run a short smoke pass there.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (rounds, batch) = if quick { (3, 10) } else { (101, 2000) };

    let seed = include_str!("../../testdata/seed-job.json");
    let body = format!(r#"{{"Job": {seed}}}"#);
    let mut raw: *mut OrduStore = ptr::null_mut();
    unsafe {
        assert_eq!(ordu_store_new(ptr::null(), 0, &mut raw), 0);
        let mut out = ptr::null_mut();
        assert_eq!(
            ordu_node_register(
                raw,
                NODE.as_ptr().cast(),
                NODE.len(),
                &mut out,
                ptr::null_mut()
            ),
            0
        );
        ordu_string_free(out);
        assert_eq!(
            ordu_job_register(
                raw,
                body.as_ptr().cast(),
                body.len(),
                ptr::null(),
                ptr::null(),
                &mut out,
                ptr::null_mut()
            ),
            0
        );
        ordu_string_free(out);
    }
    // The same store seen from Rust.
    let store: &ordu_core::Store = unsafe { (*(raw as *const ordu::ordu_store)).store() };
    let id = JOB_ID.to_str().unwrap();
    let q = host::query(0, 0, None, None);
    let rust_len = host::job(store, id, &q).unwrap().body.len();

    let mut c_len = 0;
    let mut rust_json = || {
        let r = host::job(black_box(store), black_box(id), &q).unwrap();
        black_box(r.body.len());
    };
    let mut c_abi = || unsafe {
        let mut out = ptr::null_mut();
        let mut index = 0;
        let rc = ordu_job_get(
            black_box(raw),
            JOB_ID.as_ptr(),
            ptr::null(),
            ptr::null(),
            0,
            0,
            &mut out,
            &mut index,
        );
        assert_eq!(rc, 0);
        c_len = ordu_string_len(out);
        ordu_string_free(black_box(out));
    };
    let topts = QueryOptions::default();
    let mut rust_typed = || {
        let j = store.job(black_box(id), &topts).unwrap();
        black_box(&j.value);
    };
    let m = medians(
        rounds,
        batch,
        &mut [&mut rust_json, &mut c_abi, &mut rust_typed],
    );
    assert_eq!(c_len, rust_len, "both gets answer the same JSON");
    println!(
        "get of the seed job ({rust_len} bytes of JSON); median of {rounds} rounds x {batch} calls"
    );
    println!("  rust  ordu::host::job (core)          {:>9.0} ns", m[0]);
    println!("  c-abi ordu_job_get + ordu_string_free {:>9.0} ns", m[1]);
    println!(
        "  ratio c-abi / rust                    {:>9.3}   (target <= 1.2)",
        m[1] / m[0]
    );
    println!("  rust  Store::job (typed, no JSON)     {:>9.0} ns", m[2]);
    unsafe { ordu_store_free(raw) };
}
