//! Conversations: opening one (its timeline starts from `history`), joining, creating and
//! leaving rooms, direct conversations, older pages, and read markers.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::ACK_TIMEOUT;
use super::browser::Live;
use super::sender::capitalise;
use crate::client::AckError;
use crate::events::{
    AddMember, BrowseRooms, ChatError, CreateRoom, HISTORY_PAGE, History, JoinRoom, LOBBY,
    LeaveRoom, Main, MarkRead, OpenDm, RemoveMember, Reply, Request, RoomInfo, RoomList, RoomPage,
    RoomSettings, browse_matching, validate_room_name,
};
use crate::ui::outbox;
use crate::ui::room_settings::Outcome;
use crate::ui::timeline::Timeline;

impl Live {
    /// Shows conversation `room`, starting its timeline from its newest page if the page
    /// holds none yet.
    pub(crate) fn open(&self, room: String) {
        if self.state.timeline(&room).is_none() {
            let timeline = ArcRwSignal::new(Timeline::loading(&room));
            self.state.timelines.update(|all| {
                all.insert(room.clone(), timeline);
            });
            self.reload(&room);
        }
        self.state.alert.set(None);
        // Setting it redraws the conversation, scroll position included: only on a change.
        if self.state.active.get_untracked() != room {
            self.state.active.set(room.clone());
        } else {
            // The lobby chosen while the address's conversation was opening: it stays.
            crate::ui::address::landing_dropped(self.state);
        }
        self.seen(&room);
    }

    /// The conversation on screen is read up to what it shows: clear its badge and move the
    /// server's read marker, once per new `seq`.
    pub(super) fn seen(&self, room: &str) {
        if !self.on_screen(room) {
            return;
        }
        self.state.rooms.maybe_update(|r| r.viewed(room));
        let Some(seq) = self
            .state
            .timeline(room)
            .and_then(|t| t.with_untracked(|t| (!t.is_reloading()).then(|| t.newest_seq())))
        else {
            return;
        };
        let reported = self.books.borrow().read.get(room).copied().unwrap_or(0);
        if seq <= reported {
            return;
        }
        let mark = MarkRead {
            room: room.to_owned(),
            seq,
        };
        // Not connected: the next `rooms` after connecting calls this again.
        if self.socket.emit(&mark).is_ok() {
            self.books.borrow_mut().read.insert(room.to_owned(), seq);
        }
    }

    /// Whether the person is reading `room`: it is on screen, and is not the lobby shown for
    /// a moment while the page opens the conversation its address names.
    pub(super) fn on_screen(&self, room: &str) -> bool {
        self.state.active.with_untracked(|a| a == room)
            && !(room == LOBBY && self.state.landing.with_untracked(Option::is_some))
    }

    /// The server's list of our conversations: on connect, and whenever our memberships
    /// change (here or in another tab).
    pub(super) fn room_list(&self, list: RoomList) {
        let active = self.state.active.get_untracked();
        // The lobby shown only until the address's conversation opens keeps its unread.
        let viewing = if self.on_screen(&active) {
            active.as_str()
        } else {
            ""
        };
        self.state.rooms.update(|r| r.apply_list(list, viewing));
        // Rooms left in another tab, or that a new identity is not in.
        let gone: Vec<String> = self.state.timelines.with_untracked(|all| {
            all.keys()
                .filter(|room| *room != LOBBY)
                .filter(|room| !self.state.rooms.with_untracked(|r| r.is_member(room)))
                .cloned()
                .collect()
        });
        for room in gone {
            self.forget(&room);
        }
        self.seen(&self.state.active.get_untracked());
        crate::ui::address::land(self, self.state);
    }

    /// Stops holding a conversation we are no longer in; the lobby is shown if it was.
    fn forget(&self, room: &str) {
        if self.state.active.get_untracked() == room {
            self.state.active.set(LOBBY.to_owned());
            self.seen(LOBBY);
        }
        let timeline = self.state.timelines.try_update(|all| all.remove(room));
        // Its unsent messages cannot be sent any more.
        if let Some(Some(t)) = timeline {
            for key in t.with_untracked(Timeline::pending_keys) {
                outbox::remove(&key);
            }
        }
        self.state.presence.update(|all| {
            all.remove(room);
        });
        self.state.typists.update(|v| v.retain(|(r, _)| r != room));
        self.books.borrow_mut().read.remove(room);
    }

    /// Lists the rooms to join whose name contains `matching`, from the first page.
    pub(crate) fn browse(&self, matching: String) {
        let matching = match browse_matching(&matching) {
            Ok(matching) => matching.unwrap_or_default(),
            Err(e) => return self.state.alert.set(Some(capitalised(&e))),
        };
        self.state.browse.update(|b| {
            b.matching = matching.clone();
            b.next = None;
            b.answered = false;
        });
        self.browse_page(None);
    }

    /// The next page of rooms to join, after the last one listed.
    pub(crate) fn browse_more(&self) {
        if let Some(after) = self.state.browse.with_untracked(|b| b.next.clone()) {
            self.browse_page(Some(after));
        }
    }

    fn browse_page(&self, after: Option<String>) {
        let asked = {
            let mut books = self.books.borrow_mut();
            books.browse_asked += 1;
            books.browse_asked
        };
        let matching = self.state.browse.with_untracked(|b| b.matching.clone());
        self.state.browse.update(|b| b.loading = true);
        let request = BrowseRooms {
            after,
            matching: (!matching.is_empty()).then_some(matching),
            limit: None,
        };
        let this = self.clone();
        spawn_local(async move {
            let result = this.socket.emit_with_ack(&request, ACK_TIMEOUT).await;
            // A newer filter or page was asked for meanwhile: its answer is the one to show.
            if this.books.borrow().browse_asked != asked {
                return;
            }
            match result.map(|r| r.into_result()) {
                Ok(Ok(RoomPage { rooms, more })) => {
                    let next = more.then(|| rooms.last().map(|r| r.room.clone())).flatten();
                    this.state.rooms.update(|r| r.browsed(rooms));
                    this.state.browse.update(|b| {
                        b.next = next;
                        b.loading = false;
                        b.answered = true;
                    });
                }
                Ok(Err(e)) => {
                    this.state.browse.update(|b| b.loading = false);
                    this.state.alert.set(Some(capitalised(&e)));
                }
                // Not connected: the next connect asks again.
                Err(e) => {
                    this.state.browse.update(|b| b.loading = false);
                    leptos::logging::warn!("browse rooms failed: {e:?}");
                }
            }
        });
    }

    /// Joins a listed room and shows it.
    pub(crate) fn join(&self, room: String) {
        let this = self.clone();
        spawn_local(async move {
            let result = this
                .socket
                .emit_with_ack(&JoinRoom { room: room.clone() }, ACK_TIMEOUT)
                .await;
            this.entered(
                result.map(|r| r.into_result()),
                &format!("Could not join {room}"),
            );
        });
    }

    /// Joins a room by its name (how unlisted rooms are joined) and shows it.
    pub(crate) fn join_by_name(&self, name: String) {
        match validate_room_name(&name) {
            Ok(room) => self.join(room),
            Err(e) => self.state.alert.set(Some(capitalised(&e))),
        }
    }

    /// Creates a room (and so joins it), private or not, and shows it.
    pub(crate) fn create(&self, name: String, private: bool) {
        let name = match validate_room_name(&name) {
            Ok(name) => name,
            Err(e) => return self.state.alert.set(Some(capitalised(&e))),
        };
        let this = self.clone();
        spawn_local(async move {
            let result = this
                .socket
                .emit_with_ack(
                    &CreateRoom {
                        name: name.clone(),
                        private,
                    },
                    ACK_TIMEOUT,
                )
                .await;
            this.entered(
                result.map(|r| r.into_result()),
                &format!("Could not create {name}"),
            );
        });
    }

    /// Shows the direct conversation with `name` (the server creates it on first use).
    pub(crate) fn open_dm(&self, name: String) {
        let name = name.trim().to_owned();
        if name.is_empty() {
            return;
        }
        let this = self.clone();
        spawn_local(async move {
            let result = this
                .socket
                .emit_with_ack(&OpenDm { name: name.clone() }, ACK_TIMEOUT)
                .await;
            this.entered(
                result.map(|r| r.into_result()),
                &format!("Could not message {name}"),
            );
        });
    }

    /// Where a join, create or open ends: the conversation listed and shown, or the reason
    /// it is not.
    fn entered(&self, result: Result<Result<RoomInfo, ChatError>, AckError>, failed: &str) {
        match result {
            Ok(Ok(info)) => {
                let room = info.room.clone();
                let viewing = room.clone();
                self.state.rooms.update(|r| r.upsert(info, &viewing));
                self.open(room);
            }
            Ok(Err(e)) => self.state.alert.set(Some(capitalised(&e))),
            Err(e) => self
                .state
                .alert
                .set(Some(format!("{failed}: {}", ack_problem(&e)))),
        }
    }

    /// Leaves a room; the lobby is shown if it was on screen.
    pub(crate) fn leave(&self, room: String) {
        let this = self.clone();
        spawn_local(async move {
            let result = this
                .socket
                .emit_with_ack(&LeaveRoom { room: room.clone() }, ACK_TIMEOUT)
                .await;
            match result.map(|r| r.into_result()) {
                Ok(Ok(left)) => {
                    this.state.rooms.update(|r| r.left(&left.room));
                    this.forget(&left.room);
                    this.state.alert.set(None);
                }
                Ok(Err(e)) => this.state.alert.set(Some(capitalised(&e))),
                Err(e) => this
                    .state
                    .alert
                    .set(Some(format!("Could not leave {room}: {}", ack_problem(&e)))),
            }
        });
    }

    /// Puts the person called `name` in `room`; `outcome` says how that went.
    pub(crate) fn add_member(
        &self,
        room: String,
        name: String,
        outcome: RwSignal<Option<Outcome>>,
    ) {
        let name = name.trim().to_owned();
        if !name.is_empty() {
            let request = AddMember {
                room,
                name: name.clone(),
            };
            self.member_change(request, ("Added", "add"), name, outcome);
        }
    }

    /// Takes the person called `name` out of `room` (its owner and moderators may).
    pub(crate) fn remove_member(
        &self,
        room: String,
        name: String,
        outcome: RwSignal<Option<Outcome>>,
    ) {
        let name = name.trim().to_owned();
        if !name.is_empty() {
            let request = RemoveMember {
                room,
                name: name.clone(),
            };
            self.member_change(request, ("Removed", "remove"), name, outcome);
        }
    }

    /// Sends `request`, a change of `name`'s membership, and says how it went in `outcome`:
    /// "`done` `name`", or why not.
    fn member_change<R>(
        &self,
        request: R,
        (done, verb): (&'static str, &'static str),
        name: String,
        outcome: RwSignal<Option<Outcome>>,
    ) where
        R: Request<Namespace = Main, Ack = Reply<()>>,
    {
        let this = self.clone();
        spawn_local(async move {
            let result = this.socket.emit_with_ack(&request, ACK_TIMEOUT).await;
            outcome.try_set(Some(match result.map(|r| r.into_result()) {
                Ok(Ok(())) => Outcome::Done(format!("{done} {name}")),
                Ok(Err(e)) => Outcome::Refused(capitalised(&e)),
                Err(e) => Outcome::Refused(format!("Could not {verb} {name}: {}", ack_problem(&e))),
            }));
        });
    }

    /// Changes a room's settings; its new entry replaces ours. Refused, the controls show
    /// the entry as it was again.
    pub(crate) fn change_settings(
        &self,
        settings: RoomSettings,
        outcome: RwSignal<Option<Outcome>>,
    ) {
        let this = self.clone();
        spawn_local(async move {
            let result = this.socket.emit_with_ack(&settings, ACK_TIMEOUT).await;
            let refused = match result.map(|r| r.into_result()) {
                Ok(Ok(info)) => {
                    let viewing = this.state.active.get_untracked();
                    this.state.rooms.update(|r| r.upsert(info, &viewing));
                    outcome.try_set(None);
                    return;
                }
                Ok(Err(e)) => capitalised(&e),
                Err(e) => format!("Could not change the settings: {}", ack_problem(&e)),
            };
            outcome.try_set(Some(Outcome::Refused(refused)));
            // The checkboxes show the entry again, not what was clicked.
            this.state.rooms.notify();
        });
    }

    /// Fetches the page before the oldest message the conversation on screen holds.
    pub(crate) fn load_older(&self) {
        let room = self.state.active.get_untracked();
        let Some(timeline) = self.state.timeline(&room) else {
            return;
        };
        let before = timeline.with_untracked(|t| t.can_load_older().then(|| t.oldest_id()));
        let Some(before) = before else {
            return;
        };
        timeline.update(|t| t.set_loading_older(true));
        let this = self.clone();
        spawn_local(async move {
            let request = History {
                room: room.clone(),
                before,
                limit: Some(HISTORY_PAGE),
                ..History::default()
            };
            let result = this.socket.emit_with_ack(&request, ACK_TIMEOUT).await;
            // A reload meanwhile replaced what the page was older than.
            if timeline.with_untracked(|t| t.oldest_id() != before || t.is_reloading()) {
                timeline.update(|t| t.set_loading_older(false));
                return;
            }
            match result.map(|r| r.into_result()) {
                Ok(Ok(page)) => timeline.update(|t| t.prepend_older(page.messages, page.more)),
                // The reader scrolls again, or presses the button, to ask again.
                Ok(Err(e)) => {
                    leptos::logging::warn!("older history of {room} refused: {e}");
                    timeline.update(|t| t.set_loading_older(false));
                }
                Err(e) => {
                    leptos::logging::warn!("older history of {room} failed: {e:?}");
                    timeline.update(|t| t.set_loading_older(false));
                }
            }
        });
    }
}

/// An error as a sentence.
fn capitalised(e: &ChatError) -> String {
    capitalise(&e.to_string())
}

fn ack_problem(e: &AckError) -> &'static str {
    match e {
        AckError::Timeout => "no answer from the server",
        AckError::NotConnected | AckError::Disconnected => "not connected",
        AckError::Decode(_) => "unexpected answer from the server",
    }
}
