//! Front end: what a first visit downloads, how long the server takes to render the page with
//! 50 messages, and how long a headless Chromium takes from navigation to hydrated and
//! connected. The browser half is `bench/node/frontend.mjs`; this seeds the messages (Palaver's
//! page shows the lobby's; the floor's page has its own) and runs it.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::probe::{Probe, now_us};
use crate::recorder::Recorder;
use crate::scenario::{ScenarioError, gather};
use crate::servers::Server;

/// The room the page shows first.
const LOBBY: &str = app::events::LOBBY;

pub(crate) async fn run(
    server: &Server,
    node_dir: &Path,
    pkg_dir: &Path,
    seed: u64,
    runs: usize,
) -> Result<serde_json::Value, ScenarioError> {
    if seed > 0 {
        seed_lobby(server, seed).await?;
    }
    let output = tokio::process::Command::new("node")
        .arg(node_dir.join("frontend.mjs"))
        .args(["--url", &format!("http://{}", server.addr)])
        .arg("--pkg")
        .arg(pkg_dir)
        .args(["--runs", &runs.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .await
        .map_err(|e| ScenarioError::Failed(format!("running frontend.mjs: {e}")))?;
    if !output.status.success() {
        return Err(ScenarioError::Failed(format!(
            "frontend.mjs failed: {}",
            output.status
        )));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| ScenarioError::Failed(format!("frontend.mjs printed no JSON: {e}")))
}

async fn seed_lobby(server: &Server, messages: u64) -> Result<(), ScenarioError> {
    let recorder = Arc::new(Recorder::default());
    let clients = gather(server.addr, 1, |_| "seeder".to_owned(), &recorder).await?;
    for seq in 1..=messages {
        let (done, acked) = oneshot::channel();
        let probe = Probe {
            publisher: 0,
            seq,
            scheduled_us: now_us(),
        };
        clients[0].post(LOBBY, probe, Some(done));
        if !acked.await.unwrap_or(false) {
            return Err(ScenarioError::Failed("seeding a message failed".into()));
        }
    }
    Ok(())
}
