//! Charging a socket's costly actions to their payer's budget (the budgets are
//! [`crate::state::limits`]'s).
//!
//! - A person's budget is theirs whichever tab or address they use: their id is the key.
//! - A guest has no id and can open any number of sockets, so guests are keyed by the
//!   address they connect from (`peer.rs`'s [`Source`]): two hundred guest sockets from one
//!   address share one budget.
//! - New names are counted per address, since each one comes with fresh budgets; and every
//!   message sent from an address also counts against a generous cap for that address, so
//!   that the names an address may claim cannot multiply what it may send.
//!
//! Over a limit, an event gets `rate_limited` with the time to wait; a connect claiming a new
//! name gets the `too_many_names` refusal.

use crate::cluster::SocketRef;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use app::events::{ChatError, Refusal};

use crate::http::peer::Source;
use crate::socket::identity::{self, Identity};
use crate::state::Chat;
pub(crate) use crate::state::limits::Action;
use crate::state::limits::Payer;

fn rate_limited(wait: Duration) -> ChatError {
    ChatError::RateLimited {
        retry_after_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1),
    }
}

/// Charges a message about to be stored to `socket`'s person (or address, for a guest).
pub(crate) fn send(socket: &SocketRef, chat: &Chat) -> Result<(), ChatError> {
    let who = identity::of(socket);
    let payer = payer(socket, &who);
    chat.limits.send(&payer, Instant::now()).map_err(|wait| {
        chat.metrics
            .messages_throttled
            .fetch_add(1, Ordering::Relaxed);
        rate_limited(wait)
    })
}

/// Charges `cost` of `action` to `socket`'s person (or address, for a guest).
pub(crate) fn charge(
    socket: &SocketRef,
    chat: &Chat,
    action: Action,
    cost: u32,
) -> Result<(), ChatError> {
    let who = identity::of(socket);
    let payer = payer(socket, &who);
    chat.limits
        .charge(action, &payer, cost, Instant::now())
        .map_err(|wait| {
            chat.metrics
                .requests_throttled
                .fetch_add(1, Ordering::Relaxed);
            rate_limited(wait)
        })
}

/// Charges a new name (a new person) to the address claiming it.
pub(crate) fn new_name(chat: &Chat, source: Option<Source>) -> Result<(), Refusal> {
    chat.limits
        .new_name(source, Instant::now())
        .map_err(|wait| {
            chat.metrics.names_throttled.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                source = %source.map(|s| s.to_string()).unwrap_or_default(),
                retry_after_s = wait.as_secs(),
                "too many new names from one address"
            );
            Refusal::TooManyNames
        })
}

fn payer<'a>(socket: &'a SocketRef, who: &'a Identity) -> Payer<'a> {
    Payer {
        person: who.person.as_deref(),
        source: who.source,
        socket: socket.id.as_str(),
    }
}
