//! Starting the real `ordu-http` and talking raw HTTP/1.1 to it.

#![allow(dead_code)] // Each test binary uses its own part.

pub mod cluster;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `ordu-http`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `ordu-http --addr 127.0.0.1:0 ARGS`, with at most `nofile`
    /// descriptors (soft and hard) if given, and `env` set.
    pub fn start(args: &[&str], nofile: Option<u64>, env: &[(&str, &str)]) -> Server {
        let bin = env!("CARGO_BIN_EXE_ordu-http");
        // `ulimit` in a shell that then becomes the server: the same
        // process, with the limit, and no unsafe `pre_exec` here.
        let limit = nofile.map_or(String::new(), |n| format!("ulimit -n {n} && "));
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("{limit}exec \"$0\" \"$@\""))
            .arg(bin)
            .args(["--addr", "127.0.0.1:0", "--threads", "1"])
            .args(args)
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("ordu-http starts");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line)
            .expect("ordu-http prints its address");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        // Keep stdout drained so the server never blocks on it.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Server { child, addr }
    }

    /// The server's stderr, to read its log from.
    pub fn stderr(&mut self) -> ChildStderr {
        self.child.stderr.take().expect("stderr taken once")
    }

    /// The server's resident memory, in bytes.
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server's /proc status");
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS");
        kb * 1024
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).expect("connects");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// One request on a new connection: the status and body, or `None` if
    /// the connection closed before a whole answer.
    pub fn request(&self, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
        let mut s = self.connect();
        request_on(&mut s, method, path, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request on `s`, kept alive: the status and body, or `None` if the
/// connection closed (or failed) before a whole answer.
pub fn request_on(
    s: &mut TcpStream,
    method: &str,
    path: &str,
    body: &str,
) -> Option<(u16, String)> {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body.as_bytes()).ok()?;
    read_answer(s)
}

/// Reads one answer with a `Content-Length`: its status and body.
pub fn read_answer(s: &mut TcpStream) -> Option<(u16, String)> {
    read_answer_with_head(s).map(|(status, _, body)| (status, body))
}

/// [`request_on`] answering the head too.
#[allow(dead_code)] // not every test binary reads heads
pub fn request_with_head(
    s: &mut TcpStream,
    method: &str,
    path: &str,
    body: &str,
) -> Option<(u16, String, String)> {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body.as_bytes()).ok()?;
    read_answer_with_head(s)
}

/// Reads one answer with a `Content-Length`: its status, head and body.
pub fn read_answer_with_head(s: &mut TcpStream) -> Option<(u16, String, String)> {
    let mut got = Vec::new();
    let mut byte = [0u8; 4096];
    loop {
        if let Some(end) = find(&got, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_string();
            let status = head.split_whitespace().nth(1)?.parse().ok()?;
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            while got.len() < end + 4 + length {
                let n = s.read(&mut byte).ok()?;
                if n == 0 {
                    return None;
                }
                got.extend_from_slice(&byte[..n]);
            }
            let body = String::from_utf8_lossy(&got[end + 4..end + 4 + length]).to_string();
            return Some((status, head, body));
        }
        let n = s.read(&mut byte).ok()?;
        if n == 0 {
            return None;
        }
        got.extend_from_slice(&byte[..n]);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Waits until `ok` holds, at most `within`; whether it did.
pub fn eventually(within: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A small job to register.
pub fn job(id: &str) -> String {
    format!(
        r#"{{"Job":{{"ID":"{id}","Datacenters":["dc1"],"TaskGroups":[{{"Name":"g","Tasks":[{{"Name":"t","Driver":"exec"}}]}}]}}}}"#
    )
}
