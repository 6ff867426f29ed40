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

/// Most bytes of batches already held that one frame carries together.
const COALESCE_BYTES: usize = 256 << 10;

/// `first`'s line, and those of the batches held right behind it, as one
/// frame: a stream that is behind (its writes come faster than its socket
/// takes them) writes them with one call, not one each. A lone batch is
/// its shared line, not copied. A subscription that fell behind the buffer
/// stops the gathering; its next wait reports it.
fn coalesce(first: Arc<str>, sub: &mut EventSubscription) -> Bytes {
    let mut more: Vec<Arc<str>> = Vec::new();
    let mut size = first.len();
    while size < COALESCE_BYTES {
        match sub.try_next() {
            Ok(Some(b)) => {
                size += b.line().len();
                more.push(b.line().clone());
            }
            Ok(None) | Err(_) => break,
        }
    }
    if more.is_empty() {
        return Bytes::from_owner(Line(first));
    }
    let mut all = Vec::with_capacity(size);
    for line in std::iter::once(&first).chain(&more) {
        all.extend_from_slice(line.as_bytes());
    }
    Bytes::from(all)
}

/// A batch's shared NDJSON line as the bytes of a frame.
struct Line(Arc<str>);

impl AsRef<[u8]> for Line {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
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
        let (mut sub, shutdown, step) = match pending.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(done) => done,
        };
        let line = match step {
            Step::Batch(b) => {
                let data = coalesce(b.line().clone(), &mut sub);
                self.pending = Some(next(sub, shutdown));
                return Poll::Ready(Some(Ok(Frame::data(data))));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn register(store: &Store, id: &str) {
        let body = format!(
            r#"{{"Job":{{"ID":"{id}","TaskGroups":[{{"Name":"g","Tasks":[{{"Name":"t","Driver":"exec"}}]}}]}}}}"#
        );
        store
            .register_job_json(body.as_bytes(), &Default::default())
            .unwrap();
    }

    /// Batches held behind the first go out with it, in order, one line
    /// each; a lone batch is its shared line.
    #[test]
    fn batches_held_go_out_in_one_frame() {
        let store = Store::default();
        register(&store, "a");
        let mut sub = store.subscribe_events(TopicFilter::default(), 1).unwrap();
        for id in ["b", "c"] {
            register(&store, id);
        }
        let first = sub.try_next().unwrap().unwrap();
        let data = coalesce(first.line().clone(), &mut sub);
        let text = std::str::from_utf8(&data).unwrap();
        let indexes: Vec<u64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["Index"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert!(indexes.len() >= 3, "{indexes:?}");
        assert!(indexes.windows(2).all(|w| w[0] < w[1]), "{indexes:?}");
        assert_eq!(indexes.last().copied(), Some(store.index()));
        assert!(text.ends_with('\n'));
        assert!(sub.try_next().unwrap().is_none(), "all were taken");

        register(&store, "d");
        let mut last = None;
        while let Some(b) = sub.try_next().unwrap() {
            last = Some(b);
        }
        let line = last.unwrap().line().clone();
        let data = coalesce(line.clone(), &mut sub);
        assert_eq!(data.as_ptr(), line.as_ptr(), "a lone batch is not copied");
    }
}
