//! The service each connection is served through: [`Detached`], which
//! copies a request's head out of hyper's read buffer.

use std::cell::RefCell;

use axum::http::{HeaderMap, HeaderValue, Method, Request, Uri};

use crate::{limits, params, spin};

/// The service of one connection: `S`, given each request with its head
/// copied out of hyper's read buffer.
///
/// hyper parses a request in place: the URI and header values point into the
/// connection's 8 KB read buffer. Once it has called the service, it reads
/// on to notice a client that hangs up; if the head still points into the
/// buffer then, it takes a new 8 KB buffer, and the old one is freed with the
/// head. A head copied out here (a few dozen bytes) lets hyper go on with the
/// buffer it has: no 8 KB block taken and freed per request.
///
/// A long-poll wants the new buffer, which stays unwritten while it waits
/// (see [`ALLOCATOR`](crate::ALLOCATOR)), so its original head is kept in
/// [`PILE`] a while. Freed at once, the old buffer, written, would go to the
/// thread's few cached free blocks, and come back as the next long-poll's new
/// buffer.
/// Freed [`PILE_MAX`] at a time, all but the few the thread keeps go back to
/// the kernel.
pub struct Detached<S> {
    pub service: S,
    /// Held for as long as hyper keeps the service: the connection's life.
    pub _slot: limits::ConnSlot,
}

impl<S, B> hyper::service::Service<Request<B>> for Detached<S>
where
    S: hyper::service::Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, mut req: Request<B>) -> Self::Future {
        spin::request_begun();
        let original = detach_head(&mut req);
        if blocks(&req) {
            // The heads piled up before are past hyper's read; this one is
            // not yet, so it goes in after the pile is freed.
            PILE.with_borrow_mut(|pile| {
                if pile.len() >= PILE_MAX {
                    pile.clear();
                }
                pile.push(original);
            });
        }
        self.service.call(req)
    }
}

/// A request's URI and headers as hyper parsed them.
type Head = (Uri, HeaderMap);

/// How many long-polls' original heads a serving thread keeps (see
/// [`Detached`]). More keeps more written buffers; fewer lets more of them
/// come back as new ones. 64 measured best for 10,000 long-polls.
const PILE_MAX: usize = 64;

thread_local! {
    /// Long-polls' original heads, freed [`PILE_MAX`] at a time.
    static PILE: RefCell<Vec<Head>> = const { RefCell::new(Vec::new()) };
}

/// Whether `req` is a read that may block: a GET whose parameters ask for an
/// index above 0 (read as the handler reads them).
fn blocks<B>(req: &Request<B>) -> bool {
    req.method() == Method::GET
        && params::Params::parse(req.uri().query())
            .blocking()
            .is_ok_and(|b| b.index > 0)
}

/// Gives `req` a URI and header values that own their bytes, and returns the
/// ones it had. (Header names, the method and extensions own theirs.) What
/// does not parse again, which hyper would not have let through, is kept as
/// it was.
fn detach_head<B>(req: &mut Request<B>) -> Head {
    let uri = match req.uri().to_string().parse::<Uri>() {
        Ok(owned) => std::mem::replace(req.uri_mut(), owned),
        Err(_) => req.uri().clone(),
    };
    let mut headers = HeaderMap::with_capacity(req.headers().len());
    for (name, value) in req.headers() {
        let owned = match HeaderValue::from_bytes(value.as_bytes()) {
            Ok(mut owned) => {
                owned.set_sensitive(value.is_sensitive());
                owned
            }
            Err(_) => value.clone(),
        };
        headers.append(name, owned);
    }
    (uri, std::mem::replace(req.headers_mut(), headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_get_with_an_index_blocks() {
        let req = |method: Method, uri: &str| {
            Request::builder().method(method).uri(uri).body(()).unwrap()
        };
        assert!(blocks(&req(Method::GET, "/v1/job/web?index=7&wait=5m")));
        assert!(blocks(&req(Method::GET, "/v1/jobs?wait=1s&index=%31")));
        assert!(!blocks(&req(Method::GET, "/v1/job/web?index=0")));
        assert!(!blocks(&req(Method::GET, "/v1/job/web?index=")));
        assert!(!blocks(&req(Method::GET, "/v1/job/web?index=x")));
        assert!(!blocks(&req(Method::GET, "/v1/job/web?index=0&index=7")));
        assert!(!blocks(&req(Method::GET, "/v1/job/web")));
        assert!(!blocks(&req(Method::PUT, "/v1/job/web?index=7")));
    }

    #[test]
    fn a_detached_head_is_the_same_head() {
        for uri in [
            "/v1/job/a%20b?index=3&pretty",
            "http://h:4646/v1/jobs",
            "/",
            "*",
        ] {
            let mut req = Request::builder()
                .uri(uri)
                .header("host", "h:4646")
                .header("x-nomad-token", "s3cret")
                .header("accept", "a")
                .header("accept", "b")
                .body(())
                .unwrap();
            req.headers_mut()
                .get_mut("x-nomad-token")
                .unwrap()
                .set_sensitive(true);
            let before = req.clone();
            detach_head(&mut req);
            assert_eq!(req.uri(), before.uri());
            assert_eq!(req.uri().to_string(), before.uri().to_string());
            assert_eq!(req.headers(), before.headers());
            assert!(req.headers()["x-nomad-token"].is_sensitive());
            assert_eq!(req.method(), before.method());
        }
    }
}
