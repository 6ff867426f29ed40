//! The request log: one line per request (method, path with its query,
//! status, time to the answer's head) on stderr, through `tracing`, for an
//! operator who turns it on with `--log-requests` or `RUST_LOG` (the target
//! is `ordu_http::request`, at level `info`).

use std::convert::Infallible;
use std::future::Future;
use std::time::Instant;

use axum::http::Method;
use axum::response::Response;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};

/// The target of the request lines, as `RUST_LOG` names it.
pub const TARGET: &str = "ordu_http::request";

/// Whether request lines are wanted. Off (no subscriber, or one that does
/// not want them), this is a load and a compare: `tracing` caches the
/// answer at the call site.
pub fn enabled() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::INFO)
}

/// `answer`, logging its request's line once the answer is made.
pub async fn logged(
    method: Method,
    path: String,
    answer: impl Future<Output = Result<Response, Infallible>>,
) -> Result<Response, Infallible> {
    let started = Instant::now();
    let r = answer.await;
    if let Ok(resp) = &r {
        tracing::info!(
            target: TARGET,
            method = %method,
            path = %path,
            status = resp.status().as_u16(),
            duration = ?started.elapsed(),
        );
    }
    r
}

/// Sets up logging to stderr: with `--log-requests`, the request lines, and
/// whatever `RUST_LOG` asks for (errors only when it is unset). With neither,
/// nothing is set up, and every log call site stays off.
pub fn init(log_requests: bool) -> Result<(), String> {
    if !log_requests && std::env::var_os(EnvFilter::DEFAULT_ENV).is_none() {
        return Ok(());
    }
    let mut filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::ERROR.into())
        .from_env_lossy();
    if log_requests {
        let lines = format!("{TARGET}=info")
            .parse()
            .map_err(|e| format!("request log filter: {e}"))?;
        filter = filter.add_directive(lines);
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init()
        .map_err(|e| format!("cannot set up the log: {e}"))
}
