//! The servers under test, as child processes: started fresh for each measurement on a free
//! port, optionally pinned to a core, and read from `/proc` for memory and CPU time.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

#[derive(Debug, thiserror::Error)]
pub(crate) enum ServerError {
    #[error("starting {what}: {error}")]
    Spawn { what: String, error: std::io::Error },
    #[error("{0} did not start listening")]
    NotListening(String),
    #[error("reading /proc/{pid}: {error}")]
    Proc { pid: u32, error: std::io::Error },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Palaver,
    Node,
}

impl Kind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Palaver => "Palaver",
            Kind::Node => "Node",
        }
    }
}

/// Where the servers come from.
#[derive(Debug, Clone)]
pub(crate) struct Binaries {
    pub(crate) palaver: PathBuf,
    pub(crate) site_root: PathBuf,
    pub(crate) node_dir: PathBuf,
}

/// How to start one server.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub(crate) kind: Kind,
    /// The core to pin it to; `None` lets it use every core.
    pub(crate) core: Option<usize>,
    /// Node only: store messages in SQLite as Palaver does.
    pub(crate) persist: bool,
}

pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    child: Child,
    pid: u32,
    _dir: TempDir,
}

/// A scratch directory for one server's database, removed when the server is.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Server {
    pub(crate) async fn start(bins: &Binaries, launch: &Launch) -> Result<Server, ServerError> {
        let spawn_err = |error| ServerError::Spawn {
            what: launch.kind.label().to_owned(),
            error,
        };
        let port = free_port().map_err(spawn_err)?;
        let dir = std::env::temp_dir().join(format!("palaver-bench-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).map_err(spawn_err)?;
        let dir = TempDir(dir);
        let (program, args, envs) = match launch.kind {
            Kind::Palaver => (
                bins.palaver.clone(),
                vec!["--addr".to_owned(), format!("127.0.0.1:{port}")],
                vec![
                    (
                        "DATABASE_URL",
                        format!("sqlite://{}", dir.0.join("bench.db").display()),
                    ),
                    ("LEPTOS_SITE_ROOT", bins.site_root.display().to_string()),
                    // Flood control is per person; the benchmark's publishers are deliberately
                    // faster than any person.
                    ("PALAVER_RATE_LIMIT", "0".to_owned()),
                    // Every generated client connects from 127.0.0.1, each under a new name.
                    ("PALAVER_NAME_LIMIT", "off".to_owned()),
                    // Quiet unless asked: logging every event would be measured too.
                    (
                        "RUST_LOG",
                        std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "error".into()),
                    ),
                ],
            ),
            Kind::Node => {
                let mut args = vec![
                    bins.node_dir.join("server.mjs").display().to_string(),
                    "--port".to_owned(),
                    port.to_string(),
                ];
                if launch.persist {
                    args.push("--persist".to_owned());
                    args.push(dir.0.join("bench.db").display().to_string());
                }
                (PathBuf::from("node"), args, vec![])
            }
        };
        let mut command = match launch.core {
            Some(core) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(core.to_string()).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        command
            .args(&args)
            .envs(envs)
            .stdin(Stdio::null())
            // Readiness is seen by connecting. Its output (errors only, unless
            // BENCH_SERVER_LOG says more) goes to stderr, away from the table.
            .stdout(std::io::stderr())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let child = command.spawn().map_err(spawn_err)?;
        let pid = child.id().unwrap_or(0);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let server = Server {
            addr,
            child,
            pid,
            _dir: dir,
        };
        for _ in 0..600 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(ServerError::NotListening(launch.kind.label().to_owned()))
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Resident memory, in bytes.
    pub(crate) fn rss(&self) -> Result<u64, ServerError> {
        let status = read_proc(self.pid, "status")?;
        let kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        Ok(kb * 1024)
    }

    /// CPU time used so far (user and system), in seconds.
    pub(crate) fn cpu_seconds(&self) -> Result<f64, ServerError> {
        cpu_seconds_of(self.pid)
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

fn read_proc(pid: u32, file: &str) -> Result<String, ServerError> {
    std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join(file))
        .map_err(|error| ServerError::Proc { pid, error })
}

/// CPU seconds of process `pid` (the generator passes its own).
pub(crate) fn cpu_seconds_of(pid: u32) -> Result<f64, ServerError> {
    let stat = read_proc(pid, "stat")?;
    // Fields after the parenthesised command name, which may itself contain spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are the 14th and 15th fields of the whole line: 12th and 13th here.
    Ok((ticks(11) + ticks(12)) / CLOCK_TICKS)
}

/// `getconf CLK_TCK`: 100 on every Linux this runs on.
const CLOCK_TICKS: f64 = 100.0;
