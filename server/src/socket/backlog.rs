//! What each socket has been handed but not yet taken: a byte bound per socket and for all of
//! them together.
//!
//! socketioxide bounds a socket's queue in packets only, and a history page can be 100 long
//! messages: a client that asks and never reads could make the server hold gigabytes. So every
//! answer and replay made for one socket is charged here, in bytes, before it is queued, and
//! released as the bytes leave: a long-polling response takes them out of the queue at once,
//! a WebSocket's as its connection writes to the kernel ([`Outflow`]). An answer that would
//! take a socket, or the server, over its bound is refused with `overloaded` instead (a
//! replay becomes a `gap`), so memory never grows with what a client declines to read.
//!
//! What is counted is the JSON's length; what it takes in memory, queued, is up to twice that
//! (it is written into a buffer that grows by doubling), so the bounds are held against twice
//! the count.
//!
//! A WebSocket's writes also carry broadcasts, which are not charged (they share one buffer
//! among every receiver, and the packet bound caps them); counting them as releases can only
//! make a socket look emptier than it is by what its client did read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::HttpBody as _;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use socketioxide::socket::Sid;
use tracing::debug;

/// Bytes one socket, and all of them, may have queued and unread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) per_socket: u64,
    pub(crate) total: u64,
}

/// How much memory a queued answer may take for each byte of its JSON.
const ALLOCATION_FACTOR: u64 = 2;

/// Why a charge was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    #[error("the socket has {queued} bytes unread, over its bound")]
    Socket { queued: u64 },
    #[error("the server holds {queued} unread bytes in all, over its bound")]
    Total { queued: u64 },
}

/// Every socket's backlog, and their sum. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Backlogs {
    inner: Arc<Inner>,
}

struct Inner {
    bounds: Bounds,
    total: AtomicU64,
    /// Charges taken, and refused, since the start.
    charges: AtomicU64,
    refusals: AtomicU64,
    sockets: Mutex<HashMap<Sid, Arc<Backlog>>>,
}

/// One Engine.IO session's unread bytes.
pub(crate) struct Backlog {
    queued: AtomicU64,
    owner: Arc<Inner>,
    /// When the session's socket was first seen; entries of sessions that never connected to
    /// a namespace are swept after a while.
    since: Instant,
    connected: std::sync::atomic::AtomicBool,
    /// How many of the socket's requests are being handled ([`Backlog::start_request`]).
    requests: AtomicUsize,
}

/// Requests one socket may have under way at once. Each is a task holding its handler's whole
/// state until it ends; a client sending faster than they end would otherwise hold as many as
/// it sent.
const REQUESTS_UNDER_WAY: usize = 32;

/// One request under way on a socket; its place is given back when this is dropped.
pub(crate) struct Underway(Arc<Backlog>);

impl Drop for Underway {
    fn drop(&mut self) {
        self.0.requests.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Backlogs {
    pub(crate) fn new(bounds: Bounds) -> Backlogs {
        Backlogs {
            inner: Arc::new(Inner {
                bounds,
                total: AtomicU64::new(0),
                charges: AtomicU64::new(0),
                refusals: AtomicU64::new(0),
                sockets: Mutex::default(),
            }),
        }
    }

    /// The session's backlog, made on first use.
    pub(crate) fn of(&self, sid: Sid) -> Arc<Backlog> {
        let mut sockets = self.inner.sockets.lock().unwrap_or_else(|p| p.into_inner());
        sockets
            .entry(sid)
            .or_insert_with(|| {
                Arc::new(Backlog {
                    queued: AtomicU64::new(0),
                    owner: self.inner.clone(),
                    since: Instant::now(),
                    connected: false.into(),
                    requests: AtomicUsize::new(0),
                })
            })
            .clone()
    }

    fn existing(&self, sid: Sid) -> Option<Arc<Backlog>> {
        let sockets = self.inner.sockets.lock().unwrap_or_else(|p| p.into_inner());
        sockets.get(&sid).cloned()
    }

    /// Forgets a closed session; what it still had queued is freed with it.
    pub(crate) fn close(&self, sid: Sid) {
        let removed = {
            let mut sockets = self.inner.sockets.lock().unwrap_or_else(|p| p.into_inner());
            sockets.remove(&sid)
        };
        if let Some(b) = removed {
            b.release(u64::MAX);
        }
    }

    /// Forgets sessions that never connected to a namespace within `after`.
    pub(crate) fn sweep(&self, after: Duration) {
        let stale: Vec<Arc<Backlog>> = {
            let mut sockets = self.inner.sockets.lock().unwrap_or_else(|p| p.into_inner());
            let mut stale = Vec::new();
            sockets.retain(|_, b| {
                let keep = b.connected.load(Ordering::Relaxed) || b.since.elapsed() < after;
                if !keep {
                    stale.push(b.clone());
                }
                keep
            });
            stale
        };
        for b in stale {
            b.release(u64::MAX);
        }
    }

    /// The backlog of `socket`'s session, which its answers are charged to from now on; a
    /// session opened as a WebSocket is drained by its connection's writes.
    pub(crate) fn attach<A: socketioxide::adapter::Adapter>(
        &self,
        socket: &socketioxide::socket::Socket<A>,
    ) -> Arc<Backlog> {
        let backlog = self.of(socket.id);
        backlog.connected();
        let handshake = socket.req_parts();
        if session_of_uri(&handshake.uri).1
            && let Some(outflow) = handshake.extensions.get::<Arc<Outflow>>()
        {
            outflow.carries(backlog.clone());
        }
        backlog
    }

    /// The backlog's lines for `/metrics`.
    pub(crate) fn render(&self) -> String {
        let i = &self.inner;
        format!(
            "# HELP palaver_backlog_bytes Bytes of answers and replays queued and not yet read.\n\
             # TYPE palaver_backlog_bytes gauge\npalaver_backlog_bytes {}\n\
             # HELP palaver_backlog_charges_total Answers and replays queued.\n\
             # TYPE palaver_backlog_charges_total counter\npalaver_backlog_charges_total {}\n\
             # HELP palaver_backlog_refusals_total Answers and replays refused or cut for a full backlog.\n\
             # TYPE palaver_backlog_refusals_total counter\npalaver_backlog_refusals_total {}\n",
            i.total.load(Ordering::Relaxed),
            i.charges.load(Ordering::Relaxed),
            i.refusals.load(Ordering::Relaxed),
        )
    }

    /// Bytes queued and unread, all sockets together.
    #[cfg(test)]
    pub(crate) fn total(&self) -> u64 {
        self.inner.total.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    pub(crate) fn sockets(&self) -> usize {
        self.inner
            .sockets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}

impl Drop for Backlog {
    fn drop(&mut self) {
        self.release(u64::MAX);
    }
}

impl Backlog {
    /// A place for one more request, if the socket has fewer than [`REQUESTS_UNDER_WAY`].
    pub(crate) fn start_request(self: &Arc<Self>) -> Option<Underway> {
        self.requests
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < REQUESTS_UNDER_WAY).then_some(n + 1)
            })
            .ok()
            .map(|_| Underway(self.clone()))
    }

    /// Marks the session as connected to a namespace: it is no longer swept.
    pub(crate) fn connected(&self) {
        self.connected.store(true, Ordering::Relaxed);
    }

    /// Counts `bytes` about to be queued for this socket, or refuses them.
    ///
    /// The total is raised before the socket's count and lowered after it (in
    /// [`Backlog::release`]), so it is never less than the sum of the sockets': a write that
    /// releases these bytes the moment they are counted cannot take the total below zero.
    pub(crate) fn charge(&self, bytes: u64) -> Result<(), Refused> {
        let bounds = self.owner.bounds;
        let before = self.owner.total.fetch_add(bytes, Ordering::AcqRel);
        let after = before
            .saturating_add(bytes)
            .saturating_mul(ALLOCATION_FACTOR);
        if after > bounds.total && before > 0 {
            self.owner.total.fetch_sub(bytes, Ordering::AcqRel);
            self.owner.refusals.fetch_add(1, Ordering::Relaxed);
            return Err(Refused::Total { queued: before });
        }
        let mut queued = self.queued.load(Ordering::Relaxed);
        loop {
            // One answer may be larger than the bound; an empty backlog still takes it, or
            // it could never be sent at all.
            let after = queued
                .saturating_add(bytes)
                .saturating_mul(ALLOCATION_FACTOR);
            if queued > 0 && after > bounds.per_socket {
                self.owner.total.fetch_sub(bytes, Ordering::AcqRel);
                self.owner.refusals.fetch_add(1, Ordering::Relaxed);
                return Err(Refused::Socket { queued });
            }
            match self.queued.compare_exchange_weak(
                queued,
                queued + bytes,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => queued = now,
            }
        }
        self.owner.charges.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Counts `bytes` as gone from the queue (at most what it holds).
    pub(crate) fn release(&self, bytes: u64) {
        let mut queued = self.queued.load(Ordering::Relaxed);
        loop {
            let taken = queued.min(bytes);
            if taken == 0 {
                return;
            }
            match self.queued.compare_exchange_weak(
                queued,
                queued - taken,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.owner.total.fetch_sub(taken, Ordering::AcqRel);
                    return;
                }
                Err(now) => queued = now,
            }
        }
    }

    pub(crate) fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    /// What this socket may still be charged before it is refused.
    pub(crate) fn room_left(&self) -> u64 {
        self.owner.bounds.per_socket.saturating_sub(self.queued())
    }
}

/// What one TCP connection has written, handed on to the backlog of the WebSocket session it
/// carries once it is upgraded. Put in every request's extensions by the accept loop.
#[derive(Default)]
pub(crate) struct Outflow {
    session: OnceLock<Arc<Backlog>>,
}

impl Outflow {
    /// Called by the connection for every write that reached the kernel.
    pub(crate) fn wrote(&self, bytes: usize) {
        if let Some(backlog) = self.session.get() {
            backlog.release(bytes as u64);
        }
    }

    /// From now on, this connection's writes drain `backlog`.
    pub(crate) fn carries(&self, backlog: Arc<Backlog>) {
        let _ = self.session.set(backlog);
    }
}

/// The session a Socket.IO request belongs to, from its query (`sid=…`).
fn session_of(request: &Request) -> (Option<Sid>, bool) {
    session_of_uri(request.uri())
}

fn session_of_uri(uri: &axum::http::Uri) -> (Option<Sid>, bool) {
    let query = uri.query().unwrap_or_default();
    let mut sid = None;
    let mut websocket = false;
    for pair in query.split('&') {
        if let Some(s) = pair.strip_prefix("sid=") {
            sid = s.parse().ok();
        } else if pair == "transport=websocket" {
            websocket = true;
        }
    }
    (sid, websocket)
}

/// Middleware in front of the Socket.IO layer: releases what a long-polling response took out
/// of its session's queue, and hands a connection upgraded to WebSocket to its session.
pub(crate) async fn drain(
    State(backlogs): State<Backlogs>,
    request: Request,
    next: Next,
) -> Response {
    if !crate::http::origin::is_socket_request(request.uri().path()) {
        return next.run(request).await;
    }
    let (sid, websocket) = session_of(&request);
    let outflow = request.extensions().get::<Arc<Outflow>>().cloned();
    let polls = request.method() == Method::GET && !websocket;
    let response = next.run(request).await;
    match sid {
        Some(sid) if polls => {
            // The payload is drained from the queue into this response before it is returned.
            if let (Some(bytes), Some(backlog)) =
                (response.body().size_hint().exact(), backlogs.existing(sid))
            {
                backlog.release(bytes);
            }
        }
        Some(sid) if websocket && response.status() == StatusCode::SWITCHING_PROTOCOLS => {
            if let Some(outflow) = outflow {
                debug!(%sid, "session upgraded to WebSocket");
                outflow.carries(backlogs.of(sid));
            }
        }
        _ => {}
    }
    response
}

/// What `value` takes as JSON, without keeping the text.
pub(crate) fn wire_bytes(value: &impl serde::Serialize) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail; a type that fails to serialize is sent as nothing.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backlogs(per_socket: u64, total: u64) -> Backlogs {
        Backlogs::new(Bounds { per_socket, total })
    }

    #[test]
    fn a_socket_has_at_most_its_requests_under_way_and_an_ended_one_frees_its_place() {
        let s = backlogs(200, 2_000).of(Sid::new());
        let mut underway: Vec<Underway> = (0..REQUESTS_UNDER_WAY)
            .map(|_| s.start_request().expect("a place"))
            .collect();
        assert!(s.start_request().is_none());
        underway.pop();
        let again = s.start_request();
        assert!(again.is_some());
        assert!(s.start_request().is_none());
        drop((underway, again));
        assert_eq!(s.requests.load(Ordering::Acquire), 0);
    }

    #[test]
    fn a_socket_is_refused_over_its_bound_until_it_drains() {
        let b = backlogs(200, 2_000);
        let s = b.of(Sid::new());
        s.charge(60).unwrap();
        s.charge(40).unwrap();
        assert_eq!(s.charge(1), Err(Refused::Socket { queued: 100 }));
        s.release(30);
        s.charge(30).unwrap();
        assert_eq!(b.total(), 100);
    }

    #[test]
    fn a_write_releasing_bytes_as_they_are_charged_never_gets_a_charge_refused() {
        // A WebSocket's writes release what its socket has queued, from another thread, at
        // any moment: also between a charge's counting and its check of the total. The
        // bounds are far above what the charges add up to, so only a miscount refuses.
        let b = backlogs(1 << 40, 1 << 40);
        let s = b.of(Sid::new());
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (s, done) = (s.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    s.release(u64::MAX);
                }
            })
        };
        let refused: Vec<Refused> = (0..200_000)
            .filter_map(|_| s.charge(100).err())
            .take(3)
            .collect();
        done.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        assert_eq!(refused, []);
        s.release(u64::MAX);
        assert_eq!(b.total(), 0);
    }

    #[test]
    fn an_empty_socket_takes_one_answer_larger_than_its_bound() {
        let b = backlogs(200, 2_000);
        let s = b.of(Sid::new());
        s.charge(500).unwrap();
        assert!(s.charge(1).is_err());
    }

    #[test]
    fn all_sockets_together_are_bounded() {
        let b = backlogs(200, 500);
        let (one, two, three) = (b.of(Sid::new()), b.of(Sid::new()), b.of(Sid::new()));
        one.charge(100).unwrap();
        two.charge(100).unwrap();
        assert_eq!(three.charge(100), Err(Refused::Total { queued: 200 }));
        assert_eq!(three.queued(), 0, "a refused charge is not kept");
        assert_eq!(b.total(), 200);
        b.close(one_sid(&b, &one));
        three.charge(100).unwrap();
        assert_eq!(b.total(), 200);
    }

    fn one_sid(b: &Backlogs, backlog: &Arc<Backlog>) -> Sid {
        let sockets = b.inner.sockets.lock().unwrap();
        *sockets
            .iter()
            .find(|(_, v)| Arc::ptr_eq(v, backlog))
            .map(|(k, _)| k)
            .unwrap()
    }

    #[test]
    fn releases_never_go_below_zero_and_writes_drain_the_carried_session() {
        let b = backlogs(100, 1_000);
        let s = b.of(Sid::new());
        s.charge(50).unwrap();
        let outflow = Outflow::default();
        outflow.wrote(1_000); // before the upgrade: not this session's bytes
        assert_eq!(s.queued(), 50);
        outflow.carries(s.clone());
        outflow.wrote(20);
        assert_eq!(s.queued(), 30);
        outflow.wrote(1_000);
        assert_eq!((s.queued(), b.total()), (0, 0));
    }

    #[test]
    fn sessions_that_never_connected_are_swept() {
        let b = backlogs(100, 1_000);
        let stale = b.of(Sid::new());
        stale.charge(10).unwrap();
        let live = b.of(Sid::new());
        live.connected();
        b.sweep(Duration::ZERO);
        assert_eq!(b.sockets(), 1);
        assert_eq!(b.total(), 0);
    }

    #[test]
    fn the_session_comes_from_the_query() {
        let sid = Sid::new();
        let r = Request::builder()
            .uri(format!("/socket.io/?EIO=4&transport=websocket&sid={sid}"))
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(session_of(&r), (Some(sid), true));
        let r = Request::builder()
            .uri("/socket.io?EIO=4&transport=polling")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(session_of(&r), (None, false));
    }
}
