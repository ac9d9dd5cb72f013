//! What an archive may hold, and what goes wrong with one: the errors that stop an import or
//! an export ([`ArchiveError`]), those of one record that do not ([`RecordError`]), and the
//! readers that hold an archive's entries to its limits as they expand.

use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::StoreError;

/// How large an archive, and what is in it, may be. An import reads one entry at a time and
/// one record at a time, so these bound its memory and its time, not what it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The archive file, as uploaded.
    pub(crate) archive_bytes: u64,
    /// Every entry expanded, counted as read.
    pub(crate) expanded_bytes: u64,
    /// Entries in the archive's directory.
    pub(crate) entries: u64,
    /// The archive's directory, which is read whole before any entry.
    pub(crate) directory_bytes: u64,
    /// One entry expanded: a whole conversation of an export, or a day of a Slack channel.
    pub(crate) entry_bytes: u64,
    /// A document read whole: `manifest.json`, `channels.json`.
    pub(crate) document_bytes: u64,
    /// One record as JSON: a line of an export, a message of a Slack day.
    pub(crate) record_bytes: u64,
}

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            archive_bytes: GIB,
            expanded_bytes: 8 * GIB,
            entries: 200_000,
            directory_bytes: 64 * MIB,
            entry_bytes: 4 * GIB,
            document_bytes: 64 * MIB,
            record_bytes: MIB,
        }
    }
}

/// What stops an import or an export. What was stored before it stays stored, and an import
/// run again stores only what it had not.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ArchiveError {
    #[error("cannot read or write the archive: {0}")]
    Io(#[from] io::Error),
    #[error("the archive is not a readable ZIP file: {0}")]
    Corrupt(String),
    #[error(
        "the archive is neither a Palaver export (it has no manifest.json) nor a Slack export \
         (no channels.json)"
    )]
    WrongFormat,
    #[error("{entry} cannot be read: {reason}")]
    BadDocument { entry: String, reason: String },
    #[error("this is a Palaver export of version {0}, and this server reads version 1")]
    UnsupportedVersion(u64),
    #[error("the archive is {size} bytes, over the limit of {max}")]
    TooLarge { size: u64, max: u64 },
    #[error("the archive has {entries} entries, over the limit of {max}")]
    TooManyEntries { entries: u64, max: u64 },
    #[error("the archive's directory is {size} bytes, over the limit of {max}")]
    DirectoryTooLarge { size: u64, max: u64 },
    /// Counted as the entries are read, not only as they declare.
    #[error("the archive expands to more than {max} bytes")]
    Bomb { max: u64 },
    #[error("{entry} expands to more than {max} bytes")]
    EntryTooLarge { entry: String, max: u64 },
    #[error("there is no conversation {0}")]
    UnknownConversation(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ArchiveError {
    /// Whether the same work may succeed if tried again later: the database or the disk
    /// failed, not the archive.
    pub(crate) fn is_transient(&self) -> bool {
        matches!(self, ArchiveError::Store(_) | ArchiveError::Io(_))
    }
}

impl From<zip::result::ZipError> for ArchiveError {
    fn from(e: zip::result::ZipError) -> ArchiveError {
        match e {
            zip::result::ZipError::Io(e) => ArchiveError::Io(e),
            e => ArchiveError::Corrupt(e.to_string()),
        }
    }
}

/// A record that is not imported, and why; the import goes on without it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{at}: {problem}")]
pub(crate) struct RecordError {
    /// The archive's entry it is in (or the Slack channel's folder, or the room).
    pub(crate) file: String,
    pub(crate) at: At,
    pub(crate) problem: Problem,
}

/// Where in its file a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum At {
    /// The whole file.
    File,
    /// A line of an export's conversation, from 1.
    Line(u64),
    /// An element of a Slack file's array (a message, a user), from 1.
    Record(u64),
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::File => Ok(()),
            At::Line(n) => write!(f, ", line {n}"),
            At::Record(n) => write!(f, ", record {n}"),
        }
    }
}

/// Why a record is not imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Problem {
    #[error("not a record of this format: {0}")]
    Malformed(String),
    #[error("the record is over the limit of {max} bytes")]
    TooBig { max: u64 },
    #[error("the text is over the limit of {max} characters")]
    TooLong { max: usize },
    #[error("the message has no text")]
    Empty,
    #[error("the timestamp {0:?} is not one")]
    BadTimestamp(String),
    #[error("{0:?} cannot be made a room name")]
    BadRoomName(String),
    #[error("direct conversations are not imported: their people are another server's")]
    DirectConversation,
    #[error("a folder of no channel in channels.json")]
    UnknownChannel,
    #[error("the room {0} exists, and only a moderator may import into it")]
    RoomRefused(String),
    #[error("the rest of the file is skipped: {0}")]
    Abandoned(String),
}

/// An entry expanded past a limit: the reason inside the [`io::Error`] that
/// [`Expanding`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Exceeded {
    #[error("the archive expands past its limit")]
    Archive,
    #[error("the entry expands past its limit")]
    Entry,
}

/// An entry's expanded bytes, counted as they are read and refused past the entry's limit or
/// the archive's (shared by all its entries): a ZIP's declared sizes may lie.
pub(crate) struct Expanding<R> {
    inner: R,
    entry: u64,
    entry_max: u64,
    total: Arc<AtomicU64>,
    total_max: u64,
}

impl<R> Expanding<R> {
    pub(crate) fn new(inner: R, entry_max: u64, total: Arc<AtomicU64>, total_max: u64) -> Self {
        Expanding {
            inner,
            entry: 0,
            entry_max,
            total,
            total_max,
        }
    }
}

impl<R: Read> Read for Expanding<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Never more than one byte past a limit is asked for, so a bomb is stopped right there.
        let room = (self.entry_max - self.entry.min(self.entry_max))
            .min(self.total_max - self.total.load(Ordering::Relaxed).min(self.total_max))
            .saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.entry += n as u64;
        let total = self.total.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if total > self.total_max {
            return Err(io::Error::other(Exceeded::Archive));
        }
        if self.entry > self.entry_max {
            return Err(io::Error::other(Exceeded::Entry));
        }
        Ok(n)
    }
}

/// The limit an I/O error from an entry's reader says was exceeded, if that is what it is.
pub(crate) fn exceeded(e: &io::Error) -> Option<Exceeded> {
    e.get_ref()?.downcast_ref::<Exceeded>().copied()
}

/// The error that stops an import when reading `entry` failed with `e`.
pub(crate) fn reading(entry: &str, e: io::Error, limits: &Limits) -> ArchiveError {
    match exceeded(&e) {
        Some(Exceeded::Archive) => ArchiveError::Bomb {
            max: limits.expanded_bytes,
        },
        Some(Exceeded::Entry) => ArchiveError::EntryTooLarge {
            entry: entry.to_owned(),
            max: limits.entry_bytes,
        },
        // What the ZIP reader found wrong with the entry's data: its checksum, its
        // compression, a size it does not keep to.
        None if e.kind() == io::ErrorKind::InvalidData
            || e.kind() == io::ErrorKind::UnexpectedEof =>
        {
            ArchiveError::Corrupt(format!("{entry}: {e}"))
        }
        None => ArchiveError::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Endless zeros, as a bomb expands.
    struct Zeros;

    impl Read for Zeros {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf.fill(0);
            Ok(buf.len())
        }
    }

    fn drain(r: &mut impl Read) -> (u64, io::Error) {
        let mut buf = [0u8; 1000];
        let mut n = 0;
        loop {
            match r.read(&mut buf) {
                Ok(0) => panic!("zeros never end"),
                Ok(k) => n += k as u64,
                Err(e) => return (n, e),
            }
        }
    }

    #[test]
    fn what_an_entry_expands_to_is_counted_and_stopped_at_its_limits() {
        let total = Arc::new(AtomicU64::new(0));
        let mut entry = Expanding::new(Zeros, 2_500, total.clone(), 10_000);
        // Two full reads; the third would cross the limit, and reads one byte past it at most.
        let (read, e) = drain(&mut entry);
        assert_eq!((read, exceeded(&e)), (2_000, Some(Exceeded::Entry)));
        assert_eq!(total.load(Ordering::Relaxed), 2_501);
        // The archive's limit counts every entry's bytes.
        let mut second = Expanding::new(Zeros, u64::MAX, total.clone(), 10_000);
        let (read, e) = drain(&mut second);
        assert_eq!((read, exceeded(&e)), (7_000, Some(Exceeded::Archive)));
        assert_eq!(total.load(Ordering::Relaxed), 10_001);
        // Up to the limit exactly is within it.
        let total = Arc::new(AtomicU64::new(0));
        let mut exact = Expanding::new(io::repeat(7).take(2_500), 2_500, total.clone(), 2_500);
        let mut all = Vec::new();
        exact.read_to_end(&mut all).unwrap();
        assert_eq!(all.len(), 2_500);
        let limits = Limits::default();
        assert!(matches!(
            reading("a", e, &limits),
            ArchiveError::Bomb { max } if max == limits.expanded_bytes
        ));
    }
}
