//! The connection: identity, incoming messages, catch-up per conversation, presence and
//! typing.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use super::{ACK_TIMEOUT, NAME_KEY, TOKEN_KEY};
use crate::client::{Client, ConnectionState, Socket};
use crate::events::{
    ChatError, ChatMessage, HISTORY_PAGE, History, Kicked, LOBBY, Main, MainAuth, MessageChanged,
    MessageDeleted, Presence, Refusal, RoomHead, RoomList, RoomUpdate, Session, Since, StartTyping,
    Sync, Synced, TYPING_EVERY_MS, TYPING_SHOWS_MS, Typing, validate_name,
};
use crate::sorted_map::SortedMap;
use crate::ui::account::kept;
use crate::ui::outbox;
use crate::ui::state::ChatState;
use crate::ui::status::Status;
use crate::ui::timeline::Timeline;

/// Bookkeeping outside the reactive graph.
#[derive(Default)]
pub(super) struct Books {
    /// An attempt awaits its ack, or a pause before the next attempt is running: either
    /// way nothing else may be sent, so sends are stored in the order they were written.
    pub(super) busy: bool,
    /// Unanswered attempts per send.
    pub(super) attempts: SortedMap<String, u32>,
    /// Every waiting send in the order it was written: (client offset, conversation).
    pub(super) queue: Vec<(String, String)>,
    /// Conversations with a `sync` or `history` reload under way.
    pub(super) syncing: SortedMap<String, ()>,
    /// Counts `browse rooms` requests: only the answer to the newest is shown.
    pub(super) browse_asked: u64,
    /// The newest `seq` reported with `read`, per conversation.
    pub(super) read: SortedMap<String, i64>,
    /// When our own `typing` last went out, per conversation.
    pub(super) typed_at: SortedMap<String, f64>,
    /// Until when each (conversation, name) shows as typing (`Date.now()` ms).
    pub(super) typing_until: SortedMap<(String, String), f64>,
    /// Signed out: the page is on its way to reload.
    pub(super) leaving: bool,
}

#[derive(Clone)]
pub(crate) struct Live {
    pub(super) socket: Socket<Main>,
    pub(super) state: ChatState,
    /// The nickname to claim on the next connect; `None` once the server confirmed one
    /// (the token then says who we are) or refused it.
    pub(super) wanted: Rc<RefCell<Option<String>>>,
    pub(super) books: Rc<RefCell<Books>>,
}

impl Live {
    pub(crate) fn start(state: ChatState) -> Live {
        super::account::prepare(&state);
        let saved = load_name();
        state.name.set(saved.clone());
        state.name_draft.set(saved.clone());
        // With a token or the cookie the server knows us already; without either, claim the
        // saved name; with nothing saved, we are a guest until we sign in or pick a name.
        let by_cookie = kept::is_account();
        let claim = !by_cookie && load_token().is_none() && !saved.is_empty();
        let wanted = Rc::new(RefCell::new(claim.then_some(saved)));
        let client = Client::connect();
        // Recomputed on every (re)connect: the server replays what came after the newest
        // message held with nothing missing, and knows us by our token or claimed name.
        let socket = client.socket::<Main>({
            let wanted = wanted.clone();
            move || MainAuth {
                server_offset: state
                    .timeline(LOBBY)
                    .map_or(0, |t| t.with_untracked(Timeline::last_id)),
                name: wanted.borrow().clone(),
                token: load_token(),
                since: Some(cursors(&state)),
                changes: Some(super::changes::change_cursors(&state)),
            }
        });

        let transport = client.state();
        let joined = socket.connected();
        let status = state.status;
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
            state,
            wanted,
            books: Rc::default(),
        };
        live.restore_outbox();
        socket.on(move |p: Presence| {
            state.presence.update(|all| {
                all.insert(p.room.clone(), p);
            })
        });
        let this = live.clone();
        socket.on(move |t: Typing| this.someone_typed(t));
        let this = live.clone();
        socket.on(move |m: ChatMessage| this.receive(m));
        let this = live.clone();
        socket.on(move |s: Synced| this.synced(s));
        let this = live.clone();
        socket.on(move |c: MessageChanged| this.changed(c));
        let this = live.clone();
        socket.on(move |head: RoomHead| {
            let behind = this
                .state
                .timeline(&head.room)
                .is_some_and(|t| t.with_untracked(|t| t.is_behind(head.last_seq)));
            if behind {
                this.sync(&head.room);
            }
        });
        let this = live.clone();
        socket.on(move |list: RoomList| this.room_list(list));
        socket.on(move |u: RoomUpdate| state.rooms.update(|r| r.apply_update(u)));
        let this = live.clone();
        socket.on(move |d: MessageDeleted| {
            if let Some(t) = this.state.timeline(&d.room) {
                t.update(|t| t.remove(d.id));
            }
        });
        let this = live.clone();
        socket.on(move |f: crate::events::FileReady| {
            if let (Some(room), Some(id)) = (&f.room, f.message)
                && let Some(t) = this.state.timeline(room)
            {
                t.update(|t| t.file_ready(id, f.file));
            }
        });
        let this = live.clone();
        socket.on_connect(move || {
            // Conversations whose first page never came (opened or restored while offline).
            let loading: Vec<String> = this.state.timelines.with_untracked(|all| {
                all.iter()
                    .filter(|(_, t)| t.with_untracked(Timeline::is_reloading))
                    .map(|(room, _)| room.clone())
                    .collect()
            });
            for room in loading {
                this.reload(&room);
            }
            this.pump();
        });
        let this = live.clone();
        socket.on(move |s: Session| this.session(s));
        socket.on(move |k: Kicked| {
            // Shown where the name's problems are shown: it is about who we are.
            state
                .name_error
                .set(Some(format!("Removed by a moderator: {}", k.reason)));
            status.set(Status::Removed);
        });
        let this = live.clone();
        socket.on_connect_error(move |reason| this.refused(&reason));
        live.follow_jobs();
        live.follow_profiles();
        live.follow_account();
        live.follow_notifications();
        live
    }

    /// The server knows us as `s.name`: keep its token for next time. A name refused
    /// meanwhile stays in the field, with its error, unless this is the name asked for.
    fn session(&self, s: Session) {
        if let Some(storage) = local_storage() {
            let _ = storage.set_item(TOKEN_KEY, &s.token);
            let _ = storage.set_item(NAME_KEY, &s.name);
        }
        kept::held_by_token();
        let asked = self.wanted.borrow_mut().take();
        if asked.is_some() || self.state.name_error.get_untracked().is_none() {
            self.state.name_error.set(None);
            self.state.name_draft.set(s.name.clone());
        }
        self.state.name.set(s.name);
        self.state.account.token_held.set(true);
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
                // Whoever claims the name now is another person, with other jobs.
                self.forget_jobs();
                let name = self.state.name.get_untracked();
                *self.wanted.borrow_mut() = validate_name(&name).is_ok().then_some(name);
            }
            // Keep the identity we have (the token's), or read as a guest until the
            // person picks another name.
            Some(
                refusal @ (Refusal::NameTaken
                | Refusal::InvalidName
                | Refusal::ReservedName
                | Refusal::TooManyNames),
            ) => {
                let wanted = self.wanted.borrow_mut().take().unwrap_or_default();
                self.state.name_error.set(Some(match refusal {
                    Refusal::NameTaken => format!("“{wanted}” is taken; pick another name"),
                    Refusal::TooManyNames => "Too many new names from your network lately: \
                                              try again in a few minutes"
                        .to_owned(),
                    _ => name_problem(refusal),
                }));
                if token.is_none() {
                    self.state.name.set(String::new());
                }
            }
            // The server could not check us; it may shortly.
            Some(Refusal::Unavailable) => {}
            // Nothing a retry would change.
            Some(Refusal::InvalidAuth | Refusal::Unauthorized) | None => return,
            // Accounts: the sign-in form's business.
            Some(
                refusal @ (Refusal::SignedOut | Refusal::SignInRequired | Refusal::SignUpClosed),
            ) => {
                if !self.account_refused(refusal) {
                    return;
                }
            }
            // Nor for this person: say so where the name's problems are shown.
            Some(Refusal::Banned) => {
                self.state
                    .name_error
                    .set(Some("A moderator banned this name".to_owned()));
                self.state.status.set(Status::Removed);
                return;
            }
        }
        let socket = self.socket.clone();
        spawn_local(async move {
            sleep(std::time::Duration::from_secs(1)).await;
            socket.refresh_auth();
        });
    }

    /// A stored message of one of our conversations: into its timeline if the page holds
    /// one, and into the unread counts either way.
    fn receive(&self, m: ChatMessage) {
        let room = m.meta.room.clone();
        if let Some(key) = &m.meta.client_offset {
            outbox::remove(key);
        }
        // Their message is what they were typing.
        self.stop_showing_typist(&room, &m.meta.author);
        self.notify_of(&m);
        let viewing = self.on_screen(&room);
        let me = self.state.name.get_untracked();
        self.state
            .rooms
            .maybe_update(|r| r.arrived(&m.meta, &me, viewing));
        let Some(timeline) = self.state.timeline(&room) else {
            return;
        };
        timeline.update(|t| t.confirm(m));
        // A seq skipped: the server dropped a delivery to us.
        if timeline.with_untracked(Timeline::has_hole) {
            self.sync(&room);
        }
        if viewing {
            self.seen(&room);
        }
    }

    fn synced(&self, s: Synced) {
        let room = s.head.room.as_str();
        let Some(timeline) = self.state.timeline(room) else {
            return;
        };
        super::changes::synced(&timeline, s.change_seq);
        if s.gap {
            self.reload(room);
        } else if timeline.with_untracked(|t| t.has_hole() || t.is_behind(s.head.last_seq)) {
            self.sync(room);
        }
    }

    /// Marks `room`'s `sync` or reload as under way: false if one already was, since a
    /// conversation has one such request at a time.
    fn begin_syncing(&self, room: &str) -> bool {
        let mut books = self.books.borrow_mut();
        books.syncing.insert(room.to_owned(), ()).is_none()
    }

    /// Asks for what is missing after a conversation's cursor; one request per conversation
    /// at a time.
    pub(super) fn sync(&self, room: &str) {
        let Some(timeline) = self.state.timeline(room) else {
            return;
        };
        if !self.begin_syncing(room) {
            return;
        }
        let this = self.clone();
        let room = room.to_owned();
        spawn_local(async move {
            let since = cursor_map([(room.clone(), timeline.with_untracked(Timeline::last_id))]);
            let changes = cursor_map([(
                room.clone(),
                timeline.with_untracked(Timeline::change_cursor),
            )]);
            let result = this
                .socket
                .emit_with_ack(&Sync { since, changes }, ACK_TIMEOUT)
                .await;
            this.books.borrow_mut().syncing.remove(&room);
            // A gap reported while this sync was under way could not start its reload.
            if timeline.with_untracked(Timeline::is_reloading) {
                this.reload(&room);
            }
            match result.map(|r| r.into_result()) {
                Ok(Ok(done)) => done.into_iter().for_each(|s| this.synced(s)),
                // A hole must not wait for the next one: ask again when allowed.
                Ok(Err(ChatError::RateLimited { retry_after_ms })) => {
                    sleep(std::time::Duration::from_millis(retry_after_ms)).await;
                    this.sync(&room);
                }
                // The server is there but its database is not (a restart, a failover): ask
                // again shortly, or a hole would wait for the next message.
                Ok(Err(ChatError::Unavailable)) => {
                    sleep(SYNC_RETRY).await;
                    this.sync(&room);
                }
                // A reconnect catches up anyway; the next hole asks again otherwise.
                Ok(Err(e)) => leptos::logging::warn!("sync of {room} refused: {e}"),
                Err(e) => leptos::logging::warn!("sync of {room} failed: {e:?}"),
            }
        });
    }

    /// Starts a conversation's timeline from its newest page: the first time it is opened,
    /// or when too much was missed to replay.
    pub(super) fn reload(&self, room: &str) {
        let Some(timeline) = self.state.timeline(room) else {
            return;
        };
        timeline.update(Timeline::begin_reload);
        if !self.begin_syncing(room) {
            return;
        }
        let this = self.clone();
        let room = room.to_owned();
        spawn_local(async move {
            let request = History {
                room: room.clone(),
                before: None,
                limit: Some(HISTORY_PAGE),
                ..History::default()
            };
            let result = this.socket.emit_with_ack(&request, ACK_TIMEOUT).await;
            this.books.borrow_mut().syncing.remove(&room);
            match result.map(|r| r.into_result()) {
                Ok(Ok(page)) => {
                    for m in &page.messages {
                        if let Some(key) = &m.meta.client_offset {
                            outbox::remove(key);
                        }
                    }
                    timeline.update(|t| t.finish_reload(page.messages, page.more));
                    if this.state.active.get_untracked() == room {
                        this.seen(&room);
                    }
                }
                Ok(Err(ChatError::RateLimited { retry_after_ms })) => {
                    sleep(std::time::Duration::from_millis(retry_after_ms)).await;
                    this.reload(&room);
                }
                // Still reloading: the next connect asks again.
                Ok(Err(e)) => leptos::logging::warn!("history of {room} refused: {e}"),
                Err(e) => leptos::logging::warn!("history of {room} failed: {e:?}"),
            }
        });
    }

    /// Shows that `t.name` is typing in `t.room` for a few seconds, unless it is us (another
    /// tab).
    fn someone_typed(&self, t: Typing) {
        if t.name == self.state.name.get_untracked() {
            return;
        }
        let until = js_sys::Date::now() + TYPING_SHOWS_MS as f64;
        let who = (t.room, t.name);
        self.books
            .borrow_mut()
            .typing_until
            .insert(who.clone(), until);
        self.state.typists.update(|v| {
            if !v.contains(&who) {
                v.push(who.clone());
            }
        });
        let this = self.clone();
        spawn_local(async move {
            sleep(std::time::Duration::from_millis(TYPING_SHOWS_MS)).await;
            // A fresher `typing` moved the deadline: that one's timer removes it.
            let expired = this
                .books
                .borrow()
                .typing_until
                .get(&who)
                .is_some_and(|u| *u <= js_sys::Date::now());
            if expired {
                this.stop_showing_typist(&who.0, &who.1);
            }
        });
    }

    pub(super) fn stop_showing_typist(&self, room: &str, name: &str) {
        let who = (room.to_owned(), name.to_owned());
        let shown = self.books.borrow_mut().typing_until.remove(&who).is_some();
        if shown {
            self.state.typists.update(|v| v.retain(|w| *w != who));
        }
    }

    /// The composer changed: tell the conversation, at most every two seconds, while
    /// connected (typing is volatile: never queued for later).
    pub(crate) fn typed(&self) {
        let room = self.state.active.get_untracked();
        let now = js_sys::Date::now();
        let recently = self
            .books
            .borrow()
            .typed_at
            .get(&room)
            .is_some_and(|at| now - at < TYPING_EVERY_MS as f64);
        if recently || !self.socket.connected().get_untracked() {
            return;
        }
        self.books.borrow_mut().typed_at.insert(room.clone(), now);
        let _ = self.socket.emit(&StartTyping { room });
    }

    /// Claims another nickname. Identity lives in the connection, so this reconnects;
    /// the server's `session` (or refusal) settles it.
    pub(crate) fn rename(&self, name: String) {
        let name = name.trim().to_owned();
        if let Err(refusal) = validate_name(&name) {
            self.state.name_error.set(Some(name_problem(refusal)));
            return;
        }
        self.state.name_error.set(None);
        if name == self.state.name.get_untracked() && self.wanted.borrow().is_none() {
            return;
        }
        // `name` stays who we were until the server's `session` or `account` says otherwise.
        *self.wanted.borrow_mut() = Some(name.clone());
        self.state.name_draft.set(name);
        self.socket.refresh_auth();
    }
}

/// The catch-up cursors to send on connect: one per conversation whose timeline has its
/// first page. The lobby's always: the server answers for it whatever we send.
fn cursors(state: &ChatState) -> Since {
    state.timelines.with_untracked(|all| {
        cursor_map(all.iter().filter_map(|(room, t)| {
            t.with_untracked(|t| {
                (room == LOBBY || !t.is_reloading()).then(|| (room.clone(), t.last_id()))
            })
        }))
    })
}

/// Cursors by conversation, put in one at a time: collecting sorts, a second sort's code in
/// the wasm for a handful of entries.
pub(super) fn cursor_map(cursors: impl IntoIterator<Item = (String, i64)>) -> Since {
    let mut map = Since::new();
    for (room, at) in cursors {
        map.insert(room, at);
    }
    map
}

pub(super) async fn sleep(pause: std::time::Duration) {
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

/// How long a `sync` answered `unavailable` waits before asking again.
const SYNC_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

const NAME_RULES: &str = "A name is 1 to 32 letters, digits, “-”, “_” or “.”";

/// What to tell a person whose name [`validate_name`] refused.
fn name_problem(refusal: Refusal) -> String {
    if refusal == Refusal::ReservedName {
        "That name is kept for the server and its moderators; pick another".to_owned()
    } else {
        NAME_RULES.to_owned()
    }
}

pub(crate) fn load_token() -> Option<String> {
    local_storage()?.get_item(TOKEN_KEY).ok().flatten()
}

/// The saved name; empty when none is (a guest's first visit: no name is made up).
fn load_name() -> String {
    local_storage()
        .and_then(|s| s.get_item(NAME_KEY).ok().flatten())
        .filter(|n| validate_name(n).is_ok())
        .unwrap_or_default()
}
