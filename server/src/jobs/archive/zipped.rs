//! An archive on disk, opened within its [`Limits`]: its entries are read one at a time,
//! straight from the file, each counted as it expands.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use zip::ZipArchive;

use crate::jobs::archive::limits::{ArchiveError, Expanding, Limits, reading};

pub(crate) struct Archive {
    zip: ZipArchive<BufReader<File>>,
    limits: Limits,
    /// Bytes expanded so far, by every entry.
    expanded: Arc<AtomicU64>,
    /// What the entries say they expand to, together.
    declared: u64,
}

/// An entry being read.
pub(crate) type Entry<'a> = Expanding<zip::read::ZipFile<'a, BufReader<File>>>;

impl Archive {
    /// Opens the ZIP file at `path`, refusing it when its size, its entry count or its
    /// entries' declared sizes are over `limits`; nothing is expanded yet.
    pub(crate) fn open(path: &Path, limits: &Limits) -> Result<Archive, ArchiveError> {
        let mut file = File::open(path)?;
        let size = file.metadata()?.len();
        if size > limits.archive_bytes {
            return Err(ArchiveError::TooLarge {
                size,
                max: limits.archive_bytes,
            });
        }
        // Before the ZIP reader reads the whole directory into memory.
        if let Some(directory) = directory(&mut file, size)? {
            if directory.entries > limits.entries {
                return Err(ArchiveError::TooManyEntries {
                    entries: directory.entries,
                    max: limits.entries,
                });
            }
            if directory.bytes > limits.directory_bytes {
                return Err(ArchiveError::DirectoryTooLarge {
                    size: directory.bytes,
                    max: limits.directory_bytes,
                });
            }
        }
        file.seek(SeekFrom::Start(0))?;
        let zip = ZipArchive::new(BufReader::new(file))?;
        if zip.len() as u64 > limits.entries {
            return Err(ArchiveError::TooManyEntries {
                entries: zip.len() as u64,
                max: limits.entries,
            });
        }
        let mut declared: u64 = 0;
        for i in 0..zip.len() {
            let entry = zip.by_index_data(i)?;
            if entry.size() > limits.entry_bytes {
                return Err(ArchiveError::EntryTooLarge {
                    entry: entry.name().map(|n| n.into_owned()).unwrap_or_default(),
                    max: limits.entry_bytes,
                });
            }
            declared = declared.saturating_add(entry.size());
        }
        if declared > limits.expanded_bytes {
            return Err(ArchiveError::Bomb {
                max: limits.expanded_bytes,
            });
        }
        Ok(Archive {
            zip,
            limits: limits.clone(),
            expanded: Arc::default(),
            declared,
        })
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The index of the entry called `name`.
    pub(crate) fn index_of(&self, name: &str) -> Option<usize> {
        self.zip.index_for_name(name)
    }

    /// Every file's index and name (directories left out), in the archive's order.
    pub(crate) fn files(&self) -> Vec<(usize, String)> {
        (0..self.zip.len())
            .filter_map(|i| {
                let entry = self.zip.by_index_data(i).ok()?;
                let name = entry.name().ok()?;
                (!entry.is_dir()).then(|| (i, name.into_owned()))
            })
            .collect()
    }

    /// Entry `index`, to read; within its limit and the archive's.
    pub(crate) fn entry(&mut self, index: usize) -> Result<Entry<'_>, ArchiveError> {
        let file = self.zip.by_index(index)?;
        Ok(Expanding::new(
            file,
            self.limits.entry_bytes,
            self.expanded.clone(),
            self.limits.expanded_bytes,
        ))
    }

    /// Entry `index` read whole, as for a document: within `limits.document_bytes`.
    pub(crate) fn document(&mut self, index: usize, name: &str) -> Result<Vec<u8>, ArchiveError> {
        let max = self.limits.document_bytes;
        let limits = self.limits.clone();
        let mut bytes = Vec::new();
        let entry = self.entry(index)?;
        entry
            .take(max + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| reading(name, e, &limits))?;
        if bytes.len() as u64 > max {
            return Err(ArchiveError::EntryTooLarge {
                entry: name.to_owned(),
                max,
            });
        }
        Ok(bytes)
    }

    /// What has been expanded so far, and what the entries declare they expand to: the
    /// import's progress.
    pub(crate) fn progress(&self) -> Progress {
        Progress {
            expanded: self.expanded.clone(),
            declared: self.declared,
        }
    }
}

/// How far through its archive an import is, readable from another thread.
#[derive(Clone)]
pub(crate) struct Progress {
    expanded: Arc<AtomicU64>,
    declared: u64,
}

impl Progress {
    /// Bytes expanded, and bytes to expand.
    pub(crate) fn now(&self) -> (u64, u64) {
        let done = self.expanded.load(Ordering::Relaxed);
        (done.min(self.declared), self.declared)
    }
}

/// What the end of a ZIP's directory says of it.
struct Directory {
    entries: u64,
    bytes: u64,
}

/// Reads the entry count and the directory's size from the end of central directory record
/// (ZIP64's when it has one), or `None` when there is none to be found: the ZIP reader then
/// says what is wrong.
fn directory(file: &mut File, size: u64) -> io::Result<Option<Directory>> {
    const END: &[u8] = b"PK\x05\x06";
    const LOCATOR: &[u8] = b"PK\x06\x07";
    const END64: &[u8] = b"PK\x06\x06";
    // The record is 22 bytes, and a comment of up to 65,535 may follow it.
    let tail = size.min(22 + 65_535);
    let mut bytes = vec![0; tail as usize];
    file.seek(SeekFrom::Start(size - tail))?;
    file.read_exact(&mut bytes)?;
    let Some(at) = (0..bytes.len().saturating_sub(21))
        .rev()
        .find(|&i| &bytes[i..i + 4] == END)
    else {
        return Ok(None);
    };
    let u16_at = |i: usize| u64::from(u16::from_le_bytes([bytes[i], bytes[i + 1]]));
    let u32_at = |i: usize| {
        u64::from(u32::from_le_bytes([
            bytes[i],
            bytes[i + 1],
            bytes[i + 2],
            bytes[i + 3],
        ]))
    };
    let (entries, dir_bytes) = (u16_at(at + 10), u32_at(at + 12));
    if entries != 0xFFFF && dir_bytes != 0xFFFF_FFFF {
        return Ok(Some(Directory {
            entries,
            bytes: dir_bytes,
        }));
    }
    // ZIP64: a locator just before the record says where the ZIP64 record is.
    let Some(locator) = at.checked_sub(20).filter(|&l| &bytes[l..l + 4] == LOCATOR) else {
        return Ok(None);
    };
    let mut offset = [0u8; 8];
    offset.copy_from_slice(&bytes[locator + 8..locator + 16]);
    let offset = u64::from_le_bytes(offset);
    if offset.checked_add(56).is_none_or(|end| end > size) {
        return Ok(None);
    }
    let mut record = [0u8; 56];
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(&mut record)?;
    if &record[..4] != END64 {
        return Ok(None);
    }
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&record[i..i + 8]);
        u64::from_le_bytes(b)
    };
    Ok(Some(Directory {
        entries: u64_at(32),
        bytes: u64_at(40),
    }))
}
