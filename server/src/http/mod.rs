//! HTTP: the accept loop and its limits, the checks every request passes (origin, headers,
//! the new-session rate), the handshake's trimming, the pages and endpoints axum serves, and the
//! HTTP API for programs (incoming webhooks, the bot API), and accounts' routes (`auth.rs`).

pub(crate) mod admission;
pub(crate) mod api;
pub(crate) mod auth;
pub(crate) mod avatars;
pub(crate) mod body;
pub(crate) mod bots;
pub(crate) mod build_files;
pub(crate) mod files;
pub(crate) mod handshake;
pub(crate) mod headers;
pub(crate) mod hooks;
pub(crate) mod listen;
pub(crate) mod origin;
pub(crate) mod peer;
pub(crate) mod service_worker;
pub(crate) mod uploads;
pub(crate) mod web;
