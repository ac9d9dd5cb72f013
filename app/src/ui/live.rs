//! The chat page's live side: the socket, incoming messages, catch-up, and the outbox that
//! sends the user's messages in order until each is acknowledged.
//!
//! Browser only. On the server [`Live`] is an inert stand-in, so components need no `cfg`.

use std::time::Duration;

/// How long one attempt waits for its ack before it is retried.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// Unanswered attempts (timeouts, or the server unable to store) before a send shows as
/// failed: about 18 s with the pauses between them.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const MAX_ATTEMPTS: u32 = 3;
/// Where the display name is kept between visits.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const NAME_KEY: &str = "palaver.name";

/// The pause after the `attempts`-th unanswered attempt: 1 s, 2 s, 4 s… at most 15 s.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn retry_pause(attempts: u32) -> Duration {
    Duration::from_secs(1 << attempts.saturating_sub(1).min(4)).min(Duration::from_secs(15))
}

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
        pub(crate) fn post(&self, _text: String) {}
        pub(crate) fn retry(&self, _key: String) {}
        pub(crate) fn discard(&self, _key: String) {}
        pub(crate) fn rename(&self, _name: String) {}
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;

    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use wasm_bindgen::JsCast;

    use super::{ACK_TIMEOUT, MAX_ATTEMPTS, NAME_KEY, retry_pause};
    use crate::client::{AckError, Client, ConnectionState, Socket};
    use crate::events::{
        ChatError, ChatMessage, HISTORY_PAGE, History, LOBBY, Main, MainAuth, RoomHead,
        SendMessage, Since, Sync, Synced, clean_name,
    };
    use crate::ui::outbox::{self, Entry};
    use crate::ui::status::Status;
    use crate::ui::timeline::{SendState, Timeline};

    /// The sender's bookkeeping, outside the reactive graph.
    #[derive(Default)]
    struct Sender {
        /// An attempt awaits its ack, or a pause before the next attempt is running: either
        /// way nothing else may be sent, so sends are stored in the order they were written.
        busy: bool,
        /// Unanswered attempts per send.
        attempts: HashMap<String, u32>,
        /// A `sync` or `history` reload is under way.
        syncing: bool,
    }

    #[derive(Clone)]
    pub(crate) struct Live {
        socket: Socket<Main>,
        timeline: RwSignal<Timeline>,
        name: RwSignal<String>,
        sender: Rc<RefCell<Sender>>,
    }

    impl Live {
        pub(crate) fn start(
            timeline: RwSignal<Timeline>,
            status: RwSignal<Status>,
            name: RwSignal<String>,
        ) -> Live {
            name.set(load_name());
            restore_outbox(timeline);
            let client = Client::connect();
            // Recomputed on every (re)connect: the server replays what came after the newest
            // message held with nothing missing, and knows us by our current name.
            let socket = client.socket::<Main>(move || {
                let last = timeline.with_untracked(Timeline::last_id);
                MainAuth {
                    server_offset: last,
                    name: Some(name.get_untracked()),
                    since: Some(Since::from([(LOBBY.to_owned(), last)])),
                }
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

            let live = Live {
                socket: socket.clone(),
                timeline,
                name,
                sender: Rc::default(),
            };
            let this = live.clone();
            socket.on(move |m: ChatMessage| this.receive(m));
            let this = live.clone();
            socket.on(move |s: Synced| this.synced(s));
            let this = live.clone();
            socket.on(move |head: RoomHead| {
                if this.timeline.with_untracked(|t| t.is_behind(head.last_seq)) {
                    this.sync();
                }
            });
            let this = live.clone();
            socket.on_connect(move || this.pump());
            socket.on_connect_error(|reason| {
                leptos::logging::warn!("chat connection refused: {reason}");
            });
            live
        }

        fn receive(&self, m: ChatMessage) {
            if let Some(key) = &m.meta.client_offset {
                outbox::remove(key);
            }
            self.timeline.update(|t| t.confirm(m));
            // A seq skipped: the server dropped a delivery to us.
            if self.timeline.with_untracked(Timeline::has_hole) {
                self.sync();
            }
        }

        fn synced(&self, s: Synced) {
            if s.gap {
                self.reload();
            } else if self
                .timeline
                .with_untracked(|t| t.has_hole() || t.is_behind(s.head.last_seq))
            {
                self.sync();
            }
        }

        /// Asks for what is missing after the cursor; at most one at a time.
        fn sync(&self) {
            if std::mem::replace(&mut self.sender.borrow_mut().syncing, true) {
                return;
            }
            let this = self.clone();
            spawn_local(async move {
                let since = Since::from([(
                    LOBBY.to_owned(),
                    this.timeline.with_untracked(Timeline::last_id),
                )]);
                let result = this
                    .socket
                    .emit_with_ack(&Sync { since }, ACK_TIMEOUT)
                    .await;
                this.sender.borrow_mut().syncing = false;
                // A gap reported while this sync was under way could not start its reload.
                if this.timeline.with_untracked(Timeline::is_reloading) {
                    this.reload();
                }
                match result.map(|r| r.into_result()) {
                    Ok(Ok(done)) => done.into_iter().for_each(|s| this.synced(s)),
                    // A reconnect catches up anyway; the next hole asks again otherwise.
                    Ok(Err(e)) => leptos::logging::warn!("sync refused: {e}"),
                    Err(e) => leptos::logging::warn!("sync failed: {e:?}"),
                }
            });
        }

        /// Too much was missed to replay: start again from the room's recent history.
        fn reload(&self) {
            self.timeline.update(Timeline::begin_reload);
            if std::mem::replace(&mut self.sender.borrow_mut().syncing, true) {
                return;
            }
            let this = self.clone();
            spawn_local(async move {
                let request = History {
                    room: LOBBY.to_owned(),
                    before: None,
                    limit: Some(HISTORY_PAGE),
                };
                let result = this.socket.emit_with_ack(&request, ACK_TIMEOUT).await;
                this.sender.borrow_mut().syncing = false;
                match result.map(|r| r.into_result()) {
                    Ok(Ok(page)) => {
                        for m in &page.messages {
                            if let Some(key) = &m.meta.client_offset {
                                outbox::remove(key);
                            }
                        }
                        this.timeline.update(|t| t.finish_reload(page.messages));
                    }
                    // Still reloading: the next connect's catch-up reports the gap again.
                    Ok(Err(e)) => leptos::logging::warn!("history refused: {e}"),
                    Err(e) => leptos::logging::warn!("history failed: {e:?}"),
                }
            });
        }

        /// Queues `text` for sending: shown at once, kept in the outbox, sent in turn.
        pub(crate) fn post(&self, text: String) {
            let entry = Entry {
                key: uuid::Uuid::new_v4().to_string(),
                room: LOBBY.to_owned(),
                text,
                author: self.name.get_untracked(),
                at: js_sys::Date::now(),
            };
            outbox::put(&entry);
            self.timeline
                .update(|t| t.add_pending(entry.key, entry.text, entry.author));
            self.pump();
        }

        /// Sends the oldest waiting message, unless one is already under way, a failed one
        /// holds the line, or there is no connection (then the next connect calls this).
        fn pump(&self) {
            if self.sender.borrow().busy || !self.socket.connected().get_untracked() {
                return;
            }
            let Some(next) = self.timeline.with_untracked(|t| t.next_to_send().cloned()) else {
                return;
            };
            self.sender.borrow_mut().busy = true;
            let this = self.clone();
            spawn_local(async move {
                let message = SendMessage {
                    text: next.text,
                    client_offset: Some(next.key.clone()),
                };
                let result = this.socket.emit_with_ack(&message, ACK_TIMEOUT).await;
                let retry = match result.map(|r| r.into_result()) {
                    Ok(Ok(posted)) => {
                        outbox::remove(&next.key);
                        this.sender.borrow_mut().attempts.remove(&next.key);
                        this.timeline.update(|t| t.acknowledge(&next.key, posted));
                        false
                    }
                    Ok(Err(ChatError::Unavailable)) | Err(AckError::Timeout) => {
                        this.unanswered(&next.key)
                    }
                    // Not an attempt: it goes out again on the next connect.
                    Err(AckError::NotConnected | AckError::Disconnected) => false,
                    Ok(Err(e)) => {
                        this.fail(&next.key, capitalise(&e.to_string()));
                        false
                    }
                    Err(AckError::Decode(e)) => {
                        this.fail(&next.key, format!("Unexpected answer: {e}"));
                        false
                    }
                };
                if retry {
                    let attempts = this.sender.borrow().attempts.get(&next.key).copied();
                    sleep(retry_pause(attempts.unwrap_or(1))).await;
                }
                this.sender.borrow_mut().busy = false;
                this.pump();
            });
        }

        /// Counts an unanswered attempt; true when another should follow after a pause.
        fn unanswered(&self, key: &str) -> bool {
            let attempts = {
                let mut s = self.sender.borrow_mut();
                let n = s.attempts.entry(key.to_owned()).or_default();
                *n += 1;
                *n
            };
            if attempts >= MAX_ATTEMPTS {
                self.fail(key, "No answer from the server".to_owned());
                return false;
            }
            true
        }

        fn fail(&self, key: &str, reason: String) {
            self.timeline
                .update(|t| t.set_state(key, SendState::Failed(reason)));
        }

        pub(crate) fn retry(&self, key: String) {
            self.sender.borrow_mut().attempts.remove(&key);
            self.timeline
                .update(|t| t.set_state(&key, SendState::Sending));
            self.pump();
        }

        pub(crate) fn discard(&self, key: String) {
            outbox::remove(&key);
            self.sender.borrow_mut().attempts.remove(&key);
            self.timeline.update(|t| t.discard(&key));
            self.pump();
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

    /// Shows what the outbox still holds from earlier visits, unless the page already has it.
    fn restore_outbox(timeline: RwSignal<Timeline>) {
        for e in outbox::load() {
            if e.room != LOBBY {
                continue;
            }
            if timeline.with_untracked(|t| t.has_offset(&e.key)) {
                outbox::remove(&e.key);
            } else {
                timeline.update(|t| t.add_pending(e.key, e.text, e.author));
            }
        }
    }

    async fn sleep(pause: std::time::Duration) {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            if let Some(w) = web_sys::window() {
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                    resolve.unchecked_ref(),
                    pause.as_millis() as i32,
                );
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_and_are_capped() {
        let secs: Vec<u64> = (1..=7).map(|n| retry_pause(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 15, 15, 15]);
    }
}
