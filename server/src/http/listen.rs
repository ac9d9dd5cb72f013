//! The accept loop: every TCP connection, its limits and its end.
//!
//! Written out instead of `axum::serve` for what that does not offer:
//! - a connection that has not sent a whole request head within the request timeout is
//!   closed, idle or slow (slowloris), and so is a request body that stalls;
//! - connections are counted, in all and per address, against the open-file limit: past the
//!   limit a connection may still ask `/healthz` (from a reserve), and everything else gets a
//!   clean 503 instead of the server spinning on `accept` with no descriptors left;
//! - every connection counts what it writes ([`Outflow`]), which is how a WebSocket's
//!   backlog learns what left;
//! - shutdown waits a bounded time for requests in flight, whatever clients hold.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt as _;
use tower_http::timeout::TimeoutBody;
use tracing::{debug, info, warn};

use crate::http::peer::TrustedProxies;
use crate::logging::Hush;
use crate::socket::backlog::Outflow;

/// Largest request head read (request line and headers). Browsers send a few KiB.
const MAX_HEAD_BYTES: usize = 32 * 1024;
/// File descriptors kept for the database, the listener and the like, beyond connections.
const FDS_FOR_THE_REST: u64 = 64;
/// Connections past the limit that may still ask `/healthz`.
const HEALTH_RESERVE: usize = 32;

/// How many connections may be open, and for how long one may take to ask.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Open connections in all; past it only `/healthz` is served, from a small reserve.
    pub(crate) connections: usize,
    /// Open connections from one address (0: no limit).
    pub(crate) per_address: usize,
    /// Time to send a request head, or the next one on a kept-alive connection, and between
    /// two chunks of a request body.
    pub(crate) request_timeout: Duration,
    /// After shutdown begins, how long requests in flight may take to finish.
    pub(crate) shutdown_grace: Duration,
    /// Proxies, whose connections carry many clients: not limited per address.
    pub(crate) trusted: TrustedProxies,
}

impl Limits {
    /// At most `wanted` connections, and fewer when the open-file limit would not hold them.
    /// Raises the process's soft limit to its hard limit first, as servers do.
    pub(crate) fn fitting_open_files(wanted: usize) -> usize {
        let files = match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(n) => n,
            Err(e) => {
                warn!(error = %e, "could not read the open-file limit; assuming 1024");
                1024
            }
        };
        let fit = files.saturating_sub(FDS_FOR_THE_REST + HEALTH_RESERVE as u64) as usize;
        if fit < wanted {
            info!(
                open_files = files,
                connections = fit,
                "connections limited by the open-file limit"
            );
        }
        wanted.min(fit.max(1))
    }
}

/// Open connections, in all and per address.
#[derive(Default)]
struct Open {
    total: AtomicUsize,
    by_address: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in [`Open`]; given back when dropped.
struct Counted {
    open: Arc<Open>,
    ip: IpAddr,
}

impl Open {
    fn enter(self: &Arc<Self>, ip: IpAddr) -> (Counted, usize, usize) {
        let total = self.total.fetch_add(1, Ordering::AcqRel) + 1;
        let mut by = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
        let from_ip = by.entry(ip).or_insert(0);
        *from_ip += 1;
        let from_ip = *from_ip;
        drop(by);
        (
            Counted {
                open: self.clone(),
                ip,
            },
            total,
            from_ip,
        )
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.open.total.fetch_sub(1, Ordering::AcqRel);
        let mut by = self
            .open
            .by_address
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = by.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                by.remove(&self.ip);
            }
        }
    }
}

/// What a connection is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admit {
    Full,
    /// Only `/healthz`; anything else is answered 503.
    HealthOnly,
    /// Too many from its address: answered 429.
    TooManyFromAddress,
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in flight finish
/// for at most the grace period and drops what is left.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let open: Arc<Open> = Arc::default();
    // 0: serving; 1: finish what is in flight; 2: drop everything.
    let (stage, staged) = watch::channel(0u8);
    let accept_errors = Hush::new(Duration::from_secs(10));
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors (or a connection reset before accept): back off instead
                    // of spinning; the condition clears as connections close.
                    if let Some(skipped) = accept_errors.speak() {
                        warn!(error = %e, skipped, "accept failed");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let (counted, total, from_ip) = open.enter(peer.ip());
        let admit = if total > limits.connections + HEALTH_RESERVE {
            // Not even the reserve: close at once.
            continue;
        } else if total > limits.connections {
            Admit::HealthOnly
        } else if limits.per_address > 0
            && from_ip > limits.per_address
            && !limits.trusted.trusts(peer.ip())
        {
            Admit::TooManyFromAddress
        } else {
            Admit::Full
        };
        if admit != Admit::Full {
            debug!(%peer, ?admit, total, from_ip, "connection over a limit");
        }
        if let Err(e) = tcp.set_nodelay(true) {
            debug!(error = %e, "TCP_NODELAY not set");
        }
        let app = app.clone();
        let staged = staged.clone();
        let timeout = limits.request_timeout;
        tokio::spawn(connection(tcp, counted, peer, app, admit, timeout, staged));
    }
    drop(listener);
    let _ = stage.send(1);
    let deadline = Instant::now() + limits.shutdown_grace;
    while open.total.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = open.total.load(Ordering::Acquire);
    if left > 0 {
        info!(
            connections = left,
            "shutdown grace over; dropping connections"
        );
    }
    let _ = stage.send(2);
}

async fn connection(
    tcp: TcpStream,
    counted: Counted,
    peer: SocketAddr,
    app: Router,
    admit: Admit,
    request_timeout: Duration,
    mut stage: watch::Receiver<u8>,
) {
    let outflow: Arc<Outflow> = Arc::default();
    let io = TokioIo::new(Metered {
        inner: tcp,
        outflow: outflow.clone(),
        _counted: counted,
    });
    let body_timeout = request_timeout;
    let service = app.map_request(move |request: Request<Incoming>| {
        let (mut parts, body) = request.into_parts();
        parts.extensions.insert(ConnectInfo(peer));
        parts.extensions.insert(outflow.clone());
        Request::from_parts(parts, Body::new(TimeoutBody::new(body_timeout, body)))
    });
    let service = tower::service_fn(move |request: Request<Incoming>| {
        let service = service.clone();
        async move {
            match admit {
                Admit::Full => service.oneshot(request).await,
                Admit::HealthOnly if request.uri().path() == "/healthz" => {
                    service.oneshot(request).await
                }
                Admit::HealthOnly => Ok(refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the server is at its connection limit; try again shortly",
                )),
                Admit::TooManyFromAddress => Ok(refusal(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many connections from your address",
                )),
            }
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(request_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(admit == Admit::Full);
    let conn = http
        .serve_connection(io, TowerToHyperService::new(service))
        .with_upgrades();
    tokio::pin!(conn);
    let result = loop {
        tokio::select! {
            result = conn.as_mut() => break result,
            changed = stage.changed() => {
                let now = if changed.is_ok() { *stage.borrow_and_update() } else { 2 };
                match now {
                    1 => conn.as_mut().graceful_shutdown(),
                    2.. => return,
                    _ => {}
                }
            }
        }
    };
    if let Err(e) = result {
        // Timeouts and resets are everyday events on the open internet.
        debug!(%peer, error = %e, "connection ended with an error");
    }
}

fn refusal(status: StatusCode, text: &'static str) -> Response {
    let mut response = (status, text).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

/// A TCP stream that tells its [`Outflow`] what it wrote, and holds its place among the open
/// connections for as long as it is open: past an upgrade to WebSocket too, when hyper hands
/// it on to engineioxide.
struct Metered {
    inner: TcpStream,
    outflow: Arc<Outflow>,
    _counted: Counted,
}

impl AsyncRead for Metered {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Metered {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            self.outflow.wrote(n);
        }
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = written {
            self.outflow.wrote(n);
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_counted_per_address_and_given_back() {
        let open: Arc<Open> = Arc::default();
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let (one, total, from_a) = open.enter(a);
        assert_eq!((total, from_a), (1, 1));
        let (two, total, from_a) = open.enter(a);
        assert_eq!((total, from_a), (2, 2));
        let (_three, total, from_b) = open.enter(b);
        assert_eq!((total, from_b), (3, 1));
        drop(one);
        drop(two);
        assert_eq!(open.total.load(Ordering::Relaxed), 1);
        assert!(!open.by_address.lock().unwrap().contains_key(&a));
    }
}
