//! Configuration from flags and environment variables. Every option has a default, so
//! `palaver` with no arguments runs on 127.0.0.1:3000 with a SQLite file under `./data/`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use leptos::config::LeptosOptions;

use crate::throttle::{Limit, parse_duration};

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "palaver",
    version,
    about = "Palaver: a self-hosted real-time chat server"
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "LEPTOS_SITE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Database URL: `sqlite://FILE` (the file and its directory are created on first
    /// start), or `postgres://…` for several nodes sharing one database.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/palaver.db")]
    pub database_url: String,

    /// Redis URL (`redis://host:port`), for several nodes: broadcasts, room changes and
    /// kicks reach every node's sockets through it. Needs a Postgres `--database-url`.
    /// Default: none, one node.
    #[arg(long, env = "PALAVER_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Directory holding the built site: `pkg/` with the wasm, JS and CSS.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,

    /// Packets buffered per socket before deliveries to it are dropped (and later caught up).
    /// Must hold a full catch-up (1,000 messages) plus live traffic.
    #[arg(long, env = "PALAVER_SOCKET_BUFFER", default_value_t = 2048, value_parser = clap::value_parser!(u32).range(16..))]
    pub socket_buffer: u32,

    /// Bytes of answers and replays one socket may have unread before further answers to it
    /// are refused (`overloaded`) and its replays cut.
    #[arg(long, env = "PALAVER_SOCKET_BACKLOG_BYTES", default_value_t = 4 << 20)]
    pub socket_backlog_bytes: u64,

    /// Bytes of answers and replays all sockets together may have unread.
    #[arg(long, env = "PALAVER_TOTAL_BACKLOG_BYTES", default_value_t = 256 << 20)]
    pub total_backlog_bytes: u64,

    /// Open connections at most (fewer if the open-file limit is lower); past it, only
    /// `/healthz` is answered.
    #[arg(long, env = "PALAVER_MAX_CONNECTIONS", default_value_t = 20_000)]
    pub max_connections: usize,

    /// Open connections from one address at most; 0 turns the limit off.
    #[arg(long, env = "PALAVER_CONNECTIONS_PER_ADDRESS", default_value_t = 256)]
    pub connections_per_address: usize,

    /// New Socket.IO sessions per second from one address, on average; 0 turns it off.
    #[arg(long, env = "PALAVER_SESSIONS_PER_ADDRESS", default_value_t = 20.0)]
    pub sessions_per_address: f64,

    /// New Socket.IO sessions one address may open at once after a quiet spell.
    #[arg(long, env = "PALAVER_SESSIONS_PER_ADDRESS_BURST", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub sessions_per_address_burst: u32,

    /// New Socket.IO sessions per second in all, on average; 0 turns it off.
    #[arg(long, env = "PALAVER_SESSIONS_PER_SECOND", default_value_t = 1_000.0)]
    pub sessions_per_second: f64,

    /// New Socket.IO sessions at once in all, after a quiet spell.
    #[arg(long, env = "PALAVER_SESSIONS_BURST", default_value_t = 2_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub sessions_burst: u32,

    /// Seconds a client has to send a request's head (or the next one on a kept-alive
    /// connection), to keep a request body moving, and to connect to a Socket.IO namespace
    /// after opening a session.
    #[arg(long, env = "PALAVER_REQUEST_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout: u64,

    /// Messages one person may send per second, on average; 0 turns the limits on sending off
    /// (the per-address one too).
    #[arg(long, env = "PALAVER_RATE_LIMIT", default_value_t = 10.0)]
    pub rate_limit: f64,

    /// Messages one person may send at once after a quiet spell.
    #[arg(long, env = "PALAVER_RATE_BURST", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_burst: u32,

    /// The address people use, `scheme://host[:port]` (e.g. `https://chat.example.org`, behind
    /// a TLS proxy). Its origin is then the only one whose pages may open a socket. Default:
    /// the listening address, by IP (or `localhost` on loopback); other names are refused.
    #[arg(long, env = "PALAVER_PUBLIC_URL", value_parser = crate::http::origin::parse_address)]
    pub public_url: Option<String>,
    /// Messages all the people (and guests) connecting from one address may send together
    /// (`N/PERIOD`: N at once, then N per period; `off`), so that many fresh names from one
    /// address cannot each get a full budget. IPv6 addresses count by their /64. Off when
    /// `rate_limit` is 0.
    #[arg(long, env = "PALAVER_ADDRESS_SEND_LIMIT", default_value = "200/10s")]
    pub address_send_limit: Limit,

    /// Joins and leaves of rooms, together, per person.
    #[arg(long, env = "PALAVER_JOIN_LIMIT", default_value = "30/1m")]
    pub join_limit: Limit,

    /// Rooms created, per person.
    #[arg(long, env = "PALAVER_CREATE_LIMIT", default_value = "5/1m")]
    pub create_limit: Limit,

    /// Jobs started (exports, imports), per person.
    #[arg(long, env = "PALAVER_JOB_LIMIT", default_value = "10/10m")]
    pub job_limit: Limit,

    /// Direct conversations opened, per person.
    #[arg(long, env = "PALAVER_DM_LIMIT", default_value = "20/1m")]
    pub dm_limit: Limit,

    /// Pages read per person (per address for guests): `history` and `browse rooms` count one,
    /// `sync` one per conversation it names.
    #[arg(long, env = "PALAVER_READ_LIMIT", default_value = "300/1m")]
    pub read_limit: Limit,

    /// Read markers moved (`read`), per person: each is a write.
    #[arg(long, env = "PALAVER_MARK_LIMIT", default_value = "120/10s")]
    pub mark_limit: Limit,

    /// New names claimed from one address (a returning token does not count).
    #[arg(long, env = "PALAVER_NAME_LIMIT", default_value = "20/10m")]
    pub name_limit: Limit,

    /// Profile changes (display name, status) per person: everyone hears of each.
    #[arg(long, env = "PALAVER_PROFILE_LIMIT", default_value = "10/1m")]
    pub profile_limit: Limit,

    /// Searches per person (per address for guests): each reads the full-text index.
    #[arg(long, env = "PALAVER_SEARCH_LIMIT", default_value = "30/1m")]
    pub search_limit: Limit,

    /// Proxies whose `X-Forwarded-For` is believed, comma-separated IP addresses. Behind a
    /// reverse proxy, list it here: otherwise every client counts as the proxy's address.
    #[arg(long, env = "PALAVER_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpAddr>,

    /// A person's "left" within this long of their "joined" in a room is held back until the
    /// window ends (and dropped if they are back by then); `0s` posts every notice at once.
    #[arg(long, env = "PALAVER_NOTICE_WINDOW", default_value = "60s", value_parser = notice_window)]
    pub notice_window: Duration,

    /// A room posts at most one "joined" notice this often: the people who join it meanwhile
    /// are named together in one notice at the end; `0s` posts each at once.
    #[arg(long, env = "PALAVER_JOINED_NOTICES_EVERY", default_value = "3s", value_parser = notice_window)]
    pub joined_notices_every: Duration,

    /// Origins whose pages may open a socket, comma-separated (e.g. `https://chat.example.org`).
    /// Replaces the site's own origin (the public URL's, or the listening address's).
    #[arg(long, env = "PALAVER_ALLOWED_ORIGINS", value_delimiter = ',', value_parser = crate::http::origin::parse_address)]
    pub allowed_origins: Vec<String>,

    /// Where generated secrets are kept (`session-secret`, `admin-token`).
    /// Default: the SQLite file's directory.
    #[arg(long, env = "PALAVER_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Key that signs session tokens. Default: generated on first start and kept in the data
    /// directory. Changing it signs everybody out.
    #[arg(long, env = "PALAVER_SESSION_SECRET", hide_env_values = true)]
    pub session_secret: Option<String>,

    /// Up to this many online, every room's member and online counts go to everyone (for the
    /// rooms to join); beyond it, to the room's members only (a new room's still to everyone),
    /// so that a crowd's arrival does not cost rooms × everyone deliveries.
    #[arg(
        long,
        env = "PALAVER_COUNTS_TO_EVERYONE_UP_TO",
        default_value_t = 1_000
    )]
    pub counts_to_everyone_up_to: usize,

    /// Where scheduled backups go (`palaver-backup-<UTC time>.sqlite3`, or `.pgdump` on
    /// Postgres). Default: none, no scheduled backups.
    #[arg(long, env = "PALAVER_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,

    /// How often a scheduled backup is taken (`24h`, `90m`), when `--backup-dir` is set.
    #[arg(long, env = "PALAVER_BACKUP_EVERY", default_value = "24h", value_parser = backup_every)]
    pub backup_every: Duration,

    /// How many scheduled backups are kept: after each, the oldest `palaver-backup-*` files in
    /// `--backup-dir` beyond this many are deleted.
    #[arg(long, env = "PALAVER_BACKUP_KEEP", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..))]
    pub backup_keep: u32,
    /// Jobs (imports, exports, webhook deliveries, backups) this server runs at once. 0 runs
    /// none here: `palaver worker` processes run them instead.
    #[arg(long, env = "PALAVER_WORKERS", default_value_t = 2)]
    pub workers: usize,

    /// How long a worker's claim on a job lasts without word from it (it renews the claim
    /// every third of this while the job runs): a job whose worker died is taken up by
    /// another this long after the worker's last word. At least 1s.
    #[arg(long, env = "PALAVER_JOB_LEASE", default_value = "30s", value_parser = job_lease)]
    pub job_lease: Duration,

    /// RabbitMQ (`amqp://user:password@host:port/vhost`) to carry jobs to the workers of every
    /// node and `palaver worker` process. Default: none; workers take jobs from the database.
    #[arg(long, env = "PALAVER_QUEUE_URL", hide_env_values = true)]
    pub queue_url: Option<String>,

    /// The largest archive `POST /imports` takes, in bytes.
    #[arg(long, env = "PALAVER_MAX_IMPORT_BYTES", default_value_t = 1 << 30)]
    pub max_import_bytes: u64,

    /// The largest file `POST /uploads` takes (a file attached to a message), in bytes.
    #[arg(long, env = "PALAVER_UPLOAD_LIMIT", default_value_t = 10 << 20)]
    pub upload_limit: u64,

    /// Files one person may upload.
    #[arg(long, env = "PALAVER_UPLOAD_RATE", default_value = "30/1m")]
    pub upload_rate: Limit,

    /// What `/admin` clients must present. Default: generated and printed on first start, and
    /// kept in the data directory (`admin-token`).
    #[arg(long, env = "PALAVER_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Who may make an account: `open` (anyone; also names claimed without a password) or
    /// `invite` (only with a join link from an administrator).
    #[arg(long, env = "PALAVER_SIGN_UP", value_enum, default_value_t = SignUpPolicy::Open)]
    pub sign_up: SignUpPolicy,

    /// What people without an account or a name may do: `lobby` (read and post in the lobby,
    /// as the Socket.IO tutorial's client does), `read` (read the lobby) or `off` (nothing).
    #[arg(long, env = "PALAVER_GUESTS", value_enum, default_value_t = GuestPolicy::Lobby)]
    pub guests: GuestPolicy,

    /// Sign-in attempts per name (`N/PERIOD`, or `off`); over it, `too_many_attempts`.
    #[arg(long, env = "PALAVER_SIGN_IN_LIMIT", default_value = "5/5m")]
    pub sign_in_limit: Limit,

    /// Sign-in attempts per source address, whatever the names (`N/PERIOD`, or `off`).
    #[arg(long, env = "PALAVER_SIGN_IN_ADDRESS_LIMIT", default_value = "30/5m")]
    pub sign_in_address_limit: Limit,

    /// Posts per incoming webhook (`N/PERIOD`, or `off`); over it, a post is answered 429.
    #[arg(long, env = "PALAVER_WEBHOOK_LIMIT", default_value = "60/1m")]
    pub webhook_limit: Limit,

    /// Requests per bot token (`N/PERIOD`, or `off`), posts and reads together; over it, 429.
    #[arg(long, env = "PALAVER_BOT_LIMIT", default_value = "120/1m")]
    pub bot_limit: Limit,

    /// Let outgoing webhooks send to loopback, private, link-local and other non-public
    /// addresses. Off, they are refused, so that a webhook cannot reach into the server's own
    /// network. For tests, and for receivers on the same network on purpose.
    #[arg(
        long,
        env = "PALAVER_WEBHOOKS_ALLOW_PRIVATE",
        value_parser = clap::builder::BoolishValueParser::new(),
        num_args = 0..=1,
        default_value = "false",
        default_missing_value = "true"
    )]
    pub webhooks_allow_private: bool,

    /// How long one delivery of an outgoing webhook may take (connecting, sending and the
    /// receiver's answer) before it counts as failed and is tried again later.
    #[arg(long, env = "PALAVER_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub webhook_timeout: Duration,
}

/// The command line: `palaver` alone serves ([`Config`]); `palaver emit …` emits ([`EmitConfig`]).
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "palaver",
    version,
    about = "Palaver: a self-hosted real-time chat server",
    // The server's flags go without a subcommand: `palaver --addr … emit` is refused rather
    // than `--addr` ignored.
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: Config,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Post an announcement to a room, or make one person's clients catch up, on every node,
    /// from a process with no sockets (a cron job, a script). Needs the nodes' Postgres and
    /// Redis. Prints what it did as JSON; exits with 2 when the request is wrong (an unknown
    /// room or person, an invalid text), 1 when something failed on the way.
    Emit(EmitConfig),
    /// Copy the database to PATH while the server runs: a SQLite file (`VACUUM INTO`), or a
    /// Postgres dump (`pg_dump --format=custom`, read back with `pg_restore`). Prints what it
    /// made as JSON; exits with 2 when the request is wrong (PATH exists, an unusable URL), 1
    /// when the copy failed.
    Backup(BackupConfig),
    /// Run jobs (imports, exports, webhook deliveries, backups) in a process of their own,
    /// beside the servers, on any node, as many as you like. Needs the nodes' Postgres.
    /// Stops on SIGTERM or Ctrl-C, putting the jobs in hand back in the queue.
    Worker(WorkerConfig),
}

/// `palaver backup`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct BackupConfig {
    /// Where to write the copy; it must not exist.
    pub path: PathBuf,

    /// The server's database, as it was given (`sqlite://FILE` or `postgres://…`).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/palaver.db",
        hide_env_values = true
    )]
    pub database_url: String,
}

/// `palaver worker`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerConfig {
    /// The nodes' database: `postgres://…`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,

    /// Jobs run at once.
    #[arg(long, env = "PALAVER_WORKERS", default_value_t = 2)]
    pub concurrency: usize,

    /// As the server's `--job-lease`.
    #[arg(long, env = "PALAVER_JOB_LEASE", default_value = "30s", value_parser = job_lease)]
    pub job_lease: Duration,

    /// As the server's `--queue-url`: take jobs from RabbitMQ.
    #[arg(long, env = "PALAVER_QUEUE_URL", hide_env_values = true)]
    pub queue_url: Option<String>,

    /// The nodes' Redis (`redis://host:port`), through which an import tells the rooms'
    /// members to catch up; without it they see the messages at their next sync.
    #[arg(long, env = "PALAVER_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// As the server's `--webhooks-allow-private`.
    #[arg(
        long,
        env = "PALAVER_WEBHOOKS_ALLOW_PRIVATE",
        value_parser = clap::builder::BoolishValueParser::new(),
        num_args = 0..=1,
        default_value = "false",
        default_missing_value = "true"
    )]
    pub webhooks_allow_private: bool,

    /// As the server's `--webhook-timeout`.
    #[arg(long, env = "PALAVER_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub webhook_timeout: Duration,
}

/// `palaver emit`'s flags.
#[derive(Debug, Clone, clap::Args)]
#[command(group = clap::ArgGroup::new("to").required(true).args(["room", "person"]))]
pub struct EmitConfig {
    /// The public room to post an announcement to (with `--text`), by `palaver`. It is
    /// stored first, then delivered to the room's sockets on every node.
    #[arg(long, requires = "text")]
    pub room: Option<String>,

    /// The announcement's text.
    #[arg(long, requires = "room")]
    pub text: Option<String>,

    /// A key of this announcement's own (up to 128 characters), so that a retry (a cron job
    /// run again) posts it once: the retry prints the stored one and sends nothing.
    #[arg(long, requires = "room")]
    pub offset: Option<String>,

    /// Instead of a room: the name of a person whose clients are sent the newest message of
    /// each of their conversations (`room head`), so that they catch up.
    #[arg(long)]
    pub person: Option<String>,

    /// The nodes' database: `postgres://…`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,

    /// The nodes' Redis: `redis://host:port`.
    #[arg(long, env = "PALAVER_REDIS_URL", hide_env_values = true)]
    pub redis_url: String,
}

fn positive_duration(s: &str) -> Result<Duration, String> {
    parse_duration(s.trim())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("expected a duration above zero like 10s or 500ms, not `{s}`"))
}

fn job_lease(s: &str) -> Result<Duration, String> {
    parse_duration(s.trim())
        .filter(|d| *d >= Duration::from_secs(1))
        .ok_or_else(|| {
            format!("expected a duration of a second or more, like 30s or 2m, not `{s}`")
        })
}

fn notice_window(s: &str) -> Result<Duration, String> {
    parse_duration(s.trim()).ok_or_else(|| format!("expected a duration like 60s or 1m, not `{s}`"))
}

fn backup_every(s: &str) -> Result<Duration, String> {
    parse_duration(s.trim())
        .filter(|d| *d >= Duration::from_secs(60))
        .ok_or_else(|| {
            format!("expected a duration of a minute or more, like 24h or 90m, not `{s}`")
        })
}

impl Config {
    /// A configuration for `database_url` with every other option at its default.
    pub fn with_database(database_url: impl Into<String>) -> Config {
        Config {
            addr: ([127, 0, 0, 1], 3000).into(),
            database_url: database_url.into(),
            redis_url: None,
            site_root: "target/site".to_owned(),
            socket_buffer: 2048,
            socket_backlog_bytes: 4 << 20,
            total_backlog_bytes: 256 << 20,
            max_connections: 20_000,
            connections_per_address: 256,
            sessions_per_address: 20.0,
            sessions_per_address_burst: 100,
            sessions_per_second: 1_000.0,
            sessions_burst: 2_000,
            request_timeout: 10,
            public_url: None,
            allowed_origins: Vec::new(),
            rate_limit: 10.0,
            rate_burst: 10,
            address_send_limit: Limit::every(200, Duration::from_secs(10)),
            join_limit: Limit::every(30, Duration::from_secs(60)),
            create_limit: Limit::every(5, Duration::from_secs(60)),
            job_limit: Limit::every(10, Duration::from_secs(600)),
            dm_limit: Limit::every(20, Duration::from_secs(60)),
            read_limit: Limit::every(300, Duration::from_secs(60)),
            mark_limit: Limit::every(120, Duration::from_secs(10)),
            name_limit: Limit::every(20, Duration::from_secs(600)),
            profile_limit: Limit::every(10, Duration::from_secs(60)),
            search_limit: Limit::every(30, Duration::from_secs(60)),
            trusted_proxies: Vec::new(),
            notice_window: Duration::from_secs(60),
            joined_notices_every: Duration::from_secs(3),
            counts_to_everyone_up_to: 1_000,
            workers: 2,
            job_lease: Duration::from_secs(30),
            max_import_bytes: 1 << 30,
            upload_limit: 10 << 20,
            upload_rate: Limit::every(30, Duration::from_secs(60)),
            queue_url: None,
            data_dir: None,
            session_secret: None,
            admin_token: None,
            sign_up: SignUpPolicy::Open,
            guests: GuestPolicy::Lobby,
            sign_in_limit: Limit::every(5, Duration::from_secs(300)),
            sign_in_address_limit: Limit::every(30, Duration::from_secs(300)),
            backup_dir: None,
            backup_every: Duration::from_secs(24 * 3600),
            backup_keep: 7,
            webhook_limit: Limit::every(60, Duration::from_secs(60)),
            bot_limit: Limit::every(120, Duration::from_secs(60)),
            webhooks_allow_private: false,
            webhook_timeout: Duration::from_secs(10),
        }
    }

    /// Leptos' own options. cargo-leptos passes some through the environment (reload port,
    /// output name); the rest come from this configuration. The output name is also compiled
    /// in (`.cargo/config.toml`), so a binary built without cargo-leptos reads it too.
    pub(crate) fn leptos_options(&self) -> LeptosOptions {
        let mut options = leptos::config::get_configuration(None)
            .map(|c| c.leptos_options)
            .unwrap_or_else(|_| LeptosOptions::builder().output_name("palaver").build());
        if options.output_name.is_empty() {
            options.output_name = "palaver".into();
        }
        options.site_addr = self.addr;
        options.site_root = self.site_root.as_str().into();
        options
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[test]
    fn origins_and_the_public_url_are_checked_when_parsed() {
        let config = Config::try_parse_from([
            "palaver",
            "--public-url",
            "https://chat.example.org",
            "--allowed-origins",
            "https://a.example,http://b.example:8080/",
        ])
        .unwrap();
        assert_eq!(
            config.public_url.as_deref(),
            Some("https://chat.example.org")
        );
        assert_eq!(config.allowed_origins.len(), 2);
        for bad in [
            ["--public-url", "chat.example.org"],
            ["--public-url", "https://chat.example.org/palaver"],
            ["--allowed-origins", "https://a.example,null"],
        ] {
            let error = Config::try_parse_from(["palaver", bad[0], bad[1]]).unwrap_err();
            assert!(error.to_string().contains("is not an origin"), "{error}");
        }
    }

    #[test]
    fn palaver_alone_serves_and_emit_takes_a_room_and_text_or_a_person() {
        let cli = |args: &[&str]| Cli::try_parse_from(["palaver"].iter().chain(args));
        let serve = cli(&["--addr", "127.0.0.1:4000"]).unwrap();
        assert!(serve.command.is_none());
        assert_eq!(serve.serve.addr.port(), 4000);

        let urls = [
            "--database-url",
            "postgres://db/palaver",
            "--redis-url",
            "redis://cache",
        ];
        let emit = |args: &[&str]| {
            let args: Vec<&str> = ["emit"].iter().chain(args).chain(&urls).copied().collect();
            cli(&args)
        };
        let Some(Command::Emit(room)) = emit(&["--room", "lobby", "--text", "hi"]).unwrap().command
        else {
            panic!("not emit");
        };
        assert_eq!(
            (room.room.as_deref(), room.text.as_deref(), room.offset),
            (Some("lobby"), Some("hi"), None)
        );
        assert!(emit(&["--person", "ann"]).is_ok());
        for wrong in [
            &[][..],
            &["--room", "lobby"],
            &["--text", "hi"],
            &["--room", "lobby", "--text", "hi", "--person", "ann"],
            &["--person", "ann", "--offset", "k"],
        ] {
            assert!(emit(wrong).is_err(), "{wrong:?}");
        }
        assert!(cli(&["--addr", "127.0.0.1:4000", "emit", "--person", "ann"]).is_err());
    }

    /// The limits' defaults, written twice (clap's and `with_database`'s), agree.
    #[test]
    fn the_limits_defaults_are_with_database_s() {
        let parsed = Config::try_parse_from(["palaver"]).unwrap();
        let built = Config::with_database("sqlite::memory:");
        let limits = |c: &Config| {
            (
                c.address_send_limit,
                c.join_limit,
                c.create_limit,
                c.job_limit,
                c.dm_limit,
                c.read_limit,
                c.mark_limit,
                c.name_limit,
                (c.notice_window, c.joined_notices_every),
                c.backup_every,
                c.backup_keep,
                (
                    c.webhook_limit,
                    c.bot_limit,
                    c.webhooks_allow_private,
                    c.webhook_timeout,
                    c.workers,
                    c.job_lease,
                    c.max_import_bytes,
                    c.search_limit,
                    c.upload_limit,
                    c.upload_rate,
                ),
            )
        };
        assert_eq!(limits(&parsed), limits(&built));
        let flags = Config::try_parse_from([
            "palaver",
            "--trusted-proxies",
            "10.0.0.1,::1",
            "--join-limit",
            "off",
            "--notice-window",
            "0s",
            "--joined-notices-every",
            "10s",
        ])
        .unwrap();
        assert_eq!(flags.trusted_proxies.len(), 2);
        assert_eq!(
            (
                flags.join_limit,
                flags.notice_window,
                flags.joined_notices_every
            ),
            (Limit::Off, Duration::ZERO, Duration::from_secs(10))
        );
        assert!(Config::try_parse_from(["palaver", "--dm-limit", "lots"]).is_err());
    }

    #[test]
    fn private_webhook_addresses_are_allowed_by_the_flag_or_its_variable() {
        let allowed = |args: &[&str]| {
            Config::try_parse_from(["palaver"].iter().chain(args))
                .unwrap()
                .webhooks_allow_private
        };
        assert!(allowed(&["--webhooks-allow-private"]));
        assert!(allowed(&["--webhooks-allow-private", "true"]));
        assert!(!allowed(&["--webhooks-allow-private", "off"]));
        assert!(!allowed(&[]));
        for bad in [
            &["--webhooks-allow-private", "perhaps"][..],
            &["--webhook-timeout", "0s"],
        ] {
            assert!(
                Config::try_parse_from(["palaver"].iter().chain(bad)).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn scheduled_backups_are_off_until_given_a_directory() {
        let parsed = Config::try_parse_from(["palaver"]).unwrap();
        assert_eq!(parsed.backup_dir, None);
        let on = Config::try_parse_from([
            "palaver",
            "--backup-dir",
            "/var/backups/palaver",
            "--backup-every",
            "6h",
            "--backup-keep",
            "28",
        ])
        .unwrap();
        assert_eq!(
            (on.backup_dir.as_deref(), on.backup_every, on.backup_keep),
            (
                Some(std::path::Path::new("/var/backups/palaver")),
                Duration::from_secs(6 * 3600),
                28
            )
        );
        for wrong in [
            ["--backup-every", "0s"],
            ["--backup-every", "30s"],
            ["--backup-every", "daily"],
            ["--backup-keep", "0"],
        ] {
            assert!(
                Config::try_parse_from(["palaver", wrong[0], wrong[1]]).is_err(),
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn a_job_s_lease_is_a_second_or_more_for_the_server_and_worker_alike() {
        let serve = Cli::try_parse_from(["palaver"]).unwrap().serve;
        assert_eq!(serve.job_lease, Duration::from_secs(30));
        let parse = |args: &[&str]| {
            let all: Vec<&str> = ["palaver", "worker", "--database-url", "postgres://db/p"]
                .iter()
                .chain(args)
                .copied()
                .collect();
            match Cli::try_parse_from(all).map(|c| c.command) {
                Ok(Some(Command::Worker(w))) => Ok(w.job_lease),
                Ok(other) => panic!("not a worker: {other:?}"),
                Err(e) => Err(e),
            }
        };
        assert_eq!(parse(&[]).unwrap(), Duration::from_secs(30));
        assert_eq!(
            parse(&["--job-lease", "2s"]).unwrap(),
            Duration::from_secs(2)
        );
        for bad in ["500ms", "0s", "soon"] {
            assert!(parse(&["--job-lease", bad]).is_err(), "{bad}");
            assert!(
                Config::try_parse_from(["palaver", "--job-lease", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn backup_takes_a_path_and_the_server_s_database() {
        let cli = Cli::try_parse_from(["palaver", "backup", "/tmp/x.sqlite3"]).unwrap();
        let Some(Command::Backup(backup)) = cli.command else {
            panic!("not backup");
        };
        assert_eq!(backup.path, PathBuf::from("/tmp/x.sqlite3"));
        assert_eq!(backup.database_url, "sqlite://data/palaver.db");
        assert!(
            Cli::try_parse_from(["palaver", "backup"]).is_err(),
            "PATH is required"
        );
    }
}

/// Who may make an account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SignUpPolicy {
    /// Anyone: sign up with a name and password, or claim a name without one.
    #[default]
    Open,
    /// Only with an invite from an administrator.
    Invite,
}

/// What people without an account or a name may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum GuestPolicy {
    /// Read and post in the lobby (the Socket.IO tutorial's client).
    #[default]
    Lobby,
    /// Read the lobby, not post.
    Read,
    /// Not connect at all.
    Off,
}
