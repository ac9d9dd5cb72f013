//! Persisted sends: concurrent senders, each posting to a room of its own and waiting for the
//! ack before the next send (closed loop). Measures how many acknowledged, stored messages per
//! second the server sustains, not fan-out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::probe::{Probe, now_us};
use crate::recorder::{Recorder, Tally};
use crate::scenario::{ScenarioError, all, gather, saturated};
use crate::servers::{Server, cpu_seconds_of, cpu_seconds_of_tree};

pub(crate) struct Persisted {
    pub(crate) tally: Tally,
    pub(crate) seconds: f64,
    /// The server's CPU seconds while the senders ran.
    pub(crate) server_cpu: f64,
    /// The CPU seconds of the services it uses (Postgres) over the same time.
    pub(crate) service_cpu: f64,
    /// The generator's CPU seconds per second while the senders ran (1.0: a whole core).
    pub(crate) generator_load: f64,
}

impl Persisted {
    pub(crate) fn acked_per_second(&self) -> f64 {
        self.tally.acked as f64 / self.seconds
    }

    /// Server CPU microseconds per acknowledged message.
    pub(crate) fn cpu_us_per_ack(&self) -> f64 {
        self.server_cpu * 1e6 / self.tally.acked.max(1) as f64
    }

    /// The services' CPU microseconds per acknowledged message.
    pub(crate) fn service_cpu_us_per_ack(&self) -> f64 {
        self.service_cpu * 1e6 / self.tally.acked.max(1) as f64
    }

    /// The generator spent most of a core: the rate it measured is a lower bound.
    pub(crate) fn generator_bound(&self) -> bool {
        saturated(self.generator_load)
    }
}

/// Closed-loop sends to `server`; `services` are the processes (each with its children) of
/// the services it uses, whose CPU time is counted apart.
pub(crate) async fn run(
    server: &Server,
    services: &[u32],
    senders: usize,
    seconds: f64,
) -> Result<Persisted, ScenarioError> {
    let recorder = Arc::new(Recorder::default());
    let clients = gather(server.addr, senders, |i| format!("snd{i}"), &recorder).await?;
    all(clients
        .iter()
        .enumerate()
        .map(|(i, c)| c.create_room_owned(format!("own{i}"))))
    .await?;
    recorder.take();
    let own = std::process::id();
    let server_before = server.cpu_seconds()?;
    let services_before = services_cpu(services)?;
    let generator_before = cpu_seconds_of(own)?;
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let loops = clients.iter().enumerate().map(|(i, client)| async move {
        let room = format!("own{i}");
        let mut seq = 0;
        while Instant::now() < until {
            seq += 1;
            let (done, acked) = oneshot::channel();
            let probe = Probe {
                publisher: i as u32,
                seq,
                scheduled_us: now_us(),
            };
            client.post(&room, probe, Some(done));
            if !acked.await.unwrap_or(false) {
                break;
            }
        }
    });
    futures_util::future::join_all(loops).await;
    let seconds = started.elapsed().as_secs_f64();
    let server_cpu = server.cpu_seconds()? - server_before;
    let service_cpu = services_cpu(services)? - services_before;
    let generator_load = (cpu_seconds_of(own)? - generator_before) / seconds;
    // A refused send (the server's answer to a client that reads too slowly, say) ends its
    // sender's loop and is counted; it is not a loss: the client was told.
    let tally = recorder.take();
    Ok(Persisted {
        tally,
        seconds,
        server_cpu,
        service_cpu,
        generator_load,
    })
}

fn services_cpu(pids: &[u32]) -> Result<f64, ScenarioError> {
    let mut total = 0.0;
    for &pid in pids {
        total += cpu_seconds_of_tree(pid)?;
    }
    Ok(total)
}
