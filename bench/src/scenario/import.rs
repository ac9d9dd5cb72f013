//! An import under load: a Slack export ([`crate::slack_export`]) uploaded to `POST /imports`
//! with the admin token and followed on `/admin` until its job ends, while a bystander keeps
//! posting. Measures the import's rate (messages stored over the time from the upload's first
//! byte to the job's `finishedAt`), the server's memory over what it held before the upload,
//! and the bystander's acks, idle first and then during the import.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use app::events::{AdminJobs, JobInfo, JobState};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::admin::{self, AdminClient};
use crate::probe::now_us;
use crate::raw;
use crate::scenario::ScenarioError;
use crate::scenario::bystander::{self, Seen, Target};
use crate::servers::{Server, cpu_seconds_of_tree};

/// How often the job is looked at.
const FOLLOW_EVERY: Duration = Duration::from_millis(250);
/// The bystanders' source addresses: 127.61.x.y.
const BYSTANDER_GROUP: u8 = 61;

/// How big the import is, and how the bystander behaves.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) shape: crate::slack_export::Shape,
    /// How long the bystander posts before the upload: its idle baseline.
    pub(crate) idle: Duration,
    /// The bystander's messages a second.
    pub(crate) bystander_rate: f64,
    /// How long the upload and the import may take together.
    pub(crate) patience: Duration,
}

/// What one import did.
pub(crate) struct Imported {
    /// Messages in the archive.
    pub(crate) messages: u64,
    pub(crate) archive_bytes: u64,
    /// The job as it ended.
    pub(crate) job: JobInfo,
    /// Messages its summary says were stored (`None` when it says no number).
    pub(crate) stored: Option<u64>,
    /// From the upload's first byte to its `202`.
    pub(crate) upload_seconds: f64,
    /// From the job's creation (the archive stored) to its end.
    pub(crate) job_seconds: f64,
    /// From the upload's first byte to the job's end.
    pub(crate) total_seconds: f64,
    pub(crate) rss_before: u64,
    /// The server's highest RSS by the end of the import (`VmHWM`).
    pub(crate) peak_rss: u64,
    /// Server CPU seconds over the upload and the import.
    pub(crate) server_cpu: f64,
    /// The database's CPU seconds meanwhile (Postgres: its processes), when it is one.
    pub(crate) service_cpu: f64,
    pub(crate) idle: Seen,
    pub(crate) during: Seen,
}

impl Imported {
    /// Messages stored a second, upload included.
    pub(crate) fn per_second(&self) -> f64 {
        self.stored.unwrap_or(0) as f64 / self.total_seconds.max(1e-3)
    }

    pub(crate) fn extra_rss(&self) -> u64 {
        self.peak_rss.saturating_sub(self.rss_before)
    }

    /// The job is done and says it stored every message, none refused or in error.
    pub(crate) fn complete(&self) -> bool {
        self.job.state == JobState::Done
            && self.stored == Some(self.messages)
            && self
                .job
                .summary
                .as_deref()
                .is_some_and(|s| !s.contains("error") && !s.contains("refused"))
    }

    /// The bystander's ack p99 during the import over its idle one.
    pub(crate) fn slowdown(&self) -> f64 {
        self.during.ack_p99_ms() / self.idle.ack_p99_ms().max(1e-3)
    }
}

/// The number an import's summary starts with (`"N message(s) imported…"`).
pub(crate) fn stored_of(summary: &str) -> Option<u64> {
    let (n, rest) = summary.split_once(' ')?;
    rest.starts_with("message(s) imported")
        .then(|| n.parse().ok())
        .flatten()
}

/// Runs the import of `archive` (made with `plan.shape`) on `server`, whose admin token is
/// `token`; `services` are the database's processes, when it is a service of its own.
pub(crate) async fn run(
    server: &Server,
    token: &str,
    archive: &Path,
    plan: &Plan,
    services: &[u32],
) -> Result<Imported, ScenarioError> {
    let archive_bytes = std::fs::metadata(archive)
        .map_err(|e| ScenarioError::Failed(format!("the archive: {e}")))?
        .len();
    let admin = admin::connect(server.addr, token).await?;
    let bystanders = bystander::arrive(
        server.addr,
        1,
        Target::OwnRoom,
        BYSTANDER_GROUP,
        plan.patience,
    )
    .await?;
    let sending = bystanders.start(plan.bystander_rate);
    tokio::time::sleep(plan.idle).await;
    let (idle, bystanders) = sending.pause().await;

    let rss_before = server.rss()?;
    let cpu_before = server.cpu_seconds()?;
    let services_before = services_cpu(services)?;
    let sending = bystanders.start(plan.bystander_rate);
    let began = Instant::now();
    let began_ms = (now_us() / 1000) as i64;
    let uploaded = upload(server.addr, token, archive, archive_bytes, plan.patience).await;
    let upload_seconds = began.elapsed().as_secs_f64();
    let followed = match uploaded {
        Ok(id) => follow(&admin, id, began + plan.patience).await,
        Err(e) => Err(e),
    };
    let during = sending.stop().await;
    let job = followed?;
    let server_cpu = server.cpu_seconds()? - cpu_before;
    let service_cpu = services_cpu(services)? - services_before;
    let peak_rss = server.peak_rss()?;
    let finished = job.finished_at.unwrap_or(job.updated_at);
    Ok(Imported {
        messages: plan.shape.messages(),
        archive_bytes,
        stored: job.summary.as_deref().and_then(stored_of),
        upload_seconds,
        job_seconds: (finished - job.created_at) as f64 / 1000.0,
        total_seconds: (finished - began_ms) as f64 / 1000.0,
        job,
        rss_before,
        peak_rss,
        server_cpu,
        service_cpu,
        idle,
        during,
    })
}

fn services_cpu(pids: &[u32]) -> Result<f64, ScenarioError> {
    let mut total = 0.0;
    for &pid in pids {
        total += cpu_seconds_of_tree(pid)?;
    }
    Ok(total)
}

/// `POST /imports?format=slack` with the archive as the body, streamed from its file, and the
/// admin token (a moderator's import): the job's id.
async fn upload(
    server: SocketAddr,
    token: &str,
    archive: &Path,
    bytes: u64,
    patience: Duration,
) -> Result<i64, ScenarioError> {
    let failed = |what: &str, e: std::io::Error| ScenarioError::Failed(format!("{what}: {e}"));
    let exchange = async {
        let mut file = tokio::fs::File::open(archive)
            .await
            .map_err(|e| failed("opening the archive", e))?;
        let mut stream = raw::tcp(server, std::net::Ipv4Addr::LOCALHOST)
            .await
            .map_err(|e| failed("connecting", e))?;
        let head = format!(
            "POST /imports?format=slack&name=bench.zip HTTP/1.1\r\nHost: {server}\r\n\
             Authorization: Bearer {token}\r\nContent-Type: application/zip\r\n\
             Content-Length: {bytes}\r\nConnection: close\r\n\r\n"
        );
        stream
            .write_all(head.as_bytes())
            .await
            .map_err(|e| failed("uploading", e))?;
        tokio::io::copy(&mut file, &mut stream)
            .await
            .map_err(|e| failed("uploading", e))?;
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .await
            .map_err(|e| failed("reading the answer", e))?;
        Ok::<_, ScenarioError>(String::from_utf8_lossy(&answer).into_owned())
    };
    let answer = tokio::time::timeout(patience, exchange)
        .await
        .map_err(|_| ScenarioError::Failed(format!("the upload took over {patience:?}")))??;
    let status = answer.get(9..12).unwrap_or("");
    let body = answer
        .find('{')
        .zip(answer.rfind('}'))
        .and_then(|(a, b)| answer.get(a..=b))
        .unwrap_or("");
    let job = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["job"].as_i64());
    match (status, job) {
        ("202", Some(job)) => Ok(job),
        _ => Err(ScenarioError::Failed(format!(
            "the upload was answered {status}: {body}"
        ))),
    }
}

/// Looks at job `id` on `/admin` until it ends (done or dead), or until `deadline`.
pub(crate) async fn follow(
    admin: &AdminClient,
    id: i64,
    deadline: Instant,
) -> Result<JobInfo, ScenarioError> {
    loop {
        let jobs = admin.request(AdminJobs {}).await?;
        let job = jobs.jobs.into_iter().find(|j| j.id == id);
        match job {
            Some(job) if job.state.is_final() => return Ok(job),
            seen if Instant::now() >= deadline => {
                return Err(ScenarioError::Failed(format!(
                    "job {id} had not ended by the deadline: {}",
                    seen.map_or("not listed".to_owned(), |j| format!(
                        "{}, {} of {:?}",
                        j.state.as_str(),
                        j.done,
                        j.total
                    ))
                )));
            }
            _ => tokio::time::sleep(FOLLOW_EVERY).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_stored_is_read_from_the_summary() {
        assert_eq!(stored_of("1000 message(s) imported"), Some(1000));
        assert_eq!(
            stored_of("12 message(s) imported, 3 already there, 2 room(s) made"),
            Some(12)
        );
        assert_eq!(stored_of("the archive is not a readable ZIP file"), None);
    }
}
