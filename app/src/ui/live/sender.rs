//! The ordered sender: one send in flight at a time, oldest first over every conversation,
//! each to its own conversation; retries, failures, Retry and Discard.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::browser::{Live, sleep};
use super::{ACK_TIMEOUT, MAX_ATTEMPTS, retry_pause};
use crate::client::AckError;
use crate::events::{ChatError, SendMessage};
use crate::ui::outbox::{self, Entry};
use crate::ui::room_settings::READ_ONLY;
use crate::ui::timeline::{Pending, SendState, Timeline};

impl Live {
    /// Queues `text`, with the uploaded `files` it carries, for the conversation on screen:
    /// shown at once, kept in the outbox, sent in turn.
    pub(crate) fn post_with(&self, text: String, files: Vec<crate::events::FileInfo>) {
        let room = self.state.active.get_untracked();
        let Some(timeline) = self.state.timeline(&room) else {
            return;
        };
        let entry = Entry {
            // v7: time first, so the server's index of client offsets grows at its end.
            key: uuid::Uuid::now_v7().to_string(),
            room: room.clone(),
            text,
            author: self.state.name.get_untracked(),
            at: js_sys::Date::now(),
            reply: self.state.changes.take_reply(&room),
            files,
        };
        outbox::put(&entry);
        self.books
            .borrow_mut()
            .queue
            .push((entry.key.clone(), room));
        timeline.update(|t| {
            t.add_pending_with(entry.key.clone(), entry.text, entry.author, entry.files);
            t.set_reply(&entry.key, entry.reply);
        });
        self.pump();
    }

    /// Shows what the outbox still holds from earlier visits, in every conversation, unless
    /// the page already has it. A conversation without a timeline gets one, loaded on
    /// connect.
    pub(super) fn restore_outbox(&self) {
        for e in outbox::load() {
            let timeline = match self.state.timeline(&e.room) {
                Some(t) => t,
                None => {
                    let t = ArcRwSignal::new(Timeline::loading(&e.room));
                    self.state.timelines.update(|all| {
                        all.insert(e.room.clone(), t.clone());
                    });
                    t
                }
            };
            if timeline.with_untracked(|t| t.has_offset(&e.key)) {
                outbox::remove(&e.key);
            } else {
                self.books
                    .borrow_mut()
                    .queue
                    .push((e.key.clone(), e.room.clone()));
                timeline.update(|t| {
                    t.add_pending_with(e.key.clone(), e.text, e.author, e.files);
                    t.set_reply(&e.key, e.reply);
                });
            }
        }
    }

    /// The oldest send that may go out now, with its conversation: the first in writing
    /// order that is first in line in its own conversation (a failed one holds back those
    /// after it there). Forgets entries that were sent, discarded or dropped meanwhile.
    fn next_send(&self) -> Option<(String, Pending)> {
        let queue = self.books.borrow().queue.clone();
        let mut found = None;
        let mut stale = Vec::new();
        for (key, room) in queue {
            let state = self.state.timeline(&room).map(|t| {
                t.with_untracked(|t| {
                    let first = t.next_to_send().filter(|p| p.key == key).cloned();
                    (t.has_pending(&key), first)
                })
            });
            match state {
                Some((true, Some(pending))) => {
                    found = Some((room, pending));
                    break;
                }
                Some((true, None)) => {}
                _ => stale.push(key),
            }
        }
        self.books
            .borrow_mut()
            .queue
            .retain(|(key, _)| !stale.contains(key));
        found
    }

    /// Sends the oldest waiting message, unless one is already under way, a failed one
    /// holds the line, or there is no connection (then the next connect calls this).
    pub(super) fn pump(&self) {
        if self.books.borrow().busy || !self.socket.connected().get_untracked() {
            return;
        }
        let Some((room, next)) = self.next_send() else {
            return;
        };
        self.books.borrow_mut().busy = true;
        let this = self.clone();
        spawn_local(async move {
            let message = SendMessage {
                text: next.text,
                client_offset: Some(next.key.clone()),
                room: Some(room.clone()),
                reply_to: next.reply.as_ref().map(|r| r.id),
                files: next.files.iter().map(|f| f.id).collect(),
            };
            let result = this.socket.emit_with_ack(&message, ACK_TIMEOUT).await;
            // How long to pause before the next attempt, if one should follow.
            let pause = match result.map(|r| r.into_result()) {
                Ok(Ok(posted)) => {
                    outbox::remove(&next.key);
                    this.books.borrow_mut().attempts.remove(&next.key);
                    if let Some(t) = this.state.timeline(&room) {
                        t.update(|t| t.acknowledge(&next.key, posted));
                    }
                    if this.state.active.get_untracked() == room {
                        this.seen(&room);
                    }
                    None
                }
                Ok(Err(ChatError::Unavailable)) | Err(AckError::Timeout) => {
                    this.unanswered(&room, &next.key).then(|| {
                        let attempts = this.books.borrow().attempts.get(&next.key).copied();
                        retry_pause(attempts.unwrap_or(1))
                    })
                }
                // Sending too fast: not a failed attempt, just wait as long as told.
                Ok(Err(
                    ChatError::RateLimited { retry_after_ms }
                    | ChatError::Overloaded { retry_after_ms },
                )) => Some(std::time::Duration::from_millis(retry_after_ms)),
                // Not an attempt: it goes out again on the next connect.
                Err(AckError::NotConnected | AckError::Disconnected) => None,
                // Posting closed since the page read the room's entry: retrying cannot help,
                // and the composer makes way for the notice.
                Ok(Err(ChatError::ReadOnlyRoom { .. })) => {
                    this.fail(&room, &next.key, READ_ONLY.to_owned());
                    this.state.rooms.update(|r| r.posting_closed(&room));
                    None
                }
                Ok(Err(e)) => {
                    this.fail(&room, &next.key, capitalise(&e.to_string()));
                    None
                }
                Err(AckError::Decode(e)) => {
                    this.fail(&room, &next.key, format!("Unexpected answer: {e}"));
                    None
                }
            };
            if let Some(pause) = pause {
                sleep(pause).await;
            }
            this.books.borrow_mut().busy = false;
            this.pump();
        });
    }

    /// Counts an unanswered attempt; true when another should follow after a pause.
    fn unanswered(&self, room: &str, key: &str) -> bool {
        let attempts = {
            let mut books = self.books.borrow_mut();
            let n = books.attempts.get_or_default(key.to_owned());
            *n += 1;
            *n
        };
        if attempts >= MAX_ATTEMPTS {
            self.fail(room, key, "No answer from the server".to_owned());
            return false;
        }
        true
    }

    fn fail(&self, room: &str, key: &str, reason: String) {
        if let Some(t) = self.state.timeline(room) {
            t.update(|t| t.set_state(key, SendState::Failed(reason)));
        }
    }

    /// The conversation holding the send `key`.
    fn holder(&self, key: &str) -> Option<ArcRwSignal<Timeline>> {
        self.state.timelines.with_untracked(|all| {
            all.values()
                .find(|t| t.with_untracked(|t| t.has_pending(key)))
                .cloned()
        })
    }

    pub(crate) fn retry(&self, key: String) {
        self.books.borrow_mut().attempts.remove(&key);
        if let Some(t) = self.holder(&key) {
            t.update(|t| t.set_state(&key, SendState::Sending));
        }
        self.pump();
    }

    pub(crate) fn discard(&self, key: String) {
        outbox::remove(&key);
        self.books.borrow_mut().attempts.remove(&key);
        if let Some(t) = self.holder(&key) {
            t.update(|t| t.discard(&key));
        }
        self.pump();
    }
}

/// An error's text with a capital first letter. Errors are written in English, so ASCII's
/// capitals do (std's table of every script's would be 12 KB of the wasm).
pub(super) fn capitalise(s: &str) -> String {
    let mut text = s.to_owned();
    if let Some(first) = text.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    text
}
