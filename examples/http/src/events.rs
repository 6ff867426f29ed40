//! `GET /v1/event/stream`: Nomad's event stream as NDJSON, one line per
//! batch (`{"Index":N,"Events":[...]}`), `{}` after 30 s without one.
//!
//! The response body is pulled by hyper as the connection can take it, so
//! an open stream holds one small future and at most one frame: no thread,
//! and no queue that a slow reader could grow. A reader slower than the
//! writes falls behind the store's buffer; it is then sent one line
//! `{"Error": "..."}` naming the oldest index held, and the stream ends
//! (Nomad closes it too). The stream ends cleanly when the server shuts
//! down.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use hyper::body::Frame;
use ordu::events::{EventBatch, EventSubscription, TopicFilter};
use ordu::Store;
use tokio::sync::watch;

/// A line of nothing after this long without events, as Nomad's.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// What the stream asks for: `topic` (repeated), `index`, `namespace`.
pub struct StreamParams {
    topics: Vec<String>,
    index: u64,
    namespace: String,
}

impl StreamParams {
    /// From the raw query; a bad `index` is the 400's text.
    pub fn parse(query: Option<&str>) -> Result<StreamParams, String> {
        let mut p = StreamParams {
            topics: Vec::new(),
            index: 0,
            namespace: "default".into(),
        };
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "topic" => p.topics.push(v.into_owned()),
                "index" => {
                    p.index =
                        crate::params::parse_index(&v).ok_or_else(|| "Invalid index".to_string())?
                }
                "namespace" => p.namespace = v.into_owned(),
                _ => {}
            }
        }
        Ok(p)
    }
}

/// The streaming answer, or the error answer when the subscription is
/// refused (a bad topic; an `index` older than the buffer holds: 400 naming
/// the oldest index it holds, where Nomad would silently start there).
pub fn stream(
    store: &Store,
    params: StreamParams,
    shutdown: watch::Receiver<bool>,
) -> Result<Response, ordu::Error> {
    let filter = TopicFilter::parse(&params.topics)?.namespace(&params.namespace);
    let sub = store.subscribe_events(filter, params.index)?;
    let body = EventBody {
        pending: Some(Box::pin(next(sub, shutdown))),
    };
    let mut resp = Response::new(Body::new(body));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

enum Step {
    Batch(Arc<EventBatch>),
    Heartbeat,
    Lost(ordu::Error),
    Shutdown,
}

/// The wait in progress; it hands back what the next one needs.
type Pending = Pin<Box<dyn Future<Output = (EventSubscription, Watching, Step)> + Send>>;

type Watching = watch::Receiver<bool>;

/// Waits for the subscription's next batch, a heartbeat, or shutdown; hands
/// the subscription back for the next wait.
fn next(mut sub: EventSubscription, mut shutdown: Watching) -> Pending {
    Box::pin(async move {
        if *shutdown.borrow() {
            return (sub, shutdown, Step::Shutdown);
        }
        let step = tokio::select! {
            got = sub.next_async(Instant::now() + HEARTBEAT) => match got {
                Ok(Some(b)) => Step::Batch(b),
                Ok(None) => Step::Heartbeat,
                Err(e) => Step::Lost(e),
            },
            _ = shutdown.wait_for(|down| *down) => Step::Shutdown,
        };
        (sub, shutdown, step)
    })
}

struct EventBody {
    /// `None` once the stream ended.
    pending: Option<Pending>,
}

impl hyper::body::Body for EventBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let Some(pending) = self.pending.as_mut() else {
            return Poll::Ready(None);
        };
        let (sub, shutdown, step) = match pending.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(done) => done,
        };
        let line = match step {
            Step::Batch(b) => {
                // The batch's JSON is shared by every stream; one copy here.
                let json = b.json();
                let mut line = String::with_capacity(json.len() + 1);
                line.push_str(json);
                line.push('\n');
                line
            }
            Step::Heartbeat => "{}\n".to_string(),
            Step::Lost(e) => {
                self.pending = None;
                let mut line = serde_json::json!({ "Error": e.to_string() }).to_string();
                line.push('\n');
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(line)))));
            }
            Step::Shutdown => {
                self.pending = None;
                return Poll::Ready(None);
            }
        };
        self.pending = Some(next(sub, shutdown));
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(line)))))
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_none()
    }
}
