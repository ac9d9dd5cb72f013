//! Reconnect storm: a crowd of clients that hold catch-up cursors (the lobby and a room each,
//! having received some messages), a server restart (stopped as a deployment stops it, started
//! again on the same database and port), then every client back with the browser's backoff and
//! caught up, nothing lost or delivered twice; meanwhile bystanders keep sending.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use app::events::LOBBY;
use futures_util::{StreamExt, stream};
use tokio::sync::Semaphore;

use crate::client::own_ip;
use crate::cursor::{self, Handle, Shared, Stats};
use crate::scenario::bystander::{self, Seen, Target};
use crate::scenario::{CONNECTING_AT_ONCE, ScenarioError};
use crate::servers::{Restart, Server, cpu_seconds_of};

/// Source-address groups (127.<group>.x.y) of this scenario's clients.
const CLIENTS: u8 = 2;
const BYSTANDERS: u8 = 4;
const TALKERS: u8 = 5;

pub(crate) struct Plan {
    pub(crate) clients: usize,
    /// Each client is in the lobby and in one room of this many (0: the lobby only).
    pub(crate) room_size: usize,
    /// Messages in the lobby before the restart.
    pub(crate) lobby_messages: usize,
    /// Each client forgets up to this many of its newest messages per conversation before the
    /// restart (drawn at random), as if it had been away: its catch-up has that much to replay.
    pub(crate) forget: usize,
    /// Bystanders sending to a room of their own, and their rate in all (messages/s).
    pub(crate) bystanders: usize,
    pub(crate) bystander_rate: f64,
    /// Live lobby traffic during the storm (messages/s), which catch-ups must not lose or repeat.
    pub(crate) lobby_rate: f64,
    /// The bystanders send for at least this long after the restart, however soon the crowd
    /// is back, so that their ack latency has samples enough.
    pub(crate) min_window: Duration,
    /// How long the crowd may take to gather, and then to catch up after the restart.
    pub(crate) patience: Duration,
}

pub(crate) struct Storm {
    pub(crate) clients: usize,
    pub(crate) restart: Restart,
    /// Clients caught up again, and the seconds from the restart's start until the last did
    /// (`None` when some had not within the patience).
    pub(crate) caught_up: usize,
    pub(crate) all_caught_up: Option<f64>,
    pub(crate) stats: Stats,
    /// From the clients' final `sync`.
    pub(crate) lost: u64,
    pub(crate) recovered: u64,
    /// Clients that gave no final account (stopped, or no answer in time).
    pub(crate) unaccounted: usize,
    pub(crate) bystanders: Seen,
    /// Seconds from the restart's start until the bystanders were connected again.
    pub(crate) bystanders_back: f64,
    pub(crate) peak_rss: u64,
    /// The generator's CPU use during the storm, as a fraction of one core.
    pub(crate) generator_load: f64,
    pub(crate) gather_seconds: f64,
}

impl Storm {
    /// Every client caught up with nothing lost or delivered twice.
    pub(crate) fn complete(&self) -> bool {
        self.caught_up == self.clients
            && self.lost == 0
            && self.stats.doubled == 0
            && self.stats.missing_at_synced == 0
            && self.stats.gaps == 0
            && self.unaccounted == 0
    }
}

/// How long one client's setup request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the clients' final accounts may take, all together.
const ACCOUNTS_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `futures` a few at a time; the first error ends it.
async fn each<F>(futures: impl IntoIterator<Item = F>, what: &str) -> Result<(), ScenarioError>
where
    F: Future<Output = Result<(), String>>,
{
    let bounded = futures.into_iter().map(|f| async {
        tokio::time::timeout(REQUEST_TIMEOUT, f)
            .await
            .unwrap_or_else(|_| Err("no answer".into()))
    });
    let results: Vec<Result<(), String>> = stream::iter(bounded)
        .buffer_unordered(CONNECTING_AT_ONCE)
        .collect()
        .await;
    results
        .into_iter()
        .collect::<Result<(), String>>()
        .map_err(|e| ScenarioError::Failed(format!("{what}: {e}")))
}

async fn wait_for(
    count: impl Fn() -> usize,
    target: usize,
    patience: Duration,
) -> Result<(), usize> {
    let deadline = Instant::now() + patience;
    loop {
        let n = count();
        if n >= target {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(n);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn run(
    server: &mut Server,
    plan: &Plan,
    log: &dyn Fn(String),
) -> Result<Storm, ScenarioError> {
    let started = Instant::now();
    let shared = Arc::new(Shared::default());
    let tag = bystander::tag();
    let gate = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let mut clients: Vec<Handle> = Vec::with_capacity(plan.clients);
    for i in 0..plan.clients {
        let permit = gate
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ScenarioError::Failed(e.to_string()))?;
        clients.push(cursor::spawn(
            server.addr,
            own_ip(CLIENTS, i),
            format!("st{tag}x{i}"),
            shared.clone(),
            permit,
        ));
    }
    wait_for(
        || shared.ready.load(Ordering::Relaxed),
        plan.clients,
        plan.patience,
    )
    .await
    .map_err(|n| {
        ScenarioError::Failed(format!(
            "only {n} of {} clients connected in time",
            plan.clients
        ))
    })?;
    let rooms = if plan.room_size > 1 {
        (plan.clients / plan.room_size).max(1)
    } else {
        0
    };
    let room = |r: usize| format!("st{tag}r{r}");
    if rooms > 0 {
        each(
            clients[..rooms]
                .iter()
                .enumerate()
                .map(|(r, c)| c.create(room(r))),
            "creating rooms",
        )
        .await?;
        each(
            clients[rooms..]
                .iter()
                .enumerate()
                .map(|(i, c)| c.join(room((rooms + i) % rooms))),
            "joining rooms",
        )
        .await?;
        // After every join, so that each client's room history starts complete.
        each(
            clients
                .iter()
                .enumerate()
                .map(|(i, c)| c.follow(room(i % rooms))),
            "following rooms",
        )
        .await?;
    }
    bystander::seed(server.addr, LOBBY, plan.lobby_messages, 0).await?;
    each(
        clients.iter().map(|c| c.prepare(plan.forget)),
        "completing and trimming the clients' histories",
    )
    .await?;
    let gather_seconds = started.elapsed().as_secs_f64();
    log(format!(
        "  {} clients in the lobby and {rooms} rooms, {} lobby messages, gathered in {gather_seconds:.1} s",
        plan.clients, plan.lobby_messages
    ));
    // Let the gathering's aftermath (paced presence and counts) pass.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let own = std::process::id();
    let generator_before = cpu_seconds_of(own)?;
    let storm_began = Instant::now();
    shared.arm();
    let restart = server.restart().await?;
    log(format!(
        "  restarted: stopped in {:.2} s{}, listening {:.2} s after starting",
        restart.stopping.as_secs_f64(),
        if restart.killed { " (killed)" } else { "" },
        restart.starting.as_secs_f64()
    ));
    let bystanders = bystander::arrive(
        server.addr,
        plan.bystanders,
        Target::OwnRoom,
        BYSTANDERS,
        plan.patience,
    )
    .await?;
    let talkers = bystander::arrive(
        server.addr,
        1,
        Target::Room(LOBBY.to_owned()),
        TALKERS,
        plan.patience,
    )
    .await?;
    let bystanders_back = storm_began.elapsed().as_secs_f64();
    let sending = bystanders.start(plan.bystander_rate);
    let talking = talkers.start(plan.lobby_rate);
    let waited = wait_for(
        || shared.caught_up.load(Ordering::Relaxed),
        plan.clients,
        plan.patience.saturating_sub(storm_began.elapsed()),
    )
    .await;
    let storm_seconds = storm_began.elapsed().as_secs_f64();
    tokio::time::sleep_until((storm_began + plan.min_window).into()).await;
    let generator_load = (cpu_seconds_of(own)? - generator_before) / storm_seconds.max(1e-3);
    let bystanders = sending.stop().await;
    let talked = talking.stop().await;
    if talked.tally.failed > 0 || talked.unanswered() > 0 {
        log(format!(
            "  lobby traffic: {} sent, {} acked, {} refused, {} unanswered",
            talked.tally.sent,
            talked.tally.acked,
            talked.tally.failed,
            talked.unanswered()
        ));
    }
    let peak_rss = server.peak_rss()?;

    // Every client's account, after a last `sync` (a browser's on its next hole or head).
    let accounts_deadline = tokio::time::Instant::now() + ACCOUNTS_TIMEOUT;
    let accounts: Vec<Result<cursor::Report, String>> = stream::iter(clients.iter())
        .map(|c| async move {
            tokio::time::timeout_at(accounts_deadline, c.finish())
                .await
                .unwrap_or_else(|_| Err("no answer".into()))
        })
        .buffer_unordered(256)
        .collect()
        .await;
    drop(clients);
    let mut lost = 0;
    let mut recovered = 0;
    let mut unaccounted = 0;
    for a in accounts {
        match a {
            Ok(r) => {
                lost += r.lost;
                recovered += r.recovered;
            }
            Err(_) => unaccounted += 1,
        }
    }
    let stats = shared.stats();
    let caught_up = shared.caught_up.load(Ordering::Relaxed);
    Ok(Storm {
        clients: plan.clients,
        restart,
        caught_up,
        all_caught_up: waited.is_ok().then(|| stats.caught_up.max() as f64 / 1e6),
        stats,
        lost,
        recovered,
        unaccounted,
        bystanders,
        bystanders_back,
        peak_rss,
        generator_load,
        gather_seconds,
    })
}
