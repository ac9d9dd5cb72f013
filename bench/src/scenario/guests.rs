//! Connection storm: a crowd of guests arriving within a second, each connecting as the
//! Socket.IO tutorial's client does (`auth: {serverOffset: 0}`), so each is sent the lobby's
//! newest messages (up to the catch-up window) at once; meanwhile bystanders keep sending.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::client::{CONNECT_TIMEOUT, Connection, Output};
use app::events::{LOBBY, MAX_REPLAY, Main, MainAuth};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{now_ms, open_ws, own_ip};
use crate::cursor::delivery;
use crate::histogram::Histogram;
use crate::scenario::ScenarioError;
use crate::scenario::bystander::{self, Seen, Target};
use crate::servers::{Server, cpu_seconds_of};

/// Source-address groups (127.<group>.x.y).
const GUESTS: u8 = 6;
const BYSTANDERS: u8 = 4;

pub(crate) struct Plan {
    pub(crate) guests: usize,
    /// The guests' arrivals are spread evenly over this.
    pub(crate) within: Duration,
    /// Messages in the lobby before they arrive.
    pub(crate) lobby_messages: usize,
    pub(crate) bystanders: usize,
    pub(crate) bystander_rate: f64,
    /// How long the guests may take to receive their replay.
    pub(crate) patience: Duration,
}

pub(crate) struct GuestStorm {
    pub(crate) guests: usize,
    /// Messages each guest should be replayed.
    pub(crate) expected: usize,
    pub(crate) full_replays: usize,
    pub(crate) missing: u64,
    /// Replayed messages that repeated or went back (ids must rise).
    pub(crate) doubled: u64,
    /// Guests whose connection failed or was closed.
    pub(crate) failed: usize,
    /// From a guest's scheduled arrival to its last replayed message, per guest.
    pub(crate) replay_time: Histogram,
    /// From the first arrival until every guest had its replay (`None`: some never did).
    pub(crate) all_replayed: Option<f64>,
    pub(crate) bystanders: Seen,
    pub(crate) rss_before: u64,
    pub(crate) peak_rss: u64,
    pub(crate) generator_load: f64,
}

impl GuestStorm {
    pub(crate) fn complete(&self) -> bool {
        self.full_replays == self.guests && self.missing == 0 && self.doubled == 0
    }
}

#[derive(Default)]
struct Shared {
    full: AtomicUsize,
    failed: AtomicUsize,
    missing: AtomicU64,
    doubled: AtomicU64,
    times: Mutex<Histogram>,
    /// When the last guest to finish its replay did.
    last: Mutex<Option<Instant>>,
}

pub(crate) async fn run(server: &Server, plan: &Plan) -> Result<GuestStorm, ScenarioError> {
    bystander::seed(server.addr, LOBBY, plan.lobby_messages, 0).await?;
    let bystanders = bystander::arrive(
        server.addr,
        plan.bystanders,
        Target::OwnRoom,
        BYSTANDERS,
        Duration::from_secs(10),
    )
    .await?;
    let expected = plan.lobby_messages.min(MAX_REPLAY);
    let rss_before = server.rss()?;
    let sending = bystanders.start(plan.bystander_rate);
    let own = std::process::id();
    let generator_before = cpu_seconds_of(own)?;
    let shared = Arc::new(Shared::default());
    let (stop, stopped) = watch::channel(false);
    let first = Instant::now() + Duration::from_millis(100);
    let spacing = plan.within.as_secs_f64() / plan.guests.max(1) as f64;
    let tasks: Vec<_> = (0..plan.guests)
        .map(|i| {
            let at = first + Duration::from_secs_f64(spacing * i as f64);
            tokio::spawn(guest(
                server.addr,
                own_ip(GUESTS, i),
                at,
                expected,
                shared.clone(),
                stopped.clone(),
            ))
        })
        .collect();
    let deadline = first + plan.within + plan.patience;
    while Instant::now() < deadline
        && shared.full.load(Ordering::Relaxed) + shared.failed.load(Ordering::Relaxed) < plan.guests
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all_done = Instant::now();
    let generator_load = (cpu_seconds_of(own)? - generator_before)
        / all_done.duration_since(first).as_secs_f64().max(1e-3);
    let bystanders = sending.stop().await;
    let peak_rss = server.peak_rss()?;
    let _ = stop.send(true);
    crate::scenario::join_within(tasks, Duration::from_secs(10)).await;
    let full_replays = shared.full.load(Ordering::Relaxed);
    let replay_time = shared
        .times
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Ok(GuestStorm {
        guests: plan.guests,
        expected,
        full_replays,
        missing: shared.missing.load(Ordering::Relaxed),
        doubled: shared.doubled.load(Ordering::Relaxed),
        failed: shared.failed.load(Ordering::Relaxed),
        all_replayed: (full_replays == plan.guests)
            .then(|| *shared.last.lock().unwrap_or_else(|e| e.into_inner()))
            .flatten()
            .map(|last| last.saturating_duration_since(first).as_secs_f64()),
        replay_time,
        bystanders,
        rss_before,
        peak_rss,
        generator_load,
    })
}

async fn guest(
    server: SocketAddr,
    source: std::net::Ipv4Addr,
    at: Instant,
    expected: usize,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    tokio::time::sleep_until(at.into()).await;
    let timeout = Duration::from_millis(CONNECT_TIMEOUT as u64);
    let Ok(Ok(mut ws)) = tokio::time::timeout(timeout, open_ws(server, source)).await else {
        shared.failed.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let mut conn = Connection::new();
    let main = conn.add_namespace::<Main>();
    conn.handle_connecting(now_ms());
    // `{"serverOffset":0}`: the tutorial client's auth, asking for the lobby's newest messages.
    let auth = MainAuth::default();
    let mut received = 0usize;
    let mut last_id = 0i64;
    let mut failed = false;
    'session: loop {
        let deadline = conn.next_deadline().map(|d| {
            tokio::time::Instant::now() + Duration::from_millis((d - now_ms()).max(0.0) as u64)
        });
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => match delivery(&text) {
                    Some((_, _, id)) => {
                        if id <= last_id {
                            shared.doubled.fetch_add(1, Ordering::Relaxed);
                        } else {
                            last_id = id;
                            received += 1;
                            if received == expected {
                                let took = at.elapsed().as_micros() as u64;
                                shared.times.lock().unwrap_or_else(|e| e.into_inner()).record(took);
                                shared.full.fetch_add(1, Ordering::Relaxed);
                                let mut last = shared.last.lock().unwrap_or_else(|e| e.into_inner());
                                *last = Some(last.map_or(Instant::now(), |l| l.max(Instant::now())));
                            }
                        }
                    }
                    None => conn.handle_frame(&text, now_ms()),
                },
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    failed = true;
                    break 'session;
                }
            },
            _ = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            } => conn.handle_timeout(now_ms()),
            _ = stop.changed() => break 'session,
        }
        while let Some(out) = conn.poll_output() {
            match out {
                Output::Send(frame) => {
                    let _ = ws.feed(Message::text(frame)).await;
                }
                Output::Opened if conn.connect(main, &auth).is_err() => {
                    failed = true;
                    break 'session;
                }
                Output::ConnectError(..) | Output::Disconnected(_) | Output::CloseTransport => {
                    failed = true;
                    break 'session;
                }
                _ => {}
            }
        }
        if ws.flush().await.is_err() {
            failed = true;
            break;
        }
    }
    if failed && received < expected {
        shared.failed.fetch_add(1, Ordering::Relaxed);
    }
    shared
        .missing
        .fetch_add(expected.saturating_sub(received) as u64, Ordering::Relaxed);
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
}
