//! Outgoing webhooks that fail: a bystander posts steadily into its room, idle first, then
//! with many outgoing webhooks on that room pointing at a closed loopback port (the server
//! allows private addresses), so that every delivery fails and is retried through the queue.
//! Measures what that costs the bystander's acks.

use std::time::{Duration, Instant};

use app::events::{AdminJobs, CreateOutgoingWebhook, JobKind, JobState};

use crate::admin;
use crate::scenario::ScenarioError;
use crate::scenario::bystander::{self, Seen, Target};
use crate::servers::Server;

/// The bystanders' source addresses: 127.62.x.y.
const BYSTANDER_GROUP: u8 = 62;

#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) hooks: usize,
    /// How long the bystander posts before the hooks are made: its idle baseline.
    pub(crate) idle: Duration,
    /// How long it posts while they fail.
    pub(crate) window: Duration,
    pub(crate) bystander_rate: f64,
    pub(crate) patience: Duration,
}

/// What the window saw.
pub(crate) struct Failing {
    pub(crate) idle: Seen,
    pub(crate) during: Seen,
    /// The hooks' delivery jobs at the end, and how many of them had failed at least once.
    pub(crate) jobs: usize,
    pub(crate) failing_jobs: usize,
    /// Delivery attempts made in all, as the jobs count them.
    pub(crate) attempts: u64,
    /// Server CPU over the idle window and over the failing one, as a share of one core.
    pub(crate) idle_cpu: f64,
    pub(crate) failing_cpu: f64,
}

impl Failing {
    pub(crate) fn slowdown(&self) -> f64 {
        self.during.ack_p99_ms() / self.idle.ack_p99_ms().max(1e-3)
    }
}

/// A loopback port nothing listens on (it was free a moment ago).
fn closed_port() -> Result<u16, ScenarioError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| ScenarioError::Failed(format!("finding a closed port: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| ScenarioError::Failed(format!("finding a closed port: {e}")))?
        .port();
    drop(listener);
    Ok(port)
}

/// Runs the scenario on `server`, which allows private webhook addresses and whose admin
/// token is `token`.
pub(crate) async fn run(
    server: &Server,
    token: &str,
    plan: &Plan,
) -> Result<Failing, ScenarioError> {
    let admin = admin::connect(server.addr, token).await?;
    let bystanders = bystander::arrive(
        server.addr,
        1,
        Target::OwnRoom,
        BYSTANDER_GROUP,
        plan.patience,
    )
    .await?;
    let room = bystanders.room().to_owned();
    let cpu = server.cpu_seconds()?;
    let began = Instant::now();
    let sending = bystanders.start(plan.bystander_rate);
    tokio::time::sleep(plan.idle).await;
    let (idle, bystanders) = sending.pause().await;
    let idle_cpu = (server.cpu_seconds()? - cpu) / began.elapsed().as_secs_f64();

    let url = format!("http://127.0.0.1:{}/hook", closed_port()?);
    for _ in 0..plan.hooks {
        admin
            .request(CreateOutgoingWebhook {
                room: room.clone(),
                url: url.clone(),
            })
            .await?;
    }
    let cpu = server.cpu_seconds()?;
    let began = Instant::now();
    let sending = bystanders.start(plan.bystander_rate);
    tokio::time::sleep(plan.window).await;
    let during = sending.stop().await;
    let failing_cpu = (server.cpu_seconds()? - cpu) / began.elapsed().as_secs_f64();

    let jobs = admin.request(AdminJobs {}).await?;
    let deliveries: Vec<_> = jobs
        .jobs
        .iter()
        .filter(|j| j.kind == JobKind::Webhook)
        .collect();
    let failing_jobs = deliveries
        .iter()
        .filter(|j| j.state != JobState::Done && j.summary.is_some())
        .count();
    Ok(Failing {
        idle,
        during,
        jobs: deliveries.len(),
        failing_jobs,
        attempts: deliveries.iter().map(|j| u64::from(j.attempts)).sum(),
        idle_cpu,
        failing_cpu,
    })
}
