//! Fan-out: one room with many receivers, publishers posting at rising rates. The knee is the
//! highest rate at which every message reaches every receiver with p99 under 50 ms. The same
//! room then serves the latency scenario, at fixed fractions of a rate.

use std::sync::Arc;
use std::time::Duration;

use crate::client::Client;
use crate::recorder::Recorder;
use crate::scenario::{Publisher, ScenarioError, Step, Watched, all, gather, publish_open_loop};
use crate::servers::Server;

const ROOM: &str = "fanout";
/// Latency bound of a step that counts as keeping up.
pub(crate) const KNEE_P99_MS: f64 = 50.0;

pub(crate) struct Room {
    clients: Vec<Client>,
    publishers: usize,
    /// One per server, in the servers' order: each records its own clients.
    recorders: Vec<Arc<Recorder>>,
    watched: Watched,
}

/// `receivers` members in one room; the first `publishers` of them also publish.
pub(crate) async fn gather_room(
    server: &Server,
    receivers: usize,
    publishers: usize,
) -> Result<Room, ScenarioError> {
    gather_room_on(&[server], receivers, publishers).await
}

/// [`gather_room`] over several servers (nodes of one chat): the members split evenly, the
/// first share (publishers among them) on the first server. Each server's share joins the
/// room through that server.
pub(crate) async fn gather_room_on(
    servers: &[&Server],
    receivers: usize,
    publishers: usize,
) -> Result<Room, ScenarioError> {
    let mut clients = Vec::with_capacity(receivers);
    let mut recorders = Vec::with_capacity(servers.len());
    for (n, server) in servers.iter().enumerate() {
        let first = n * receivers / servers.len();
        let count = (n + 1) * receivers / servers.len() - first;
        let recorder = Arc::new(Recorder::default());
        clients.extend(
            gather(
                server.addr,
                count,
                |i| format!("fan{}", first + i),
                &recorder,
            )
            .await?,
        );
        recorders.push(recorder);
    }
    clients[0].create_room(ROOM).await?;
    all(clients[1..].iter().map(|c| c.join_room(ROOM))).await?;
    for r in &recorders {
        r.take();
    }
    Ok(Room {
        clients,
        publishers,
        recorders,
        watched: Watched {
            servers: servers.iter().map(|s| s.pid()).collect(),
            services: Vec::new(),
        },
    })
}

impl Room {
    /// Also counts the CPU time of these services (Redis, Postgres) in each step, apart.
    pub(crate) fn watching(mut self, services: Vec<u32>) -> Room {
        self.watched.services = services;
        self
    }

    /// An unmeasured step first: a just-started server (Node's JIT above all) is slower for
    /// its first seconds than it will be, and the first measured rate should not pay for that.
    pub(crate) async fn warm_up(&self, rate: f64, seconds: f64) -> Result<(), ScenarioError> {
        self.step(rate, seconds).await.map(drop)
    }

    pub(crate) async fn step(&self, rate: f64, seconds: f64) -> Result<Step, ScenarioError> {
        let publishers: Vec<Publisher> = self.clients[..self.publishers]
            .iter()
            .map(|client| Publisher {
                client,
                room: ROOM.to_owned(),
            })
            .collect();
        publish_open_loop(
            &publishers,
            self.clients.len() as u64,
            rate,
            seconds,
            Duration::from_secs(5),
            &self.recorders,
            &self.watched,
        )
        .await
    }
}

/// The knee search's outcome.
pub(crate) struct Knee {
    /// The highest passing rate (messages per second) and its step; `None` when even the
    /// lowest rate failed.
    pub(crate) best: Option<(f64, Step)>,
    /// The first failing rate, when one was reached.
    pub(crate) failed_at: Option<f64>,
    /// Whether the lowest rate delivered every message once, in order. A knee missed on
    /// latency alone is a figure for the table; a loss at the lowest rate is a fault.
    pub(crate) lowest_complete: bool,
    /// The knee of every ladder climbed, in the order they ran (0: none passed).
    pub(crate) ladders: Vec<f64>,
}

impl Knee {
    fn rate(&self) -> f64 {
        self.best.as_ref().map_or(0.0, |(rate, _)| *rate)
    }
}

/// Climbs the ladder `ladders` times on the same room and keeps the median knee.
///
/// One ladder's knee moved between runs of the same build by up to 2× (a 5 s step fails on
/// one stall of this virtual machine), so one climb says little; the median of three and
/// their spread say more.
pub(crate) async fn median_knee(
    room: &Room,
    rates: &[f64],
    seconds: f64,
    ladders: usize,
    log: &dyn Fn(String),
) -> Result<Knee, ScenarioError> {
    let mut knees = Vec::with_capacity(ladders);
    for n in 1..=ladders.max(1) {
        if ladders > 1 {
            log(format!("  ladder {n} of {ladders}"));
        }
        knees.push(knee(room, rates, seconds, log).await?);
    }
    let climbed: Vec<f64> = knees.iter().map(Knee::rate).collect();
    let every_lowest_complete = knees.iter().all(|k| k.lowest_complete);
    knees.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
    let mut median = knees.swap_remove(knees.len() / 2);
    median.ladders = climbed;
    median.lowest_complete = every_lowest_complete;
    Ok(median)
}

fn passes(step: &Step) -> bool {
    step.complete() && step.p99_ms() < KNEE_P99_MS
}

/// Climbs `rates` until a step fails, then bisects once between the last pass and the failure.
pub(crate) async fn knee(
    room: &Room,
    rates: &[f64],
    seconds: f64,
    log: &dyn Fn(String),
) -> Result<Knee, ScenarioError> {
    room.warm_up(rates[0], seconds).await?;
    let mut best: Option<(f64, Step)> = None;
    let mut failed_at = None;
    let mut lowest_complete = None;
    for &rate in rates {
        let step = room.step(rate, seconds).await?;
        lowest_complete.get_or_insert(step.complete());
        let pass = passes(&step);
        log(describe(rate, &step, pass));
        if pass {
            best = Some((rate, step));
        } else {
            failed_at = Some(rate);
            break;
        }
    }
    if let (Some((low, _)), Some(high)) = (&best, failed_at) {
        let mid = ((low + high) / 2.0).round();
        if mid > *low && mid < high {
            let step = room.step(mid, seconds).await?;
            let pass = passes(&step);
            log(describe(mid, &step, pass));
            if pass {
                best = Some((mid, step));
            } else {
                failed_at = Some(mid);
            }
        }
    }
    let mut knee = Knee {
        best,
        failed_at,
        lowest_complete: lowest_complete.unwrap_or(false),
        ladders: Vec::new(),
    };
    knee.ladders.push(knee.rate());
    Ok(knee)
}

pub(crate) fn describe(rate: f64, step: &Step, pass: bool) -> String {
    // Several servers: each one's receivers' p99.
    let nodes: String = if step.by_server.len() > 1 {
        let p99s: Vec<String> = step
            .by_server
            .iter()
            .map(|t| format!("{:.1}", t.latency.quantile(0.99) as f64 / 1000.0))
            .collect();
        format!(" (per node {} ms)", p99s.join(", "))
    } else {
        String::new()
    };
    format!(
        "  {rate:>6.0} msg/s: {} sent {} acked {} missing {} dup {} reord, p50 {:.1} p99 {:.1}{nodes} max {:.1} ms, server {:.2} µs/delivery, generator {:.0}% {}",
        step.tally.sent,
        step.tally.acked,
        step.missing(),
        step.tally.duplicates,
        step.tally.reordered,
        step.tally.latency.quantile(0.5) as f64 / 1000.0,
        step.p99_ms(),
        step.tally.latency.max() as f64 / 1000.0,
        step.cpu_us_per_delivery(),
        step.generator_load * 100.0,
        if pass { "ok" } else { "FAIL" },
    )
}
