//! The Palaver server: axum serves the Leptos page, socketioxide the chat, SQLite keeps it.
//!
//! `main` parses [`Config`] and calls [`run`]; tests call the same `run` on port 0.

mod admin;
mod batch;
mod catchup;
mod chat;
mod config;
mod conversation;
mod delivery;
mod directory;
mod handshake;
mod identity;
mod limits;
mod metrics;
mod notices;
mod origin;
mod peer;
mod presence;
mod rooms;
mod secrets;
mod session;
mod store;
mod throttle;
mod turn;
mod web;
mod writer;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::serve::ListenerExt as _;
use socketioxide::SocketIo;
use tokio::net::TcpListener;
use tracing::info;

pub use config::Config;
pub use secrets::SecretError;
pub use store::StoreError;
pub use throttle::{Limit, LimitError};

/// The largest Engine.IO message accepted, in bytes. A 4,000-character message is at most
/// 24 KiB of JSON; anything far larger is not a chat message and closes the transport.
const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Secret(#[from] secrets::SecretError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves Palaver on `listener` until `shutdown` completes, then disconnects every socket,
/// lets in-flight requests finish and closes the database.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let store = store::Store::open(&config.database_url).await?;
    let data_dir = secrets::data_dir(config.data_dir.as_deref(), &config.database_url);
    let secret = secrets::load_or_create(
        config.session_secret.as_deref(),
        &data_dir,
        "session-secret",
    )?;
    let admin_token = admin::load_token(config.admin_token.as_deref(), &data_dir)?;
    let chat = chat::Chat::new(
        store.clone(),
        session::Keys::new(secret.value()),
        chat::Guards {
            limits: limits::Limits::new(&config),
            trusted_proxies: peer::TrustedProxies::new(&config.trusted_proxies),
            notice_window: config.notice_window,
        },
        &admin_token,
    )?;
    let (sockets, io) = SocketIo::builder()
        .with_state(chat.clone())
        // Bounds each socket's memory; what overflows is dropped, counted and caught up.
        .max_buffer_size(config.socket_buffer as usize)
        .max_payload(MAX_PAYLOAD_BYTES as u64)
        .ws_max_message_size(MAX_PAYLOAD_BYTES)
        // Chat frames are small; a larger frame is read in several chunks. Kept per socket,
        // so 1 KiB instead of 4 saves 3 KiB on every idle connection.
        .ws_read_buffer_size(1024)
        .connect_timeout(Duration::from_secs(20))
        .build_layer();
    chat::register(&io);
    admin::register(&io);
    let stats = tokio::spawn(admin::push_stats(io.clone(), chat.clone()));
    let directory = tokio::spawn({
        let (io, chat) = (io.clone(), chat.clone());
        let everyone_up_to = config.counts_to_everyone_up_to;
        async move {
            let directory = chat.directory.clone();
            directory.announce(io, chat, everyone_up_to).await
        }
    });
    let announcer = tokio::spawn({
        let (io, store, chat) = (io.clone(), store.clone(), chat.clone());
        async move { chat.lagging.announce(io, store, &chat.metrics).await }
    });

    let mut options = config.leptos_options();
    options.site_addr = listener.local_addr()?;
    let origins = origin::Origins::new(&config.allowed_origins);
    let app = web::router(
        options,
        store.clone(),
        chat.metrics.clone(),
        sockets,
        origins,
    );

    info!(addr = %listener.local_addr()?, database = %config.database_url, "palaver listening");
    // No Nagle: a chat sends small frames, and Nagle holding one back until the peer's
    // delayed ACK (40 ms) put a 40 ms floor under acks and deliveries.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    });
    // The TCP peer's address rides along as a request extension (`peer.rs` reads it).
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(close_sockets_on(io, shutdown))
    .await?;
    announcer.abort();
    directory.abort();
    stats.abort();
    store.close().await;
    info!("palaver stopped");
    Ok(())
}

async fn close_sockets_on(io: SocketIo, shutdown: impl Future<Output = ()>) {
    shutdown.await;
    info!("shutting down: disconnecting sockets");
    io.close().await;
}
