//! A Slack workspace export, made up: `channels.json`, `users.json`, and each channel's folder
//! of days (`<channel>/<YYYY-MM-DD>.json`, an array of messages), zipped as Slack zips it. The
//! same shape always gives the same bytes (a seeded generator), so runs import the same thing.
//!
//! The messages look like a team's: plain lines of 40 to 160 characters, some with a mention
//! (`<@U…>`) or a link (`<https://…|label>`); a thread every 20 messages, its first message
//! followed by three replies; each channel's first day opens with its creator's join.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde::Serialize;
use zip::write::{SimpleFileOptions, ZipWriter};

/// How big an export is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) channels: usize,
    pub(crate) days: usize,
    /// Messages in each channel's day file.
    pub(crate) per_day: usize,
}

/// People in the workspace.
const USERS: usize = 200;
/// The first day: 2020-01-01, in days since the Unix epoch.
const FIRST_DAY: i64 = 18_262;
/// Every this many messages of a day starts a thread; the next [`REPLIES`] reply to it.
const THREAD_EVERY: usize = 20;
const REPLIES: usize = 3;

const WORDS: &[&str] = &[
    "deploy",
    "build",
    "review",
    "the",
    "a",
    "branch",
    "merge",
    "tests",
    "flaky",
    "green",
    "release",
    "tomorrow",
    "today",
    "meeting",
    "notes",
    "customer",
    "ticket",
    "fixed",
    "broken",
    "staging",
    "production",
    "rollback",
    "metrics",
    "dashboard",
    "latency",
    "queue",
    "cache",
    "index",
    "migration",
    "schema",
    "config",
    "docs",
    "please",
    "thanks",
    "looks",
    "good",
    "to",
    "me",
    "can",
    "someone",
    "check",
    "why",
    "is",
    "it",
    "slow",
    "again",
    "after",
    "lunch",
    "standup",
    "sprint",
    "plan",
    "estimate",
    "bug",
    "feature",
    "flag",
    "on",
    "off",
    "and",
];

impl Shape {
    pub(crate) fn messages(&self) -> u64 {
        (self.channels * self.days * self.per_day) as u64
    }

    /// Writes the export's ZIP to `path`; its size in bytes.
    pub(crate) fn write(&self, path: &Path) -> io::Result<u64> {
        let file = BufWriter::with_capacity(1 << 20, File::create(path)?);
        let mut zip = ZipWriter::new(file);
        let mut buffer = Vec::new();
        let channels: Vec<Channel> = (0..self.channels).map(Channel::new).collect();
        let users: Vec<User> = (0..USERS).map(User::new).collect();
        entry(&mut zip, "channels.json", &channels, &mut buffer)?;
        entry(&mut zip, "users.json", &users, &mut buffer)?;
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        let mut day_messages = Vec::with_capacity(self.per_day);
        for channel in &channels {
            zip.add_directory(format!("{}/", channel.name), options())?;
            for day in 0..self.days {
                day_messages.clear();
                let start = (FIRST_DAY + day as i64) * 86_400;
                let step = 86_400 / self.per_day.max(1) as i64;
                let mut head_ts = String::new();
                for i in 0..self.per_day {
                    // Unique within the channel: the message's number is its microseconds.
                    let ts = format!("{}.{i:06}", start + i as i64 * step);
                    let user = format!("U{:08}", rng.usize(0..USERS));
                    let in_thread = i % THREAD_EVERY;
                    let thread_ts = match in_thread {
                        0 => {
                            head_ts.clone_from(&ts);
                            Some(ts.clone())
                        }
                        n if n <= REPLIES && !head_ts.is_empty() => Some(head_ts.clone()),
                        _ => None,
                    };
                    let (subtype, text) = if day == 0 && i == 0 {
                        (
                            Some("channel_join"),
                            format!("<@{}> has joined the channel", channel.creator),
                        )
                    } else {
                        (None, line(&mut rng))
                    };
                    day_messages.push(Message {
                        kind: "message",
                        subtype,
                        user,
                        text,
                        ts,
                        thread_ts,
                    });
                }
                let name = format!("{}/{}.json", channel.name, date(start));
                entry(&mut zip, &name, &day_messages, &mut buffer)?;
            }
        }
        let mut file = zip.finish()?;
        file.flush()?;
        file.get_ref().metadata().map(|m| m.len())
    }
}

/// The options of every entry: deflated, at a fixed time, so that the bytes depend on
/// nothing but the shape.
fn options() -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::DEFAULT)
}

/// Adds entry `name` holding `value` as JSON (serialised into `buffer` first: the compressor
/// takes one large write better than many small ones).
fn entry<W: Write + io::Seek>(
    zip: &mut ZipWriter<W>,
    name: &str,
    value: &impl Serialize,
    buffer: &mut Vec<u8>,
) -> io::Result<()> {
    buffer.clear();
    serde_json::to_writer(&mut *buffer, value).map_err(io::Error::other)?;
    zip.start_file(name, options())?;
    zip.write_all(buffer)
}

#[derive(Serialize)]
struct Channel {
    id: String,
    name: String,
    created: i64,
    creator: String,
    is_general: bool,
}

impl Channel {
    fn new(n: usize) -> Channel {
        Channel {
            id: format!("C{n:08}"),
            name: format!("bench-{n:03}"),
            created: FIRST_DAY * 86_400,
            creator: format!("U{:08}", n % USERS),
            is_general: n == 0,
        }
    }
}

#[derive(Serialize)]
struct Profile {
    display_name: String,
    real_name: String,
}

#[derive(Serialize)]
struct User {
    id: String,
    name: String,
    real_name: String,
    profile: Profile,
}

impl User {
    fn new(n: usize) -> User {
        let real_name = format!("Person {n}");
        User {
            id: format!("U{n:08}"),
            name: format!("person{n}"),
            real_name: real_name.clone(),
            profile: Profile {
                display_name: format!("person{n}"),
                real_name,
            },
        }
    }
}

#[derive(Serialize)]
struct Message {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subtype: Option<&'static str>,
    user: String,
    text: String,
    ts: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    thread_ts: Option<String>,
}

/// A chat line of 40 to 160 characters; one in ten mentions someone, one in twenty links.
fn line(rng: &mut fastrand::Rng) -> String {
    let target = rng.usize(40..=160);
    let mut text = String::with_capacity(target + 40);
    if rng.usize(0..10) == 0 {
        text.push_str(&format!("<@U{:08}> ", rng.usize(0..USERS)));
    }
    while text.len() < target {
        if !text.is_empty() && !text.ends_with(' ') {
            text.push(' ');
        }
        text.push_str(WORDS[rng.usize(0..WORDS.len())]);
    }
    if rng.usize(0..20) == 0 {
        text.push_str(" <https://example.com/runbook|the runbook>");
    }
    text
}

/// The day `seconds` (since the Unix epoch) falls on, as `YYYY-MM-DD`.
fn date(seconds: i64) -> String {
    // Howard Hinnant's civil-from-days.
    let z = seconds.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn dates_are_the_calendar_s() {
        assert_eq!(date(FIRST_DAY * 86_400), "2020-01-01");
        assert_eq!(date((FIRST_DAY + 59) * 86_400), "2020-02-29");
        assert_eq!(date((FIRST_DAY + 366) * 86_400), "2021-01-01");
    }

    #[test]
    fn an_export_holds_every_message_once_and_the_same_bytes_each_time() {
        let dir = std::env::temp_dir().join(format!("slack-export-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let shape = Shape {
            channels: 2,
            days: 3,
            per_day: 50,
        };
        let (a, b) = (dir.join("a.zip"), dir.join("b.zip"));
        shape.write(&a).unwrap();
        shape.write(&b).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let mut zip = zip::ZipArchive::new(File::open(&a).unwrap()).unwrap();
        let mut messages = 0;
        let mut keys = std::collections::HashSet::new();
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).unwrap();
            let name = entry.name().unwrap().into_owned();
            if entry.is_dir() || !name.contains('/') {
                continue;
            }
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            let day: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
            for m in &day {
                let (folder, _) = name.split_once('/').unwrap();
                assert!(keys.insert(format!("{folder}:{}", m["ts"].as_str().unwrap())));
                assert!(!m["text"].as_str().unwrap().is_empty());
            }
            messages += day.len() as u64;
        }
        assert_eq!(messages, shape.messages());
        assert!(zip.by_name("channels.json").is_ok() && zip.by_name("users.json").is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
