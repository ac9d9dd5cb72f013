//! The chat page's live side: the socket, incoming messages, catch-up per conversation, the
//! conversations themselves (open, join, leave, unread), and the outbox that sends the user's
//! messages in order until each is acknowledged.
//!
//! Browser only. On the server [`Live`] is an inert stand-in, so components need no `cfg`.
//! The browser's is split by what it does:
//! - `browser`: the connection, identity, incoming messages and catch-up, typing;
//! - `conversations`: opening, joining, leaving and paging back through conversations, read
//!   markers, browsing the rooms to join, and a room's members and settings;
//! - `sender`: the ordered sender over the outbox;
//! - `jobs`: the person's jobs, their changes and ends, and starting exports;
//! - `account`: who the cookie signs in, its sessions, and being signed out.

use std::time::Duration;

/// How long one attempt waits for its ack before it is retried.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// Unanswered attempts (timeouts, or the server unable to store) before a send shows as
/// failed: about 18 s with the pauses between them.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const MAX_ATTEMPTS: u32 = 3;
/// Where the nickname is kept between visits.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) const NAME_KEY: &str = "palaver.name";
/// Where the session token is kept: it proves we are the person who claimed the name.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) const TOKEN_KEY: &str = "palaver.session";

/// The pause after the `attempts`-th unanswered attempt: 1 s, 2 s, 4 s… at most 15 s.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn retry_pause(attempts: u32) -> Duration {
    Duration::from_secs(1 << attempts.saturating_sub(1).min(4)).min(Duration::from_secs(15))
}

#[cfg(feature = "hydrate")]
mod account;
#[cfg(feature = "hydrate")]
mod browser;
#[cfg(feature = "hydrate")]
mod changes;
#[cfg(feature = "hydrate")]
mod conversations;
#[cfg(feature = "hydrate")]
mod jobs;
#[cfg(feature = "hydrate")]
mod notify;
#[cfg(feature = "hydrate")]
mod profiles;
#[cfg(feature = "hydrate")]
mod search;
#[cfg(feature = "hydrate")]
mod sender;

#[cfg(feature = "hydrate")]
pub(crate) use browser::Live;
#[cfg(feature = "hydrate")]
pub(crate) use jobs::JobsWork;

#[cfg(not(feature = "hydrate"))]
pub(crate) use inert::Live;

/// The session token, which proves who we are to HTTP routes too (`POST /imports`); `None`
/// before the server gave one, and always on the server.
pub(crate) fn session_token() -> Option<String> {
    #[cfg(feature = "hydrate")]
    return browser::load_token();
    #[cfg(not(feature = "hydrate"))]
    None
}

/// The page's handle on its [`Live`]: `Copy`, so every component and handler can hold one.
/// It does nothing until the browser starts it.
#[derive(Clone, Copy)]
pub(crate) struct LiveHandle(LiveCell);

// The browser's `Live` holds JS handles, so it needs thread-local storage. The server's is
// inert and `Send`: local storage there would panic when tokio drops the render's owner on
// another worker thread.
#[cfg(feature = "hydrate")]
type LiveCell = leptos::prelude::StoredValue<Option<Live>, leptos::prelude::LocalStorage>;
#[cfg(not(feature = "hydrate"))]
type LiveCell = leptos::prelude::StoredValue<Option<Live>>;

impl LiveHandle {
    pub(crate) fn new() -> LiveHandle {
        #[cfg(feature = "hydrate")]
        let cell = leptos::prelude::StoredValue::new_local(None);
        #[cfg(not(feature = "hydrate"))]
        let cell = leptos::prelude::StoredValue::new(None);
        LiveHandle(cell)
    }

    /// Connects. Called from an effect, so only in the browser.
    pub(crate) fn start(&self, state: crate::ui::state::ChatState) {
        use leptos::prelude::SetValue;
        self.0.set_value(Some(Live::start(state)));
    }

    /// Runs `f` on the live side, if it has started.
    pub(crate) fn run(&self, f: impl FnOnce(&Live)) {
        use leptos::prelude::WithValue;
        self.0.with_value(|live| {
            if let Some(live) = live {
                f(live)
            }
        });
    }
}

#[cfg(not(feature = "hydrate"))]
mod inert {
    use leptos::prelude::RwSignal;

    use crate::events::RoomSettings;
    use crate::ui::room_settings;
    use crate::ui::state::ChatState;

    type Outcome = RwSignal<Option<room_settings::Outcome>>;

    /// The server never runs effects or event handlers, so nothing here is ever called.
    #[derive(Clone)]
    pub(crate) struct Live;

    impl Live {
        pub(crate) fn start(_: ChatState) -> Live {
            Live
        }
        pub(crate) fn post_with(&self, _text: String, _files: Vec<crate::events::FileInfo>) {}
        pub(crate) fn typed(&self) {}
        pub(crate) fn retry(&self, _key: String) {}
        pub(crate) fn discard(&self, _key: String) {}
        pub(crate) fn rename(&self, _name: String) {}
        pub(crate) fn open(&self, _room: String) {}
        pub(crate) fn join(&self, _room: String) {}
        pub(crate) fn join_by_name(&self, _name: String) {}
        pub(crate) fn create(&self, _name: String, _private: bool) {}
        pub(crate) fn add_member(&self, _room: String, _name: String, _outcome: Outcome) {}
        pub(crate) fn remove_member(&self, _room: String, _name: String, _outcome: Outcome) {}
        pub(crate) fn change_settings(&self, _settings: RoomSettings, _outcome: Outcome) {}
        pub(crate) fn leave(&self, _room: String) {}
        pub(crate) fn open_dm(&self, _name: String) {}
        pub(crate) fn browse(&self, _matching: String) {}
        pub(crate) fn browse_more(&self) {}
        pub(crate) fn load_older(&self) {}
        pub(crate) fn list_jobs(&self) {}
        pub(crate) fn export(&self, _room: Option<String>) {}
        pub(crate) fn imported(&self, _job: i64) {}
        pub(crate) fn set_profile(&self, _display_name: String, _status: String) {}
        pub(crate) fn upload_avatar(&self, _input: leptos::prelude::NodeRef<leptos::html::Input>) {}
        pub(crate) fn remove_avatar(&self) {}
        pub(crate) fn sign_out(&self) {}
        pub(crate) fn list_sessions(&self, _: crate::ui::account::SessionList) {}
        pub(crate) fn end_session(&self, _: String, _: crate::ui::account::SessionList) {}
        pub(crate) fn search(
            &self,
            _: crate::events::Search,
            _: RwSignal<crate::ui::search::Results>,
            _: bool,
        ) {
        }
        pub(crate) fn jump(&self, _room: String, _id: i64) {}
        pub(crate) fn fill_gap(&self) {}
        pub(crate) fn edit_message(&self, _room: String, _id: i64, _text: String) {}
        pub(crate) fn remove_message(&self, _room: String, _id: i64) {}
        pub(crate) fn react(&self, _room: String, _id: i64, _emoji: String, _on: bool) {}
        pub(crate) fn jump_to(&self, _id: i64) {}
        pub(crate) fn load_mentions(&self) {}
        pub(crate) fn set_notify(&self, _room: String, _level: crate::events::NotifyLevel) {}
        #[allow(dead_code)]
        pub(crate) fn members(
            &self,
            _room: String,
            _prefix: String,
            _found: RwSignal<Vec<crate::events::Member>>,
            _wanted: impl Fn(&str) -> bool,
        ) {
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_and_are_capped() {
        let secs: Vec<u64> = (1..=7).map(|n| retry_pause(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 15, 15, 15]);
    }
}
