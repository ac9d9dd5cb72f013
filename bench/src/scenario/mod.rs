//! The scenarios, and what they share: connecting a crowd, publishing on an open-loop
//! schedule, and waiting for deliveries to drain.

pub(crate) mod attack;
pub(crate) mod bystander;
pub(crate) mod fanout;
pub(crate) mod frontend;
pub(crate) mod guests;
pub(crate) mod hooks;
pub(crate) mod idle;
pub(crate) mod import;
pub(crate) mod persist;
pub(crate) mod rooms;
pub(crate) mod storm;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream;

use crate::client::{self, Client, ClientError};
use crate::probe::{Probe, now_us};
use crate::recorder::{Recorder, Tally};
use crate::servers::{ServerError, cpu_seconds_of, cpu_seconds_of_tree};
use crate::services::ServiceError;

static NEXT_PUBLISHER: AtomicU32 = AtomicU32::new(0);

/// Connections opened at once while a crowd gathers.
pub(crate) const CONNECTING_AT_ONCE: usize = 64;

/// `count` fresh publisher ids, the first returned: receivers' sequence tracking from an
/// earlier step must not mistake a new publisher's first messages for repeats.
pub(crate) fn next_publishers(count: usize) -> u32 {
    NEXT_PUBLISHER.fetch_add(count as u32, Ordering::Relaxed)
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ScenarioError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("{0}")]
    Failed(String),
}

/// Connects `count` named clients, `name(i)` for the i-th, spread over the source addresses.
/// The first failure ends it.
pub(crate) async fn gather(
    server: SocketAddr,
    count: usize,
    name: impl Fn(usize) -> String,
    recorder: &Arc<Recorder>,
) -> Result<Vec<Client>, ClientError> {
    let names: Vec<String> = (0..count).map(name).collect();
    let results: Vec<Result<Client, ClientError>> = stream::iter(names.into_iter().enumerate())
        .map(|(i, name)| {
            client::connect(server, client::source_ip(i), Some(name), recorder.clone())
        })
        .buffered(CONNECTING_AT_ONCE)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Runs `requests` with at most [`CONNECTING_AT_ONCE`] in flight; the first failure ends it.
pub(crate) async fn all<F>(requests: impl IntoIterator<Item = F>) -> Result<(), ClientError>
where
    F: std::future::Future<Output = Result<(), ClientError>>,
{
    let results: Vec<Result<(), ClientError>> = stream::iter(requests)
        .buffer_unordered(CONNECTING_AT_ONCE)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Who publishes where in an open-loop run: send `k` goes to `publishers[k % len]`.
pub(crate) struct Publisher<'a> {
    pub(crate) client: &'a Client,
    pub(crate) room: String,
}

/// Whose CPU time a step counts: the servers' processes, and apart from them the services
/// they use (Redis, Postgres), each with its child processes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Watched {
    pub(crate) servers: Vec<u32>,
    pub(crate) services: Vec<u32>,
}

impl Watched {
    /// One server and nothing else.
    pub(crate) fn server(pid: u32) -> Watched {
        Watched {
            servers: vec![pid],
            services: Vec::new(),
        }
    }

    /// CPU seconds so far: the servers', the services'.
    fn cpu_seconds(&self) -> Result<(f64, f64), ServerError> {
        let mut servers = 0.0;
        for &pid in &self.servers {
            servers += cpu_seconds_of(pid)?;
        }
        let mut services = 0.0;
        for &pid in &self.services {
            services += cpu_seconds_of_tree(pid)?;
        }
        Ok((servers, services))
    }
}

/// What one measured step saw.
pub(crate) struct Step {
    /// What every client saw.
    pub(crate) tally: Tally,
    /// What each server's clients saw, in the order of the recorders given.
    pub(crate) by_server: Vec<Tally>,
    /// Deliveries that should have arrived: every send times its room's size.
    pub(crate) expected: u64,
    /// Server CPU seconds from the first send until the deliveries drained (every server's).
    pub(crate) server_cpu: f64,
    /// The services' CPU seconds over the same time.
    pub(crate) service_cpu: f64,
    /// The generator's CPU use while publishing, as a fraction of one core.
    pub(crate) generator_load: f64,
}

impl Step {
    pub(crate) fn missing(&self) -> u64 {
        self.expected
            .saturating_sub(self.tally.received - self.tally.duplicates)
    }

    /// Every message delivered once, in order, and every send acknowledged.
    pub(crate) fn complete(&self) -> bool {
        self.missing() == 0
            && self.tally.failed == 0
            && self.tally.duplicates == 0
            && self.tally.dropped == 0
            && self.tally.acked == self.tally.sent
    }

    pub(crate) fn p99_ms(&self) -> f64 {
        self.tally.latency.quantile(0.99) as f64 / 1000.0
    }

    /// Server CPU microseconds per delivery.
    pub(crate) fn cpu_us_per_delivery(&self) -> f64 {
        self.server_cpu * 1e6 / self.delivered() as f64
    }

    /// The services' CPU microseconds per delivery.
    pub(crate) fn service_cpu_us_per_delivery(&self) -> f64 {
        self.service_cpu * 1e6 / self.delivered() as f64
    }

    fn delivered(&self) -> u64 {
        (self.tally.received - self.tally.duplicates).max(1)
    }

    /// The generator spent most of a core: what it measured is a lower bound.
    pub(crate) fn generator_bound(&self) -> bool {
        saturated(self.generator_load)
    }
}

/// Whether the generator, at `load` (a fraction of one core), was the limit of what it
/// measured, rather than the server.
pub(crate) fn saturated(load: f64) -> bool {
    load > 0.9
}

/// Publishes `rate` messages per second for `seconds`, round-robin over `publishers`, on a
/// fixed schedule that does not wait for the server (open loop), then waits up to `drain` for
/// the deliveries. `room_size` is how many members receive each message; `recorders` are
/// where the clients record (one per server, when there are several).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn publish_open_loop(
    publishers: &[Publisher<'_>],
    room_size: u64,
    rate: f64,
    seconds: f64,
    drain: Duration,
    recorders: &[Arc<Recorder>],
    watched: &Watched,
) -> Result<Step, ScenarioError> {
    for r in recorders {
        r.take();
    }
    let first_id = next_publishers(publishers.len());
    let total = (rate * seconds).round() as u64;
    let mut seqs = vec![0u64; publishers.len()];
    let own = std::process::id();
    let cpu_before = watched.cpu_seconds()?;
    let gen_before = cpu_seconds_of(own)?;
    // A moment's head start so the first sends are not late by construction.
    let start = Instant::now() + Duration::from_millis(50);
    let start_us = now_us() + 50_000;
    let interval_us = 1e6 / rate;
    for k in 0..total {
        let offset_us = (k as f64 * interval_us) as u64;
        tokio::time::sleep_until((start + Duration::from_micros(offset_us)).into()).await;
        let p = (k % publishers.len() as u64) as usize;
        seqs[p] += 1;
        let probe = Probe {
            publisher: first_id + p as u32,
            seq: seqs[p],
            scheduled_us: start_us + offset_us,
        };
        publishers[p].client.post(&publishers[p].room, probe, None);
    }
    let publishing = start.elapsed().as_secs_f64().max(1e-3);
    let generator_load = (cpu_seconds_of(own)? - gen_before) / publishing;
    let expected = total * room_size;
    let deadline = Instant::now() + drain;
    loop {
        let mut t = Tally::default();
        for r in recorders {
            t.merge(&r.snapshot());
        }
        let done = t.received - t.duplicates >= expected && t.acked + t.failed >= t.sent;
        if done || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cpu_after = watched.cpu_seconds()?;
    let by_server: Vec<Tally> = recorders.iter().map(|r| r.take()).collect();
    let mut tally = Tally::default();
    for t in &by_server {
        tally.merge(t);
    }
    Ok(Step {
        tally,
        by_server,
        expected,
        server_cpu: cpu_after.0 - cpu_before.0,
        service_cpu: cpu_after.1 - cpu_before.1,
        generator_load,
    })
}

/// Waits for `tasks` for up to `patience`, then aborts those still running (one stuck on a
/// write the server never reads must not hold the run up).
pub(crate) async fn join_within(tasks: Vec<tokio::task::JoinHandle<()>>, patience: Duration) {
    let deadline = tokio::time::Instant::now() + patience;
    for t in tasks {
        let abort = t.abort_handle();
        if tokio::time::timeout_at(deadline, t).await.is_err() {
            abort.abort();
        }
    }
}

/// Milliseconds, for the table.
pub(crate) fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}
