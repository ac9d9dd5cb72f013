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
/// Where the nickname is kept between visits.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const NAME_KEY: &str = "palaver.name";
/// Where the session token is kept: it proves we are the person who claimed the name.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const TOKEN_KEY: &str = "palaver.session";

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

    use crate::events::Presence;
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
            _: RwSignal<Option<String>>,
            _: RwSignal<Presence>,
            _: RwSignal<Vec<String>>,
        ) -> Live {
            Live
        }
        pub(crate) fn post(&self, _text: String) {}
        pub(crate) fn typed(&self) {}
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

    use super::{ACK_TIMEOUT, MAX_ATTEMPTS, NAME_KEY, TOKEN_KEY, retry_pause};
    use crate::client::{AckError, Client, ConnectionState, Socket};
    use crate::events::{
        ChatError, ChatMessage, HISTORY_PAGE, History, Kicked, LOBBY, Main, MainAuth, Presence,
        Refusal, RoomHead, SendMessage, Session, Since, StartTyping, Sync, Synced, TYPING_EVERY_MS,
        TYPING_SHOWS_MS, Typing, validate_name,
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
        name_error: RwSignal<Option<String>>,
        /// The nickname to claim on the next connect; `None` once the server confirmed one
        /// (the token then says who we are) or refused it.
        wanted: Rc<RefCell<Option<String>>>,
        sender: Rc<RefCell<Sender>>,
        /// Who is typing (shown), and until when each shows (`Date.now()` ms).
        typists: RwSignal<Vec<String>>,
        typing_until: Rc<RefCell<HashMap<String, f64>>>,
        /// When our own `typing` last went out.
        typed_at: Rc<RefCell<f64>>,
    }

    impl Live {
        pub(crate) fn start(
            timeline: RwSignal<Timeline>,
            status: RwSignal<Status>,
            name: RwSignal<String>,
            name_error: RwSignal<Option<String>>,
            presence: RwSignal<Presence>,
            typists: RwSignal<Vec<String>>,
        ) -> Live {
            let saved = load_name();
            name.set(saved.clone());
            // With a token the server knows us already; without one, claim the saved name.
            let wanted = Rc::new(RefCell::new(load_token().is_none().then_some(saved)));
            restore_outbox(timeline);
            let client = Client::connect();
            // Recomputed on every (re)connect: the server replays what came after the newest
            // message held with nothing missing, and knows us by our token or claimed name.
            let socket = client.socket::<Main>({
                let wanted = wanted.clone();
                move || {
                    let last = timeline.with_untracked(Timeline::last_id);
                    MainAuth {
                        server_offset: last,
                        name: wanted.borrow().clone(),
                        token: load_token(),
                        since: Some(Since::from([(LOBBY.to_owned(), last)])),
                    }
                }
            });

            let transport = client.state();
            let joined = socket.connected();
            Effect::new(move |_| {
                if status.get_untracked() == Status::Removed {
                    return;
                }
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
                name_error,
                wanted,
                sender: Rc::default(),
                typists,
                typing_until: Rc::default(),
                typed_at: Rc::default(),
            };
            socket.on(move |p: Presence| {
                if p.room == LOBBY {
                    presence.set(p);
                }
            });
            let this = live.clone();
            socket.on(move |t: Typing| this.someone_typed(t));
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
            let this = live.clone();
            socket.on(move |s: Session| this.session(s));
            socket.on(move |k: Kicked| {
                // Shown where the name's problems are shown: it is about who we are.
                name_error.set(Some(format!("Removed by a moderator: {}", k.reason)));
                status.set(Status::Removed);
            });
            let this = live.clone();
            socket.on_connect_error(move |reason| this.refused(&reason));
            live
        }

        /// The server knows us as `s.name`: keep its token for next time.
        fn session(&self, s: Session) {
            if let Some(storage) = local_storage() {
                let _ = storage.set_item(TOKEN_KEY, &s.token);
                let _ = storage.set_item(NAME_KEY, &s.name);
            }
            self.wanted.borrow_mut().take();
            self.name.set(s.name);
            self.name_error.set(None);
        }

        /// The server refused the connection: fix what it objected to and connect again.
        fn refused(&self, reason: &str) {
            leptos::logging::warn!("chat connection refused: {reason}");
            let token = load_token();
            match Refusal::from_message(reason) {
                // Signed out (expired, or the server's key changed): claim the name afresh.
                Some(Refusal::InvalidToken | Refusal::ExpiredToken) => {
                    if let Some(storage) = local_storage() {
                        let _ = storage.remove_item(TOKEN_KEY);
                    }
                    let name = self.name.get_untracked();
                    *self.wanted.borrow_mut() = validate_name(&name).is_ok().then_some(name);
                }
                // Keep the identity we have (the token's), or read as a guest until the
                // person picks another name.
                Some(Refusal::NameTaken | Refusal::InvalidName) => {
                    let wanted = self.wanted.borrow_mut().take().unwrap_or_default();
                    self.name_error
                        .set(Some(if reason == Refusal::NameTaken.to_string() {
                            format!("“{wanted}” is taken; pick another name")
                        } else {
                            NAME_RULES.to_owned()
                        }));
                    if token.is_none() {
                        self.name.set(String::new());
                    }
                }
                // The server could not check us; it may shortly.
                Some(Refusal::Unavailable) => {}
                // Nothing a retry would change.
                Some(Refusal::InvalidAuth | Refusal::Unauthorized) | None => return,
            }
            let socket = self.socket.clone();
            spawn_local(async move {
                sleep(std::time::Duration::from_secs(1)).await;
                socket.refresh_auth();
            });
        }

        fn receive(&self, m: ChatMessage) {
            if let Some(key) = &m.meta.client_offset {
                outbox::remove(key);
            }
            // Their message is what they were typing.
            self.stop_showing_typist(&m.meta.author);
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

        /// Shows that `t.name` is typing for a few seconds, unless it is us (another tab).
        fn someone_typed(&self, t: Typing) {
            if t.room != LOBBY || t.name == self.name.get_untracked() {
                return;
            }
            let until = js_sys::Date::now() + TYPING_SHOWS_MS as f64;
            self.typing_until.borrow_mut().insert(t.name.clone(), until);
            self.typists.update(|v| {
                if !v.contains(&t.name) {
                    v.push(t.name.clone());
                }
            });
            let this = self.clone();
            spawn_local(async move {
                sleep(std::time::Duration::from_millis(TYPING_SHOWS_MS)).await;
                // A fresher `typing` moved the deadline: that one's timer removes it.
                let expired = this
                    .typing_until
                    .borrow()
                    .get(&t.name)
                    .is_some_and(|u| *u <= js_sys::Date::now());
                if expired {
                    this.stop_showing_typist(&t.name);
                }
            });
        }

        fn stop_showing_typist(&self, name: &str) {
            if self.typing_until.borrow_mut().remove(name).is_some() {
                self.typists.update(|v| v.retain(|n| n != name));
            }
        }

        /// The composer changed: tell the room, at most every two seconds, while connected
        /// (typing is volatile: never queued for later).
        pub(crate) fn typed(&self) {
            let now = js_sys::Date::now();
            if !self.socket.connected().get_untracked()
                || now - *self.typed_at.borrow() < TYPING_EVERY_MS as f64
            {
                return;
            }
            *self.typed_at.borrow_mut() = now;
            let _ = self.socket.emit(&StartTyping {
                room: LOBBY.to_owned(),
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
                    room: None,
                };
                let result = this.socket.emit_with_ack(&message, ACK_TIMEOUT).await;
                // How long to pause before the next attempt, if one should follow.
                let pause = match result.map(|r| r.into_result()) {
                    Ok(Ok(posted)) => {
                        outbox::remove(&next.key);
                        this.sender.borrow_mut().attempts.remove(&next.key);
                        this.timeline.update(|t| t.acknowledge(&next.key, posted));
                        None
                    }
                    Ok(Err(ChatError::Unavailable)) | Err(AckError::Timeout) => {
                        this.unanswered(&next.key).then(|| {
                            let attempts = this.sender.borrow().attempts.get(&next.key).copied();
                            retry_pause(attempts.unwrap_or(1))
                        })
                    }
                    // Sending too fast: not a failed attempt, just wait as long as told.
                    Ok(Err(ChatError::RateLimited { retry_after_ms })) => {
                        Some(std::time::Duration::from_millis(retry_after_ms))
                    }
                    // Not an attempt: it goes out again on the next connect.
                    Err(AckError::NotConnected | AckError::Disconnected) => None,
                    Ok(Err(e)) => {
                        this.fail(&next.key, capitalise(&e.to_string()));
                        None
                    }
                    Err(AckError::Decode(e)) => {
                        this.fail(&next.key, format!("Unexpected answer: {e}"));
                        None
                    }
                };
                if let Some(pause) = pause {
                    sleep(pause).await;
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

        /// Claims another nickname. Identity lives in the connection, so this reconnects;
        /// the server's `session` (or refusal) settles it.
        pub(crate) fn rename(&self, name: String) {
            let name = name.trim().to_owned();
            if validate_name(&name).is_err() {
                self.name_error.set(Some(NAME_RULES.to_owned()));
                return;
            }
            self.name_error.set(None);
            if name == self.name.get_untracked() && self.wanted.borrow().is_none() {
                return;
            }
            *self.wanted.borrow_mut() = Some(name.clone());
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

    const NAME_RULES: &str = "A name is 1 to 32 letters, digits, “-”, “_” or “.”";

    fn load_token() -> Option<String> {
        local_storage()?.get_item(TOKEN_KEY).ok().flatten()
    }

    /// The saved name, or a fresh guest name saved for next time.
    fn load_name() -> String {
        let storage = local_storage();
        if let Some(name) = storage
            .as_ref()
            .and_then(|s| s.get_item(NAME_KEY).ok().flatten())
            .filter(|n| validate_name(n).is_ok())
        {
            return name;
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
