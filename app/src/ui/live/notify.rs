//! Mentions and notifications, live: the levels (the server's, and changes from the person's
//! other devices), the Mentions list, a browser notification (and tone) for each new message
//! that calls for one, and the people a `@` completes to.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::ACK_TIMEOUT;
use super::browser::Live;
use crate::events::{
    ChatMessage, ListMembers, ListMentions, MAX_MEMBERS_LIMIT, MAX_MENTIONS_PAGE, Member,
    MessageKind, NotifyChanged, NotifyLevel, NotifyLevels, SetNotify, is_dm, name_key,
};
use crate::mentions;
use crate::ui::notifications::{self, browser};

/// Mentions the page holds at most.
const KEPT_MENTIONS: usize = 200;

impl Live {
    /// Follows the levels for as long as the page lives.
    pub(super) fn follow_notifications(&self) {
        let notify = self.state.notify;
        self.socket.on(move |c: NotifyChanged| {
            notify.levels.update(|l| {
                l.insert(c.room, c.level);
            })
        });
        let this = self.clone();
        self.socket.on_connect(move || {
            let again = this.clone();
            spawn_local(async move {
                let answer = again
                    .socket
                    .emit_with_ack(&NotifyLevels {}, ACK_TIMEOUT)
                    .await;
                // A guest's are the page's own: kept as they are.
                if let Ok(Ok(levels)) = answer.map(|r| r.into_result())
                    && !levels.0.is_empty()
                {
                    notify.levels.update(|l| l.extend(levels.0));
                }
            });
            this.load_mentions();
        });
    }

    /// The server's Mentions list, merged with those that arrived since.
    pub(crate) fn load_mentions(&self) {
        let this = self.clone();
        spawn_local(async move {
            let ask = ListMentions {
                before: None,
                limit: Some(MAX_MENTIONS_PAGE),
            };
            let answer = this.socket.emit_with_ack(&ask, ACK_TIMEOUT).await;
            if let Ok(Ok(page)) = answer.map(|r| r.into_result()) {
                this.state
                    .notify
                    .mentions
                    .update(|held| merge(held, page.messages));
            }
        });
    }

    /// A new message of one of our conversations: into the Mentions list if it mentions us,
    /// and a notification (and tone) if its conversation's level calls for one while it is
    /// out of sight.
    pub(super) fn notify_of(&self, m: &ChatMessage) {
        let me = self.state.name.get_untracked();
        if me.is_empty()
            || name_key(&m.meta.author) == name_key(&me)
            || !MessageKind::is_unread_worthy(m.meta.kind)
        {
            return;
        }
        let room = &m.meta.room;
        // Called before the message is counted: one counted already (a replay) is not news.
        let known = self
            .state
            .rooms
            .with_untracked(|r| r.get(room).is_some_and(|i| m.meta.seq <= i.last_seq));
        if known {
            return;
        }
        let notify = self.state.notify;
        let held = |m: &ChatMessage| {
            notify
                .mentions
                .with_untracked(|all| all.iter().any(|h| h.id == m.id))
        };
        let mentioned = m.meta.mentions.iter().any(|n| n.eq_ignore_ascii_case(&me))
            || mentions::mentions(&m.text, &me);
        // A replay of one we were told of already is not news.
        if mentioned && held(m) {
            return;
        }
        let out_of_sight = browser::hidden() || self.state.active.get_untracked() != *room;
        if mentioned {
            notify.mentions.update(|all| merge(all, vec![m.clone()]));
            if out_of_sight {
                notify.mentioned_in.update(|r| {
                    r.add(room.clone());
                });
            }
        }
        let level = notify
            .levels
            .with_untracked(|l| notifications::level_of(l, room));
        if !out_of_sight || !notifications::notifies(level, mentioned) {
            return;
        }
        let place = if is_dm(room) {
            "a direct message".to_owned()
        } else {
            format!("#{}", self.state.rooms.with_untracked(|r| r.title(room)))
        };
        let title = format!("{} in {place}", m.meta.author);
        let this = self.clone();
        let open = room.clone();
        browser::show(&title, &m.text, &format!("palaver-{}", m.id), move || {
            this.open(open)
        });
        if notify.sound.get_untracked() {
            browser::beep();
        }
    }

    /// Keeps our level for `room`: on the server (so that every device of ours follows it),
    /// or, for a guest, in this page only.
    pub(crate) fn set_notify(&self, room: String, level: NotifyLevel) {
        self.state.notify.levels.update(|l| {
            l.insert(room.clone(), level);
        });
        let this = self.clone();
        spawn_local(async move {
            let answer = this
                .socket
                .emit_with_ack(&SetNotify { room, level }, ACK_TIMEOUT)
                .await;
            if let Ok(Err(e)) = answer.map(|r| r.into_result()) {
                leptos::logging::warn!("notification level not kept: {e}");
            }
        });
    }

    /// The people of `room` whose name starts with `prefix`, into `found`, unless `wanted`
    /// says that the prefix changed meanwhile (an older answer arriving late).
    pub(crate) fn members(
        &self,
        room: String,
        prefix: String,
        found: RwSignal<Vec<Member>>,
        wanted: impl Fn(&str) -> bool + 'static,
    ) {
        let this = self.clone();
        spawn_local(async move {
            let ask = ListMembers {
                room,
                prefix: prefix.clone(),
                limit: Some(MAX_MEMBERS_LIMIT),
            };
            let answer = this.socket.emit_with_ack(&ask, ACK_TIMEOUT).await;
            if let Ok(Ok(people)) = answer.map(|r| r.into_result())
                && wanted(&prefix)
            {
                let me = this.state.name.get_untracked();
                found.set(people.into_iter().filter(|p| p.name != me).collect());
            }
        });
    }
}

/// `more` merged into `held`, each message once, newest first.
fn merge(held: &mut Vec<ChatMessage>, more: Vec<ChatMessage>) {
    for m in more {
        // Newest first: `h` goes before `m` when it is newer.
        if let Err(at) = held.binary_search_by(|h| m.id.cmp(&h.id)) {
            held.insert(at, m);
        }
    }
    held.truncate(KEPT_MENTIONS);
}
