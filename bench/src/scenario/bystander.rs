//! Bystanders: a few people who keep sending on a fixed schedule while something else happens
//! to the server (a restart, a storm of connections, an attack). Their acks say how the server
//! treats everyone else meanwhile. Also the seeding of a room with messages before a scenario.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::client::{self, Client};
use crate::probe::{Probe, now_us};
use crate::recorder::{Recorder, Tally};
use crate::scenario::{ScenarioError, all, next_publishers};

/// Messages one person may send in a burst under Palaver's shipped flood control (10 a
/// second, bursts of 10): seeders send no more than that each, bystanders stay under the rate.
const BURST: usize = 10;
/// How long, after the last send, unanswered acks are waited for.
const ACK_DRAIN: Duration = Duration::from_secs(10);
/// How long a connection, or a request's answer, may take while setting up.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

/// `f`, or a failure after [`SETUP_TIMEOUT`].
async fn bounded<T>(
    what: &str,
    f: impl Future<Output = Result<T, crate::client::ClientError>>,
) -> Result<T, ScenarioError> {
    match tokio::time::timeout(SETUP_TIMEOUT, f).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(ScenarioError::Failed(format!(
            "{what}: no answer within {SETUP_TIMEOUT:?}"
        ))),
    }
}

/// A short random tag, so that names stay unique across the runs on one database.
pub(crate) fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// Where the bystanders send.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A room of their own, created by the first of them: their acks measure the server's
    /// responsiveness, without fan-out.
    OwnRoom,
    /// An existing room everyone is in (the lobby): live traffic for others to receive.
    Room(String),
}

pub(crate) struct Bystanders {
    clients: Vec<Client>,
    room: String,
    recorder: Arc<Recorder>,
}

/// Connects `people` named bystanders (each from an address of its own in `group`), trying
/// again for up to `patience` while the server does not answer.
pub(crate) async fn arrive(
    server: SocketAddr,
    people: usize,
    target: Target,
    group: u8,
    patience: Duration,
) -> Result<Bystanders, ScenarioError> {
    let recorder = Arc::new(Recorder::default());
    let prefix = format!("by{}x", tag());
    let deadline = Instant::now() + patience;
    let mut clients = Vec::with_capacity(people);
    for i in 0..people.max(1) {
        let name = format!("{prefix}{i}");
        let client = loop {
            let attempt = client::connect(
                server,
                client::own_ip(group, i),
                Some(name.clone()),
                recorder.clone(),
            );
            match bounded("a bystander's connection", attempt).await {
                Ok(c) => break c,
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        clients.push(client);
    }
    let room = match target {
        Target::Room(room) => room,
        Target::OwnRoom => {
            let room = format!("by{}", tag());
            bounded(
                "creating the bystanders' room",
                clients[0].create_room(&room),
            )
            .await?;
            let joins = all(clients[1..].iter().map(|c| c.join_room_owned(room.clone())));
            bounded("joining the bystanders' room", joins).await?;
            room
        }
    };
    recorder.take();
    Ok(Bystanders {
        clients,
        room,
        recorder,
    })
}

/// Bystanders sending; [`Sending::stop`] ends it.
pub(crate) struct Sending {
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
    bystanders: Bystanders,
}

/// What the bystanders saw.
pub(crate) struct Seen {
    pub(crate) tally: Tally,
}

impl Seen {
    pub(crate) fn ack_p99_ms(&self) -> f64 {
        self.tally.ack.quantile(0.99) as f64 / 1000.0
    }

    /// Sends neither acknowledged nor refused.
    pub(crate) fn unanswered(&self) -> u64 {
        self.tally
            .sent
            .saturating_sub(self.tally.acked + self.tally.failed)
    }
}

impl Bystanders {
    /// The room they send to.
    pub(crate) fn room(&self) -> &str {
        &self.room
    }

    /// Sends `rate` messages a second in all, round-robin over the bystanders, on a fixed
    /// schedule (open loop: a server that falls behind shows as ack latency).
    pub(crate) fn start(self, rate: f64) -> Sending {
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let task = tokio::spawn({
            let (stop, clients, room) = (stop.clone(), self.clients.clone(), self.room.clone());
            async move {
                let first_id = next_publishers(clients.len());
                let mut seqs = vec![0u64; clients.len()];
                let start_us = now_us();
                let interval_us = 1e6 / rate.max(0.1);
                for k in 0u64.. {
                    let offset_us = (k as f64 * interval_us) as u64;
                    tokio::time::sleep_until((started + Duration::from_micros(offset_us)).into())
                        .await;
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let p = (k % clients.len() as u64) as usize;
                    seqs[p] += 1;
                    let probe = Probe {
                        publisher: first_id + p as u32,
                        seq: seqs[p],
                        scheduled_us: start_us + offset_us,
                    };
                    clients[p].post(&room, probe, None);
                }
            }
        });
        Sending {
            stop,
            task,
            bystanders: self,
        }
    }
}

impl Sending {
    /// Stops sending, waits (a while) for the outstanding acks, and says what was seen.
    pub(crate) async fn stop(self) -> Seen {
        self.pause().await.0
    }

    /// [`Sending::stop`], keeping the bystanders connected for another round of sending.
    pub(crate) async fn pause(self) -> (Seen, Bystanders) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        let recorder = &self.bystanders.recorder;
        let deadline = Instant::now() + ACK_DRAIN;
        while Instant::now() < deadline {
            let t = recorder.snapshot();
            if t.acked + t.failed >= t.sent || t.dropped > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let seen = Seen {
            tally: recorder.take(),
        };
        (seen, self.bystanders)
    }
}

/// Posts `count` messages of `chars` characters each to `room` (which every client may post
/// to: the lobby), from named seeders that stay within a burst each.
pub(crate) async fn seed(
    server: SocketAddr,
    room: &str,
    count: usize,
    chars: usize,
) -> Result<(), ScenarioError> {
    let recorder = Arc::new(Recorder::default());
    let seeders = count.div_ceil(BURST);
    let prefix = format!("sd{}x", tag());
    let clients = bounded(
        "connecting the seeders",
        crate::scenario::gather(server, seeders, |i| format!("{prefix}{i}"), &recorder),
    )
    .await?;
    let first_id = next_publishers(seeders);
    let sends = clients.iter().enumerate().map(|(i, client)| {
        let first_id = first_id + i as u32;
        let mine = BURST.min(count.saturating_sub(i * BURST));
        async move {
            for seq in 1..=mine as u64 {
                let (done, acked) = oneshot::channel();
                let probe = Probe {
                    publisher: first_id,
                    seq,
                    scheduled_us: now_us(),
                };
                client.post_long(room, probe, chars, Some(done));
                let acked = tokio::time::timeout(SETUP_TIMEOUT, acked).await;
                if !matches!(acked, Ok(Ok(true))) {
                    return Err(crate::client::ClientError::Request(format!(
                        "seeding message {seq} of seeder {i} failed"
                    )));
                }
            }
            Ok(())
        }
    });
    all(sends).await?;
    Ok(())
}
