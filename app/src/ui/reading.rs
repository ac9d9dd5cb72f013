//! How a conversation's rows read: a separator before each day, a "new messages" divider
//! before the first unread message, consecutive messages of one person grouped under one
//! header, and the gap where a window of older messages ends. Pure, so these rules are unit-tested; `conversation.rs` draws the [`Item`]s, and
//! [`reading_state`] holds what they are computed from while a conversation is open.

use std::time::Duration;

use leptos::prelude::*;

use super::state::ChatState;
use super::time;
use super::timeline::{Row, Timeline};
use crate::events::{ChatMessage, MessageKind};

/// Messages of one person this close together (and nothing between) share a header.
const GROUP_MS: i64 = 5 * 60 * 1000;

/// One item of the message list.
#[derive(Debug, Clone, PartialEq)]
// Items live for one render of the list, nearly all of them rows: boxing would cost an
// allocation per row.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Item {
    /// The start of a day (counted in the zone shown), and what it is called.
    Day { day: i64, label: String },
    /// "New messages": what follows was unread when the conversation was opened.
    Unread,
    /// A row, `grouped` when it continues the previous message's group (no header of its own).
    Row { row: Row, grouped: bool },
    /// After a window of older messages (a jump to a search's hit), where the messages not
    /// held begin: it loads the next page of them, or is `loading` it.
    Gap { loading: bool },
}

impl Item {
    /// A key for keyed rendering; it changes whenever the item would be drawn differently.
    pub(crate) fn key(&self) -> String {
        match self {
            Item::Day { day, label } => format!("d{day}:{label}"),
            Item::Unread => "unread".to_owned(),
            Item::Gap { loading } => format!("gap:{loading}"),
            Item::Row { row, grouped } => {
                let mut key = row.key();
                if *grouped {
                    key.push('g');
                }
                key
            }
        }
    }
}

/// The list's items: `rows` in order, with day separators, the divider before message
/// `unread_from` (if shown), and groups. `shift` moves a time into the zone shown; a pending
/// send counts as sent `now`.
pub(crate) fn items(
    rows: Vec<Row>,
    unread_from: Option<i64>,
    now: i64,
    shift: impl Fn(i64) -> i64,
) -> Vec<Item> {
    let today = time::day(shift(now));
    let mut items = Vec::with_capacity(rows.len() + 4);
    // The previous row's day, and its author and time if a person's message.
    let mut last_day = None;
    let mut last_person: Option<(String, i64)> = None;
    for row in rows {
        let (ts, person) = match &row {
            Row::Sent(m) => (m.meta.ts, person(m)),
            Row::Pending(p) => (now, Some(p.author.clone())),
        };
        let day = time::day(shift(ts));
        if last_day != Some(day) {
            items.push(Item::Day {
                day,
                label: time::day_label(day, today),
            });
            last_day = Some(day);
            last_person = None;
        }
        if matches!(&row, Row::Sent(m) if Some(m.id) == unread_from) {
            items.push(Item::Unread);
            last_person = None;
        }
        let grouped = match (&person, &last_person) {
            (Some(author), Some((before, at))) => {
                author == before && (0..=GROUP_MS).contains(&(ts - at))
            }
            _ => false,
        };
        last_person = person.map(|author| (author, ts));
        items.push(Item::Row { row, grouped });
    }
    items
}

/// `items` with the gap after message `after`, the window's newest, when there is one.
pub(crate) fn mark_gap(mut items: Vec<Item>, after: Option<i64>, loading: bool) -> Vec<Item> {
    let at = after.and_then(|after| {
        items
            .iter()
            .position(|item| matches!(item, Item::Row { row: Row::Sent(m), .. } if m.id == after))
    });
    if let Some(at) = at {
        items.insert(at + 1, Item::Gap { loading });
    }
    items
}

/// A person's message's author; `None` for notices, announcements and programs' messages,
/// which always show their header.
fn person(m: &ChatMessage) -> Option<String> {
    m.meta.kind.is_none().then(|| m.meta.author.clone())
}

/// Where "New messages" goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Divider {
    /// Before this message, the first unread one.
    At(i64),
    /// Before this message, the oldest held: the first unread one is older still, and the
    /// divider moves to it as older pages arrive.
    Above(i64),
}

/// Where "New messages" goes, for a conversation opened with `unread` messages unread when its
/// newest was number `newest` (`seq`): before the `unread`-th newest message up to it that
/// counts as unread (as the server counts), moved past the reader's own; above everything held
/// when that message is older than what is held. `None` when nothing was unread, or nothing is
/// held.
pub(crate) fn first_unread<'a>(
    messages: impl DoubleEndedIterator<Item = &'a ChatMessage>,
    unread: u64,
    me: &str,
    newest: i64,
) -> Option<Divider> {
    if unread == 0 {
        return None;
    }
    let mut counted = 0;
    let mut first = None;
    let mut oldest = None;
    // Newest first; `first` ends at the oldest of the `unread` newest that are not ours.
    for m in messages.rev().filter(|m| m.meta.seq <= newest) {
        oldest = Some(m.id);
        if !MessageKind::is_unread_worthy(m.meta.kind) {
            continue;
        }
        counted += 1;
        if m.meta.author != me {
            first = Some(m.id);
        }
        if counted == unread {
            return first.map(Divider::At);
        }
    }
    oldest.map(Divider::Above)
}

/// The reading aids' state for conversation `room` while it is open: the time "today" is
/// counted from (kept fresh in the browser), and the message the "new messages" divider goes
/// before, placed once from what was unread when it opened.
pub(crate) fn reading_state(
    room: StoredValue<String>,
    timeline: RwSignal<Timeline>,
    state: ChatState,
) -> (RwSignal<i64>, RwSignal<Option<i64>>) {
    let now = RwSignal::new(time::now_ms());
    let unread_from = RwSignal::new(None::<i64>);
    let placed = StoredValue::new(false);
    // The newest message when the conversation opened: the unread are counted back from it,
    // so that messages arriving later never move the divider.
    let newest = StoredValue::new(None::<i64>);
    Effect::new(move |_| {
        if placed.get_value() {
            return;
        }
        let unread = state.rooms.with(|r| r.opened_unread(&room.get_value()));
        if unread == 0 || timeline.with(Timeline::is_reloading) {
            return;
        }
        let Some(upto) = newest.get_value().or_else(|| {
            let held = timeline.with(|t| t.messages().next_back().map(|m| m.meta.seq));
            newest.set_value(held);
            held
        }) else {
            return;
        };
        let me = state.name.get_untracked();
        match timeline.with(|t| first_unread(t.messages(), unread, &me, upto)) {
            // Above what is held, it follows older pages in until it is in its place.
            Some(Divider::Above(id)) => unread_from.set(Some(id)),
            found => {
                placed.set_value(true);
                unread_from.set(found.map(|(Divider::At(id) | Divider::Above(id))| id));
            }
        }
    });
    Effect::new(move |_| {
        if let Ok(ticks) =
            set_interval_with_handle(move || now.set(time::now_ms()), Duration::from_secs(60))
        {
            on_cleanup(move || ticks.clear());
        }
    });
    on_cleanup(move || {
        if let Some(room) = room.try_get_value() {
            state.rooms.try_update_untracked(|r| r.closed(&room));
        }
    });
    (now, unread_from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::MessageMeta;
    use crate::ui::timeline::{Pending, SendState};

    const MIN: i64 = 60_000;
    /// 2026-12-02T12:00:00Z, a Wednesday.
    const NOON: i64 = 1_796_212_800_000;

    fn msg(id: i64, author: &str, ts: i64) -> ChatMessage {
        ChatMessage {
            text: format!("m{id}"),
            id,
            meta: MessageMeta {
                room: "rust".into(),
                author: author.into(),
                ts,
                seq: id,
                ..Default::default()
            },
        }
    }

    fn notice(id: i64, author: &str, ts: i64) -> ChatMessage {
        let mut m = msg(id, author, ts);
        m.meta.kind = Some(MessageKind::Joined);
        m
    }

    /// The items as short strings: `[Today]`, `---`, `3` (a message with a header), `+3`.
    fn layout(rows: Vec<ChatMessage>, unread_from: Option<i64>, now: i64) -> Vec<String> {
        let rows = rows.into_iter().map(Row::Sent).collect();
        items(rows, unread_from, now, |t| t)
            .into_iter()
            .map(|i| match i {
                Item::Day { label, .. } => format!("[{label}]"),
                Item::Unread => "---".to_owned(),
                Item::Gap { .. } => "...".to_owned(),
                Item::Row {
                    row: Row::Sent(m),
                    grouped,
                } => format!("{}{}", if grouped { "+" } else { "" }, m.id),
                Item::Row { grouped, .. } => format!("{}p", if grouped { "+" } else { "" }),
            })
            .collect()
    }

    /// The gap follows the window's newest message, before the next day's separator, and
    /// its key says whether its page is on the way; no gap, or a message not held, adds none.
    #[test]
    fn the_gap_follows_the_windows_newest_message() {
        let day = 86_400_000;
        let rows = vec![
            msg(1, "ann", NOON - day),
            msg(2, "ann", NOON - day + MIN),
            msg(3, "bob", NOON),
        ];
        let drawn = |after, loading| -> Vec<String> {
            let rows = rows.clone().into_iter().map(Row::Sent).collect();
            mark_gap(items(rows, None, NOON, |t| t), after, loading)
                .iter()
                .map(|item| match item {
                    Item::Day { .. } => "day".to_owned(),
                    Item::Row {
                        row: Row::Sent(m), ..
                    } => m.id.to_string(),
                    other => other.key(),
                })
                .collect()
        };
        assert_eq!(
            drawn(Some(2), false),
            ["day", "1", "2", "gap:false", "day", "3"]
        );
        assert_eq!(drawn(Some(2), true)[3], "gap:true");
        for (after, loading) in [(None, false), (Some(9), false)] {
            assert!(!drawn(after, loading).iter().any(|k| k.starts_with("gap")));
        }
    }

    #[test]
    fn each_day_starts_with_its_separator() {
        let day = 86_400_000;
        let rows = vec![
            msg(1, "ann", NOON - 9 * day),
            msg(2, "ann", NOON - 3 * day),
            msg(3, "bob", NOON - day),
            msg(4, "bob", NOON - day + MIN),
            msg(5, "ann", NOON - MIN),
        ];
        assert_eq!(
            layout(rows, None, NOON),
            [
                "[Monday, 23 November 2026]",
                "1",
                "[Sunday]",
                "2",
                "[Yesterday]",
                "3",
                "+4",
                "[Today]",
                "5"
            ]
        );
        assert!(layout(Vec::new(), None, NOON).is_empty());
    }

    #[test]
    fn the_zone_decides_where_a_day_starts() {
        // 23:30 and 00:30 UTC: two days in UTC, one day two hours west.
        let midnight = NOON - 12 * 60 * MIN;
        let rows = vec![
            Row::Sent(msg(1, "ann", midnight - 30 * MIN)),
            Row::Sent(msg(2, "ann", midnight + 30 * MIN)),
        ];
        let days = |shift: i64| {
            items(rows.clone(), None, NOON, |t| t + shift)
                .iter()
                .filter(|i| matches!(i, Item::Day { .. }))
                .count()
        };
        assert_eq!(days(0), 2);
        assert_eq!(days(-120 * MIN), 1);
    }

    #[test]
    fn one_person_s_consecutive_messages_share_a_header() {
        let rows = vec![
            msg(1, "ann", NOON),
            msg(2, "ann", NOON + MIN),
            msg(3, "ann", NOON + 6 * MIN + 1),
            msg(4, "bob", NOON + 7 * MIN),
            msg(5, "ann", NOON + 8 * MIN),
            notice(6, "bob", NOON + 8 * MIN),
            msg(7, "ann", NOON + 8 * MIN),
            msg(8, "ann", NOON + 9 * MIN),
        ];
        // 3: too long after 2; 5: bob between; 7: a notice between.
        assert_eq!(
            layout(rows, None, NOON + 10 * MIN),
            ["[Today]", "1", "+2", "3", "4", "5", "6", "7", "+8"]
        );
        // A program's message never joins a group, nor starts one.
        let mut bot = msg(2, "ann", NOON + MIN);
        bot.meta.kind = Some(MessageKind::Bot);
        let rows = vec![msg(1, "ann", NOON), bot, msg(3, "ann", NOON + 2 * MIN)];
        assert_eq!(layout(rows, None, NOON), ["[Today]", "1", "2", "3"]);
    }

    #[test]
    fn a_send_on_its_way_joins_its_author_s_group() {
        let rows = vec![
            Row::Sent(msg(1, "ann", NOON)),
            Row::Pending(Pending {
                key: "k".into(),
                text: "hi".into(),
                author: "ann".into(),
                state: SendState::Sending,
                reply: None,
                files: Vec::new(),
            }),
        ];
        let grouped: Vec<bool> = items(rows.clone(), None, NOON + MIN, |t| t)
            .into_iter()
            .filter_map(|i| match i {
                Item::Row { grouped, .. } => Some(grouped),
                _ => None,
            })
            .collect();
        assert_eq!(grouped, [false, true]);
        // An hour later it starts its own.
        assert!(
            !items(rows, None, NOON + 60 * MIN, |t| t)
                .iter()
                .any(|i| matches!(i, Item::Row { grouped: true, .. }))
        );
    }

    #[test]
    fn the_divider_goes_before_the_first_unread_message_and_breaks_a_group() {
        let rows = vec![
            msg(1, "bob", NOON),
            msg(2, "bob", NOON + MIN),
            msg(3, "bob", NOON + 2 * MIN),
        ];
        assert_eq!(
            layout(rows, Some(2), NOON),
            ["[Today]", "1", "---", "2", "+3"]
        );
    }

    #[test]
    fn the_first_unread_message_is_counted_back_from_the_newest() {
        let held = [
            msg(1, "bob", NOON),
            msg(2, "bob", NOON),
            notice(3, "cy", NOON),
            msg(4, "bob", NOON),
            msg(5, "ann", NOON),
            msg(6, "bob", NOON),
        ];
        let first = |unread| first_unread(held.iter(), unread, "ann", 6);
        assert_eq!(first(0), None);
        assert_eq!(first(1), Some(Divider::At(6)));
        // The reader's own message is not where the divider goes: the next one is.
        assert_eq!(first(2), Some(Divider::At(6)));
        // Notices are not counted.
        assert_eq!(first(3), Some(Divider::At(4)));
        assert_eq!(first(4), Some(Divider::At(2)));
        assert_eq!(first(5), Some(Divider::At(1)));
        // More unread than held: above everything held, until older pages come.
        assert_eq!(first(6), Some(Divider::Above(1)));
        assert_eq!(
            first_unread(held[3..].iter(), 4, "ann", 6),
            Some(Divider::Above(4))
        );
        // Counted back from the newest when it opened, whatever came after.
        assert_eq!(first_unread(held.iter(), 1, "ann", 4), Some(Divider::At(4)));
        assert_eq!(first_unread([].iter(), 3, "ann", 6), None);
    }
}
