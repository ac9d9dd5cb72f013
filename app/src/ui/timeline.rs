//! The message list as the browser holds it: confirmed messages keyed by server id, plus the
//! user's own sends that are not acknowledged yet.
//!
//! Everything that reaches the list (the server-rendered page, live broadcasts, the replay
//! after a reconnect, acks) goes through [`Timeline::confirm`], which is idempotent: merging
//! the same message twice, or out of order, cannot duplicate or reorder it.

use std::collections::BTreeMap;

use crate::events::{ChatMessage, MessageMeta, Posted};

/// A message the user sent that the server has not acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pending {
    /// Also the client offset sent to the server, so retries are idempotent.
    pub(crate) key: String,
    pub(crate) text: String,
    pub(crate) author: String,
    pub(crate) state: SendState,
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
            Row::Sent(m) => format!("m{}", m.id),
            Row::Pending(p) => match &p.state {
                SendState::Sending => format!("p{}", p.key),
                SendState::Failed(_) => format!("f{}", p.key),
            },
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Timeline {
    sent: BTreeMap<i64, ChatMessage>,
    /// In the order the user sent them; shown after every confirmed message.
    pending: Vec<Pending>,
}

// Without `hydrate` only the server render uses the timeline; the rest serves the browser.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
impl Timeline {
    pub(crate) fn new(initial: Vec<ChatMessage>) -> Timeline {
        let mut t = Timeline::default();
        for m in initial {
            t.confirm(m);
        }
        t
    }

    /// The highest server id held: what the client asks the server to continue after.
    pub(crate) fn last_id(&self) -> i64 {
        self.sent.keys().next_back().copied().unwrap_or(0)
    }

    /// Merges a stored message. Drops the pending copy of it, if this client sent it.
    pub(crate) fn confirm(&mut self, message: ChatMessage) {
        if let Some(offset) = &message.meta.client_offset {
            self.pending.retain(|p| &p.key != offset);
        }
        self.sent.insert(message.id, message);
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
                author: p.author,
                ts: posted.ts,
                client_offset: Some(p.key),
            },
        });
    }

    pub(crate) fn add_pending(&mut self, key: String, text: String, author: String) {
        self.pending.push(Pending {
            key,
            text,
            author,
            state: SendState::Sending,
        });
    }

    pub(crate) fn set_state(&mut self, key: &str, state: SendState) {
        if let Some(p) = self.pending.iter_mut().find(|p| p.key == key) {
            p.state = state;
        }
    }

    pub(crate) fn pending(&self, key: &str) -> Option<&Pending> {
        self.pending.iter().find(|p| p.key == key)
    }

    /// Sends still waiting to go out (not failed), oldest first.
    pub(crate) fn sending(&self) -> impl Iterator<Item = &Pending> {
        self.pending
            .iter()
            .filter(|p| p.state == SendState::Sending)
    }

    pub(crate) fn rows(&self) -> Vec<Row> {
        self.sent
            .values()
            .cloned()
            .map(Row::Sent)
            .chain(self.pending.iter().cloned().map(Row::Pending))
            .collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.sent.len() + self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: i64, text: &str, offset: Option<&str>) -> ChatMessage {
        ChatMessage {
            text: text.into(),
            id,
            meta: MessageMeta {
                author: "ann".into(),
                ts: id * 1000,
                client_offset: offset.map(Into::into),
            },
        }
    }

    fn ids(t: &Timeline) -> Vec<String> {
        t.rows().iter().map(Row::key).collect()
    }

    #[test]
    fn merging_is_ordered_and_idempotent() {
        let mut t = Timeline::new(vec![msg(1, "a", None), msg(3, "c", None)]);
        // A replay after reconnect overlaps what the page already had, and arrives out of order.
        for m in [msg(4, "d", None), msg(2, "b", None), msg(3, "c", None)] {
            t.confirm(m);
        }
        assert_eq!(ids(&t), ["m1", "m2", "m3", "m4"]);
        assert_eq!(t.last_id(), 4);
        assert_eq!(Timeline::default().last_id(), 0);
    }

    #[test]
    fn broadcast_of_own_message_replaces_pending() {
        let mut t = Timeline::new(vec![msg(1, "a", None)]);
        t.add_pending("k1".into(), "mine".into(), "ann".into());
        assert_eq!(ids(&t), ["m1", "pk1"]);
        t.confirm(msg(2, "mine", Some("k1")));
        assert_eq!(ids(&t), ["m1", "m2"]);
        // The ack arriving afterwards changes nothing.
        t.acknowledge("k1", Posted { id: 2, ts: 5 });
        assert_eq!(ids(&t), ["m1", "m2"]);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn ack_before_broadcast_confirms_once() {
        let mut t = Timeline::default();
        t.add_pending("k1".into(), "mine".into(), "ann".into());
        t.acknowledge("k1", Posted { id: 7, ts: 70 });
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
    fn failed_sends_stay_until_retried() {
        let mut t = Timeline::default();
        t.add_pending("k1".into(), "x".into(), "ann".into());
        t.add_pending("k2".into(), "y".into(), "ann".into());
        t.set_state("k1", SendState::Failed("timeout".into()));
        assert_eq!(ids(&t), ["fk1", "pk2"]);
        assert_eq!(
            t.sending().map(|p| p.key.as_str()).collect::<Vec<_>>(),
            ["k2"]
        );
        t.set_state("k1", SendState::Sending);
        assert_eq!(t.sending().count(), 2);
        assert_eq!(t.pending("k1").unwrap().text, "x");
    }
}
