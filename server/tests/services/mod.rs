//! Real services for tests: a PostgreSQL cluster, Redis and RabbitMQ servers from Debian's
//! packages, each on its own port and data directory, started by the test process itself.
//!
//! Each runs under a `sh` that holds the test process's end of a pipe: when the test process
//! exits (even killed), the pipe closes and the shell stops the service and removes its data
//! directory, so no service outlives the tests that started it. Shared by the library's unit
//! tests (`#[path]`) and the integration tests.

#![allow(dead_code)]

use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A service process that ends when this is dropped or the test process exits.
pub struct Service {
    child: Child,
    hold: Option<ChildStdin>,
    dir: PathBuf,
    pub port: u16,
}

impl Service {
    /// Runs `program args` under a shell that stops it (TERM, then waits) and removes `dir`
    /// once its standard input closes.
    fn spawn(program: &str, args: &[String], dir: &Path, port: u16) -> Service {
        let script = r#"
            dir="$1"; shift
            "$@" </dev/null &
            pid=$!
            cat >/dev/null
            # INT: Postgres's fast shutdown (TERM waits for its clients to leave).
            kill -INT "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            [ -e "$dir/.keep" ] || rm -rf "$dir"
        "#;
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(dir)
            .args(as_service_user(program))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program}: {e} (scripts/setup.sh installs it)"));
        let hold = child.stdin.take();
        let service = Service {
            child,
            hold,
            dir: dir.to_owned(),
            port,
        };
        wait_for_port(port, program);
        service
    }

    /// Stops the service now, keeping its directory, and waits until it has gone.
    fn stop_keeping_data(&mut self) {
        let keep = self.dir.join(".keep");
        let _ = std::fs::write(&keep, b"");
        self.stop();
        let _ = std::fs::remove_file(keep);
    }

    /// Stops the service now and waits until it has gone.
    pub fn stop(&mut self) {
        self.hold.take();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Postgres refuses to run as root; the tests may run as root (CI) or as a user.
fn as_service_user(program: &str) -> Vec<String> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if root && program.contains("postgres") {
        // setpriv runs it in place (runuser would fork, pass no signal on, and the shell
        // would wait for runuser rather than for Postgres).
        [
            "setpriv",
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            program,
        ]
        .map(String::from)
        .to_vec()
    } else {
        vec![program.into()]
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A Redis server of its own, without persistence.
pub fn redis() -> Service {
    redis_on(free_port())
}

/// A Redis server on `port`, e.g. to start one again where a stopped one listened.
pub fn redis_on(port: u16) -> Service {
    let dir = tempfile::Builder::new()
        .prefix("palaver-redis-")
        .tempdir()
        .expect("a data directory")
        .keep();
    let args = [
        "--port".to_string(),
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
    Service::spawn("redis-server", &args, &dir, port)
}

impl Service {
    /// The address of this Redis server.
    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

/// The Postgres binaries of Debian's newest installed major version.
fn postgres_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL under /usr/lib/postgresql (scripts/setup.sh installs it)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("postgres").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("a PostgreSQL server under /usr/lib/postgresql")
}

/// A PostgreSQL cluster: the one this test process's tests share ([`database`]), or one of a
/// test's own ([`Postgres::own`]) that it may stop and start again.
pub struct Postgres {
    /// Holds the data directory (removed when the test process ends).
    dir: PathBuf,
    pub port: u16,
    service: Option<Service>,
}

static POSTGRES: OnceLock<Postgres> = OnceLock::new();

fn postgres() -> &'static Postgres {
    POSTGRES.get_or_init(Postgres::own)
}

impl Postgres {
    /// A new cluster, started.
    pub fn own() -> Postgres {
        let bin = postgres_bin();
        let dir = tempfile::Builder::new()
            .prefix("palaver-pg-")
            .tempdir()
            .expect("a data directory")
            .keep();
        let as_root = as_service_user("postgres").len() > 1;
        if as_root {
            let chown = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(chown.success(), "chown of {}", dir.display());
        }
        let mut initdb = Command::new(if as_root { "runuser" } else { "sh" });
        if as_root {
            initdb.args(["-u", "postgres", "--"]);
        } else {
            initdb.args(["-c", "exec \"$@\"", "sh"]);
        }
        let out = initdb
            .arg(bin.join("initdb"))
            .args([
                "--auth=trust",
                "--username=palaver",
                "--encoding=UTF8",
                "--no-sync",
            ])
            .arg("-D")
            .arg(dir.join("data"))
            .output()
            .expect("initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut pg = Postgres {
            dir,
            port: free_port(),
            service: None,
        };
        pg.start();
        pg
    }

    /// Starts the cluster (again), on its port and data directory.
    pub fn start(&mut self) {
        let args = [
            "-D".to_string(),
            self.dir.join("data").display().to_string(),
            "-p".into(),
            self.port.to_string(),
            "-k".into(),
            self.dir.display().to_string(),
            "-c".into(),
            "listen_addresses=127.0.0.1".into(),
            "-c".into(),
            "max_connections=1000".into(),
            "-c".into(),
            "log_min_messages=panic".into(),
            "-c".into(),
            "log_min_error_statement=panic".into(),
        ];
        let program = postgres_bin().join("postgres").display().to_string();
        // The shell removes the data directory only once this process ends: `stop` keeps it.
        let service = Service::spawn(&program, &args, &self.dir, self.port);
        self.service = Some(service);
        // Listening is not yet accepting: wait until a query is answered.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "Postgres did not answer within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the cluster (a fast shutdown), keeping its data for [`Postgres::start`].
    pub fn stop(&mut self) {
        if let Some(mut service) = self.service.take() {
            service.stop_keeping_data();
        }
    }

    fn answers(&self) -> bool {
        Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "palaver",
                "-d",
                "postgres",
                "-tAc",
                "SELECT 1",
            ])
            .arg("-p")
            .arg(self.port.to_string())
            .stderr(Stdio::null())
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// The URL of a new, empty database in this cluster.
    pub fn database(&self) -> String {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "palaver",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
            ])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-c")
            .arg(format!("CREATE DATABASE {name}"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("psql");
        let mut err = String::new();
        if let Some(mut e) = out.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        assert!(
            out.wait().expect("psql").success(),
            "CREATE DATABASE: {err}"
        );
        format!("postgres://palaver@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The URL of a new, empty database in this test process's Postgres cluster.
pub fn database() -> String {
    postgres().database()
}

/// The RabbitMQ scripts, run in place: `/usr/sbin`'s wrappers switch to the `rabbitmq` user
/// and its home in `/var/lib/rabbitmq`, the system node's.
const RABBITMQ_BIN: &str = "/usr/lib/rabbitmq/bin";

/// A RabbitMQ node of its own: its node name (unique to this process and node, so that test
/// processes running at once do not meet), its AMQP port, its own Erlang port mapper (epmd)
/// and distribution port, its Erlang cookie (in its `HOME`), and its data, logs and
/// configuration in one directory, so that nothing of the system's node is read or touched.
/// It may be stopped and started again on the same data ([`RabbitMq::stop`],
/// [`RabbitMq::start`]); dropped, or when the test process exits, it is stopped, its epmd
/// ended and its directory removed.
pub struct RabbitMq {
    dir: PathBuf,
    node: String,
    pub port: u16,
    /// The environment every `rabbitmq-server` and `rabbitmqctl` of this node runs in.
    env: Vec<(String, String)>,
    /// A shell that stops the node, ends its epmd and removes `dir` once its standard input
    /// closes: when this is dropped, or the test process exits however it does.
    guard: Option<(Child, ChildStdin)>,
    running: bool,
    /// How long the last start took, until the node had booted.
    pub started_in: Duration,
}

impl RabbitMq {
    /// A new node, started.
    pub fn own() -> RabbitMq {
        static NODES: AtomicUsize = AtomicUsize::new(0);
        let dir = tempfile::Builder::new()
            .prefix("palaver-rabbitmq-")
            .tempdir()
            .expect("a data directory")
            .keep();
        let node = format!(
            "palaver-{}-{}@localhost",
            std::process::id(),
            NODES.fetch_add(1, Ordering::Relaxed)
        );
        let (port, dist_port, epmd_port) = (free_port(), free_port(), free_port());
        let path = |name: &str| dir.join(name).display().to_string();
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!(
                "listeners.tcp.default = 127.0.0.1:{port}\n\
                 log.console = false\n\
                 log.file.level = warning\n"
            ),
        )
        .expect("rabbitmq.conf");
        // No plugins: the management UI alone takes seconds to start.
        std::fs::write(dir.join("enabled_plugins"), "[].\n").expect("enabled_plugins");
        // Replaces /etc/rabbitmq/rabbitmq-env.conf, which the system's node is configured by.
        std::fs::write(dir.join("rabbitmq-env.conf"), "").expect("rabbitmq-env.conf");
        let env = [
            // The Erlang cookie is `$HOME/.erlang.cookie`, made on first start.
            ("HOME", dir.display().to_string()),
            ("RABBITMQ_NODENAME", node.clone()),
            ("RABBITMQ_NODE_PORT", port.to_string()),
            ("RABBITMQ_DIST_PORT", dist_port.to_string()),
            ("ERL_EPMD_PORT", epmd_port.to_string()),
            ("ERL_EPMD_ADDRESS", "127.0.0.1".to_owned()),
            (
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}".to_owned(),
            ),
            ("RABBITMQ_CONF_ENV_FILE", path("rabbitmq-env.conf")),
            ("RABBITMQ_CONFIG_FILE", path("rabbitmq.conf")),
            ("RABBITMQ_ADVANCED_CONFIG_FILE", path("advanced.config")),
            ("RABBITMQ_ENABLED_PLUGINS_FILE", path("enabled_plugins")),
            ("RABBITMQ_PLUGINS_EXPAND_DIR", path("plugins-expand")),
            ("RABBITMQ_MNESIA_BASE", path("mnesia")),
            ("RABBITMQ_LOG_BASE", path("log")),
            ("RABBITMQ_PID_FILE", path("pid")),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .to_vec();
        let script = r#"
            dir="$1"; node="$2"; bin="$3"; epmd_port="$4"
            cat >/dev/null
            # The pid file is there while the node runs; `stop` with it waits for the process
            # to end (and, without the file, would wait for it to appear).
            if [ -f "$dir/pid" ]; then
                timeout 60 "$bin/rabbitmqctl" -q -n "$node" stop "$dir/pid" >/dev/null 2>&1
            fi
            epmd -port "$epmd_port" -kill >/dev/null 2>&1
            rm -rf "$dir"
        "#;
        let mut guard = Command::new("sh");
        guard
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(&dir)
            .arg(&node)
            .arg(RABBITMQ_BIN)
            .arg(epmd_port.to_string())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = guard.spawn().expect("sh");
        let hold = child.stdin.take().expect("the guard's standard input");
        let mut rabbit = RabbitMq {
            dir,
            node,
            port,
            env,
            guard: Some((child, hold)),
            running: false,
            started_in: Duration::ZERO,
        };
        rabbit.start();
        rabbit
    }

    /// Starts the node (again, on its data), detached, and waits until it has booted.
    pub fn start(&mut self) {
        assert!(!self.running, "RabbitMQ is running already");
        let began = Instant::now();
        let status = self
            .command("rabbitmq-server")
            .arg("-detached")
            .status()
            .unwrap_or_else(|e| panic!("rabbitmq-server: {e} (scripts/setup.sh installs it)"));
        assert!(status.success(), "rabbitmq-server -detached: {status}");
        self.running = true;
        // `await_startup` needs the node to be reachable already; `wait` first waits for its
        // pid file, then, like `await_startup`, until the broker has booted.
        let pid_file = self.dir.join("pid");
        self.ctl(&["wait", "--timeout", "60"], &[&pid_file]);
        self.ctl(&["await_startup", "--timeout", "60"], &[]);
        self.started_in = began.elapsed();
    }

    /// Stops the node (`rabbitmqctl stop`), keeping its data for [`RabbitMq::start`], and
    /// waits until its process has gone.
    pub fn stop(&mut self) {
        if std::mem::take(&mut self.running) {
            let pid_file = self.dir.join("pid");
            self.ctl(&["stop"], &[&pid_file]);
        }
    }

    /// This node's AMQP URL, as its default user on its default virtual host.
    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(Path::new(RABBITMQ_BIN).join(program));
        command
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        command
    }

    /// `rabbitmqctl -n NODE ARGS… PATHS…`, which must succeed.
    fn ctl(&self, args: &[&str], paths: &[&Path]) {
        let out = self
            .command("rabbitmqctl")
            .args(["-q", "-n", &self.node])
            .args(args)
            .args(paths)
            .output()
            .unwrap_or_else(|e| panic!("rabbitmqctl: {e}"));
        assert!(
            out.status.success(),
            "rabbitmqctl {args:?} on {}: {}{}",
            self.node,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for RabbitMq {
    fn drop(&mut self) {
        // The guard stops the node, ends its epmd and removes its directory.
        if let Some((mut child, hold)) = self.guard.take() {
            drop(hold);
            let _ = child.wait();
        }
    }
}
