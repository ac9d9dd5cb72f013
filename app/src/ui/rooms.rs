//! The conversations the sidebar lists: the person's rooms and direct conversations, with
//! their counts and unread badges, and the rooms they could join that the page has seen.
//!
//! The server's `rooms` is the truth about memberships and unread counts (from the person's
//! read marker); between two of them the page counts unread messages itself, from the live
//! `chat message`s. Rooms to join come a page at a time from `browse rooms`, and live from
//! `room update` when one is created. Pure, so those rules are unit-tested.

use std::cmp::Ordering;

use crate::events::{
    LOBBY, MessageKind, MessageMeta, Posting, RoomInfo, RoomKind, RoomList, RoomUpdate, is_dm,
};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rooms {
    /// Sorted by `room`, one entry each. A sorted list rather than a `BTreeMap`: a map's code
    /// is instantiated per key and value type, and the browser's wasm is the first load.
    by_id: Vec<RoomInfo>,
    /// How many messages a conversation had unread when it came on screen, for its "new
    /// messages" divider; kept until it is closed (a few at most).
    opened_unread: Vec<(String, u64)>,
}

impl Default for Rooms {
    /// Before the server's list arrives (and on the server-rendered page): the lobby, which
    /// everyone is in.
    fn default() -> Rooms {
        Rooms {
            by_id: vec![placeholder(LOBBY, RoomKind::Room, LOBBY)],
            opened_unread: Vec::new(),
        }
    }
}

/// An entry for a conversation the server has not described yet.
pub(crate) fn placeholder(room: &str, kind: RoomKind, title: &str) -> RoomInfo {
    RoomInfo {
        room: room.to_owned(),
        kind,
        title: title.to_owned(),
        members: 0,
        online: 0,
        joined: true,
        unread: 0,
        last_seq: 0,
        private: false,
        listed: true,
        posting: Posting::Members,
        manage: false,
    }
}

// Without `hydrate` only the server render reads the list; the rest serves the browser.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
impl Rooms {
    /// Takes the server's list of our conversations. The conversation being viewed has
    /// nothing unread, whatever the server counted before our `read` reached it. A room we
    /// held that the list leaves out is one we left (here or in another tab, or were removed
    /// from): it stays, to join again, unless it is private (no one joins those by themselves).
    /// A direct conversation it leaves out was another identity's.
    pub(crate) fn apply_list(&mut self, list: RoomList, viewing: &str) {
        // The rooms held that may be joined again stay where they are in the sorted list (they
        // may be many, browsed page after page), and the list's entries are put in among them,
        // replacing their own. Put rather than sorted after: a sort is code of its own per item
        // type and order, in the wasm every first visit loads.
        self.by_id.retain_mut(|info| {
            let again = info.kind == RoomKind::Room && !info.private;
            info.joined = false;
            info.unread = 0;
            again
        });
        for info in list.rooms {
            self.put(info);
        }
        if let Ok(i) = self.find(viewing) {
            let info = &mut self.by_id[i];
            if info.unread > 0 {
                remember_unread(&mut self.opened_unread, viewing, info.unread);
            }
            info.unread = 0;
        }
        self.entry(LOBBY, || placeholder(LOBBY, RoomKind::Room, LOBBY));
    }

    /// A page of `browse rooms`: rooms we could join, with their counts. One we joined
    /// since the page was read keeps our entry.
    pub(crate) fn browsed(&mut self, page: Vec<RoomInfo>) {
        for info in page {
            if !self.is_member(&info.room) {
                self.put(info);
            }
        }
    }

    /// A room's counts changed, or a room was created (then it is new to us, and not joined).
    pub(crate) fn apply_update(&mut self, update: RoomUpdate) {
        let info = self.entry(&update.room, || {
            let mut info = placeholder(&update.room, RoomKind::Room, &update.room);
            info.joined = false;
            info
        });
        info.members = update.members;
        info.online = update.online;
        if let Some(listed) = update.listed {
            info.listed = listed;
        }
        if let Some(posting) = update.posting {
            info.posting = posting;
        }
    }

    /// What a `join room`, `create room` or `open dm` answered: a conversation we are in.
    pub(crate) fn upsert(&mut self, mut info: RoomInfo, viewing: &str) {
        if info.room == viewing {
            if info.unread > 0 {
                remember_unread(&mut self.opened_unread, &info.room, info.unread);
            }
            info.unread = 0;
        }
        // An answer may be older than a live message already counted: keep the newer seq.
        if let Some(old) = self.get(&info.room) {
            info.last_seq = info.last_seq.max(old.last_seq);
        }
        self.put(info);
    }

    /// We left `room`: it is listed as one to join again, unless it is private.
    pub(crate) fn left(&mut self, room: &str) {
        match self.find(room) {
            Ok(i) if self.by_id[i].private => {
                self.by_id.remove(i);
            }
            Ok(i) => {
                self.by_id[i].joined = false;
                self.by_id[i].unread = 0;
            }
            Err(_) => {}
        }
    }

    /// Counts a message that arrived live. It is unread when it is new (a replay of one
    /// already counted is not), someone else's, worth reading (not a notice), and its
    /// conversation is not the one being viewed. Returns whether anything changed.
    pub(crate) fn arrived(&mut self, meta: &MessageMeta, me: &str, viewing: bool) -> bool {
        let info = self.entry(&meta.room, || {
            // A direct conversation someone just opened with us, or a room we joined in
            // another tab, before the server's new list reached this one.
            let (kind, title) = if is_dm(&meta.room) && meta.author != me {
                (RoomKind::Dm, meta.author.as_str())
            } else if is_dm(&meta.room) {
                (RoomKind::Dm, meta.room.as_str())
            } else {
                (RoomKind::Room, meta.room.as_str())
            };
            placeholder(&meta.room, kind, title)
        });
        if meta.seq <= info.last_seq {
            return false;
        }
        info.last_seq = meta.seq;
        if !viewing && meta.author != me && MessageKind::is_unread_worthy(meta.kind) {
            info.unread += 1;
        }
        true
    }

    /// The conversation is on screen: nothing in it is unread. Returns whether that changed.
    pub(crate) fn viewed(&mut self, room: &str) -> bool {
        match self.find(room) {
            Ok(i) if self.by_id[i].unread > 0 => {
                remember_unread(&mut self.opened_unread, room, self.by_id[i].unread);
                self.by_id[i].unread = 0;
                true
            }
            _ => false,
        }
    }

    /// How many messages `room` had unread when it came on screen (0 if none).
    pub(crate) fn opened_unread(&self, room: &str) -> u64 {
        self.opened_unread
            .iter()
            .find(|(r, _)| r == room)
            .map_or(0, |(_, n)| *n)
    }

    /// `room` left the screen: its divider goes with it.
    pub(crate) fn closed(&mut self, room: &str) {
        self.opened_unread.retain(|(r, _)| r != room);
    }

    pub(crate) fn get(&self, room: &str) -> Option<&RoomInfo> {
        self.find(room).ok().map(|i| &self.by_id[i])
    }

    fn get_mut(&mut self, room: &str) -> Option<&mut RoomInfo> {
        self.find(room).ok().map(|i| &mut self.by_id[i])
    }

    /// Where `room` is in the list, or where it would go.
    fn find(&self, room: &str) -> Result<usize, usize> {
        self.by_id.binary_search_by(|i| i.room.as_str().cmp(room))
    }

    /// `room`'s entry, made by `new` if there is none.
    fn entry(&mut self, room: &str, new: impl FnOnce() -> RoomInfo) -> &mut RoomInfo {
        let i = match self.find(room) {
            Ok(i) => i,
            Err(i) => {
                self.by_id.insert(i, new());
                i
            }
        };
        &mut self.by_id[i]
    }

    /// Adds `info`, or replaces its conversation's entry.
    fn put(&mut self, info: RoomInfo) {
        match self.find(&info.room) {
            Ok(i) => self.by_id[i] = info,
            Err(i) => self.by_id.insert(i, info),
        }
    }

    /// Whether we belong to `room`: a room we joined, or one of our direct conversations.
    pub(crate) fn is_member(&self, room: &str) -> bool {
        // A direct conversation is listed only to its two people.
        self.get(room)
            .is_some_and(|info| info.joined || info.kind == RoomKind::Dm)
    }

    /// Whether we may post in `room`: false only in a room whose owner and moderators post
    /// (and we are neither), as its entry says. The server checks again.
    pub(crate) fn may_post(&self, room: &str) -> bool {
        self.get(room)
            .is_none_or(|info| info.posting == Posting::Members || info.manage)
    }

    /// The server refused our post to `room` as only its owner and moderators post there:
    /// its entry says so too, until the server's next list says otherwise.
    pub(crate) fn posting_closed(&mut self, room: &str) {
        if let Some(info) = self.get_mut(room) {
            info.posting = Posting::Managers;
            info.manage = false;
        }
    }

    /// What to call a conversation: its title, or its id before the server described it.
    pub(crate) fn title(&self, room: &str) -> String {
        self.get(room)
            .map_or_else(|| room.to_owned(), |info| info.title.clone())
    }

    /// Rooms we are in: the lobby first, then by name.
    pub(crate) fn joined(&self) -> Vec<RoomInfo> {
        let mut rooms: Vec<RoomInfo> = self
            .by_id
            .iter()
            .filter(|i| i.kind == RoomKind::Room && i.joined)
            .cloned()
            .collect();
        // Already by name: only the lobby moves.
        if let Some(i) = rooms.iter().position(|r| r.room == LOBBY) {
            rooms[..=i].rotate_right(1);
        }
        rooms
    }

    /// Rooms we could join whose name contains `matching` (lowercase; empty matches all),
    /// by name.
    pub(crate) fn others(&self, matching: &str) -> Vec<RoomInfo> {
        self.by_id
            .iter()
            .filter(|i| i.kind == RoomKind::Room && !i.joined && i.room.contains(matching))
            .cloned()
            .collect()
    }

    /// Our direct conversations, by the other person's name.
    pub(crate) fn direct(&self) -> Vec<RoomInfo> {
        let mut dms: Vec<RoomInfo> = Vec::new();
        for info in self.by_id.iter().filter(|i| i.kind == RoomKind::Dm) {
            // After any of the same name, as a stable sort would.
            let at = dms.partition_point(|d| by_title(d, info).is_le());
            dms.insert(at, info.clone());
        }
        dms
    }
}

/// By title, whatever its case.
fn by_title(a: &RoomInfo, b: &RoomInfo) -> Ordering {
    a.title
        .to_ascii_lowercase()
        .cmp(&b.title.to_ascii_lowercase())
}

/// Keeps the first count seen for `room`: the divider stays where it was put.
fn remember_unread(opened: &mut Vec<(String, u64)>, room: &str, unread: u64) {
    if !opened.iter().any(|(r, _)| r == room) {
        opened.push((room.to_owned(), unread));
    }
}

/// Where the "More rooms" list stands: what it is filtered by, and where the next page of
/// `browse rooms` starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Browse {
    /// Lowercased, trimmed; empty for every room.
    pub(crate) matching: String,
    /// The `after` of the next page, when the server said more follow.
    pub(crate) next: Option<String>,
    /// A page is being read.
    pub(crate) loading: bool,
    /// The first page for `matching` has come: until then, an empty list says nothing.
    pub(crate) answered: bool,
}

/// "3 members, 2 online", or nothing before the server said.
pub(crate) fn counts_line(info: &RoomInfo) -> String {
    if info.members == 0 && info.online == 0 {
        return String::new();
    }
    let members = match info.members {
        1 => "1 member".to_owned(),
        n => format!("{n} members"),
    };
    format!("{members}, {} online", info.online)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(room: &str, kind: RoomKind, joined: bool, unread: u64, last_seq: i64) -> RoomInfo {
        RoomInfo {
            room: room.into(),
            kind,
            title: if kind == RoomKind::Dm {
                "bob".into()
            } else {
                room.into()
            },
            members: 2,
            online: 1,
            joined,
            unread,
            last_seq,
            private: false,
            listed: true,
            posting: Posting::Members,
            manage: false,
        }
    }

    fn meta(room: &str, author: &str, seq: i64, kind: Option<MessageKind>) -> MessageMeta {
        MessageMeta {
            room: room.into(),
            author: author.into(),
            ts: 0,
            seq,
            client_offset: None,
            kind,
            ..Default::default()
        }
    }

    fn listed() -> Rooms {
        let mut rooms = Rooms::default();
        rooms.apply_list(
            RoomList {
                rooms: vec![
                    info("rust", RoomKind::Room, true, 2, 10),
                    info(LOBBY, RoomKind::Room, true, 5, 40),
                    info("go", RoomKind::Room, false, 0, 3),
                    info("dm:1:2", RoomKind::Dm, true, 1, 4),
                ],
            },
            LOBBY,
        );
        rooms
    }

    fn unread(rooms: &Rooms, room: &str) -> u64 {
        rooms.get(room).map_or(0, |i| i.unread)
    }

    #[test]
    fn the_list_is_sorted_and_split() {
        let rooms = listed();
        let names = |v: Vec<RoomInfo>| v.into_iter().map(|i| i.room).collect::<Vec<_>>();
        assert_eq!(names(rooms.joined()), [LOBBY, "rust"]);
        assert_eq!(names(rooms.others("")), ["go"]);
        assert_eq!(names(rooms.direct()), ["dm:1:2"]);
        assert!(rooms.is_member("dm:1:2") && rooms.is_member("rust") && !rooms.is_member("go"));
        assert_eq!(rooms.title("dm:1:2"), "bob");
        // The server's order is not the one looked up by.
        for room in ["rust", LOBBY, "go", "dm:1:2"] {
            assert_eq!(rooms.get(room).map(|i| i.room.as_str()), Some(room));
        }
        // Before any list: the lobby alone.
        assert_eq!(names(Rooms::default().joined()), [LOBBY]);
    }

    /// Rooms by name with the lobby first, wherever its name falls; direct conversations by
    /// the other person's name, whatever its case; a room listed twice is there once.
    #[test]
    fn each_list_has_its_order() {
        let dm = |room: &str, title: &str| RoomInfo {
            title: title.into(),
            ..info(room, RoomKind::Dm, true, 0, 1)
        };
        let mut rooms = Rooms::default();
        rooms.apply_list(
            RoomList {
                rooms: vec![
                    info("zeta", RoomKind::Room, true, 0, 1),
                    dm("dm:1:3", "carol"),
                    info(LOBBY, RoomKind::Room, true, 0, 1),
                    dm("dm:1:2", "bob"),
                    info("alpha", RoomKind::Room, true, 0, 1),
                    dm("dm:1:4", "Alice"),
                    info("zeta", RoomKind::Room, true, 3, 1),
                ],
            },
            "",
        );
        let names = |v: Vec<RoomInfo>| v.into_iter().map(|i| i.title).collect::<Vec<_>>();
        assert_eq!(names(rooms.joined()), [LOBBY, "alpha", "zeta"]);
        assert_eq!(names(rooms.direct()), ["Alice", "bob", "carol"]);
        assert_eq!(unread(&rooms, "zeta"), 3, "the later entry of a room wins");
    }

    #[test]
    fn what_was_unread_on_opening_is_kept_until_closed() {
        // The lobby was on screen when the list came with 5 unread in it.
        let mut rooms = listed();
        assert_eq!(rooms.opened_unread(LOBBY), 5);
        assert_eq!(rooms.opened_unread("rust"), 0);
        assert!(rooms.viewed("rust"));
        assert_eq!(
            (rooms.opened_unread("rust"), unread(&rooms, "rust")),
            (2, 0)
        );
        // Looking on, or a new list, does not move it.
        rooms.arrived(&meta("rust", "bob", 11, None), "ann", true);
        assert!(!rooms.viewed("rust"));
        rooms.apply_list(
            RoomList {
                rooms: vec![info("rust", RoomKind::Room, true, 7, 12)],
            },
            "rust",
        );
        assert_eq!(rooms.opened_unread("rust"), 2);
        rooms.closed("rust");
        assert_eq!(rooms.opened_unread("rust"), 0);
        // Opened again with nothing unread: no divider.
        assert!(!rooms.viewed("rust"));
        assert_eq!(rooms.opened_unread("rust"), 0);
    }

    #[test]
    fn unread_starts_from_the_server_except_where_we_look() {
        let rooms = listed();
        assert_eq!((unread(&rooms, "rust"), unread(&rooms, LOBBY)), (2, 0));
        assert_eq!(unread(&rooms, "dm:1:2"), 1);
    }

    #[test]
    fn live_messages_count_unless_viewed_own_notices_or_replayed() {
        let mut rooms = listed();
        assert!(rooms.arrived(&meta("rust", "bob", 11, None), "ann", false));
        assert_eq!(unread(&rooms, "rust"), 3);
        // A replay of something counted already.
        assert!(!rooms.arrived(&meta("rust", "bob", 11, None), "ann", false));
        assert!(!rooms.arrived(&meta("rust", "bob", 9, None), "ann", false));
        // Our own, notices, and where we are looking do not count.
        rooms.arrived(&meta("rust", "ann", 12, None), "ann", false);
        rooms.arrived(
            &meta("rust", "cy", 13, Some(MessageKind::Joined)),
            "ann",
            false,
        );
        rooms.arrived(&meta(LOBBY, "bob", 41, None), "ann", true);
        assert_eq!((unread(&rooms, "rust"), unread(&rooms, LOBBY)), (3, 0));
        // Announcements do.
        rooms.arrived(
            &meta("rust", "admin", 14, Some(MessageKind::Announcement)),
            "ann",
            false,
        );
        assert_eq!(unread(&rooms, "rust"), 4);

        assert!(rooms.viewed("rust"));
        assert!(!rooms.viewed("rust"));
        assert_eq!(unread(&rooms, "rust"), 0);
    }

    #[test]
    fn a_new_direct_conversation_appears_with_its_first_message() {
        let mut rooms = listed();
        rooms.arrived(&meta("dm:1:3", "cy", 1, None), "ann", false);
        let dm = rooms.get("dm:1:3").unwrap();
        assert_eq!(
            (dm.kind, dm.title.as_str(), dm.unread),
            (RoomKind::Dm, "cy", 1)
        );
        assert!(rooms.is_member("dm:1:3"));
    }

    #[test]
    fn created_rooms_are_listed_to_join_and_left_ones_go_back_there() {
        let mut rooms = listed();
        rooms.apply_update(RoomUpdate {
            room: "zig".into(),
            members: 1,
            online: 1,
            ..RoomUpdate::default()
        });
        assert!(!rooms.is_member("zig"));
        rooms.apply_update(RoomUpdate {
            room: "rust".into(),
            members: 7,
            online: 3,
            ..RoomUpdate::default()
        });
        let rust = rooms.get("rust").unwrap();
        assert_eq!((rust.members, rust.online, rust.joined), (7, 3, true));
        assert_eq!((rust.listed, rust.posting), (true, Posting::Members));
        // A settings change reaches the members' entries.
        rooms.apply_update(RoomUpdate {
            room: "rust".into(),
            members: 7,
            online: 3,
            listed: Some(false),
            posting: Some(Posting::Managers),
        });
        let rust = rooms.get("rust").unwrap();
        assert_eq!((rust.listed, rust.posting), (false, Posting::Managers));

        rooms.left("rust");
        assert!(!rooms.is_member("rust") && unread(&rooms, "rust") == 0);

        let mut joined = info("zig", RoomKind::Room, true, 4, 2);
        joined.unread = 4;
        rooms.upsert(joined, "zig");
        assert!(rooms.is_member("zig"));
        assert_eq!(unread(&rooms, "zig"), 0, "it is the one being opened");
    }

    #[test]
    fn a_new_list_keeps_rooms_to_join_and_drops_what_is_not_ours() {
        let mut rooms = listed();
        rooms.browsed(vec![
            info("zig", RoomKind::Room, false, 0, 7),
            // Stale: we are in rust, whatever the page read before our join.
            info("rust", RoomKind::Room, false, 0, 10),
        ]);
        assert!(rooms.is_member("rust"), "a page does not undo a join");
        assert_eq!(unread(&rooms, "rust"), 2);
        // The next list (we left rust in another tab) names only what we are in.
        rooms.apply_list(
            RoomList {
                rooms: vec![info(LOBBY, RoomKind::Room, true, 0, 40)],
            },
            LOBBY,
        );
        let names = |v: Vec<RoomInfo>| v.into_iter().map(|i| i.room).collect::<Vec<_>>();
        assert_eq!(names(rooms.joined()), [LOBBY]);
        assert_eq!(names(rooms.others("")), ["go", "rust", "zig"]);
        assert_eq!(unread(&rooms, "rust"), 0);
        assert!(
            rooms.direct().is_empty(),
            "a conversation the list leaves out is not ours"
        );
        assert_eq!(names(rooms.others("i")), ["zig"]);
        assert_eq!(names(rooms.others("u")), ["rust"]);
        assert!(rooms.others("x").is_empty());
    }

    #[test]
    fn a_private_room_we_are_taken_out_of_is_gone_not_listed_to_join() {
        let mut rooms = listed();
        let mut secret = info("secret", RoomKind::Room, true, 1, 3);
        secret.private = true;
        rooms.upsert(secret.clone(), LOBBY);
        assert!(rooms.is_member("secret"));
        // Removed by its owner: the next list leaves it out.
        rooms.apply_list(
            RoomList {
                rooms: vec![info(LOBBY, RoomKind::Room, true, 0, 40)],
            },
            LOBBY,
        );
        assert!(!rooms.is_member("secret"));
        assert!(rooms.get("secret").is_none());
        assert!(rooms.others("").iter().all(|i| i.room != "secret"));
        // Left by ourselves: the same.
        rooms.upsert(secret, LOBBY);
        rooms.left("secret");
        assert!(rooms.get("secret").is_none());
        // A public room stays to join again.
        rooms.left("rust");
        assert!(rooms.get("rust").is_some_and(|i| !i.joined));
    }

    #[test]
    fn only_managers_post_where_the_room_says_so() {
        let mut rooms = listed();
        assert!(rooms.may_post("rust"));
        assert!(
            rooms.may_post("unknown"),
            "the server decides for rooms not described"
        );
        let mut news = info("news", RoomKind::Room, true, 0, 0);
        news.posting = Posting::Managers;
        rooms.upsert(news.clone(), LOBBY);
        assert!(!rooms.may_post("news"));
        // Its owner's entry says they manage it: the settings' ack replaces the entry.
        news.manage = true;
        rooms.upsert(news.clone(), LOBBY);
        assert!(rooms.may_post("news"));
        news.manage = false;
        news.posting = Posting::Members;
        rooms.upsert(news, LOBBY);
        assert!(rooms.may_post("news"));
        // Closed since our entry was read: a refused post tells us.
        rooms.posting_closed("news");
        assert!(!rooms.may_post("news"));
        rooms.posting_closed("nowhere");
        assert!(rooms.get("nowhere").is_none());
    }

    #[test]
    fn counts_read_naturally() {
        let mut i = info("rust", RoomKind::Room, true, 0, 0);
        assert_eq!(counts_line(&i), "2 members, 1 online");
        i.members = 1;
        assert_eq!(counts_line(&i), "1 member, 1 online");
        assert_eq!(counts_line(&placeholder("x", RoomKind::Room, "x")), "");
    }
}
