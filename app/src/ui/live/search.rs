//! Search's socket side: asking for hits; and jumps to a message, from a hit or a reply's
//! quote: its conversation shown with the messages around it (a window apart from the newest,
//! however far back), the message marked or highlighted and scrolled to, and the gap after the
//! window filled on request.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::ACK_TIMEOUT;
use super::browser::Live;
use super::sender::capitalise;
use crate::client::AckError;
use crate::events::{HISTORY_PAGE, History, HistoryPage, Search};
use crate::ui::search::Results;

/// Why a jump finds nothing: the message was deleted, or moved out of reach.
const GONE: &str = "That message is no longer in this conversation";

impl Live {
    /// Asks for `request`'s hits; `append` for the next page of the same query.
    pub(crate) fn search(&self, request: Search, results: RwSignal<Results>, append: bool) {
        let ticket = results
            .try_update(|r| r.begin(request.clone(), append))
            .unwrap_or_default();
        let socket = self.socket.clone();
        spawn_local(async move {
            let answer = match socket.emit_with_ack(&request, ACK_TIMEOUT).await {
                Ok(reply) => reply.into_result().map_err(|e| capitalise(&e.to_string())),
                Err(e) => Err(format!("Could not search: {}", problem(&e))),
            };
            results.try_update(|r| r.answer(ticket, answer));
        });
    }

    /// Shows message `id` of `room` in its context, from a search hit: the conversation
    /// opened, the message marked and scrolled into view.
    pub(crate) fn jump(&self, room: String, id: i64) {
        let this = self.clone();
        spawn_local(async move {
            match this.show(room, id).await {
                Ok(true) => mark(id),
                Ok(false) => this.state.alert.set(Some(GONE.to_owned())),
                Err(e) => this.state.alert.set(Some(e)),
            }
        });
    }

    /// Shows the parent of a reply in the conversation on screen, highlighted for a moment.
    pub(crate) fn jump_to(&self, id: i64) {
        let this = self.clone();
        let room = self.state.active.get_untracked();
        spawn_local(async move {
            match this.show(room, id).await {
                Ok(true) => this.state.changes.highlight(id),
                Ok(false) => this.state.changes.fail(GONE.to_owned()),
                Err(e) => this.state.changes.fail(e),
            }
        });
    }

    /// Opens `room` and, unless the page holds message `id`, the page of history around it,
    /// however far back; then whether the message is held (it may have been deleted).
    async fn show(&self, room: String, id: i64) -> Result<bool, String> {
        self.open(room.clone());
        let Some(timeline) = self.state.timeline(&room) else {
            return Ok(false);
        };
        if !timeline.with_untracked(|t| t.holds(id)) {
            let around = History {
                around: Some(id),
                ..History::default()
            };
            let page = self.history(&room, around).await?;
            timeline.update(|t| t.hold_window(page.messages, page.more, page.newer));
        }
        Ok(timeline.with_untracked(|t| t.get(id).is_some()))
    }

    /// A page of `room`'s history, as `request` places it.
    async fn history(&self, room: &str, request: History) -> Result<HistoryPage, String> {
        let request = History {
            room: room.to_owned(),
            limit: Some(HISTORY_PAGE),
            ..request
        };
        match self.socket.emit_with_ack(&request, ACK_TIMEOUT).await {
            Ok(reply) => reply.into_result().map_err(|e| capitalise(&e.to_string())),
            Err(e) => Err(format!("Could not load the messages: {}", problem(&e))),
        }
    }

    /// Loads the next page of the gap after the window on screen.
    pub(crate) fn fill_gap(&self) {
        let room = self.state.active.get_untracked();
        let Some(timeline) = self.state.timeline(&room) else {
            return;
        };
        let Some(after) = timeline.with_untracked(|t| t.gap_after()) else {
            return;
        };
        timeline.update(|t| t.set_loading_gap(true));
        let this = self.clone();
        spawn_local(async move {
            let next = History {
                after: Some(after),
                ..History::default()
            };
            match this.history(&room, next).await {
                Ok(page) => timeline.update(|t| t.fill_gap(page.messages, page.newer)),
                // The button asks again.
                Err(e) => {
                    leptos::logging::warn!("the gap of {room} failed: {e}");
                    timeline.update(|t| t.set_loading_gap(false));
                }
            }
        });
    }
}

/// Marks message `id` as the one jumped to and scrolls it into view, once it is drawn. The
/// list's own "follow the newest" scroll may land in the same frames: scrolling again over a
/// few frames wins over it.
fn mark(id: i64) {
    fn attempt(id: i64, frame: u32, scrolls: u32) {
        request_animation_frame(move || {
            let doc = document();
            let selector = format!(".conversation .messages li[data-id=\"{id}\"]");
            let Ok(Some(el)) = doc.query_selector(&selector) else {
                if frame < 120 {
                    attempt(id, frame + 1, scrolls);
                }
                return;
            };
            if scrolls == 0 {
                if let Ok(Some(old)) = doc.query_selector(".messages li.found") {
                    old.set_class_name(&old.class_name().replace(" found", ""));
                    let _ = old.remove_attribute("aria-current");
                }
                if !el.class_name().contains("found") {
                    el.set_class_name(&format!("{} found", el.class_name()));
                }
                let _ = el.set_attribute("aria-current", "true");
            }
            let options = web_sys::ScrollIntoViewOptions::new();
            options.set_block(web_sys::ScrollLogicalPosition::Center);
            el.scroll_into_view_with_scroll_into_view_options(&options);
            if scrolls < 3 {
                attempt(id, frame + 1, scrolls + 1);
            }
        });
    }
    attempt(id, 0, 0);
}

fn problem(e: &AckError) -> &'static str {
    match e {
        AckError::Timeout => "no answer from the server",
        AckError::NotConnected | AckError::Disconnected => "not connected",
        AckError::Decode(_) => "unexpected answer from the server",
    }
}
