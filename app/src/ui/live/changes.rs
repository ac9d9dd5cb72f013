//! Changes to messages from the page: editing and deleting one's own, and reacting; and
//! `message changed` from the server, live or replayed. (A jump to a reply's parent is in
//! `search.rs`, with search's.)

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::ACK_TIMEOUT;
use super::browser::Live;
use super::sender::capitalise;
use crate::client::AckError;
use crate::events::{
    EditMessage, Main, MessageChanged, React, RemoveMessage, Reply, Request, validate_text,
};
use crate::ui::timeline::Timeline;

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
}

/// The change cursor of each conversation whose timeline has its first page.
pub(super) fn change_cursors(state: &crate::ui::state::ChatState) -> crate::events::Since {
    state.timelines.with_untracked(|all| {
        super::browser::cursor_map(all.iter().filter_map(|(room, t)| {
            t.with_untracked(|t| (!t.is_reloading()).then(|| (room.clone(), t.change_cursor())))
        }))
    })
}

/// After a conversation's catch-up: its change cursor moves to the feed's head.
pub(super) fn synced(timeline: &ArcRwSignal<Timeline>, change_seq: i64) {
    if change_seq > timeline.with_untracked(Timeline::change_cursor) {
        timeline.update(|t| t.changes_synced(change_seq));
    }
}
