//! Changes to messages from the page: editing and deleting one's own, reacting, and jumping
//! to a reply's parent; and `message changed` from the server, live or replayed.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::ACK_TIMEOUT;
use super::browser::Live;
use super::sender::capitalise;
use crate::client::AckError;
use crate::events::{
    EditMessage, History, MAX_HISTORY_LIMIT, Main, MessageChanged, React, RemoveMessage, Reply,
    Request, validate_text,
};
use crate::ui::timeline::Timeline;

/// Older pages a jump to a reply's parent loads at most before it gives up.
const JUMP_PAGES: usize = 10;

impl Live {
    /// A message's new state: into its timeline, if the page holds it.
    pub(super) fn changed(&self, MessageChanged(m): MessageChanged) {
        if let Some(timeline) = self.state.timeline(&m.meta.room) {
            timeline.update(|t| {
                t.apply_change(m);
            });
        }
    }

    /// Replaces the text of one's own message `id` of `room`.
    pub(crate) fn edit_message(&self, room: String, id: i64, text: String) {
        let text = match validate_text(&text) {
            Ok(text) => text.into_owned(),
            Err(e) => return self.state.changes.fail(capitalise(&e.to_string())),
        };
        self.ask(EditMessage { room, id, text });
    }

    /// Deletes message `id` of `room`: one's own, or anyone's for a moderator.
    pub(crate) fn remove_message(&self, room: String, id: i64) {
        self.ask(RemoveMessage { room, id });
    }

    /// Gives or takes back an emoji.
    pub(crate) fn react(&self, room: String, id: i64, emoji: String, on: bool) {
        self.ask(React {
            room,
            id,
            emoji,
            on,
        });
    }

    /// Sends a change; its outcome arrives as `message changed`, so only a refusal is shown.
    fn ask<R: Request<Ack = Reply<()>, Namespace = Main> + 'static>(&self, request: R) {
        let changes = self.state.changes;
        changes.fail_clear();
        let socket = self.socket.clone();
        spawn_local(async move {
            match socket.emit_with_ack(&request, ACK_TIMEOUT).await {
                Ok(reply) => {
                    if let Err(e) = reply.into_result() {
                        changes.fail(capitalise(&e.to_string()));
                    }
                }
                Err(AckError::NotConnected | AckError::Disconnected) => {
                    changes.fail("Not connected; try again once the page is back online".into())
                }
                Err(e) => changes.fail(format!("No answer from the server: {e:?}")),
            }
        });
    }

    /// Shows message `id` of the conversation on screen, loading older pages (a bounded
    /// number) until it is held, then scrolls to it and highlights it.
    pub(crate) fn jump_to(&self, id: i64) {
        let room = self.state.active.get_untracked();
        let Some(timeline) = self.state.timeline(&room) else {
            return;
        };
        let this = self.clone();
        spawn_local(async move {
            for _ in 0..JUMP_PAGES {
                let before = timeline.with_untracked(|t| {
                    (t.get(id).is_none() && t.can_load_older()).then(|| t.oldest_id())
                });
                let Some(before) = before else {
                    break;
                };
                timeline.update(|t| t.set_loading_older(true));
                let request = History {
                    room: room.clone(),
                    before,
                    limit: Some(MAX_HISTORY_LIMIT),
                    ..History::default()
                };
                let page = this.socket.emit_with_ack(&request, ACK_TIMEOUT).await;
                match page.map(|r| r.into_result()) {
                    Ok(Ok(page)) if timeline.with_untracked(|t| t.oldest_id() == before) => {
                        timeline.update(|t| t.prepend_older(page.messages, page.more));
                    }
                    _ => {
                        timeline.update(|t| t.set_loading_older(false));
                        break;
                    }
                }
            }
            if timeline.with_untracked(|t| t.get(id).is_some()) {
                this.state.changes.highlight(id);
            } else {
                this.state
                    .changes
                    .fail("That message is no longer in this conversation".into());
            }
        });
    }
}

/// The change cursor of each conversation whose timeline has its first page.
pub(super) fn change_cursors(state: &crate::ui::state::ChatState) -> crate::events::Since {
    state.timelines.with_untracked(|all| {
        all.iter()
            .filter_map(|(room, t)| {
                t.with_untracked(|t| (!t.is_reloading()).then(|| (room.clone(), t.change_cursor())))
            })
            .collect()
    })
}

/// After a conversation's catch-up: its change cursor moves to the feed's head.
pub(super) fn synced(timeline: &ArcRwSignal<Timeline>, change_seq: i64) {
    if change_seq > timeline.with_untracked(Timeline::change_cursor) {
        timeline.update(|t| t.changes_synced(change_seq));
    }
}
