//! How fast the durable log commits, against the disk's own sync rate: the
//! cost of one redb commit with immediate durability, apart from the HTTP
//! server and the scheduler.
//!
//! ```text
//! cargo run --release -p ordu-durable --example append_rate [DIR] [SECONDS]
//! ```
//!
//! Prints raw `fdatasync`s of 64-byte appends per second, then durable
//! appends per second of batches of 1, 8 and 64 entries of about 300 bytes
//! (a re-register's size), and the entries per second they carry.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ordu_durable::{Durable, Options};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir: PathBuf = args.next().map(PathBuf::from).unwrap_or_else(|| {
        std::env::temp_dir().join(format!("append-rate-{}", std::process::id()))
    });
    let secs: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2.0);
    let span = Duration::from_secs_f64(secs);
    std::fs::create_dir_all(&dir).unwrap();

    let probe = dir.join("probe");
    let mut f = std::fs::File::create(&probe).unwrap();
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed() < span {
        f.write_all(&[7u8; 64]).unwrap();
        f.sync_data().unwrap();
        n += 1;
    }
    let sync_rate = n as f64 / t.elapsed().as_secs_f64();
    println!("fdatasync of 64-byte appends: {sync_rate:.0}/s");
    drop(f);
    let _ = std::fs::remove_file(&probe);

    for batch in [1usize, 8, 64] {
        let data = dir.join(format!("data-{batch}"));
        let d = Durable::open(
            &data,
            Options {
                snapshot_every: 0,
                snapshot_bytes: 0,
                ..Options::default()
            },
        )
        .unwrap();
        let log = d.log();
        let entries: Vec<Vec<u8>> = (0..batch).map(|_| vec![b'x'; 300]).collect();
        let t = Instant::now();
        let mut commits = 0u64;
        let mut last = 0;
        while t.elapsed() < span {
            last = log.append_encoded(last, &entries).unwrap() + batch as u64 - 1;
            commits += 1;
        }
        let rate = commits as f64 / t.elapsed().as_secs_f64();
        println!(
            "durable appends of {batch:>2} entries: {rate:.0} commits/s ({:.2}x the sync rate), {:.0} entries/s",
            rate / sync_rate,
            rate * batch as f64
        );
        drop(log);
        drop(d);
        let _ = std::fs::remove_dir_all(&data);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
