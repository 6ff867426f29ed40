//! The Raft port: serves the messages [`crate::network`] sends, handing
//! each to this server's Raft and answering its `Result` as JSON.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;

use crate::Raft;

/// When a leader last reached this server: an append or a snapshot chunk
/// that this server's Raft took as coming from the leader it follows.
#[derive(Default)]
pub(crate) struct Contact(Mutex<Option<Instant>>);

impl Contact {
    fn heard(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    pub(crate) fn since(&self) -> Option<Duration> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|t| t.elapsed())
    }
}

/// Bodies past this are refused. Appends of several entries are cut to
/// about a MB by the sender, and openraft sends snapshots in chunks of a few
/// MB; one entry (a plan of a very large job) may be far bigger.
const MAX_BODY: usize = 256 << 20;

fn answer(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r
}

fn json<T: Serialize>(value: &T) -> Response<Full<Bytes>> {
    match serde_json::to_vec(value) {
        Ok(b) => answer(StatusCode::OK, b),
        Err(e) => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string().into_bytes(),
        ),
    }
}

async fn handle(raft: Raft, contact: &Contact, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != hyper::Method::POST {
        return answer(StatusCode::METHOD_NOT_ALLOWED, b"POST only".to_vec());
    }
    let path = req.uri().path().to_string();
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return answer(StatusCode::PAYLOAD_TOO_LARGE, e.to_string().into_bytes()),
    };
    let bad = |e: serde_json::Error| answer(StatusCode::BAD_REQUEST, e.to_string().into_bytes());
    match path.as_str() {
        "/raft/append" => match serde_json::from_slice(&body) {
            Ok(rpc) => {
                let got = raft.append_entries(rpc).await;
                // A higher vote means the sender is not our leader.
                if matches!(&got, Ok(r) if !matches!(r, openraft::raft::AppendEntriesResponse::HigherVote(_)))
                {
                    contact.heard();
                }
                json(&got)
            }
            Err(e) => bad(e),
        },
        "/raft/vote" => match serde_json::from_slice(&body) {
            Ok(rpc) => json(&raft.vote(rpc).await),
            Err(e) => bad(e),
        },
        "/raft/snapshot" => match serde_json::from_slice(&body) {
            Ok(rpc) => {
                let got = raft.install_snapshot(rpc).await;
                if got.is_ok() {
                    contact.heard();
                }
                json(&got)
            }
            Err(e) => bad(e),
        },
        _ => answer(StatusCode::NOT_FOUND, b"no such Raft message".to_vec()),
    }
}

/// Serves the Raft port on `listener` until the task is dropped.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    raft: Raft,
    contact: std::sync::Arc<Contact>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (raft, contact) = (raft.clone(), contact.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let (raft, contact) = (raft.clone(), contact.clone());
                async move { Ok::<_, std::convert::Infallible>(handle(raft, &contact, req).await) }
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new());
            http.header_read_timeout(Duration::from_secs(30));
            let _ = http.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// Binds the Raft port.
pub(crate) async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen for Raft on {addr}: {e}"))
}
