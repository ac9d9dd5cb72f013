//! Idle memory: the server's resident memory as idle connections pile up, held by separate
//! generator processes (each process may open at most 20,000 files), and the server's CPU use
//! while they only exchange heartbeats.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::recorder::Recorder;
use crate::scenario::{ScenarioError, gather};
use crate::servers::Server;

/// Resident memory with `connections` held.
pub(crate) struct Level {
    pub(crate) connections: usize,
    pub(crate) rss: u64,
}

pub(crate) struct Idle {
    /// With no connection first, then each level.
    pub(crate) levels: Vec<Level>,
    /// Connections the server closed while held.
    pub(crate) dropped: u64,
    /// Server CPU while holding the most, as a fraction of one core.
    pub(crate) idle_cpu: f64,
    /// Frames the server sent the connections while they were held (connect, announcements,
    /// heartbeats), and the longest: what an idle connection's buffers had to hold.
    pub(crate) frames: u64,
    pub(crate) largest_frame: usize,
}

impl Idle {
    /// Bytes per connection between the first and the last level.
    pub(crate) fn slope(&self) -> f64 {
        let (Some(first), Some(last)) = (self.levels.get(1), self.levels.last()) else {
            return 0.0;
        };
        (last.rss as f64 - first.rss as f64) / (last.connections - first.connections).max(1) as f64
    }
}

struct Holder {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

async fn settle_and_measure(server: &Server, settle: Duration) -> Result<u64, ScenarioError> {
    tokio::time::sleep(settle).await;
    Ok(server.rss()?)
}

pub(crate) async fn run(
    server: &Server,
    levels: &[usize],
    settle: Duration,
    cpu_window: Duration,
) -> Result<Idle, ScenarioError> {
    let me = std::env::current_exe().map_err(|e| ScenarioError::Failed(e.to_string()))?;
    let mut result = vec![Level {
        connections: 0,
        rss: settle_and_measure(server, settle).await?,
    }];
    let mut holders = Vec::new();
    let mut held = 0;
    for &level in levels {
        let holder = spawn_holder(&me, server, held, level - held, holders.len()).await?;
        holders.push(holder);
        held = level;
        result.push(Level {
            connections: level,
            rss: settle_and_measure(server, settle).await?,
        });
    }
    // Idle means after the arrivals' aftermath (room lists, paced presence) has passed.
    tokio::time::sleep(settle * 3).await;
    let before = server.cpu_seconds()?;
    tokio::time::sleep(cpu_window).await;
    let idle_cpu = (server.cpu_seconds()? - before) / cpu_window.as_secs_f64();
    let (mut dropped, mut frames, mut largest_frame) = (0, 0, 0);
    for mut h in holders {
        if let Some(mut stdin) = h.child.stdin.take() {
            let _ = stdin.write_all(b"stop\n").await;
        }
        while let Ok(Some(line)) = h.lines.next_line().await {
            if let Some(n) = line.strip_prefix("dropped ") {
                dropped += n.trim().parse::<u64>().unwrap_or(0);
            } else if let Some(n) = line.strip_prefix("frames ") {
                frames += n.trim().parse::<u64>().unwrap_or(0);
            } else if let Some(n) = line.strip_prefix("largest ") {
                largest_frame = largest_frame.max(n.trim().parse::<usize>().unwrap_or(0));
            }
        }
        let _ = h.child.wait().await;
    }
    Ok(Idle {
        levels: result,
        dropped,
        idle_cpu,
        frames,
        largest_frame,
    })
}

async fn spawn_holder(
    me: &Path,
    server: &Server,
    first: usize,
    count: usize,
    index: usize,
) -> Result<Holder, ScenarioError> {
    let mut child = Command::new(me)
        .args(["hold", "--server", &server.addr.to_string()])
        .args(["--count", &count.to_string(), "--first", &first.to_string()])
        .args(["--prefix", &format!("idle{index}x")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ScenarioError::Failed(format!("starting a holder: {e}")))?;
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    match lines.next_line().await {
        Ok(Some(line)) if line.starts_with("ready") => Ok(Holder { child, lines }),
        other => Err(ScenarioError::Failed(format!(
            "a holder of {count} connections failed: {other:?}"
        ))),
    }
}

/// The `hold` subcommand: opens `count` connections, says `ready`, holds them until told to
/// stop (a line on stdin, or its end), then says how many the server dropped meanwhile, how
/// many frames they received, and the longest.
pub(crate) async fn hold(
    server: std::net::SocketAddr,
    first: usize,
    count: usize,
    prefix: &str,
) -> Result<(), ScenarioError> {
    let recorder = Arc::new(Recorder::default());
    let clients = gather(
        server,
        count,
        |i| format!("{prefix}{}", first + i),
        &recorder,
    )
    .await?;
    println!("ready {}", clients.len());
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let _ = stdin.next_line().await;
    let tally = recorder.snapshot();
    println!("dropped {}", tally.dropped);
    println!("frames {}", tally.other_frames);
    println!("largest {}", tally.largest_frame);
    drop(clients);
    Ok(())
}
