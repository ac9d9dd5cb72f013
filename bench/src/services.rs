//! The services several nodes share: a Redis server and a PostgreSQL cluster from Debian's
//! packages, each on a free port with a data directory of its own, pinned like the servers.
//!
//! Each runs under a `sh` that holds the suite's end of a pipe: when the suite ends (even
//! killed), the pipe closes and the shell stops the service and removes its data directory,
//! so no service outlives the run that started it (as `server/tests/services` does).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, ChildStdin, Command};

/// How long a service may take to answer after it was started.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopped service may take to exit.
const STOP_GRACE: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub(crate) enum ServiceError {
    #[error("starting {what}: {error}")]
    Spawn {
        what: &'static str,
        error: std::io::Error,
    },
    #[error("{0} is not installed (Debian's redis-server, postgresql)")]
    Missing(&'static str),
    #[error("{what} failed: {output}")]
    Command { what: String, output: String },
    #[error("{0} did not answer within 60 s")]
    NotReady(&'static str),
}

/// A service process, stopped when [`Service::stop`] is called or the suite exits.
pub(crate) struct Service {
    what: &'static str,
    /// The shell that stops the service when its standard input closes.
    shell: Child,
    hold: Option<ChildStdin>,
    /// The service's own process (for its CPU time).
    pid: u32,
    pub(crate) port: u16,
}

impl Service {
    /// Runs `program args` pinned to `core` (with `prefix` before it: `setpriv` for Postgres
    /// run by root) under a shell that stops it (INT, then waits) and removes `dir` once its
    /// standard input closes.
    async fn spawn(
        what: &'static str,
        program: &[String],
        args: &[String],
        dir: &Path,
        port: u16,
        core: usize,
    ) -> Result<Service, ServiceError> {
        let script = r#"
            dir="$1"; shift
            "$@" </dev/null >/dev/null &
            pid=$!
            echo "$pid"
            cat >/dev/null
            # INT: Postgres's fast shutdown (TERM waits for its clients to leave).
            kill -INT "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            rm -rf "$dir"
        "#;
        let spawn_err = |error| ServiceError::Spawn { what, error };
        // taskset and setpriv run their program in place: `$!` is the service's own pid.
        let mut shell = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(dir)
            .args(["taskset", "-c", &core.to_string()])
            .args(program)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            // Not killed when dropped: closing its standard input (dropping `hold`) is what
            // stops the service; a killed shell would leave the service running.
            .spawn()
            .map_err(spawn_err)?;
        let hold = shell.stdin.take();
        let mut line = String::new();
        if let Some(out) = shell.stdout.take() {
            BufReader::new(out)
                .read_line(&mut line)
                .await
                .map_err(spawn_err)?;
        }
        let pid = line.trim().parse().unwrap_or(0);
        let service = Service {
            what,
            shell,
            hold,
            pid,
            port,
        };
        wait_listening(port, what).await?;
        Ok(service)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Stops the service and waits until it has gone and its data directory with it.
    pub(crate) async fn stop(mut self) {
        self.hold.take();
        if tokio::time::timeout(STOP_GRACE, self.shell.wait())
            .await
            .is_err()
        {
            eprintln!(
                "{} did not stop within {STOP_GRACE:?}; killing it",
                self.what
            );
            // The service itself: the shell then removes its directory and exits.
            let _ = Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .status()
                .await;
            let _ = tokio::time::timeout(STOP_GRACE, self.shell.wait()).await;
        }
    }
}

async fn wait_listening(port: u16, what: &'static str) -> Result<(), ServiceError> {
    let deadline = Instant::now() + READY_TIMEOUT;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if Instant::now() >= deadline {
            return Err(ServiceError::NotReady(what));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

fn free_port() -> Result<u16, std::io::Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A fresh scratch directory under the system's temporary directory.
fn scratch(prefix: &str) -> Result<PathBuf, std::io::Error> {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A Redis server without persistence, pinned to `core`.
pub(crate) async fn redis(core: usize) -> Result<Service, ServiceError> {
    let what = "Redis";
    let io = |error| ServiceError::Spawn { what, error };
    if !on_path("redis-server") {
        return Err(ServiceError::Missing(what));
    }
    let dir = scratch("palaver-bench-redis").map_err(io)?;
    let port = free_port().map_err(io)?;
    let args = [
        "--port".to_owned(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--save".into(),
        String::new(),
        "--appendonly".into(),
        "no".into(),
        "--dir".into(),
        dir.display().to_string(),
    ];
    Service::spawn(what, &["redis-server".to_owned()], &args, &dir, port, core).await
}

impl Service {
    pub(crate) fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Postgres refuses to run as root: run by root, its commands run as the `postgres` user.
fn as_postgres(root: bool, program: &Path) -> Vec<String> {
    let mut command = Vec::new();
    if root {
        command.extend(
            [
                "setpriv",
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
            ]
            .map(String::from),
        );
    }
    command.push(program.display().to_string());
    command
}

async fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .await
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The binaries of Debian's newest installed PostgreSQL.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("postgres").exists() && p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

/// A PostgreSQL cluster of the suite's own, pinned to `core`, with the shipped durability
/// (`fsync` and `synchronous_commit` on): every commit waits for its WAL's fsync, as SQLite's
/// `synchronous=FULL` does. `conf` are more settings (`-c NAME=value`), after the suite's.
pub(crate) struct Postgres {
    service: Service,
    databases: usize,
}

pub(crate) async fn postgres(
    core: usize,
    conf: &[(String, String)],
) -> Result<Postgres, ServiceError> {
    let what = "Postgres";
    let io = |error| ServiceError::Spawn { what, error };
    let bin = postgres_bin().ok_or(ServiceError::Missing(what))?;
    let root = is_root().await;
    let dir = scratch("palaver-bench-pg").map_err(io)?;
    if root {
        run(
            "chown",
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir),
        )
        .await?;
    }
    let data = dir.join("data");
    let initdb = as_postgres(root, &bin.join("initdb"));
    run(
        "initdb",
        Command::new(&initdb[0])
            .args(&initdb[1..])
            .args([
                "--auth=trust",
                "--username=palaver",
                "--encoding=UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .current_dir(&dir),
    )
    .await?;
    let port = free_port().map_err(io)?;
    let mut args = vec![
        "-D".to_owned(),
        data.display().to_string(),
        "-p".into(),
        port.to_string(),
        "-k".into(),
        dir.display().to_string(),
        "-c".into(),
        "listen_addresses=127.0.0.1".into(),
        "-c".into(),
        "max_connections=200".into(),
        "-c".into(),
        "log_min_messages=fatal".into(),
    ];
    for (name, value) in conf {
        args.push("-c".into());
        args.push(format!("{name}={value}"));
    }
    let program = as_postgres(root, &bin.join("postgres"));
    let service = Service::spawn(what, &program, &args, &dir, port, core).await?;
    let pg = Postgres {
        service,
        databases: 0,
    };
    // Listening is not yet accepting: wait until a query is answered.
    let deadline = Instant::now() + READY_TIMEOUT;
    while pg.psql("postgres", "SELECT 1").await.is_err() {
        if Instant::now() >= deadline {
            return Err(ServiceError::NotReady(what));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(pg)
}

impl Postgres {
    /// The postmaster's pid: its CPU time with its children's is the cluster's.
    pub(crate) fn pid(&self) -> u32 {
        self.service.pid()
    }

    /// The URL of a new, empty database.
    pub(crate) async fn database(&mut self) -> Result<String, ServiceError> {
        self.databases += 1;
        let name = format!("bench{}", self.databases);
        self.psql("postgres", &format!("CREATE DATABASE {name}"))
            .await?;
        Ok(format!(
            "postgres://palaver@127.0.0.1:{}/{name}",
            self.service.port
        ))
    }

    async fn psql(&self, database: &str, sql: &str) -> Result<(), ServiceError> {
        run(
            "psql",
            Command::new("psql")
                .args(["-h", "127.0.0.1", "-U", "palaver", "-v", "ON_ERROR_STOP=1"])
                .arg("-p")
                .arg(self.service.port.to_string())
                .args(["-d", database, "-tAc", sql]),
        )
        .await
    }

    pub(crate) async fn stop(self) {
        self.service.stop().await;
    }
}

async fn run(what: &str, command: &mut Command) -> Result<(), ServiceError> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| ServiceError::Command {
            what: what.to_owned(),
            output: e.to_string(),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ServiceError::Command {
            what: what.to_owned(),
            output: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}
