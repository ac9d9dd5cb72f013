//! The chat page's live side: the socket, incoming messages, and sending with acks.
//!
//! Browser only. On the server [`Live`] is an inert stand-in, so components need no `cfg`.

/// How long an attempt waits for its ack before the message is shown as failed.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const ACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Where the display name is kept between visits.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const NAME_KEY: &str = "palaver.name";

#[cfg(feature = "hydrate")]
pub(crate) use browser::Live;

#[cfg(not(feature = "hydrate"))]
pub(crate) use inert::Live;

#[cfg(not(feature = "hydrate"))]
mod inert {
    use leptos::prelude::RwSignal;

    use crate::ui::status::Status;
    use crate::ui::timeline::Timeline;

    /// The server never runs effects or event handlers, so nothing here is ever called.
    #[derive(Clone)]
    pub(crate) struct Live;

    impl Live {
        pub(crate) fn start(
            _: RwSignal<Timeline>,
            _: RwSignal<Status>,
            _: RwSignal<String>,
        ) -> Live {
            Live
        }
        pub(crate) fn send(&self, _key: String) {}
        pub(crate) fn retry(&self, _key: String) {}
        pub(crate) fn rename(&self, _name: String) {}
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::RefCell;
    use std::collections::HashSet;
    use std::rc::Rc;

    use leptos::prelude::*;
    use leptos::task::spawn_local;

    use super::{ACK_TIMEOUT, NAME_KEY};
    use crate::client::{AckError, Client, ConnectionState, Socket};
    use crate::events::{ChatMessage, Main, MainAuth, SendMessage, clean_name};
    use crate::ui::status::Status;
    use crate::ui::timeline::{SendState, Timeline};

    #[derive(Clone)]
    pub(crate) struct Live {
        socket: Socket<Main>,
        timeline: RwSignal<Timeline>,
        name: RwSignal<String>,
        /// Keys with an attempt awaiting its ack, so a reconnect does not send them twice at
        /// once. (The server would deduplicate, but the ack would be counted twice.)
        in_flight: Rc<RefCell<HashSet<String>>>,
    }

    impl Live {
        pub(crate) fn start(
            timeline: RwSignal<Timeline>,
            status: RwSignal<Status>,
            name: RwSignal<String>,
        ) -> Live {
            name.set(load_name());
            let client = Client::connect();
            // The auth is recomputed on every (re)connect: the server replays what came after
            // the newest message we hold, and knows us by our current name.
            let socket = client.socket::<Main>(move || MainAuth {
                server_offset: timeline.with_untracked(Timeline::last_id),
                name: Some(name.get_untracked()),
            });

            let transport = client.state();
            let joined = socket.connected();
            Effect::new(move |_| {
                status.set(match (joined.get(), transport.get()) {
                    (true, _) => Status::Connected,
                    (false, ConnectionState::Connecting) => Status::Connecting,
                    (false, _) => Status::Reconnecting,
                })
            });

            socket.on(move |m: ChatMessage| timeline.update(|t| t.confirm(m)));
            let live = Live {
                socket: socket.clone(),
                timeline,
                name,
                in_flight: Rc::default(),
            };
            let on_connect = live.clone();
            socket.on_connect(move || on_connect.flush());
            socket.on_connect_error(|reason| {
                leptos::logging::warn!("chat connection refused: {reason}");
            });
            live
        }

        /// Sends every message still waiting, oldest first.
        fn flush(&self) {
            let keys: Vec<String> = self
                .timeline
                .with_untracked(|t| t.sending().map(|p| p.key.clone()).collect());
            for key in keys {
                self.send(key);
            }
        }

        /// Sends the pending message `key`. When offline it stays pending and goes out on the
        /// next connect; the client offset makes any repeat harmless.
        pub(crate) fn send(&self, key: String) {
            let Some(pending) = self.timeline.with_untracked(|t| t.pending(&key).cloned()) else {
                return;
            };
            if !self.in_flight.borrow_mut().insert(key.clone()) {
                return;
            }
            let this = self.clone();
            spawn_local(async move {
                let message = SendMessage {
                    text: pending.text,
                    client_offset: Some(key.clone()),
                };
                let result = this.socket.emit_with_ack(&message, ACK_TIMEOUT).await;
                this.in_flight.borrow_mut().remove(&key);
                let failed = |reason: String| {
                    this.timeline
                        .update(|t| t.set_state(&key, SendState::Failed(reason)))
                };
                match result {
                    Ok(reply) => match reply.into_result() {
                        Ok(posted) => this.timeline.update(|t| t.acknowledge(&key, posted)),
                        Err(e) => failed(capitalise(&e.to_string())),
                    },
                    // Still pending: flushed again on the next connect.
                    Err(AckError::NotConnected | AckError::Disconnected) => {}
                    Err(AckError::Timeout) => failed("No answer from the server".to_owned()),
                    Err(AckError::Decode(e)) => failed(format!("Unexpected answer: {e}")),
                }
            });
        }

        pub(crate) fn retry(&self, key: String) {
            self.timeline
                .update(|t| t.set_state(&key, SendState::Sending));
            self.send(key);
        }

        /// Adopts a new display name: kept for the next visit and, since identity lives in the
        /// connection, applied by reconnecting the namespace.
        pub(crate) fn rename(&self, name: String) {
            let name = clean_name(Some(&name));
            if name == self.name.get_untracked() {
                return;
            }
            if let Some(storage) = local_storage() {
                let _ = storage.set_item(NAME_KEY, &name);
            }
            self.name.set(name);
            self.socket.refresh_auth();
        }
    }

    fn local_storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok()?
    }

    /// The saved name, or a fresh guest name saved for next time.
    fn load_name() -> String {
        let storage = local_storage();
        if let Some(name) = storage
            .as_ref()
            .and_then(|s| s.get_item(NAME_KEY).ok().flatten())
        {
            return clean_name(Some(&name));
        }
        // Math.random: fastrand has no entropy source in the browser without extra features.
        let name = format!("guest-{:04}", (js_sys::Math::random() * 10_000.0) as u32);
        if let Some(s) = storage {
            let _ = s.set_item(NAME_KEY, &name);
        }
        name
    }

    fn capitalise(s: &str) -> String {
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    }
}
