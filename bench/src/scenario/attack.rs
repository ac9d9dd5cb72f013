//! What an attack costs everyone else: one unauthenticated attack at a time on a fresh server,
//! while bystanders keep sending and `/healthz` is asked every quarter second. Reported: the
//! bystanders' ack latency, whether `/healthz` kept answering, and the server's peak resident
//! memory (`VmHWM`).
//!
//! - `history`: one WebSocket client asks for `history` pages (100 long messages each) as fast
//!   as it can and never reads its socket, so every answer piles up in the server.
//! - `polling`: Engine.IO polling sessions that each connect the namespace as the tutorial's
//!   client does (`40{"serverOffset":0}`, a replay of the lobby) and are never polled again.
//! - `idle`: TCP connections that never send a byte.
//! - `slowloris`: TCP connections that send a request's head one line every few seconds.
//!
//! A guard stops an attack early when the server's memory passes a limit, so that a server
//! without bounds cannot take the machine down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use app::client::{Connection, Output};
use app::events::{
    Event as _, History, LOBBY, MAX_HISTORY_LIMIT, MAX_MESSAGE_CHARS, Main, MainAuth,
};
use futures_util::{SinkExt, StreamExt, stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::sync::Mutex as AsyncMutex;
use tokio::task::JoinHandle;
use tokio_tungstenite::client_async_with_config;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::client::{now_ms, own_ip};
use crate::histogram::Histogram;
use crate::raw;
use crate::scenario::bystander::{self, Seen, Target};
use crate::scenario::{CONNECTING_AT_ONCE, ScenarioError};
use crate::servers::Server;

/// Source-address groups (127.<group>.x.y): each attacking connection has an address of its
/// own, so that what is measured is the server's timeouts and bounds, not a per-address limit.
const ATTACKERS: u8 = 7;
const BYSTANDERS: u8 = 4;
const PROBE: u8 = 9;

/// How often `/healthz` is asked, and how long an answer may take.
const HEALTH_EVERY: Duration = Duration::from_millis(250);
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the `history` attacker answers pings it never read (a pong is never checked
/// against its ping), so that the heartbeat does not end the attack for the server.
const BLIND_PONG_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attack {
    History,
    Polling,
    Idle,
    Slowloris,
}

impl Attack {
    pub(crate) const ALL: [Attack; 4] = [
        Attack::History,
        Attack::Polling,
        Attack::Idle,
        Attack::Slowloris,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Attack::History => "history",
            Attack::Polling => "polling",
            Attack::Idle => "idle",
            Attack::Slowloris => "slowloris",
        }
    }

    /// Whether the Node reference has what the attack uses (it has no `history`).
    pub(crate) fn applies_to_node(self) -> bool {
        self != Attack::History
    }
}

pub(crate) struct Plan {
    /// `history`: the lobby's long messages, and the most requests sent.
    pub(crate) long_messages: usize,
    pub(crate) history_requests: usize,
    /// `polling`: the sessions, and the lobby's messages each is replayed.
    pub(crate) polling_sessions: usize,
    pub(crate) lobby_messages: usize,
    /// `idle` and `slowloris`: the connections, and the pause between slowloris's lines.
    pub(crate) connections: usize,
    pub(crate) header_every: Duration,
    /// How long each attack is held, once under way.
    pub(crate) hold: Duration,
    pub(crate) bystanders: usize,
    pub(crate) bystander_rate: f64,
    /// The attack stops early when the server's resident memory passes this (bytes).
    pub(crate) rss_guard: u64,
}

pub(crate) struct Outcome {
    pub(crate) rss_before: u64,
    pub(crate) peak_rss: u64,
    /// Resident memory at the end of the hold, before the attack let go.
    pub(crate) rss_end: u64,
    /// Whether the memory guard stopped it early.
    pub(crate) guarded: bool,
    pub(crate) bystanders: Seen,
    pub(crate) health: Health,
    /// What the attacker achieved: requests sent, sessions or connections opened.
    pub(crate) opened: usize,
    /// Connections the server still held at the end of the hold (`idle`, `slowloris`), or
    /// whether it had closed the attacker's (`history`: 0 or 1).
    pub(crate) still_open: usize,
}

/// `/healthz` while the attack went on.
#[derive(Default, Clone)]
pub(crate) struct Health {
    pub(crate) asked: u64,
    pub(crate) answered: u64,
    pub(crate) latency: Histogram,
}

/// Samples the server's memory; trips when it passes the limit.
struct Guard {
    tripped: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Guard {
    fn watch(server: &Server, limit: u64) -> Guard {
        let tripped = Arc::new(AtomicBool::new(false));
        let pid = server.pid();
        let task = tokio::spawn({
            let tripped = tripped.clone();
            async move {
                loop {
                    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
                        .ok()
                        .and_then(|s| {
                            s.lines()
                                .find_map(|l| l.strip_prefix("VmRSS:"))
                                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                        })
                        .unwrap_or(0)
                        * 1024;
                    if rss > limit {
                        tripped.store(true, Ordering::Relaxed);
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        });
        Guard { tripped, task }
    }

    fn tripped(&self) -> bool {
        self.tripped.load(Ordering::Relaxed)
    }

    /// Until `deadline`, or until it trips.
    async fn hold_until(&self, deadline: Instant) {
        while Instant::now() < deadline && !self.tripped() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Asks `/healthz` on a fixed schedule until aborted.
fn probe_health(server: SocketAddr, health: Arc<AsyncMutex<Health>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HEALTH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let health = health.clone();
            // Each on its own, so a hung probe does not delay the next.
            tokio::spawn(async move {
                let began = Instant::now();
                let answer = raw::request(
                    server,
                    own_ip(PROBE, 0),
                    "GET",
                    "/healthz",
                    None,
                    HEALTH_TIMEOUT,
                )
                .await;
                let mut h = health.lock().await;
                h.asked += 1;
                if matches!(answer, Ok(a) if a.status == 200) {
                    h.answered += 1;
                    h.latency.record(began.elapsed().as_micros() as u64);
                }
            });
        }
    })
}

pub(crate) async fn run(
    server: &Server,
    attack: Attack,
    plan: &Plan,
) -> Result<Outcome, ScenarioError> {
    match attack {
        Attack::History => {
            bystander::seed(server.addr, LOBBY, plan.long_messages, MAX_MESSAGE_CHARS).await?
        }
        Attack::Polling => bystander::seed(server.addr, LOBBY, plan.lobby_messages, 0).await?,
        Attack::Idle | Attack::Slowloris => {}
    }
    let bystanders = bystander::arrive(
        server.addr,
        plan.bystanders,
        Target::OwnRoom,
        BYSTANDERS,
        Duration::from_secs(10),
    )
    .await?;
    let rss_before = server.rss()?;
    let guard = Guard::watch(server, plan.rss_guard);
    let health = Arc::new(AsyncMutex::new(Health::default()));
    let prober = probe_health(server.addr, health.clone());
    let sending = bystanders.start(plan.bystander_rate);
    let result = match attack {
        Attack::History => history(server, plan, &guard).await,
        Attack::Polling => polling(server, plan, &guard).await,
        Attack::Idle | Attack::Slowloris => held(server, plan, &guard, attack).await,
    };
    prober.abort();
    let bystanders = sending.stop().await;
    let (opened, still_open, rss_end) = result?;
    let health = health.lock().await.clone();
    Ok(Outcome {
        rss_before,
        peak_rss: server.peak_rss()?,
        rss_end,
        guarded: guard.tripped(),
        bystanders,
        health,
        opened,
        still_open,
    })
}

/// (opened, still open, RSS at the end of the hold).
type Held = Result<(usize, usize, u64), ScenarioError>;

/// One client asking for `history` pages and never reading what comes back.
async fn history(server: &Server, plan: &Plan, guard: &Guard) -> Held {
    let socket = TcpSocket::new_v4().map_err(|e| ScenarioError::Failed(e.to_string()))?;
    socket
        .bind(SocketAddr::from((own_ip(ATTACKERS, 0), 0)))
        .map_err(|e| ScenarioError::Failed(e.to_string()))?;
    // A small receive window, so that what the server sends backs up into it quickly.
    let _ = socket.set_recv_buffer_size(4096);
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
    let config = WebSocketConfig::default().write_buffer_size(0);
    let handshake = async {
        let tcp = socket
            .connect(server.addr)
            .await
            .map_err(|e| e.to_string())?;
        client_async_with_config(url, tcp, Some(config))
            .await
            .map_err(|e| e.to_string())
    };
    let (mut ws, _) = tokio::time::timeout(Duration::from_secs(10), handshake)
        .await
        .unwrap_or_else(|_| Err("no answer".into()))
        .map_err(|e| ScenarioError::Failed(format!("the history attacker's handshake: {e}")))?;
    // Read only until the namespace is connected: a guest with empty cursors, so the lobby's
    // catch-up (all of its messages) is the first thing to pile up unread.
    let mut conn = Connection::new();
    let main = conn.add_namespace::<Main>();
    let auth = MainAuth {
        since: Some(Default::default()),
        ..MainAuth::default()
    };
    let connected = async {
        loop {
            let Some(Ok(Message::Text(text))) = ws.next().await else {
                return false;
            };
            conn.handle_frame(&text, now_ms());
            while let Some(out) = conn.poll_output() {
                let fine = match out {
                    Output::Opened => conn.connect(main, &auth).is_ok(),
                    Output::Send(frame) => ws.send(Message::text(frame)).await.is_ok(),
                    Output::Connected(_) => return true,
                    Output::ConnectError(..) | Output::CloseTransport => false,
                    _ => true,
                };
                if !fine {
                    return false;
                }
            }
        }
    };
    if !tokio::time::timeout(Duration::from_secs(10), connected)
        .await
        .unwrap_or(false)
    {
        return Err(ScenarioError::Failed(
            "the history attacker could not connect".into(),
        ));
    }
    let deadline = Instant::now() + plan.hold;
    let mut sent = 0;
    let mut closed = false;
    let mut last_pong = Instant::now();
    while sent < plan.history_requests && Instant::now() < deadline && !guard.tripped() {
        let frame = if last_pong.elapsed() >= BLIND_PONG_EVERY {
            last_pong = Instant::now();
            "3".to_owned()
        } else {
            sent += 1;
            format!(
                r#"42{sent}["{}",{{"room":"{LOBBY}","limit":{MAX_HISTORY_LIMIT}}}]"#,
                History::NAME
            )
        };
        // A send that cannot go out (the server stopped reading) waits for the deadline.
        match tokio::time::timeout_at(deadline.into(), ws.send(Message::text(frame))).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                closed = true;
                break;
            }
            Err(_) => break,
        }
    }
    // The answers keep piling up after the last request; hold on for the rest of the time.
    guard.hold_until(deadline).await;
    let rss_end = server.rss()?;
    Ok((sent, usize::from(!closed), rss_end))
}

/// Polling sessions that connect the namespace and are never polled again.
async fn polling(server: &Server, plan: &Plan, guard: &Guard) -> Held {
    let addr = server.addr;
    let opened = AtomicUsize::new(0);
    let deadline = Instant::now() + plan.hold;
    let open_one = |i: usize| {
        let opened = &opened;
        async move {
            if guard.tripped() || Instant::now() >= deadline {
                return;
            }
            let source = own_ip(ATTACKERS, i);
            let timeout = Duration::from_secs(10);
            let path = "/socket.io/?EIO=4&transport=polling";
            let Ok(open) = raw::request(addr, source, "GET", path, None, timeout).await else {
                return;
            };
            let Some(sid) = open
                .body
                .split_once(r#""sid":""#)
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(sid, _)| sid.to_owned())
            else {
                return;
            };
            let path = format!("{path}&sid={sid}");
            let body = r#"40{"serverOffset":0}"#;
            if let Ok(a) = raw::request(addr, source, "POST", &path, Some(body), timeout).await
                && a.status == 200
            {
                opened.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
    stream::iter(0..plan.polling_sessions)
        .for_each_concurrent(CONNECTING_AT_ONCE, open_one)
        .await;
    guard.hold_until(deadline).await;
    let rss_end = server.rss()?;
    Ok((opened.load(Ordering::Relaxed), 0, rss_end))
}

/// Connections that send nothing (`idle`) or a request's head a line at a time (`slowloris`).
async fn held(server: &Server, plan: &Plan, guard: &Guard, attack: Attack) -> Held {
    let open = Arc::new(AtomicUsize::new(0));
    let opened = Arc::new(AtomicUsize::new(0));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let slow = attack == Attack::Slowloris;
    let every = plan.header_every;
    let addr = server.addr;
    let tasks: Vec<JoinHandle<()>> = (0..plan.connections)
        .map(|i| {
            let (open, opened, mut stopped) = (open.clone(), opened.clone(), stopped.clone());
            tokio::spawn(async move {
                let Ok(Ok(mut tcp)) =
                    tokio::time::timeout(Duration::from_secs(10), raw::tcp(addr, own_ip(ATTACKERS, i)))
                        .await
                else {
                    return;
                };
                opened.fetch_add(1, Ordering::Relaxed);
                open.fetch_add(1, Ordering::Relaxed);
                if slow {
                    let head = format!("GET / HTTP/1.1\r\nHost: {addr}\r\n");
                    let _ = tcp.write_all(head.as_bytes()).await;
                }
                let mut tick = tokio::time::interval_at((Instant::now() + every).into(), every);
                let mut buf = [0u8; 1024];
                let mut n = 0u64;
                loop {
                    tokio::select! {
                        read = tcp.read(&mut buf) => match read {
                            // Whatever the server says (a 408, say), it is gone when it closes.
                            Ok(0) | Err(_) => break,
                            Ok(_) => {}
                        },
                        _ = tick.tick(), if slow => {
                            n += 1;
                            if tcp.write_all(format!("X-Slow-{n}: 1\r\n").as_bytes()).await.is_err() {
                                break;
                            }
                        }
                        _ = stopped.changed() => return,
                    }
                }
                open.fetch_sub(1, Ordering::Relaxed);
            })
        })
        .collect();
    guard.hold_until(Instant::now() + plan.hold).await;
    let still_open = open.load(Ordering::Relaxed);
    let rss_end = server.rss()?;
    let _ = stop.send(true);
    crate::scenario::join_within(tasks, Duration::from_secs(10)).await;
    Ok((opened.load(Ordering::Relaxed), still_open, rss_end))
}
