//! Accepting connections and dealing them out to the serving threads
//! ([`Source`], [`spawn_serving_thread`]), and serving a thread's
//! connections ([`serve`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::conn::Detached;
use crate::{limits, server, spin};

/// A listener with a deep accept queue: thousands of clients that connect at
/// once (long-poll watchers after a restart) are not dropped and retried a
/// second later, as they are with the default backlog of 128 (the kernel caps
/// it at `net.core.somaxconn`).
pub fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// A connection handed from the accepting thread to another serving
/// thread, with its place under the connection cap.
pub type Handed = (std::net::TcpStream, limits::ConnSlot);

/// What a connection past `--max-conns` is told before it is closed.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Length: 52\r\nConnection: close\r\n\
Retry-After: 1\r\n\r\nserver busy: too many open connections (--max-conns)";

/// How long the accepting thread waits after `accept` fails (out of
/// descriptors, say) before it tries again: the connection waits in the
/// backlog meanwhile, and the open ones are served.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// Where a serving thread's connections come from.
pub enum Source {
    /// Thread 0: the listener. Of every `peers.len() + 1` connections it
    /// keeps one and hands the others, in turn, to the other threads. A
    /// connection past the cap of `conns` is answered 503 and closed.
    Listener {
        listener: tokio::net::TcpListener,
        peers: Vec<mpsc::UnboundedSender<Handed>>,
        next: usize,
        conns: Arc<limits::Conns>,
        /// When a failed `accept` was last reported (once a second at most).
        complained: Option<Instant>,
    },
    /// Another thread: what thread 0 hands it.
    Handed(mpsc::UnboundedReceiver<Handed>),
}

impl Source {
    /// The next connection for this thread, with its place under the cap;
    /// `None` when no more will come.
    async fn next(&mut self) -> Option<(tokio::net::TcpStream, limits::ConnSlot)> {
        match self {
            Source::Listener {
                listener,
                peers,
                next,
                conns,
                complained,
            } => loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of descriptors or memory: say so, back off, go on.
                        if complained.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                            eprintln!("ordu-http: accept: {e}; retrying");
                            *complained = Some(Instant::now());
                        }
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                let Some(slot) = conns.open() else {
                    // Told at once rather than left to wait: the socket's
                    // buffer takes these few bytes whole, or the client
                    // sees the connection close.
                    let _ = stream.try_write(TOO_MANY_CONNECTIONS);
                    continue;
                };
                let turn = *next;
                *next = (turn + 1) % (peers.len() + 1);
                if turn == 0 {
                    return Some((stream, slot));
                }
                // Out of this runtime, into the other thread's.
                match stream.into_std() {
                    Ok(s) => match peers[turn - 1].send((s, slot)) {
                        Ok(()) => {}
                        // That thread is gone: serve it here.
                        Err(mpsc::error::SendError((s, slot))) => {
                            if let Ok(s) = tokio::net::TcpStream::from_std(s) {
                                return Some((s, slot));
                            }
                        }
                    },
                    Err(e) => eprintln!("ordu-http: handing a connection over: {e}"),
                }
            },
            Source::Handed(rx) => loop {
                let (s, slot) = rx.recv().await?;
                match tokio::net::TcpStream::from_std(s) {
                    Ok(s) => return Some((s, slot)),
                    Err(e) => eprintln!("ordu-http: taking a connection over: {e}"),
                }
            },
        }
    }
}

/// Starts serving thread `n`: its own single-threaded runtime, serving the
/// connections `handed` to it.
pub fn spawn_serving_thread(
    n: usize,
    handed: mpsc::UnboundedReceiver<Handed>,
    app: server::Service,
    down: watch::Receiver<bool>,
    spin: Duration,
    read_timeout: Duration,
) -> Result<std::thread::JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name(format!("ordu-http-{n}"))
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("ordu-http: serving thread {n}: cannot start a runtime: {e}");
                    return;
                }
            };
            let source = Source::Handed(handed);
            rt.block_on(serve(source, app, down, spin, read_timeout));
        })
        .map_err(|e| format!("cannot start serving thread {n}: {e}"))
}

/// The most a connection's read buffer grows to (see [`serve`]); a request
/// head must fit in it.
const MAX_READ_BUFFER: usize = 64 << 10;

/// Serves HTTP/1.1 on what `source` gives until `down` turns true, then stops
/// accepting, lets open requests finish (long-polls answer at once), closes
/// idle keep-alive connections, and returns, waiting at most 5 s for all that.
/// A request's head must arrive within `read_timeout` (a keep-alive
/// connection waiting for its next one is closed after it).
///
/// hyper's own HTTP/1 connection rather than `axum::serve`: axum's serves
/// every connection through hyper-util's HTTP/1-or-2 detection, whose sniffed
/// prefix makes hyper grow its read buffer from 8 to 16 KB on every
/// connection, a cost 10,000 open long-polls pay 10,000 times.
pub async fn serve(
    mut source: Source,
    app: server::Service,
    mut down: watch::Receiver<bool>,
    spin: Duration,
    read_timeout: Duration,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new());
    http.header_read_timeout(read_timeout);
    // hyper grows a connection's read buffer while reads fill it, up to
    // about 400 KB by default: a body sent fast would make every
    // connection's that large, outside the body budget.
    http.max_buf_size(MAX_READ_BUFFER);
    // A client that sends its request and then shuts down its write side
    // still gets its answer (hyper otherwise takes the EOF for a hang-up).
    http.half_close(true);
    let spinning = (!spin.is_zero()).then(|| tokio::spawn(spin::run(spin)));
    loop {
        let (stream, slot) = tokio::select! {
            s = source.next() => match s {
                Some(next) => next,
                None => break,
            },
            () = async { let _ = down.wait_for(|d| *d).await; } => break,
        };
        // Small answers go out at once; keep-alive clients wait on none.
        let _ = stream.set_nodelay(true);
        // The connection owns its slot: it is given back when it ends.
        let service = Detached {
            service: app.clone(),
            _slot: slot,
        };
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        // Spawned as it is, not awaited in an `async` block: such a block
        // keeps room for the moved-in future beside its own (a second copy
        // per connection). Its result, an error from a client that went
        // away mid-request, is that client's business.
        tokio::spawn(conn);
    }
    if let Some(s) = spinning {
        s.abort();
    }
    // Stops accepting; the other threads' hand-over channels close.
    drop(source);
    if tokio::time::timeout(Duration::from_secs(5), graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!("ordu-http: connections still open after 5 s; closing them");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ordu::Store;

    fn test_agent(addr: SocketAddr) -> ordu::Agent {
        ordu::Agent {
            name: "test".into(),
            datacenter: "dc1".into(),
            addr: addr.ip(),
            port: addr.port(),
        }
    }

    /// The accepting thread keeps one connection in three and deals the
    /// others to two peers in turn; a peer that is gone leaves its
    /// connections with the accepting thread.
    #[tokio::test]
    async fn connections_are_dealt_out_in_turn() {
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx1, mut rx1) = mpsc::unbounded_channel();
        let (tx2, mut rx2) = mpsc::unbounded_channel();
        let mut source = Source::Listener {
            listener,
            peers: vec![tx1, tx2],
            next: 0,
            conns: limits::Conns::new(100),
            complained: None,
        };
        // Accepted in the order they connect.
        let clients: Vec<_> = (0..6)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        let port = |i: usize| clients[i].local_addr().unwrap().port();
        let peer = |s: &std::net::TcpStream| s.peer_addr().unwrap().port();
        let kept = source.next().await.unwrap().0;
        assert_eq!(kept.peer_addr().unwrap().port(), port(0));
        let kept = source.next().await.unwrap().0;
        assert_eq!(kept.peer_addr().unwrap().port(), port(3));
        assert_eq!(peer(&rx1.try_recv().unwrap().0), port(1));
        assert_eq!(peer(&rx2.try_recv().unwrap().0), port(2));
        // Peer 2 is gone: its turn falls back here.
        drop(rx2);
        let back = source.next().await.unwrap().0;
        assert_eq!(back.peer_addr().unwrap().port(), port(5));
        assert_eq!(peer(&rx1.try_recv().unwrap().0), port(4));
    }

    /// A client that sends a request and shuts down its write side still
    /// reads the answer, also when the answer comes later (a long-poll).
    #[tokio::test]
    async fn a_half_closed_connection_gets_its_answer() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let (_down_tx, down) = watch::channel(false);
        let store = Store::default();
        let job = br#"{"Job":{"ID":"x","TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"exec"}]}]}}"#;
        store
            .register_job_json(job, &ordu::WriteOptions::default())
            .unwrap();
        let app = server::service(
            Arc::new(store),
            down.clone(),
            test_agent(addr),
            limits::BodyLimits::default(),
        );
        let source = Source::Listener {
            listener,
            peers: Vec::new(),
            next: 0,
            conns: limits::Conns::new(100),
            complained: None,
        };
        let timeout = limits::DEFAULT_READ_TIMEOUT;
        tokio::spawn(serve(source, app, down, Duration::ZERO, timeout));
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /v1/job/x?index=1&wait=300ms HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        c.shutdown().await.unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut got))
            .await
            .expect("the connection ends")
            .unwrap();
        let got = String::from_utf8_lossy(&got);
        assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
    }

    /// The refusal past the cap is a whole HTTP answer: its length is its
    /// body's.
    #[test]
    fn the_refusal_past_the_cap_is_well_formed() {
        let text = std::str::from_utf8(TOO_MANY_CONNECTIONS).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap();
        assert_eq!(length.parse::<usize>().unwrap(), body.len());
    }
}
