//! The message list as the browser holds it: confirmed messages keyed by server id, plus the
//! user's own sends that are not acknowledged yet.
//!
//! Everything that reaches the list (the server-rendered page, live broadcasts, the replay
//! after a reconnect, acks) goes through [`Timeline::confirm`], which is idempotent: merging
//! the same message twice, or out of order, cannot duplicate or reorder it.
//!
//! The timeline also tracks its catch-up cursor: the newest message held with no `seq` missing
//! before it (back to where the list started). That cursor is what the client sends as
//! `since`; a message beyond it means a delivery was lost, and the client asks for a `sync`.
//!
//! Older pages are prepended below the cursor and never move it. A message a moderator
//! deleted stays held as a tombstone, so its `seq` still counts for the cursor, but it is no
//! longer shown.
//!
//! A jump to a search's hit may hold a window of older messages apart from the newest ones:
//! between them is a gap, which is not a hole (the cursor is above it) and which the reader
//! fills a page at a time ([`Timeline::fill_gap`]).
//!
//! Changes to held messages (edits, deletions, reactions) arrive as whole new copies
//! ([`Timeline::apply_change`]); of two copies the one with the higher `meta.changed` wins,
//! whatever order they come in. The timeline also keeps the conversation's change cursor, sent
//! on reconnect so that the server replays the changes made meanwhile.
//!
//! There is one timeline per conversation the page has opened.

use crate::events::{ChatMessage, MessageKind, MessageMeta, Posted, ReplyQuote};

/// A message the user sent that the server has not acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pending {
    /// Also the client offset sent to the server, so retries are idempotent.
    pub(crate) key: String,
    pub(crate) text: String,
    pub(crate) author: String,
    pub(crate) state: SendState,
    /// The message it answers.
    pub(crate) reply: Option<ReplyQuote>,
    /// The uploaded files it carries.
    pub(crate) files: Vec<crate::events::FileInfo>,
}

#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) enum SendState {
    /// Waiting for a connection, or for the ack of an attempt in flight.
    Sending,
    /// Gave up; the user can retry. Holds the reason shown to them.
    Failed(String),
}

/// One row of the list, in display order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Row {
    Sent(ChatMessage),
    Pending(Pending),
}

impl Row {
    /// A key for keyed rendering; it changes when the row's content does.
    pub(crate) fn key(&self) -> String {
        match self {
            // A change or a file's thumbnail made is new content.
            Row::Sent(m) if m.meta.changed > 0 => {
                format!("{}.{}", crate::ui::attachments::row_key(m), m.meta.changed)
            }
            Row::Sent(m) => crate::ui::attachments::row_key(m),
            Row::Pending(p) => match &p.state {
                SendState::Sending => format!("p{}", p.key),
                SendState::Failed(_) => format!("f{}", p.key),
            },
        }
    }
}

/// A message's place: its room `seq` and its server id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Place {
    pub(crate) seq: i64,
    pub(crate) id: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Timeline {
    /// The conversation it belongs to, for the messages it builds from acks.
    room: String,
    /// Confirmed messages sorted by id, tombstones of deleted ones included. Sorted lists
    /// rather than B-trees here: a B-tree's code is instantiated per key and value type, in
    /// the wasm every first visit loads, and messages mostly arrive at the end.
    sent: Vec<ChatMessage>,
    /// (seq, id) sorted by seq, for the messages in `sent`.
    seqs: Vec<(i64, i64)>,
    /// The catch-up cursor: everything from the start of the list up to here is held.
    cursor: Place,
    /// Between a `synced` gap and the reloaded page: the cursor means nothing then, so holes
    /// are not reported.
    reloading: bool,
    /// In the order the user sent them; shown after every confirmed message.
    pending: Vec<Pending>,
    /// Ids deleted by a moderator, sorted; remembered so that a copy arriving late stays
    /// hidden.
    deleted: Vec<i64>,
    /// Whether the conversation's first message is held: there is nothing older to load.
    complete: bool,
    /// An older page is on its way.
    loading_older: bool,
    /// The `seq` of the newest message of a window held apart from the newest messages (a
    /// jump to a search's hit); what lies between it and the next message held is not held.
    window_top: Option<i64>,
    /// A page of the gap above the window is on its way.
    loading_gap: bool,
    /// The change cursor: every change up to this one of the conversation's feed has been
    /// applied to what is held.
    changes: i64,
}

// Without `hydrate` only the server render uses the timeline; the rest serves the browser.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
impl Timeline {
    /// A timeline of `room` starting with `initial`, a contiguous page of it (its newest, or
    /// all of it when it has fewer messages).
    pub(crate) fn new(room: &str, initial: Vec<ChatMessage>) -> Timeline {
        let mut t = Timeline {
            room: room.to_owned(),
            ..Timeline::default()
        };
        // The page does not say whether older messages exist; only seq 1 (or an empty room)
        // proves that none do.
        t.complete = starts_conversation(&initial, !initial.is_empty());
        t.start_at(&initial);
        t.changes_from(&initial);
        for m in initial {
            t.confirm(m);
        }
        t
    }

    /// A page read at once is current up to its newest change at least.
    fn changes_from(&mut self, page: &[ChatMessage]) {
        let newest = page.iter().map(|m| m.meta.changed).max().unwrap_or(0);
        self.changes = self.changes.max(newest);
    }

    /// The change cursor to send on reconnect.
    pub(crate) fn change_cursor(&self) -> i64 {
        self.changes
    }

    /// The server's catch-up ended at change `head` of the conversation's feed.
    pub(crate) fn changes_synced(&mut self, head: i64) {
        self.changes = self.changes.max(head);
    }

    /// Applies a message's new state (edited, deleted, reacted to): replaces the copy held
    /// if it is newer, and ignores a message not held (its current state comes with the
    /// page that brings it). Whether anything changed.
    pub(crate) fn apply_change(&mut self, mut message: ChatMessage) -> bool {
        self.changes = self.changes.max(message.meta.changed);
        let Ok(i) = self.at(message.id) else {
            return false;
        };
        if self.sent[i].meta.changed >= message.meta.changed {
            return false;
        }
        if message.meta.kind == Some(MessageKind::Deleted) {
            self.mark_deleted(message.id);
        } else if self.is_deleted(message.id) {
            tombstone(&mut message);
        }
        self.sent[i] = message;
        true
    }

    /// The message `id`, if it is held and shown.
    pub(crate) fn get(&self, id: i64) -> Option<&ChatMessage> {
        self.at(id)
            .ok()
            .map(|i| &self.sent[i])
            .filter(|m| m.meta.kind != Some(MessageKind::Deleted))
    }

    /// Where message `id` is in `sent`, or where it would go.
    fn at(&self, id: i64) -> Result<usize, usize> {
        self.sent.binary_search_by_key(&id, |m| m.id)
    }

    /// The id of the message at `seq`, if it is held.
    fn id_at(&self, seq: i64) -> Option<i64> {
        let i = self.seqs.binary_search_by_key(&seq, |&(s, _)| s).ok()?;
        Some(self.seqs[i].1)
    }

    fn put_seq(&mut self, seq: i64, id: i64) {
        match self.seqs.binary_search_by_key(&seq, |&(s, _)| s) {
            Ok(i) => self.seqs[i].1 = id,
            Err(i) => self.seqs.insert(i, (seq, id)),
        }
    }

    fn is_deleted(&self, id: i64) -> bool {
        self.deleted.binary_search(&id).is_ok()
    }

    fn mark_deleted(&mut self, id: i64) {
        if let Err(i) = self.deleted.binary_search(&id) {
            self.deleted.insert(i, id);
        }
    }

    /// A timeline of `room` whose first page is on its way ([`Timeline::finish_reload`]). It
    /// can hold sends meanwhile; its cursor means nothing yet.
    pub(crate) fn loading(room: &str) -> Timeline {
        Timeline {
            room: room.to_owned(),
            reloading: true,
            ..Timeline::default()
        }
    }

    /// Puts the cursor just before the first message of a contiguous page.
    fn start_at(&mut self, page: &[ChatMessage]) {
        self.cursor = match page.first() {
            Some(m) => Place {
                seq: m.meta.seq - 1,
                // Not an id held; only ever sent if nothing at all arrives, and then the server
                // replays from the page's start, which is merged idempotently.
                id: m.id - 1,
            },
            None => Place::default(),
        };
    }

    /// The id to continue after: the newest message held with nothing missing before it.
    pub(crate) fn last_id(&self) -> i64 {
        self.cursor.id
    }

    /// Whether a message after the cursor is held, so one before it was not delivered.
    pub(crate) fn has_hole(&self) -> bool {
        !self.reloading
            && self
                .seqs
                .last()
                .is_some_and(|&(newest, _)| newest > self.cursor.seq)
    }

    /// Whether the room's head (`seq`) is beyond what is held.
    pub(crate) fn is_behind(&self, head_seq: i64) -> bool {
        !self.reloading && head_seq > self.cursor.seq
    }

    /// Merges a stored message. Drops the pending copy of it, if this client sent it.
    pub(crate) fn confirm(&mut self, mut message: ChatMessage) {
        if let Some(offset) = &message.meta.client_offset {
            self.pending.retain(|p| &p.key != offset);
        }
        if self.is_deleted(message.id) {
            tombstone(&mut message);
        }
        self.put_seq(message.meta.seq, message.id);
        // A copy older than the one held (a page read before a change that came live) does
        // not undo the change.
        match self.at(message.id) {
            Ok(i) if self.sent[i].meta.changed > message.meta.changed => {}
            Ok(i) => self.sent[i] = message,
            Err(i) => self.sent.insert(i, message),
        }
        self.advance();
    }

    /// A moderator deleted message `id`: it disappears from view, but stays held as a
    /// tombstone so that its `seq` is not taken for a lost delivery.
    pub(crate) fn remove(&mut self, id: i64) {
        self.mark_deleted(id);
        if let Ok(i) = self.at(id) {
            tombstone(&mut self.sent[i]);
        }
    }

    /// Merges an older page (oldest first, all below what is held), as `history` with
    /// `before` answers. The cursor stays where it is: these come before it.
    pub(crate) fn prepend_older(&mut self, page: Vec<ChatMessage>, more: bool) {
        self.loading_older = false;
        self.complete = self.complete || starts_conversation(&page, more);
        for m in page {
            // `advance` only moves forward, so an older seq never moves the cursor.
            self.confirm(m);
        }
    }

    /// Id of the oldest message held, to ask for the page before it; `None` when none is.
    pub(crate) fn oldest_id(&self) -> Option<i64> {
        self.sent.first().map(|m| m.id)
    }

    /// The `seq` of the newest message held, what the reader has seen once it is shown.
    pub(crate) fn newest_seq(&self) -> i64 {
        self.seqs.last().map_or(0, |&(seq, _)| seq)
    }

    /// The names of the people whose own messages it holds (not notices, announcements or
    /// programs'), each once.
    pub(crate) fn authors(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for m in self.sent.iter().filter(|m| m.meta.kind.is_none()) {
            if !names.contains(&m.meta.author) {
                names.push(m.meta.author.clone());
            }
        }
        names
    }

    /// Id of the newest confirmed message, 0 when none is.
    pub(crate) fn newest_id(&self) -> i64 {
        self.sent.last().map_or(0, |m| m.id)
    }

    /// Whether the conversation's beginning is held.
    pub(crate) fn is_complete(&self) -> bool {
        self.complete
    }

    /// Whether an older page may be asked for now: there is one, none is on its way, and the
    /// newest page is in.
    pub(crate) fn can_load_older(&self) -> bool {
        !self.complete && !self.loading_older && !self.reloading
    }

    pub(crate) fn set_loading_older(&mut self, loading: bool) {
        self.loading_older = loading;
    }

    pub(crate) fn is_loading_older(&self) -> bool {
        self.loading_older
    }

    fn advance(&mut self) {
        while let Some(id) = self.id_at(self.cursor.seq + 1) {
            self.cursor = Place {
                seq: self.cursor.seq + 1,
                id,
            };
        }
    }

    /// The server said the gap is too large to replay: what is held will be replaced by a
    /// fresh page ([`Timeline::finish_reload`]).
    pub(crate) fn begin_reload(&mut self) {
        self.reloading = true;
    }

    pub(crate) fn is_reloading(&self) -> bool {
        self.reloading
    }

    /// Replaces the held messages with `page` (the room's newest; `more` when older ones
    /// exist), keeping any newer message that arrived live while the page was on its way.
    pub(crate) fn finish_reload(&mut self, page: Vec<ChatMessage>, more: bool) {
        let newest = page.last().map_or(0, |m| m.id);
        // A window held apart stays; whether it now meets the page is settled below.
        let window = self.window_top;
        let live: Vec<ChatMessage> = std::mem::take(&mut self.sent)
            .into_iter()
            .filter(|m| m.id > newest || window.is_some_and(|top| m.meta.seq <= top))
            .collect();
        self.seqs.clear();
        self.reloading = false;
        self.loading_older = false;
        if window.is_none() {
            self.complete = starts_conversation(&page, more);
        }
        self.start_at(&page);
        self.changes_from(&page);
        for m in page.into_iter().chain(live) {
            self.confirm(m);
        }
        self.settle_window();
    }

    /// Holds `page`, the messages around a search's hit (`more`: older ones exist; `newer`:
    /// newer ones do), apart from the newest messages if it does not reach them. A window
    /// held before is let go. The cursor does not move: these are older than it.
    pub(crate) fn hold_window(&mut self, page: Vec<ChatMessage>, more: bool, newer: bool) {
        let (Some(first), Some(last)) = (page.first(), page.last()) else {
            return;
        };
        let (bottom, top) = (first.meta.seq, last.meta.seq);
        if let Some(old) = self.window_top.take() {
            self.drop_up_to(old);
        }
        let lowest = self.seqs.first().map(|&(seq, _)| seq);
        if lowest.is_none_or(|low| bottom < low) {
            // The window is now the oldest part held.
            self.complete = starts_conversation(&page, more);
        }
        // While the newest page is on its way, nothing is known to meet the window.
        let apart = newer && (self.reloading || lowest.is_some_and(|low| top + 1 < low));
        self.loading_older = false;
        self.loading_gap = false;
        for m in page {
            self.confirm(m);
        }
        if apart {
            self.window_top = Some(top);
            self.settle_window();
        }
    }

    /// Merges a page of the gap above the window, as `history` with `after` answers
    /// (`newer`: messages after the page exist).
    pub(crate) fn fill_gap(&mut self, page: Vec<ChatMessage>, newer: bool) {
        self.loading_gap = false;
        let reached_end = !newer;
        for m in page {
            self.confirm(m);
        }
        if reached_end {
            self.window_top = None;
        }
        self.settle_window();
    }

    /// The id of the window's newest message, to ask for the page after it; `None` without a
    /// gap, or while a page of it is on its way.
    pub(crate) fn gap_after(&self) -> Option<i64> {
        let top = self.window_top.filter(|_| !self.loading_gap)?;
        self.id_at(top)
    }

    /// The id of the last message shown before the gap, where the gap is shown.
    pub(crate) fn gap_shown_after(&self) -> Option<i64> {
        let top = self.window_top?;
        let end = self.seqs.partition_point(|&(seq, _)| seq <= top);
        self.seqs[..end]
            .iter()
            .rev()
            .map(|&(_, id)| id)
            .find(|&id| self.get(id).is_some())
    }

    pub(crate) fn set_loading_gap(&mut self, loading: bool) {
        self.loading_gap = loading;
    }

    /// Whether message `id` is held (a jump to it needs no page).
    pub(crate) fn holds(&self, id: i64) -> bool {
        self.at(id).is_ok()
    }

    /// Moves the window's top up over the seqs now held above it; once it meets the next
    /// message held (or nothing is held above it), there is no gap.
    fn settle_window(&mut self) {
        let Some(mut top) = self.window_top else {
            return;
        };
        while self.id_at(top + 1).is_some() {
            top += 1;
        }
        let above = self.seqs.last().is_some_and(|&(seq, _)| seq > top);
        self.window_top = (above || self.reloading).then_some(top);
    }

    /// Lets go of the held messages up to `seq`, a window no longer shown.
    fn drop_up_to(&mut self, seq: i64) {
        // Every message held has its seq in `seqs`, and only those.
        self.sent.retain(|m| m.meta.seq > seq);
        self.seqs.retain(|&(s, _)| s > seq);
        // What is held now starts at the newest messages' page, whose start is not known.
        self.complete = self.seqs.first().is_some_and(|&(s, _)| s <= 1);
    }

    /// Turns a pending send into a stored message after its ack. A broadcast of the same
    /// message may already have done so; then the server's copy is kept.
    pub(crate) fn acknowledge(&mut self, key: &str, posted: Posted) {
        let Some(i) = self.pending.iter().position(|p| p.key == key) else {
            return;
        };
        let p = self.pending.remove(i);
        if let Err(at) = self.at(posted.id) {
            self.sent.insert(
                at,
                ChatMessage {
                    text: p.text,
                    id: posted.id,
                    meta: MessageMeta {
                        room: self.room.clone(),
                        author: p.author,
                        ts: posted.ts,
                        seq: posted.seq,
                        client_offset: Some(p.key),
                        kind: None,
                        reply: p.reply,
                        files: p.files,
                        ..Default::default()
                    },
                },
            );
        }
        self.put_seq(posted.seq, posted.id);
        self.advance();
    }

    #[cfg(test)]
    pub(crate) fn add_pending(&mut self, key: String, text: String, author: String) {
        self.add_pending_with(key, text, author, Vec::new());
    }

    /// [`Timeline::add_pending`] of a message that carries `files`.
    pub(crate) fn add_pending_with(
        &mut self,
        key: String,
        text: String,
        author: String,
        files: Vec<crate::events::FileInfo>,
    ) {
        self.pending.push(Pending {
            key,
            text,
            author,
            state: SendState::Sending,
            reply: None,
            files,
        });
    }

    /// Marks the pending send `key` as a reply to `reply`.
    pub(crate) fn set_reply(&mut self, key: &str, reply: Option<ReplyQuote>) {
        if let Some(p) = self.pending.iter_mut().find(|p| p.key == key) {
            p.reply = reply;
        }
    }

    /// A file of message `id` has its thumbnail now (or will have none).
    pub(crate) fn file_ready(&mut self, id: i64, file: crate::events::FileInfo) {
        if let Ok(i) = self.at(id)
            && let Some(f) = self.sent[i].meta.files.iter_mut().find(|f| f.id == file.id)
        {
            *f = file;
        }
    }

    pub(crate) fn set_state(&mut self, key: &str, state: SendState) {
        if let Some(p) = self.pending.iter_mut().find(|p| p.key == key) {
            p.state = state;
        }
    }

    #[cfg(test)]
    fn pending(&self, key: &str) -> Option<&Pending> {
        self.pending.iter().find(|p| p.key == key)
    }

    /// Whether a send with client offset `key` is waiting here.
    pub(crate) fn has_pending(&self, key: &str) -> bool {
        self.pending.iter().any(|p| p.key == key)
    }

    /// The client offsets of the sends waiting here.
    pub(crate) fn pending_keys(&self) -> Vec<String> {
        self.pending.iter().map(|p| p.key.clone()).collect()
    }

    /// Whether a stored message with client offset `key` is held.
    pub(crate) fn has_offset(&self, key: &str) -> bool {
        self.sent
            .iter()
            .any(|m| m.meta.client_offset.as_deref() == Some(key))
    }

    /// Forgets a pending send (the user discarded it).
    pub(crate) fn discard(&mut self, key: &str) {
        self.pending.retain(|p| p.key != key);
    }

    /// The send to make next, oldest first: none while the oldest unsent one has failed, so
    /// the user's messages are never stored out of the order they were written.
    pub(crate) fn next_to_send(&self) -> Option<&Pending> {
        self.pending
            .first()
            .filter(|p| p.state == SendState::Sending)
    }

    /// What is shown: confirmed messages and notices in order (tombstones left out), then
    /// the pending sends.
    pub(crate) fn rows(&self) -> Vec<Row> {
        self.visible()
            .cloned()
            .map(Row::Sent)
            .chain(self.pending.iter().cloned().map(Row::Pending))
            .collect()
    }

    /// How many rows are shown.
    pub(crate) fn len(&self) -> usize {
        self.visible().count() + self.pending.len()
    }

    /// How many confirmed rows shown are newer than message `id`: what a reader who last saw
    /// `id` has not seen.
    pub(crate) fn shown_after(&self, id: i64) -> usize {
        let after = self.sent.partition_point(|m| m.id <= id);
        self.sent[after..]
            .iter()
            .filter(|m| m.meta.kind != Some(MessageKind::Deleted))
            .count()
    }

    /// The confirmed messages shown, oldest first.
    pub(crate) fn messages(&self) -> impl DoubleEndedIterator<Item = &ChatMessage> {
        self.visible()
    }

    fn visible(&self) -> impl DoubleEndedIterator<Item = &ChatMessage> {
        self.sent
            .iter()
            .filter(|m| m.meta.kind != Some(MessageKind::Deleted))
    }
}

/// Whether `page`, the newest messages before some point, reaches back to the conversation's
/// first message: the server said nothing older exists, or the first message is seq 1.
fn starts_conversation(page: &[ChatMessage], more: bool) -> bool {
    !more || page.first().is_some_and(|m| m.meta.seq <= 1)
}

/// Empties a message into the tombstone the server would send for it.
fn tombstone(m: &mut ChatMessage) {
    m.text.clear();
    m.meta.author.clear();
    m.meta.client_offset = None;
    m.meta.kind = Some(MessageKind::Deleted);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::LOBBY;

    /// Message `id` with seq `id` (one room, ids without holes) unless a test says otherwise.
    fn msg(id: i64, text: &str, offset: Option<&str>) -> ChatMessage {
        at(id, id, text, offset)
    }

    fn at(id: i64, seq: i64, text: &str, offset: Option<&str>) -> ChatMessage {
        ChatMessage {
            text: text.into(),
            id,
            meta: MessageMeta {
                room: LOBBY.into(),
                author: "ann".into(),
                ts: id * 1000,
                seq,
                client_offset: offset.map(Into::into),
                kind: None,
                ..Default::default()
            },
        }
    }

    fn ids(t: &Timeline) -> Vec<String> {
        t.rows().iter().map(Row::key).collect()
    }

    #[test]
    fn merging_is_ordered_and_idempotent() {
        let mut t = Timeline::new(LOBBY, vec![msg(1, "a", None)]);
        // A replay after reconnect overlaps what the page already had, and arrives out of order.
        for m in [
            msg(4, "d", None),
            msg(2, "b", None),
            msg(3, "c", None),
            msg(3, "c", None),
        ] {
            t.confirm(m);
        }
        assert_eq!(ids(&t), ["m1", "m2", "m3", "m4"]);
        assert_eq!(t.last_id(), 4);
        assert!(!t.has_hole());
        assert_eq!(Timeline::default().last_id(), 0);
    }

    #[test]
    fn the_cursor_stops_at_the_first_missing_seq() {
        // Ids are shared by every room, so they have holes; seqs do not.
        let mut t = Timeline::new(LOBBY, vec![at(10, 4, "a", None), at(12, 5, "b", None)]);
        assert_eq!((t.last_id(), t.has_hole()), (12, false));
        // seq 6 was dropped on the way; 7 arrives.
        t.confirm(at(20, 7, "d", None));
        assert!(t.has_hole());
        assert_eq!(t.last_id(), 12, "since must still ask for seq 6");
        assert!(t.is_behind(7));
        t.confirm(at(15, 6, "c", None));
        assert_eq!(
            (t.last_id(), t.has_hole(), t.is_behind(7)),
            (20, false, false)
        );
    }

    #[test]
    fn a_fresh_page_starts_the_cursor_before_it() {
        let t = Timeline::new(LOBBY, vec![at(50, 30, "x", None)]);
        assert_eq!(t.last_id(), 50);
        assert!(!t.is_behind(30) && t.is_behind(31));
        let empty = Timeline::new(LOBBY, vec![]);
        assert!(empty.is_behind(1) && !empty.is_behind(0));
    }

    #[test]
    fn a_reload_replaces_old_messages_and_keeps_newer_live_ones() {
        let mut t = Timeline::new(LOBBY, vec![at(1, 1, "old", None)]);
        t.add_pending("k".into(), "mine".into(), "ann".into());
        t.begin_reload();
        // Live traffic keeps coming while the page loads; it is not a hole.
        t.confirm(at(2000, 2000, "live", None));
        assert!(!t.has_hole() && t.is_reloading());
        t.finish_reload(
            vec![at(1998, 1998, "p1", None), at(1999, 1999, "p2", None)],
            true,
        );
        assert_eq!(ids(&t), ["m1998", "m1999", "m2000", "pk"]);
        assert_eq!((t.last_id(), t.has_hole()), (2000, false));
        assert!(t.can_load_older(), "the page said older messages exist");
    }

    #[test]
    fn broadcast_of_own_message_replaces_pending() {
        let mut t = Timeline::new(LOBBY, vec![msg(1, "a", None)]);
        t.add_pending("k1".into(), "mine".into(), "ann".into());
        assert_eq!(ids(&t), ["m1", "pk1"]);
        t.confirm(msg(2, "mine", Some("k1")));
        assert_eq!(ids(&t), ["m1", "m2"]);
        // The ack arriving afterwards changes nothing.
        t.acknowledge(
            "k1",
            Posted {
                id: 2,
                ts: 5,
                seq: 2,
            },
        );
        assert_eq!(ids(&t), ["m1", "m2"]);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn ack_before_broadcast_confirms_once() {
        let mut t = Timeline::default();
        t.add_pending("k1".into(), "mine".into(), "ann".into());
        t.acknowledge(
            "k1",
            Posted {
                id: 7,
                ts: 70,
                seq: 7,
            },
        );
        assert_eq!(ids(&t), ["m7"]);
        let rows = t.rows();
        let Row::Sent(m) = &rows[0] else {
            panic!("expected a sent row")
        };
        assert_eq!((m.id, m.meta.ts, m.text.as_str()), (7, 70, "mine"));
        t.confirm(msg(7, "mine", Some("k1")));
        assert_eq!(ids(&t), ["m7"]);
    }

    #[test]
    fn a_failed_send_holds_back_the_ones_after_it() {
        let mut t = Timeline::default();
        t.add_pending("k1".into(), "x".into(), "ann".into());
        t.add_pending("k2".into(), "y".into(), "ann".into());
        assert_eq!(t.next_to_send().map(|p| p.key.as_str()), Some("k1"));
        t.set_state("k1", SendState::Failed("timeout".into()));
        assert_eq!(ids(&t), ["fk1", "pk2"]);
        assert_eq!(t.next_to_send(), None);
        t.set_state("k1", SendState::Sending);
        assert_eq!(t.next_to_send().map(|p| p.key.as_str()), Some("k1"));
        t.discard("k1");
        assert_eq!(t.next_to_send().map(|p| p.key.as_str()), Some("k2"));
        assert_eq!(t.pending("k2").unwrap().text, "y");
    }

    fn kinded(id: i64, seq: i64, kind: MessageKind) -> ChatMessage {
        let mut m = at(id, seq, "", None);
        m.meta.kind = Some(kind);
        m
    }

    #[test]
    fn a_deleted_message_disappears_but_still_counts_for_the_cursor() {
        let mut t = Timeline::new(LOBBY, vec![msg(1, "a", None), msg(2, "oops", None)]);
        t.remove(2);
        assert_eq!(ids(&t), ["m1"]);
        assert_eq!((t.len(), t.last_id(), t.has_hole()), (1, 2, false));
        // The next message follows on without a sync.
        t.confirm(msg(3, "c", None));
        assert_eq!((t.last_id(), t.has_hole()), (3, false));
        // A replay of the old copy, sent before the deletion, stays hidden.
        t.confirm(msg(2, "oops", None));
        assert_eq!(ids(&t), ["m1", "m3"]);
        // Catch-up and history send tombstones; they are held and not shown either.
        t.confirm(kinded(4, 4, MessageKind::Deleted));
        assert_eq!(ids(&t), ["m1", "m3"]);
        assert_eq!((t.last_id(), t.newest_seq()), (4, 4));
        // Deleting what is not held is remembered for when it arrives.
        t.remove(5);
        t.confirm(msg(5, "late", None));
        assert_eq!((ids(&t).len(), t.last_id()), (2, 5));
    }

    #[test]
    fn notices_are_rows_of_their_own() {
        let mut t = Timeline::new(LOBBY, vec![msg(1, "a", None)]);
        t.confirm(kinded(2, 2, MessageKind::Joined));
        assert_eq!(ids(&t), ["m1", "m2"]);
        assert_eq!(t.newest_seq(), 2);
    }

    #[test]
    fn older_pages_prepend_without_moving_the_cursor() {
        let newest: Vec<_> = (51..=100).map(|n| msg(n, "x", None)).collect();
        let mut t = Timeline::new(LOBBY, newest);
        assert_eq!((t.oldest_id(), t.last_id()), (Some(51), 100));
        assert!(t.can_load_older() && !t.is_complete());

        t.set_loading_older(true);
        assert!(!t.can_load_older(), "one page at a time");
        t.prepend_older((1..=50).skip(10).map(|n| msg(n, "o", None)).collect(), true);
        assert_eq!(
            (t.oldest_id(), t.last_id(), t.has_hole()),
            (Some(11), 100, false)
        );
        assert_eq!(ids(&t).first().map(String::as_str), Some("m11"));
        assert!(t.can_load_older());

        // The last page reaches seq 1, whatever `more` says.
        t.prepend_older((1..=10).map(|n| msg(n, "o", None)).collect(), true);
        assert_eq!((t.len(), t.last_id()), (100, 100));
        assert!(t.is_complete() && !t.can_load_older());
        // New messages still move the cursor.
        t.confirm(msg(101, "new", None));
        assert_eq!(t.last_id(), 101);
    }

    #[test]
    fn the_server_saying_there_is_no_more_completes_the_timeline() {
        // Seq 1 was deleted and its tombstone is not in the first page: the server knows.
        let mut t = Timeline::new(LOBBY, vec![at(7, 2, "b", None)]);
        assert!(t.can_load_older());
        t.prepend_older(vec![], false);
        assert!(t.is_complete());
        assert!(Timeline::new(LOBBY, vec![]).is_complete());
        assert!(Timeline::new(LOBBY, vec![msg(1, "a", None)]).is_complete());
    }

    #[test]
    fn a_loading_timeline_holds_sends_until_its_first_page() {
        let mut t = Timeline::loading("rust");
        assert!(t.is_reloading() && !t.can_load_older());
        t.add_pending("k".into(), "early".into(), "ann".into());
        t.acknowledge(
            "k",
            Posted {
                id: 30,
                ts: 1,
                seq: 3,
            },
        );
        assert!(!t.has_hole(), "holes mean nothing before the first page");
        t.finish_reload(vec![at(10, 1, "a", None), at(20, 2, "b", None)], false);
        assert_eq!(ids(&t), ["m10", "m20", "m30"]);
        assert_eq!(
            (t.last_id(), t.has_hole(), t.is_complete()),
            (30, false, true)
        );
        let Row::Sent(mine) = &t.rows()[2] else {
            panic!("expected a sent row")
        };
        assert_eq!(mine.meta.room, "rust");
    }

    #[test]
    fn a_window_far_back_is_held_apart_and_its_gap_filled_a_page_at_a_time() {
        let newest: Vec<_> = (91..=100).map(|n| msg(n, "new", None)).collect();
        let mut t = Timeline::new(LOBBY, newest);
        // The hit, 40, with messages around it; newer ones exist.
        t.hold_window((38..=42).map(|n| msg(n, "w", None)).collect(), true, true);
        assert_eq!(ids(&t)[..5], ["m38", "m39", "m40", "m41", "m42"]);
        assert_eq!((t.gap_after(), t.gap_shown_after()), (Some(42), Some(42)));
        // The gap is no hole: the cursor and catch-up are untouched.
        assert_eq!(
            (t.last_id(), t.has_hole(), t.is_behind(100)),
            (100, false, false)
        );
        assert!(t.holds(40) && !t.holds(50));
        // Older pages continue from the window.
        assert_eq!(t.oldest_id(), Some(38));
        assert!(t.can_load_older());
        t.set_loading_gap(true);
        assert_eq!(t.gap_after(), None, "one page at a time");
        t.fill_gap((43..=70).map(|n| msg(n, "g", None)).collect(), true);
        assert_eq!(t.gap_after(), Some(70));
        // Live messages arrive meanwhile.
        t.confirm(msg(101, "live", None));
        assert_eq!(t.last_id(), 101);
        t.fill_gap((71..=90).map(|n| msg(n, "g", None)).collect(), true);
        assert_eq!((t.gap_after(), t.gap_shown_after()), (None, None));
        assert_eq!(t.len(), 101 - 37);
        // The page said the first message is held.
        t.hold_window((1..=3).map(|n| msg(n, "w", None)).collect(), false, true);
        assert!(t.is_complete());
        assert_eq!(t.gap_after(), Some(3));
        // A second jump lets the first window go.
        t.hold_window((10..=12).map(|n| msg(n, "x", None)).collect(), true, true);
        assert_eq!(ids(&t)[..3], ["m10", "m11", "m12"]);
        assert!(!t.holds(1) && !t.is_complete());
    }

    #[test]
    fn a_window_that_meets_the_newest_messages_is_no_gap() {
        let mut t = Timeline::new(LOBBY, (11..=20).map(|n| msg(n, "n", None)).collect());
        t.hold_window((5..=10).map(|n| msg(n, "w", None)).collect(), true, true);
        assert_eq!(t.gap_after(), None);
        assert_eq!(t.oldest_id(), Some(5));
        // Around a message already held: nothing newer is missing.
        t.hold_window((15..=20).map(|n| msg(n, "w", None)).collect(), true, false);
        assert_eq!(t.gap_after(), None);
        // The gap's last page says nothing is newer.
        let mut t = Timeline::new(LOBBY, (50..=60).map(|n| msg(n, "n", None)).collect());
        t.hold_window((5..=10).map(|n| msg(n, "w", None)).collect(), true, true);
        t.fill_gap(vec![], false);
        assert_eq!(t.gap_after(), None);
    }

    #[test]
    fn a_window_held_while_the_newest_page_loads_stays_after_it() {
        let mut t = Timeline::loading("rust");
        t.hold_window((5..=7).map(|n| msg(n, "w", None)).collect(), true, true);
        assert_eq!(t.gap_after(), Some(7));
        t.finish_reload((40..=50).map(|n| msg(n, "n", None)).collect(), true);
        assert_eq!(ids(&t)[..4], ["m5", "m6", "m7", "m40"]);
        assert_eq!(
            (t.gap_after(), t.last_id(), t.has_hole()),
            (Some(7), 50, false)
        );
        assert!(!t.is_complete());
        // A newest page that reaches down to the window closes the gap.
        let mut t = Timeline::loading("rust");
        t.hold_window((5..=7).map(|n| msg(n, "w", None)).collect(), true, true);
        t.finish_reload((8..=20).map(|n| msg(n, "n", None)).collect(), true);
        assert_eq!((t.gap_after(), t.len()), (None, 16));
    }

    #[test]
    fn rows_shown_after_a_message_are_counted() {
        let mut t = Timeline::new(LOBBY, vec![msg(1, "a", None), msg(2, "b", None)]);
        t.confirm(msg(3, "c", None));
        t.remove(2);
        t.add_pending("k".into(), "mine".into(), "ann".into());
        // The reader's own sends are not news to them.
        assert_eq!(t.shown_after(1), 1);
        assert_eq!(t.shown_after(0), 2);
        assert_eq!(t.shown_after(3), 0);
    }

    fn changed(mut m: ChatMessage, text: &str, changed: i64) -> ChatMessage {
        m.text = text.into();
        m.meta.changed = changed;
        m.meta.edited = Some(changed * 1000);
        m
    }

    #[test]
    fn a_change_replaces_the_held_copy_once_whatever_the_order() {
        let mut t = Timeline::new(LOBBY, vec![msg(1, "a", None), msg(2, "b", None)]);
        assert_eq!(t.change_cursor(), 0);
        assert!(t.apply_change(changed(msg(1, "a", None), "a2", 2)));
        assert_eq!(t.get(1).unwrap().text, "a2");
        assert_eq!(t.change_cursor(), 2);
        // An older change arriving late, or the same one again, is ignored.
        assert!(!t.apply_change(changed(msg(1, "a", None), "a1", 1)));
        assert!(!t.apply_change(changed(msg(1, "a", None), "a2", 2)));
        assert_eq!(t.get(1).unwrap().text, "a2");
        // A page read before the change does not undo it.
        t.confirm(msg(1, "a", None));
        assert_eq!(t.get(1).unwrap().text, "a2");
        assert_eq!(t.get(1).unwrap().meta.edited, Some(2000));
        // The row's key follows its content, so it is drawn again.
        assert_eq!(ids(&t), ["m1.2", "m2"]);
        // A message not held is not made up; the cursor still moves past its change.
        assert!(!t.apply_change(changed(msg(9, "z", None), "z2", 5)));
        assert!(t.get(9).is_none());
        assert_eq!(t.change_cursor(), 5);
    }

    #[test]
    fn a_deletion_change_leaves_a_hidden_tombstone_that_keeps_the_cursor() {
        let mut t = Timeline::new(LOBBY, vec![msg(1, "a", None), msg(2, "b", None)]);
        let mut tomb = msg(2, "", None);
        tomb.meta.author.clear();
        tomb.meta.kind = Some(MessageKind::Deleted);
        tomb.meta.changed = 1;
        assert!(t.apply_change(tomb));
        assert_eq!(ids(&t), ["m1"]);
        assert!(t.get(2).is_none());
        assert_eq!(t.last_id(), 2, "the tombstone still counts for the cursor");
        // A stale live copy of it stays hidden.
        t.confirm(msg(2, "b", None));
        assert_eq!(ids(&t), ["m1"]);
        t.confirm(msg(3, "c", None));
        assert!(!t.has_hole());
    }

    #[test]
    fn reactions_and_replies_come_with_the_message() {
        let mut t = Timeline::new(LOBBY, vec![msg(1, "a", None)]);
        let mut reacted = msg(1, "a", None);
        reacted.meta.changed = 3;
        reacted.meta.reactions = vec![crate::events::Reaction {
            emoji: "👍".into(),
            count: 1,
            names: vec!["bob".into()],
        }];
        t.apply_change(reacted);
        assert_eq!(t.get(1).unwrap().meta.reactions[0].count, 1);
        // Taking it back is a change too.
        let mut back = msg(1, "a", None);
        back.meta.changed = 4;
        t.apply_change(back);
        assert!(t.get(1).unwrap().meta.reactions.is_empty());

        // A pending reply keeps its quote through its ack.
        let quote = ReplyQuote {
            id: 1,
            author: "ann".into(),
            excerpt: "a".into(),
        };
        t.add_pending("k".into(), "re".into(), "bob".into());
        t.set_reply("k", Some(quote.clone()));
        t.acknowledge(
            "k",
            Posted {
                id: 2,
                ts: 5,
                seq: 2,
            },
        );
        assert_eq!(t.get(2).unwrap().meta.reply, Some(quote));
    }

    #[test]
    fn the_change_cursor_starts_from_the_page_and_follows_the_catch_up() {
        let mut t = Timeline::new(
            LOBBY,
            vec![changed(msg(1, "a", None), "a", 7), msg(2, "b", None)],
        );
        assert_eq!(t.change_cursor(), 7);
        t.changes_synced(9);
        assert_eq!(t.change_cursor(), 9);
        t.changes_synced(4);
        assert_eq!(t.change_cursor(), 9, "never back");
        t.begin_reload();
        t.finish_reload(vec![changed(msg(5, "e", None), "e", 12)], true);
        assert_eq!(t.change_cursor(), 12);
    }
}
