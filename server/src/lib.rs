//! The Palaver server: axum serves the Leptos page, socketioxide the chat, SQLite keeps it.
//!
//! `main` parses [`Config`] and calls [`run`]; tests call the same `run` on port 0.

mod accounts;
mod cluster;
mod config;
mod conversation;
mod http;
mod jobs;
mod logging;
mod metrics;
mod secrets;
mod session;
pub mod socket;
mod state;
mod store;
/// Real Postgres and Redis servers for tests, shared with the integration tests.
#[cfg(test)]
#[path = "../tests/services/mod.rs"]
mod test_services;
mod throttle;
mod tokens;

use crate::cluster::SocketIo;
use http::{admission, listen, origin, peer, web};
use socket::{admin, backlog};
use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tracing::info;

pub use accounts::PasswordError;
pub use cluster::driver::ClusterError;
pub use cluster::emitter::{Announced, Emission, EmitError, Emitted, HeadsSent, emit};
pub use cluster::{Bus, SocketRef};
pub use config::{
    BackupConfig, Cli, Command, Config, EmitConfig, GuestPolicy, SignUpPolicy, WorkerConfig,
};
pub use http::origin::AddressError;
pub use jobs::process::{WorkerError, work};
pub use secrets::SecretError;
pub use store::backup::{BackupError, BackupSummary, backup};
pub use store::{Backend, StoreError};
pub use throttle::{Limit, LimitError};

/// The largest Engine.IO message accepted, in bytes. A 4,000-character message is at most
/// 24 KiB of JSON; anything far larger is not a chat message and closes the transport.
const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// After shutdown begins, how long requests in flight may take to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long a session may go without connecting to a namespace before its backlog entry goes.
const UNCONNECTED_SESSION: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Secret(#[from] secrets::SecretError),
    #[error(transparent)]
    Password(#[from] accounts::PasswordError),
    #[error(transparent)]
    Address(#[from] origin::AddressError),
    #[error(transparent)]
    Cluster(#[from] cluster::driver::ClusterError),
    #[error("cannot subscribe to the other nodes' requests: {0}")]
    Adapter(String),
    #[error(
        "{setting} differs from the one the other nodes use (kept in the database's settings \
         table): give every node the same, or none"
    )]
    SecretDiffers { setting: &'static str },
    #[error(transparent)]
    Jobs(#[from] jobs::StartError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<cluster::AdapterError> for ServerError {
    fn from(e: cluster::AdapterError) -> ServerError {
        ServerError::Adapter(e.to_string())
    }
}

/// Serves Palaver on `listener` until `shutdown` completes, then disconnects every socket,
/// lets in-flight requests finish and closes the database.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let access = origin::Access::new(
        &config.allowed_origins,
        config.public_url.as_deref(),
        listener.local_addr()?,
    )?;
    let store = store::Store::open(&config.database_url).await?;
    let bus = cluster::Bus::connect(config.redis_url.as_deref(), store.backend()).await?;
    let data_dir = secrets::data_dir(config.data_dir.as_deref(), &config.database_url);
    let secret = load_secret(
        config.session_secret.as_deref(),
        &store,
        &data_dir,
        "session-secret",
        "PALAVER_SESSION_SECRET",
    )
    .await?;
    let admin_token = load_secret(
        config.admin_token.as_deref(),
        &store,
        &data_dir,
        "admin-token",
        "PALAVER_ADMIN_TOKEN",
    )
    .await?;
    if let secrets::Loaded::Created(token) = &admin_token {
        let kept = match store.backend() {
            store::Backend::Sqlite => data_dir.join("admin-token").display().to_string(),
            store::Backend::Postgres => "the database".to_owned(),
        };
        // Printed, not logged: it is shown once, to whoever started the server.
        println!("palaver: generated the admin token (kept in {kept}): {token}");
    }
    let admin_token = admin_token.value().to_owned();
    let backlogs = backlog::Backlogs::new(backlog::Bounds {
        per_socket: config.socket_backlog_bytes,
        total: config.total_backlog_bytes,
    });
    let chat = state::Chat::new(
        store.clone(),
        session::Keys::new(secret.value()),
        state::Guards {
            limits: state::limits::Limits::new(&config),
            trusted_proxies: peer::TrustedProxies::new(&config.trusted_proxies),
            notice_window: config.notice_window,
            joined_notices_every: config.joined_notices_every,
            webhooks: state::Webhooks {
                public_base: public_base(&config, listener.local_addr()?),
                allow_private: config.webhooks_allow_private,
            },
            accounts: accounts::Accounts::new(&config)?,
        },
        &admin_token,
        backlogs.clone(),
        bus.clone(),
    )?;
    let mut chat = chat;
    if let Some(url) = config.queue_url.as_deref().filter(|u| !u.is_empty()) {
        chat.jobs = jobs::Queue::through(store.clone(), url).await?;
    }
    let request_timeout = Duration::from_secs(config.request_timeout);
    let (sockets, io) = socketioxide::SocketIo::builder()
        .with_state(chat.clone())
        // The path the origin check guards, and the handshake middleware copies.
        .req_path(origin::SOCKET_PATH)
        // Bounds each socket's memory; what overflows is dropped, counted and caught up.
        .max_buffer_size(config.socket_buffer as usize)
        .max_payload(MAX_PAYLOAD_BYTES as u64)
        .ws_max_message_size(MAX_PAYLOAD_BYTES)
        // Chat frames are small; a larger frame is read in several chunks. Kept per socket,
        // so 1 KiB instead of 4 saves 3 KiB on every idle connection.
        .ws_read_buffer_size(1024)
        .connect_timeout(request_timeout)
        .with_adapter::<cluster::Adapter>(bus.clone().adapter())
        .build_layer();
    socket::register(&io).await?;
    admin::register(&io).await?;
    let stats = tokio::spawn(admin::push_stats(io.clone(), chat.clone()));
    let announcements = tokio::spawn(socket::room_lists::announce(
        io.clone(),
        chat.clone(),
        config.counts_to_everyone_up_to,
    ));
    let sweeper = tokio::spawn({
        let backlogs = backlogs.clone();
        async move {
            let mut every = tokio::time::interval(UNCONNECTED_SESSION);
            loop {
                every.tick().await;
                backlogs.sweep(UNCONNECTED_SESSION);
            }
        }
    });
    let announcer = tokio::spawn({
        let (io, store, chat) = (io.clone(), store.clone(), chat.clone());
        async move { chat.lagging.announce(io, store, &chat.metrics).await }
    });
    let peers = tokio::spawn(socket::peers::exchange(io.clone(), chat.clone()));
    let job_watch = tokio::spawn(socket::jobs::watch(io.clone(), chat.clone()));
    let (stop_workers, workers_stop) = tokio::sync::watch::channel(false);
    let handlers = jobs::handlers(jobs::Needs {
        store: store.clone(),
        sink: jobs::import::Sink::Server(chat.writer.clone()),
        webhooks_allow_private: config.webhooks_allow_private,
        webhook_timeout: config.webhook_timeout,
    })?;
    let deliveries = tokio::spawn(jobs::delivery::dispatch(store.clone(), chat.jobs.clone()));
    let file_sweeper = tokio::spawn(jobs::files::sweep(store.clone()));
    let backups = config.backup_dir.clone().map(|dir| {
        let payload = jobs::backups::BackupPayload {
            dir,
            keep: config.backup_keep,
        };
        tokio::spawn(jobs::backups::schedule(
            store.clone(),
            chat.jobs.clone(),
            payload,
            config.backup_every,
        ))
    });
    let workers = (config.workers > 0).then(|| {
        tokio::spawn(
            jobs::runner::Runner::new(
                store.clone(),
                handlers,
                &format!("{}-server", chat.node),
                config.workers,
                config.job_lease,
            )
            .woken_by(&chat.jobs)
            .run(workers_stop),
        )
    });
    let catch_up = bus.status().map(|link| {
        let (io, store, chat) = (io.clone(), store.clone(), chat.clone());
        tokio::spawn(async move { chat.lagging.after_outages(link, io, store).await })
    });

    let mut options = config.leptos_options();
    options.site_addr = listener.local_addr()?;
    let admission = admission::Admission::new(
        admission::Rates {
            per_address: config.sessions_per_address,
            per_address_burst: config.sessions_per_address_burst,
            total: config.sessions_per_second,
            total_burst: config.sessions_burst,
        },
        peer::TrustedProxies::new(&config.trusted_proxies),
    );
    let app = web::router(
        options,
        store.clone(),
        chat.metrics.clone(),
        sockets,
        web::Guards {
            access,
            admission,
            backlogs,
        },
        http::files::FilesState {
            store: store.clone(),
            keys: chat.keys.clone(),
            admin_token: chat.admin_token.clone(),
            queue: chat.jobs.clone(),
            max_import_bytes: config.max_import_bytes,
        },
        http::api::routes(chat.clone(), io.clone())
            .merge(http::auth::routes(chat.clone(), io.clone()))
            .merge(http::avatars::routes(chat.clone(), io.clone()))
            .merge(http::uploads::routes(chat.clone(), config.upload_limit)),
    );
    let connection_limits = listen::Limits {
        connections: listen::Limits::fitting_open_files(config.max_connections),
        per_address: config.connections_per_address,
        request_timeout,
        shutdown_grace: SHUTDOWN_GRACE,
        trusted: peer::TrustedProxies::new(&config.trusted_proxies),
    };

    info!(addr = %listener.local_addr()?, database = %config.database_url, "palaver listening");
    listen::serve(
        listener,
        app,
        connection_limits,
        close_sockets_on(io, shutdown),
    )
    .await;
    // Jobs in hand go back to the queue, for another worker or the next start.
    let _ = stop_workers.send(true);
    if let Some(workers) = workers
        && let Err(e) = workers.await
    {
        tracing::warn!(error = %e, "the workers ended abnormally");
    }
    if let Some(broker) = chat.jobs.broker() {
        broker.close().await;
    }
    job_watch.abort();
    deliveries.abort();
    file_sweeper.abort();
    if let Some(backups) = backups {
        backups.abort();
    }
    sweeper.abort();
    announcer.abort();
    peers.abort();
    if let Some(catch_up) = catch_up {
        catch_up.abort();
    }
    announcements.abort();
    stats.abort();
    store.close().await;
    info!("palaver stopped");
    Ok(())
}

/// The secret kept under `key`. On SQLite: `configured` when set, else the content of
/// `dir/key`, made on first start. On Postgres, which nodes share: the value every node uses,
/// made by the first node to start (or `configured`, when that node was given one); a node
/// configured with another value refuses to start, since it would not accept the others'
/// tokens.
async fn load_secret(
    configured: Option<&str>,
    store: &store::Store,
    dir: &std::path::Path,
    key: &str,
    setting: &'static str,
) -> Result<secrets::Loaded, ServerError> {
    let configured = configured.filter(|v| !v.is_empty());
    if store.backend() == store::Backend::Sqlite {
        return Ok(secrets::load_or_create(configured, dir, key)?);
    }
    let candidate = match configured {
        Some(v) => v.to_owned(),
        None => secrets::random_hex(32)?,
    };
    let value = store
        .shared_setting(key, &candidate)
        .await?
        .unwrap_or_default();
    match configured {
        Some(v) if v != value => Err(ServerError::SecretDiffers { setting }),
        Some(_) => Ok(secrets::Loaded::Existing(value)),
        None if value == candidate => {
            info!(key, "generated a new secret, kept in the database");
            Ok(secrets::Loaded::Created(value))
        }
        None => Ok(secrets::Loaded::Existing(value)),
    }
}

/// Where people reach the server, for the URLs it hands out: the public URL, or else the
/// address it listens on, unless that is a wildcard (which names no host to reach).
fn public_base(config: &Config, bound: std::net::SocketAddr) -> Option<String> {
    match config
        .public_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
    {
        Some(url) => Some(url.trim().trim_end_matches('/').to_owned()),
        None if bound.ip().is_unspecified() => None,
        None => Some(format!("http://{bound}")),
    }
}

async fn close_sockets_on(io: SocketIo, shutdown: impl Future<Output = ()>) {
    shutdown.await;
    info!("shutting down: disconnecting sockets");
    io.close().await;
}
