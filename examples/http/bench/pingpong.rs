//! The machine's floor for a request-answer ping-pong over loopback TCP: an
//! echo process and a client process, 64-byte messages, one at a time, with
//! no HTTP and no work. `bench/load.sh` prints it next to the 1-connection
//! figures, which no server on this machine can beat by much without
//! keeping a CPU busy (see `src/spin.rs`).
//!
//! ```text
//! pingpong [ROUND_TRIPS]        # default 100000
//! ```

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, ExitCode};
use std::time::Instant;

const SIZE: usize = 64;

fn echo(port: &str) -> std::io::Result<()> {
    let mut s = TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap_or(0)))?;
    s.set_nodelay(true)?;
    let mut buf = [0u8; SIZE];
    loop {
        if s.read_exact(&mut buf).is_err() {
            return Ok(()); // the client closed
        }
        s.write_all(&buf)?;
    }
}

fn client(round_trips: u32) -> std::io::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port().to_string();
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--echo", &port])
        .spawn()?;
    let (mut s, _) = listener.accept()?;
    s.set_nodelay(true)?;
    let mut buf = [7u8; SIZE];
    let start = Instant::now();
    for _ in 0..round_trips {
        s.write_all(&buf)?;
        s.read_exact(&mut buf)?;
    }
    let secs = start.elapsed().as_secs_f64();
    drop(s);
    child.wait()?;
    Ok(f64::from(round_trips) / secs)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--echo") {
        return match echo(args.get(1).map_or("", String::as_str)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("pingpong echo: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let n = match args.first().map(|a| a.parse::<u32>()) {
        None => 100_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: pingpong [ROUND_TRIPS]");
            return ExitCode::FAILURE;
        }
    };
    match client(n) {
        Ok(rate) => {
            println!("{rate:.0} round trips/s ({:.1} us each)", 1e6 / rate);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pingpong: {e}");
            ExitCode::FAILURE
        }
    }
}
