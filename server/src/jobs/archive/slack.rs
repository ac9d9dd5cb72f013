//! Reading a Slack export: `channels.json`, `users.json`, and each channel's folder of days
//! (`<channel>/<YYYY-MM-DD>.json`, an array of messages), a day and a message at a time.
//!
//! - Each channel of `channels.json` becomes a public room, its name made a Palaver room name
//!   (lowercase ASCII letters, digits, `-` and `_`, at most 32; `slack-<id>` when nothing is
//!   left; `-2`, `-3`… after a name another channel took). Folders of no listed channel (the
//!   private ones of some exports) are reported and left out.
//! - A message keeps its author's Slack name (display name, else real name, else user name)
//!   and its time (`ts`); its key is its channel's id and its `ts`.
//! - Text: `<@U…>` becomes `@name`, `<#C…>` `#channel`, links their label and address;
//!   shared files are listed as `[file: name]`; a message with no text but attachments gets
//!   theirs. An edited message's text is its final one, as exports hold it.
//! - A thread's reply begins with a quote of its first message: `> author: excerpt`.
//! - Joins and leaves (`channel_join`, `channel_leave`, and `group_…`) become Palaver's own
//!   "joined" and "left" notices, as Palaver records its rooms' comings and goings (they
//!   count as nothing unread); topic, purpose, name, archive and pin changes become
//!   announcements. Records of changes to other messages (`message_changed`,
//!   `message_deleted`, `message_replied`) and tombstones of deleted thread heads are left
//!   out: the export already holds their outcome.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::ControlFlow;

use app::events::{MAX_ROOM_NAME_CHARS, MessageKind, validate_room_name};
use serde::Deserialize;

use crate::jobs::archive::json::{ArrayError, for_each_element};
use crate::jobs::archive::limits::{ArchiveError, At, Limits, Problem, RecordError, reading};
use crate::jobs::archive::slack_text::{Names, plain};
use crate::jobs::archive::zipped::Archive;
use crate::jobs::archive::{ImportRecord, Sink, author, text};

const CHANNELS: &str = "channels.json";
const USERS: &str = "users.json";
/// Threads' first messages remembered per channel, for their replies' quotes; past it,
/// replies to older threads quote nothing.
const THREAD_HEADS: usize = 100_000;
/// The longest excerpt of a thread's first message in its replies' quotes, in characters.
const EXCERPT_CHARS: usize = 80;

/// The folder that holds the export in `archive` (`""` at its root, or one folder when the
/// export was zipped with the folder it came in), if it is a Slack export.
pub(crate) fn root(archive: &Archive) -> Option<String> {
    if archive.index_of(CHANNELS).is_some() {
        return Some(String::new());
    }
    let mut found = archive.files().into_iter().filter_map(|(_, name)| {
        let folder = name.strip_suffix(CHANNELS)?;
        (folder.ends_with('/') && folder.matches('/').count() == 1).then(|| folder.to_owned())
    });
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

#[derive(Deserialize)]
struct Channel {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize, Default)]
struct Profile {
    display_name: Option<String>,
    real_name: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct User {
    id: String,
    name: Option<String>,
    real_name: Option<String>,
    profile: Option<Profile>,
}

#[derive(Deserialize)]
struct BotProfile {
    name: Option<String>,
}

#[derive(Deserialize)]
struct File {
    name: Option<String>,
    title: Option<String>,
}

#[derive(Deserialize)]
struct Attachment {
    fallback: Option<String>,
    text: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    ts: Option<String>,
    user: Option<String>,
    text: Option<String>,
    subtype: Option<String>,
    thread_ts: Option<String>,
    username: Option<String>,
    user_profile: Option<Profile>,
    bot_profile: Option<BotProfile>,
    files: Option<Vec<File>>,
    attachments: Option<Vec<Attachment>>,
}

/// The first non-blank of `names`.
fn first_name<'a>(names: impl IntoIterator<Item = Option<&'a String>>) -> Option<&'a str> {
    names
        .into_iter()
        .flatten()
        .map(|n| n.trim())
        .find(|n| !n.is_empty())
}

impl Profile {
    fn name(&self) -> Option<&str> {
        first_name([
            self.display_name.as_ref(),
            self.real_name.as_ref(),
            self.name.as_ref(),
        ])
    }
}

/// Users' and channels' names, by id.
#[derive(Default)]
struct Directory {
    users: HashMap<String, String>,
    channels: HashMap<String, String>,
}

impl Names for Directory {
    fn user(&self, id: &str) -> Option<&str> {
        self.users.get(id).map(String::as_str)
    }
    fn channel(&self, id: &str) -> Option<&str> {
        self.channels.get(id).map(String::as_str)
    }
}

/// Reads every channel of the Slack export in `archive`, whose files are under `root`, into
/// `out`.
pub(crate) fn read(
    archive: &mut Archive,
    root: &str,
    out: &mut dyn Sink,
) -> Result<(), ArchiveError> {
    let limits = archive.limits().clone();
    let channels_file = format!("{root}{CHANNELS}");
    let index = archive
        .index_of(&channels_file)
        .ok_or(ArchiveError::WrongFormat)?;
    let channels: Vec<Channel> = serde_json::from_slice(&archive.document(index, &channels_file)?)
        .map_err(|e| ArchiveError::BadDocument {
            entry: channels_file.clone(),
            reason: e.to_string(),
        })?;
    let mut directory = Directory::default();
    let users_file = format!("{root}{USERS}");
    if let Some(index) = archive.index_of(&users_file) {
        read_users(archive, index, &users_file, &limits, &mut directory, out)?;
    }

    // Each channel's room, and its days.
    let mut rooms = Rooms::default();
    let mut planned = Vec::with_capacity(channels.len());
    for (n, channel) in channels.iter().enumerate() {
        let Some(name) = channel.name.as_deref().filter(|n| !n.is_empty()) else {
            out.error(RecordError {
                file: channels_file.clone(),
                at: At::Record(n as u64 + 1),
                problem: Problem::Malformed("a channel without a name".to_owned()),
            });
            continue;
        };
        let id = channel.id.clone().unwrap_or_else(|| name.to_owned());
        directory.channels.insert(id.clone(), name.to_owned());
        match rooms.room_for(name, &id) {
            Some(room) => planned.push((name.to_owned(), id, room)),
            None => out.error(RecordError {
                file: format!("{root}{name}/"),
                at: At::File,
                problem: Problem::BadRoomName(name.to_owned()),
            }),
        }
    }
    let mut days: BTreeMap<String, Vec<(String, usize)>> = BTreeMap::new();
    for (index, name) in archive.files() {
        let Some((folder, day)) = name.strip_prefix(root).and_then(|n| n.split_once('/')) else {
            continue;
        };
        if day.contains('/') || !day.ends_with(".json") {
            continue;
        }
        days.entry(folder.to_owned())
            .or_default()
            .push((name.clone(), index));
    }
    let listed: HashSet<&str> = channels.iter().filter_map(|c| c.name.as_deref()).collect();
    for folder in days.keys().filter(|f| !listed.contains(f.as_str())) {
        out.error(RecordError {
            file: format!("{root}{folder}/"),
            at: At::File,
            problem: Problem::UnknownChannel,
        });
    }

    for (name, id, room) in planned {
        let Some(mut files) = days.remove(&name) else {
            continue;
        };
        // Days in order: `YYYY-MM-DD` sorts by date.
        files.sort();
        let mut channel = ChannelRead {
            id: &id,
            room: &room,
            directory: &directory,
            heads: HashMap::new(),
        };
        for (file, index) in files {
            read_day(archive, index, &file, &limits, &mut channel, out)?;
        }
    }
    Ok(())
}

/// Learns every user's name from `users.json`.
fn read_users(
    archive: &mut Archive,
    index: usize,
    file: &str,
    limits: &Limits,
    directory: &mut Directory,
    out: &mut dyn Sink,
) -> Result<(), ArchiveError> {
    let entry = archive.entry(index)?;
    let mut errors = Vec::new();
    let read = for_each_element(entry, limits.record_bytes, |n, raw| {
        match serde_json::from_str::<User>(raw.get()) {
            Ok(user) => {
                let profile = user.profile.as_ref().and_then(Profile::name);
                let name = profile
                    .or_else(|| first_name([user.real_name.as_ref(), user.name.as_ref()]))
                    .unwrap_or(&user.id)
                    .to_owned();
                directory.users.insert(user.id, name);
            }
            Err(e) => errors.push((n, Problem::Malformed(e.to_string()))),
        }
        ControlFlow::Continue(())
    });
    ended(read, file, limits, &mut errors)?;
    for (n, problem) in errors {
        out.error(RecordError {
            file: file.to_owned(),
            at: At::Record(n),
            problem,
        });
    }
    Ok(())
}

/// How a file's array ended: record errors added to `errors`, or the error that stops the
/// import.
fn ended(
    read: Result<u64, ArrayError>,
    file: &str,
    limits: &Limits,
    errors: &mut Vec<(u64, Problem)>,
) -> Result<(), ArchiveError> {
    match read {
        Ok(_) | Err(ArrayError::Stopped) => Ok(()),
        Err(ArrayError::TooBig { index }) => {
            errors.push((
                index,
                Problem::Abandoned(format!(
                    "the record is over the limit of {} bytes",
                    limits.record_bytes
                )),
            ));
            Ok(())
        }
        Err(ArrayError::Malformed { index, error }) => {
            errors.push((index, Problem::Abandoned(error.to_string())));
            Ok(())
        }
        Err(ArrayError::Io(e)) => Err(reading(file, e, limits)),
    }
}

/// A channel being read.
struct ChannelRead<'a> {
    id: &'a str,
    room: &'a str,
    directory: &'a Directory,
    /// Threads' first messages by `ts`: their author and an excerpt.
    heads: HashMap<String, (String, String)>,
}

/// Reads a day of a channel.
fn read_day(
    archive: &mut Archive,
    index: usize,
    file: &str,
    limits: &Limits,
    channel: &mut ChannelRead<'_>,
    out: &mut dyn Sink,
) -> Result<(), ArchiveError> {
    let entry = archive.entry(index)?;
    let mut stopped = None;
    let mut errors = Vec::new();
    let read = for_each_element(entry, limits.record_bytes, |n, raw| {
        let message = serde_json::from_str::<Message>(raw.get())
            .map_err(|e| Problem::Malformed(e.to_string()))
            .and_then(|m| channel.record(&m));
        let sent = match message {
            Ok(Some(record)) => out.record(record),
            Ok(None) => {
                out.skipped();
                Ok(())
            }
            Err(problem) => {
                out.error(RecordError {
                    file: file.to_owned(),
                    at: At::Record(n),
                    problem,
                });
                Ok(())
            }
        };
        match sent {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                stopped = Some(e);
                ControlFlow::Break(())
            }
        }
    });
    if let Some(e) = stopped {
        return Err(e);
    }
    ended(read, file, limits, &mut errors)?;
    for (n, problem) in errors {
        out.error(RecordError {
            file: file.to_owned(),
            at: At::Record(n),
            problem,
        });
    }
    Ok(())
}

/// What a message's subtype makes of it.
enum Treat {
    Message(Option<MessageKind>),
    Skip,
}

fn treat(subtype: Option<&str>) -> Treat {
    match subtype {
        Some("channel_join" | "group_join") => Treat::Message(Some(MessageKind::Joined)),
        Some("channel_leave" | "group_leave") => Treat::Message(Some(MessageKind::Left)),
        Some(
            "channel_topic" | "channel_purpose" | "channel_name" | "channel_archive"
            | "channel_unarchive" | "group_topic" | "group_purpose" | "group_name"
            | "group_archive" | "group_unarchive" | "pinned_item" | "unpinned_item",
        ) => Treat::Message(Some(MessageKind::Announcement)),
        Some("message_changed" | "message_deleted" | "message_replied" | "tombstone") => {
            Treat::Skip
        }
        // Plain messages, and kinds this reader does not know, if they have text.
        _ => Treat::Message(None),
    }
}

impl ChannelRead<'_> {
    /// The record `m` makes, `None` when it is left out.
    fn record(&mut self, m: &Message) -> Result<Option<ImportRecord>, Problem> {
        let Treat::Message(kind) = treat(m.subtype.as_deref()) else {
            return Ok(None);
        };
        let ts =
            m.ts.as_deref()
                .ok_or_else(|| Problem::Malformed("a message without a ts".to_owned()))?;
        let created_at = millis(ts).ok_or_else(|| Problem::BadTimestamp(ts.to_owned()))?;
        let author = self.author(m);
        let text = match kind {
            Some(MessageKind::Joined) => "joined".to_owned(),
            Some(MessageKind::Left) => "left".to_owned(),
            _ => {
                let body = self.body(m);
                let thread = m.thread_ts.as_deref();
                if thread == Some(ts) && self.heads.len() < THREAD_HEADS {
                    self.heads
                        .insert(ts.to_owned(), (author.clone(), excerpt(&body)));
                }
                match thread.filter(|t| *t != ts) {
                    Some(head) => self.quoted(head, &body)?,
                    None => text(&body)?,
                }
            }
        };
        Ok(Some(ImportRecord {
            room: self.room.to_owned(),
            author,
            text,
            created_at,
            key: format!("slack:{}:{ts}", self.id),
            kind,
        }))
    }

    fn author(&self, m: &Message) -> String {
        let users = &self.directory.users;
        let name = m
            .user
            .as_ref()
            .and_then(|u| users.get(u))
            .map(String::as_str)
            .or_else(|| m.user_profile.as_ref().and_then(Profile::name))
            .or_else(|| first_name([m.username.as_ref()]))
            .or_else(|| {
                m.bot_profile
                    .as_ref()
                    .and_then(|b| first_name([b.name.as_ref()]))
            })
            .or(m.user.as_deref())
            .unwrap_or("Slack");
        author(name).unwrap_or_else(|| "Slack".to_owned())
    }

    /// The message's text, with its files and, when it has no text, its attachments.
    fn body(&self, m: &Message) -> String {
        let mut body = plain(m.text.as_deref().unwrap_or(""), self.directory);
        if body.trim().is_empty() {
            let attached = m
                .attachments
                .iter()
                .flatten()
                .filter_map(|a| first_name([a.fallback.as_ref(), a.text.as_ref()]));
            body = attached
                .map(|a| plain(a, self.directory))
                .collect::<Vec<_>>()
                .join("\n");
        }
        for file in m.files.iter().flatten() {
            if let Some(name) = first_name([file.title.as_ref(), file.name.as_ref()]) {
                if !body.is_empty() {
                    body.push('\n');
                }
                body.push_str(&format!("[file: {name}]"));
            }
        }
        body
    }

    /// A reply's text: a quote of its thread's first message, then its own. Without the quote
    /// when the two are too long together.
    fn quoted(&self, head: &str, body: &str) -> Result<String, Problem> {
        let own = text(body)?;
        let quote = match self.heads.get(head) {
            Some((author, excerpt)) => format!("> {author}: {excerpt}"),
            None => "> (a thread whose first message is not in the export)".to_owned(),
        };
        Ok(text(&format!("{quote}\n{own}")).unwrap_or(own))
    }
}

/// The first line of `body`, cut to [`EXCERPT_CHARS`].
fn excerpt(body: &str) -> String {
    let line = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut chars = line.chars();
    let mut cut: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        cut.push('…');
    }
    cut
}

/// A Slack `ts` (`"1512085950.000216"`: seconds, and microseconds) in milliseconds.
fn millis(ts: &str) -> Option<i64> {
    let (seconds, fraction) = ts.split_once('.').unwrap_or((ts, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(seconds) || !(fraction.is_empty() || digits(fraction)) {
        return None;
    }
    let seconds: i64 = seconds.parse().ok()?;
    let ms: i64 = format!("{:0<3}", &fraction[..fraction.len().min(3)])
        .parse()
        .ok()?;
    seconds.checked_mul(1000)?.checked_add(ms)
}

/// The room names given to channels so far.
#[derive(Default)]
struct Rooms {
    taken: HashSet<String>,
}

impl Rooms {
    /// A room name for channel `name` (id `id`) that no other channel of the export has.
    fn room_for(&mut self, name: &str, id: &str) -> Option<String> {
        let base = room_name(name).or_else(|| room_name(&format!("slack-{id}")))?;
        let mut candidate = base.clone();
        let mut n = 1;
        while self.taken.contains(&candidate) {
            n += 1;
            let suffix = format!("-{n}");
            let keep = MAX_ROOM_NAME_CHARS - suffix.len();
            candidate = format!("{}{suffix}", &base[..base.len().min(keep)]);
        }
        self.taken.insert(candidate.clone());
        Some(candidate)
    }
}

/// `name` as a Palaver room name: lowercased, anything but ASCII letters, digits and `_`
/// made `-` (one for a run), none at either end, at most [`MAX_ROOM_NAME_CHARS`].
fn room_name(name: &str) -> Option<String> {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '-'
        };
        let starts = out.is_empty();
        if (starts && !c.is_ascii_alphanumeric()) || (c == '-' && out.ends_with('-')) {
            continue;
        }
        out.push(c);
        if out.len() == MAX_ROOM_NAME_CHARS {
            break;
        }
    }
    let out = out.trim_end_matches('-');
    validate_room_name(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_become_room_names_each_once() {
        let mut rooms = Rooms::default();
        let long = "a-very-long-channel-name-of-forty-characters";
        let named: Vec<Option<String>> = [
            ("general", "C1"),
            ("Dev Ops!", "C2"),
            ("--café_talk--", "C3"),
            ("général", "C4"),
            ("DEV-ops", "C5"),
            (long, "C6"),
            (long, "C7"),
            ("ñ", "C8"),
        ]
        .into_iter()
        .map(|(name, id)| rooms.room_for(name, id))
        .collect();
        let expected = [
            "general",
            "dev-ops",
            "caf-_talk",
            "g-n-ral",
            "dev-ops-2",
            "a-very-long-channel-name-of-fort",
            "a-very-long-channel-name-of-fo-2",
            "slack-c8",
        ];
        assert_eq!(named, expected.map(|n| Some(n.to_owned())));
    }

    #[test]
    fn a_ts_is_its_milliseconds() {
        assert_eq!(millis("1512085950.000216"), Some(1_512_085_950_000));
        assert_eq!(millis("1512085950.7"), Some(1_512_085_950_700));
        assert_eq!(millis("1512085950"), Some(1_512_085_950_000));
        for bad in ["", "x", "1.2.3", "-1.0", "1e9", "99999999999999999999"] {
            assert_eq!(millis(bad), None, "{bad}");
        }
    }
}
