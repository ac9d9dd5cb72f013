//! Accounts: a name with a password, signed in on any number of devices, each a session
//! named by an HttpOnly cookie. Also the server's policies for newcomers: open or invite-only
//! sign-up, and what guests (no account, no name) may do.
//!
//! This module knows no sockets, HTTP routes or chat state: `http/auth/` signs people up, in
//! and out with it (`flows.rs`), and `socket/sign_in.rs` and `/admin` check cookies with
//! [`signed_in`].

mod cookie;
mod device;
mod password;

use app::events::{Refusal, Role, SESSION_TTL_MS, name_key};
use tracing::warn;

use crate::config::{Config, GuestPolicy, SignUpPolicy};
use crate::store::{Store, StoreError, now_ms};
use crate::throttle::Throttle;

pub(crate) use cookie::{
    Presented, clear as clear_cookie, presented, session_only, set as set_cookie,
};
pub(crate) use device::describe as describe_device;
pub(crate) use password::Hasher;
pub use password::PasswordError;

/// A session's `last_seen` is written at most this often.
const TOUCH_EVERY_MS: i64 = 60_000;

/// The accounts' shared parts. One per server.
pub(crate) struct Accounts {
    pub(crate) hasher: Hasher,
    pub(crate) sign_up: SignUpPolicy,
    pub(crate) guests: GuestPolicy,
    /// Sign-in attempts per name.
    names: Throttle,
    /// Sign-in attempts per source address.
    addresses: Throttle,
}

impl Accounts {
    pub(crate) fn new(config: &Config) -> Result<Accounts, PasswordError> {
        Ok(Accounts {
            hasher: Hasher::new()?,
            sign_up: config.sign_up,
            guests: config.guests,
            names: Throttle::new(config.sign_in_limit),
            addresses: Throttle::new(config.sign_in_address_limit),
        })
    }

    /// Charges a sign-in attempt to its name and to `source` (the client's address, as the
    /// per-address limits key it): how long to wait when over.
    pub(crate) fn attempt(
        &self,
        name: &str,
        source: Option<String>,
    ) -> Result<(), std::time::Duration> {
        let now = std::time::Instant::now();
        if let Some(source) = source {
            self.addresses.take(&source, now)?;
        }
        self.names.take(&name_key(name), now)
    }
}

/// Who a working session cookie signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignedInAs {
    pub(crate) person: String,
    pub(crate) name: String,
    pub(crate) role: Role,
    /// The session's id.
    pub(crate) session: String,
}

/// Who the session cookie `presented` signs in: refused with `signed_out` when it names no
/// working session (unknown, ended, unused for [`SESSION_TTL_MS`], or a wrong secret), and
/// `banned` for a banned person.
pub(crate) async fn signed_in(store: &Store, presented: &Presented) -> Result<SignedInAs, Refusal> {
    let unavailable = |e: StoreError| {
        warn!(error = %e, "checking a session failed");
        Refusal::Unavailable
    };
    let now = now_ms();
    let session = store
        .session(&presented.id)
        .await
        .map_err(unavailable)?
        .filter(|s| crate::tokens::matches(&presented.secret, &s.secret_hash))
        .filter(|s| !s.ended && s.last_seen > now - SESSION_TTL_MS)
        .ok_or(Refusal::SignedOut)?;
    let account = store
        .account(&session.person)
        .await
        .map_err(unavailable)?
        .ok_or(Refusal::SignedOut)?;
    if account.banned {
        return Err(Refusal::Banned);
    }
    if let Err(e) = store.touch_session(&session.id, now, TOUCH_EVERY_MS).await {
        warn!(error = %e, "recording a session's use failed");
    }
    Ok(SignedInAs {
        person: account.person,
        name: account.name,
        role: account.role,
        session: session.id,
    })
}
