//! The servers under test, as child processes: started fresh for each measurement on a free
//! port, optionally pinned to a core, read from `/proc` for memory and CPU time, and restarted
//! in place (same database, same port) for the reconnect storm.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// How long a stopped server may take to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long a started server may take to listen.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(30);

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
    /// `palaver-bare`: socketioxide with Palaver's engine settings and nothing else.
    Bare,
    /// `bench/floor-leptos`'s server: a minimal hydrated Leptos page and its assets.
    Floor,
}

impl Kind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Palaver => "Palaver",
            Kind::Node => "Node",
            Kind::Bare => "bare socketioxide",
            Kind::Floor => "minimal Leptos page",
        }
    }
}

/// Where the servers come from.
#[derive(Debug, Clone)]
pub(crate) struct Binaries {
    pub(crate) palaver: PathBuf,
    pub(crate) bare: PathBuf,
    pub(crate) site_root: PathBuf,
    pub(crate) node_dir: PathBuf,
    /// The built minimal Leptos page (`bench/floor-leptos/build.sh`): its server and `pkg/`.
    pub(crate) floor_site: Option<PathBuf>,
    /// Extra environment for every Palaver started (`NAME=value`), after the suite's own, so
    /// it can override them: settings under test, such as a memory bound.
    pub(crate) palaver_env: Vec<(String, String)>,
}

/// How to start one server.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub(crate) kind: Kind,
    /// The core to pin it to; `None` lets it use every core.
    pub(crate) core: Option<usize>,
    /// Node only: store messages in SQLite as Palaver does.
    pub(crate) persist: bool,
    /// Palaver only: keep the shipped flood control. The throughput scenarios turn it off
    /// (their publishers are faster than any person); the hostile-load scenarios keep it, since
    /// it is part of what they measure.
    pub(crate) flood_control: bool,
    /// Palaver only: its database (`postgres://…`) instead of a fresh SQLite file.
    pub(crate) database: Option<String>,
    /// One of several nodes: Palaver's `PALAVER_REDIS_URL`, the Node reference's `REDIS_URL`
    /// (its `@socket.io/redis-adapter`).
    pub(crate) redis: Option<String>,
    /// Palaver only: its admin token (`PALAVER_ADMIN_TOKEN`), for the scenarios that use
    /// `/admin` and `POST /imports` as a moderator.
    pub(crate) admin_token: Option<String>,
    /// Palaver only: let outgoing webhooks reach loopback (`PALAVER_WEBHOOKS_ALLOW_PRIVATE`).
    pub(crate) webhooks_allow_private: bool,
}

impl Launch {
    pub(crate) fn new(kind: Kind, core: Option<usize>) -> Launch {
        Launch {
            kind,
            core,
            persist: false,
            flood_control: false,
            database: None,
            redis: None,
            admin_token: None,
            webhooks_allow_private: false,
        }
    }
}

/// Everything needed to start the same server again.
struct Spec {
    label: &'static str,
    program: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    core: Option<usize>,
}

pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    child: Child,
    pid: u32,
    spec: Spec,
    _dir: TempDir,
}

/// What a restart took.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Restart {
    /// From the stop signal until the old process was gone.
    pub(crate) stopping: Duration,
    /// Whether it had to be killed after [`STOP_GRACE`].
    pub(crate) killed: bool,
    /// From the new process's start until it accepted a connection.
    pub(crate) starting: Duration,
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
        let label = launch.kind.label();
        let spawn_err = |error| ServerError::Spawn {
            what: label.to_owned(),
            error,
        };
        let port = free_port().map_err(spawn_err)?;
        let dir = std::env::temp_dir().join(format!("palaver-bench-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).map_err(spawn_err)?;
        let dir = TempDir(dir);
        let addr_arg = format!("127.0.0.1:{port}");
        let (program, args, envs) = match launch.kind {
            Kind::Palaver => {
                let database = launch
                    .database
                    .clone()
                    .unwrap_or_else(|| format!("sqlite://{}", dir.0.join("bench.db").display()));
                let mut envs = vec![
                    ("DATABASE_URL".to_owned(), database),
                    (
                        "LEPTOS_SITE_ROOT".to_owned(),
                        bins.site_root.display().to_string(),
                    ),
                    // Quiet unless asked: logging every event would be measured too.
                    (
                        "RUST_LOG".to_owned(),
                        std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "error".into()),
                    ),
                ];
                if !launch.flood_control {
                    // Flood control is per person and per address; the benchmark's publishers
                    // are deliberately faster than any person, and its crowds arrive faster
                    // and from fewer addresses than any real one.
                    for (name, value) in [
                        ("PALAVER_RATE_LIMIT", "0"),
                        ("PALAVER_NAME_LIMIT", "off"),
                        ("PALAVER_READ_LIMIT", "off"),
                        ("PALAVER_SESSIONS_PER_ADDRESS", "0"),
                        ("PALAVER_SESSIONS_PER_SECOND", "0"),
                        ("PALAVER_CONNECTIONS_PER_ADDRESS", "0"),
                        ("PALAVER_MAX_CONNECTIONS", "1000000"),
                    ] {
                        envs.push((name.to_owned(), value.to_owned()));
                    }
                }
                if let Some(redis) = &launch.redis {
                    envs.push(("PALAVER_REDIS_URL".to_owned(), redis.clone()));
                }
                if let Some(token) = &launch.admin_token {
                    envs.push(("PALAVER_ADMIN_TOKEN".to_owned(), token.clone()));
                }
                if launch.webhooks_allow_private {
                    envs.push((
                        "PALAVER_WEBHOOKS_ALLOW_PRIVATE".to_owned(),
                        "true".to_owned(),
                    ));
                }
                envs.extend(bins.palaver_env.iter().cloned());
                (
                    bins.palaver.clone(),
                    vec!["--addr".to_owned(), addr_arg],
                    envs,
                )
            }
            Kind::Bare => (
                bins.bare.clone(),
                vec!["--addr".to_owned(), addr_arg],
                vec![],
            ),
            Kind::Floor => {
                let site = bins.floor_site.clone().ok_or_else(|| {
                    spawn_err(std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "not built (bench/floor-leptos/build.sh)",
                    ))
                })?;
                (
                    site.join("floor-leptos"),
                    vec![
                        "--addr".to_owned(),
                        addr_arg,
                        "--site-root".to_owned(),
                        site.display().to_string(),
                    ],
                    vec![],
                )
            }
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
                let envs = launch
                    .redis
                    .iter()
                    .map(|url| ("REDIS_URL".to_owned(), url.clone()))
                    .collect();
                (PathBuf::from("node"), args, envs)
            }
        };
        let spec = Spec {
            label,
            program,
            args,
            envs,
            core: launch.core,
        };
        let child = spawn(&spec)?;
        let pid = child.id().unwrap_or(0);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let server = Server {
            addr,
            child,
            pid,
            spec,
            _dir: dir,
        };
        wait_listening(addr, label).await?;
        Ok(server)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Resident memory, in bytes.
    pub(crate) fn rss(&self) -> Result<u64, ServerError> {
        status_bytes(self.pid, "VmRSS:")
    }

    /// The highest resident memory of this process so far (`VmHWM`), in bytes.
    pub(crate) fn peak_rss(&self) -> Result<u64, ServerError> {
        status_bytes(self.pid, "VmHWM:")
    }

    /// CPU time used so far (user and system), in seconds.
    pub(crate) fn cpu_seconds(&self) -> Result<f64, ServerError> {
        cpu_seconds_of(self.pid)
    }

    /// Stops the server as a deployment does (SIGTERM, then SIGKILL after a grace period) and
    /// starts it again on the same database and port.
    pub(crate) async fn restart(&mut self) -> Result<Restart, ServerError> {
        let stop_began = Instant::now();
        let killed = terminate(&mut self.child, self.pid).await;
        let stopping = stop_began.elapsed();
        let start_began = Instant::now();
        self.child = spawn(&self.spec)?;
        self.pid = self.child.id().unwrap_or(0);
        wait_listening(self.addr, self.spec.label).await?;
        Ok(Restart {
            stopping,
            killed,
            starting: start_began.elapsed(),
        })
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

fn spawn(spec: &Spec) -> Result<Child, ServerError> {
    let mut command = match spec.core {
        Some(core) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(core.to_string()).arg(&spec.program);
            c
        }
        None => Command::new(&spec.program),
    };
    command
        .args(&spec.args)
        .envs(spec.envs.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        // Readiness is seen by connecting. Its output (errors only, unless
        // BENCH_SERVER_LOG says more) goes to stderr, away from the table.
        .stdout(std::io::stderr())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    command.spawn().map_err(|error| ServerError::Spawn {
        what: spec.label.to_owned(),
        error,
    })
}

async fn wait_listening(addr: SocketAddr, label: &str) -> Result<(), ServerError> {
    let deadline = Instant::now() + LISTEN_TIMEOUT;
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(ServerError::NotListening(label.to_owned()))
}

/// SIGTERM, then SIGKILL if it has not exited within [`STOP_GRACE`]; whether it was killed.
async fn terminate(child: &mut Child, pid: u32) -> bool {
    // `kill` the command: the workspace forbids the `unsafe` a direct call would need.
    let signalled = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .is_ok_and(|s| s.success());
    if signalled && tokio::time::timeout(STOP_GRACE, child.wait()).await.is_ok() {
        return false;
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
    true
}

fn read_proc(pid: u32, file: &str) -> Result<String, ServerError> {
    std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join(file))
        .map_err(|error| ServerError::Proc { pid, error })
}

/// A `kB` field of `/proc/<pid>/status`, in bytes.
fn status_bytes(pid: u32, field: &str) -> Result<u64, ServerError> {
    let status = read_proc(pid, "status")?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0);
    Ok(kb * 1024)
}

/// The fields of `/proc/<pid>/stat` after the parenthesised command name (which may itself
/// contain spaces): the state is the first here, the parent's pid the second.
fn stat_fields(pid: u32) -> Result<Vec<String>, ServerError> {
    let stat = read_proc(pid, "stat")?;
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    Ok(rest.split_whitespace().map(str::to_owned).collect())
}

fn ticks(fields: &[String], i: usize) -> f64 {
    fields
        .get(i)
        .and_then(|f| f.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// CPU seconds of process `pid` (the generator passes its own).
pub(crate) fn cpu_seconds_of(pid: u32) -> Result<f64, ServerError> {
    let fields = stat_fields(pid)?;
    // utime and stime are the 14th and 15th fields of the whole line: 12th and 13th here.
    Ok((ticks(&fields, 11) + ticks(&fields, 12)) / CLOCK_TICKS)
}

/// CPU seconds of process `pid` and its children, live or exited (Postgres serves each
/// connection from a process of its own).
pub(crate) fn cpu_seconds_of_tree(pid: u32) -> Result<f64, ServerError> {
    let fields = stat_fields(pid)?;
    // cutime and cstime (16th and 17th): its children that have exited and been waited for.
    let mut total: f64 = [11, 12, 13, 14].iter().map(|&i| ticks(&fields, i)).sum();
    let children = std::fs::read_dir("/proc").map_err(|error| ServerError::Proc { pid, error })?;
    for entry in children.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may exit while this reads: it is skipped, its time is in cutime next time.
        let Ok(fields) = stat_fields(child) else {
            continue;
        };
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            total += [11, 12, 13, 14]
                .iter()
                .map(|&i| ticks(&fields, i))
                .sum::<f64>();
        }
    }
    Ok(total / CLOCK_TICKS)
}

/// `getconf CLK_TCK`: 100 on every Linux this runs on.
const CLOCK_TICKS: f64 = 100.0;
