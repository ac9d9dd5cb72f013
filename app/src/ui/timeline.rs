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
//! There is one timeline per conversation the page has opened.

use std::collections::{BTreeMap, BTreeSet};

use crate::events::{ChatMessage, MessageKind, MessageMeta, Posted};

/// A message the user sent that the server has not acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pending {
    /// Also the client offset sent to the server, so retries are idempotent.
    pub(crate) key: String,
    pub(crate) text: String,
    pub(crate) author: String,
    pub(crate) state: SendState,
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
            // A file's thumbnail made is new content.
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
    /// Confirmed messages by id, tombstones of deleted ones included.
    sent: BTreeMap<i64, ChatMessage>,
    /// seq to id, for the messages in `sent`.
    seqs: BTreeMap<i64, i64>,
    /// The catch-up cursor: everything from the start of the list up to here is held.
    cursor: Place,
    /// Between a `synced` gap and the reloaded page: the cursor means nothing then, so holes
    /// are not reported.
    reloading: bool,
    /// In the order the user sent them; shown after every confirmed message.
    pending: Vec<Pending>,
    /// Ids deleted by a moderator; remembered so that a copy arriving late stays hidden.
    deleted: BTreeSet<i64>,
    /// Whether the conversation's first message is held: there is nothing older to load.
    complete: bool,
    /// An older page is on its way.
    loading_older: bool,
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
        for m in initial {
            t.confirm(m);
        }
        t
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
                .keys()
                .next_back()
                .is_some_and(|&newest| newest > self.cursor.seq)
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
        if self.deleted.contains(&message.id) {
            tombstone(&mut message);
        }
        self.seqs.insert(message.meta.seq, message.id);
        self.sent.insert(message.id, message);
        self.advance();
    }

    /// A moderator deleted message `id`: it disappears from view, but stays held as a
    /// tombstone so that its `seq` is not taken for a lost delivery.
    pub(crate) fn remove(&mut self, id: i64) {
        self.deleted.insert(id);
        if let Some(m) = self.sent.get_mut(&id) {
            tombstone(m);
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
        self.sent.keys().next().copied()
    }

    /// The `seq` of the newest message held, what the reader has seen once it is shown.
    pub(crate) fn newest_seq(&self) -> i64 {
        self.seqs.keys().next_back().copied().unwrap_or(0)
    }

    /// The names of the people whose own messages it holds (not notices, announcements or
    /// programs'), each once.
    pub(crate) fn authors(&self) -> Vec<String> {
        let names: BTreeSet<&str> = self
            .sent
            .values()
            .filter(|m| m.meta.kind.is_none())
            .map(|m| m.meta.author.as_str())
            .collect();
        names.into_iter().map(str::to_owned).collect()
    }

    /// Id of the newest confirmed message, 0 when none is.
    pub(crate) fn newest_id(&self) -> i64 {
        self.sent.keys().next_back().copied().unwrap_or(0)
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
        while let Some(&id) = self.seqs.get(&(self.cursor.seq + 1)) {
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
        let live: Vec<ChatMessage> = std::mem::take(&mut self.sent)
            .into_values()
            .filter(|m| m.id > newest)
            .collect();
        self.seqs.clear();
        self.reloading = false;
        self.loading_older = false;
        self.complete = starts_conversation(&page, more);
        self.start_at(&page);
        for m in page.into_iter().chain(live) {
            self.confirm(m);
        }
    }

    /// Turns a pending send into a stored message after its ack. A broadcast of the same
    /// message may already have done so; then the server's copy is kept.
    pub(crate) fn acknowledge(&mut self, key: &str, posted: Posted) {
        let Some(i) = self.pending.iter().position(|p| p.key == key) else {
            return;
        };
        let p = self.pending.remove(i);
        self.sent.entry(posted.id).or_insert(ChatMessage {
            text: p.text,
            id: posted.id,
            meta: MessageMeta {
                room: self.room.clone(),
                author: p.author,
                ts: posted.ts,
                seq: posted.seq,
                client_offset: Some(p.key),
                kind: None,
                files: p.files,
            },
        });
        self.seqs.insert(posted.seq, posted.id);
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
            files,
        });
    }

    /// A file of message `id` has its thumbnail now (or will have none).
    pub(crate) fn file_ready(&mut self, id: i64, file: crate::events::FileInfo) {
        if let Some(m) = self.sent.get_mut(&id)
            && let Some(f) = m.meta.files.iter_mut().find(|f| f.id == file.id)
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
            .values()
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
        self.sent
            .range(id + 1..)
            .filter(|(_, m)| m.meta.kind != Some(MessageKind::Deleted))
            .count()
    }

    fn visible(&self) -> impl Iterator<Item = &ChatMessage> {
        self.sent
            .values()
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
}
