//! An import: the archive read on a blocking thread, a record at a time, and its records
//! stored in batches as they come, each batch one transaction.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use crate::jobs::archive::limits::{ArchiveError, At, Limits, Problem, RecordError};
use crate::jobs::archive::zipped::{Archive, Progress};
use crate::jobs::archive::{ImportRecord, Sink, palaver, slack};
use crate::jobs::priority::spawn_lowered;
use crate::socket::writer::Writer;
#[cfg(test)]
use crate::store::IMPORT_SENDER;
use crate::store::write::WriterConnection;
use crate::store::{Head, ImportBatch, ImportOutcome, StoreError};

/// Records stored in one transaction. Large enough that a commit's fsync is shared by many;
/// small enough that a post that arrives meanwhile, which waits for the batch the writer is
/// storing, does not wait long. (SQLite's imports through the server use fewer: see
/// `jobs::import`.)
pub(crate) const BATCH: usize = 250;

/// What kind of archive an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Palaver's own export.
    Palaver,
    Slack,
}

/// How to import.
#[derive(Debug, Clone)]
pub(crate) struct ImportOptions {
    pub(crate) limits: Limits,
    /// Who imports: a person id, or [`IMPORT_SENDER`]. The rooms the import creates are theirs.
    pub(crate) importer: String,
    /// Whether messages may go into existing public rooms that the importer did not create
    /// (only a moderator's import may); otherwise those rooms are refused, each reported once.
    pub(crate) into_existing: bool,
    /// Records per transaction.
    pub(crate) batch: usize,
}

impl ImportOptions {
    /// The defaults, for `importer`'s import.
    pub(crate) fn new(importer: &str) -> ImportOptions {
        ImportOptions {
            limits: Limits::default(),
            importer: importer.to_owned(),
            into_existing: false,
            batch: BATCH,
        }
    }

    /// The defaults, for an import by the server itself, into any room.
    #[cfg(test)]
    pub(crate) fn by_the_server() -> ImportOptions {
        ImportOptions {
            into_existing: true,
            ..ImportOptions::new(IMPORT_SENDER)
        }
    }
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ImportSummary {
    pub(crate) format: Option<Format>,
    /// Records read (stored, duplicates and refused).
    pub(crate) read: u64,
    pub(crate) stored: u64,
    /// Records stored by an earlier run: an import run again stores nothing new.
    pub(crate) duplicates: u64,
    /// Records of refused rooms (see [`ImportOptions::into_existing`]).
    pub(crate) refused: u64,
    /// Records left out on purpose (see the readers: [`palaver`], [`slack`]).
    pub(crate) skipped: u64,
    /// Record errors reported.
    pub(crate) errors: u64,
    pub(crate) rooms_created: Vec<String>,
    /// The head of each room that got messages, after the import.
    pub(crate) rooms: Vec<Head>,
}

/// Where an import's batches are stored: the server's [`Writer`] (always, on SQLite, whose
/// file it alone writes), or a writer's connection of a process of its own (Postgres), whose
/// caller then announces the rooms' heads.
pub(crate) trait ImportSink {
    fn store(
        &mut self,
        batch: ImportBatch,
    ) -> impl Future<Output = Result<ImportOutcome, StoreError>> + Send;
}

impl ImportSink for Writer {
    fn store(
        &mut self,
        batch: ImportBatch,
    ) -> impl Future<Output = Result<ImportOutcome, StoreError>> + Send {
        self.import(batch)
    }
}

impl ImportSink for WriterConnection {
    async fn store(&mut self, batch: ImportBatch) -> Result<ImportOutcome, StoreError> {
        self.import(&batch).await
    }
}

/// Opens the archive at `path` within `limits` and says what it is, reading nothing but its
/// directory and expanding nothing: for a quick answer before the import is queued.
pub(crate) fn inspect(path: &Path, limits: &Limits) -> Result<Format, ArchiveError> {
    Ok(opened(path, limits)?.1)
}

/// The archive at `path`, opened, with its format and where a Slack export's files are.
fn opened(path: &Path, limits: &Limits) -> Result<(Archive, Format, String), ArchiveError> {
    let archive = Archive::open(path, limits)?;
    if palaver::is_one(&archive) {
        return Ok((archive, Format::Palaver, String::new()));
    }
    match slack::root(&archive) {
        Some(root) => Ok((archive, Format::Slack, root)),
        None => Err(ArchiveError::WrongFormat),
    }
}

/// Imports the archive at `path` (Palaver's export or Slack's, told apart by their contents)
/// into `sink`. Each record that cannot be imported is given to `errors`, and the import goes
/// on; `progress` is told the bytes expanded and the bytes to expand after each batch.
///
/// Memory stays bounded whatever the archive's size: an entry and a record at a time, and
/// two batches in flight. What it stored stays stored when it fails; run again, it stores
/// only what it had not.
pub(crate) async fn import_from<S: ImportSink>(
    path: &Path,
    sink: &mut S,
    options: &ImportOptions,
    errors: &mut (dyn FnMut(RecordError) + Send),
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<ImportSummary, ArchiveError> {
    let (sent, mut received) = mpsc::channel(2);
    let reading = {
        let (path, limits, batch) = (path.to_owned(), options.limits.clone(), options.batch);
        spawn_lowered("palaver-import", move || {
            read(path, limits, batch.max(1), sent)
        })?
    };
    let mut summary = ImportSummary::default();
    let mut heads: BTreeMap<String, Head> = BTreeMap::new();
    let mut refused: HashSet<String> = HashSet::new();
    let mut archive: Option<Progress> = None;
    let mut failed = None;
    while let Some(item) = received.recv().await {
        match item {
            Read::Opened(format, p) => {
                summary.format = Some(format);
                // From nothing, whatever the reader has expanded since it sent this.
                progress(0, p.now().1);
                archive = Some(p);
            }
            Read::Error(e) => {
                summary.errors += 1;
                errors(e);
            }
            Read::Batch { records, skipped } => {
                summary.read += records.len() as u64;
                summary.skipped += skipped;
                let batch = ImportBatch {
                    messages: records.into_iter().map(Into::into).collect(),
                    importer: options.importer.clone(),
                    into_existing: options.into_existing,
                };
                let outcome = match sink.store(batch).await {
                    Ok(outcome) => outcome,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                };
                summary.stored += outcome.stored;
                summary.duplicates += outcome.duplicates;
                summary.refused += outcome.refused;
                summary.rooms_created.extend(outcome.rooms_created);
                for head in outcome.rooms_touched {
                    heads.insert(head.room.clone(), head);
                }
                for room in outcome.rooms_refused {
                    if refused.insert(room.clone()) {
                        summary.errors += 1;
                        errors(RecordError {
                            file: room.clone(),
                            at: At::File,
                            problem: Problem::RoomRefused(room),
                        });
                    }
                }
                if let Some(p) = &archive {
                    let (done, total) = p.now();
                    progress(done, total);
                }
            }
        }
    }
    // A reader still sending learns that the import stopped.
    drop(received);
    let read = reading
        .await
        .map_err(|e| ArchiveError::Io(std::io::Error::other(e)));
    if let Some(e) = failed {
        return Err(e.into());
    }
    read??;
    if let Some(p) = &archive {
        let (_, total) = p.now();
        progress(total, total);
    }
    summary.rooms = heads.into_values().collect();
    Ok(summary)
}

/// What the reading thread hands the storing side.
enum Read {
    Opened(Format, Progress),
    Batch {
        records: Vec<ImportRecord>,
        skipped: u64,
    },
    Error(RecordError),
}

/// Reads the archive at `path` into batches of `batch` records, sent as they fill.
fn read(
    path: PathBuf,
    limits: Limits,
    batch: usize,
    sent: mpsc::Sender<Read>,
) -> Result<(), ArchiveError> {
    let (mut archive, format, root) = opened(&path, &limits)?;
    let mut out = Batches {
        sent,
        records: Vec::with_capacity(batch),
        batch,
        skipped: 0,
    };
    out.send(Read::Opened(format, archive.progress()))?;
    match format {
        Format::Palaver => palaver::read(&mut archive, &mut out)?,
        Format::Slack => slack::read(&mut archive, &root, &mut out)?,
    }
    out.flush()
}

/// The reading side's [`Sink`]: records gathered into batches.
struct Batches {
    sent: mpsc::Sender<Read>,
    records: Vec<ImportRecord>,
    batch: usize,
    skipped: u64,
}

impl Batches {
    fn send(&self, item: Read) -> Result<(), ArchiveError> {
        // The storing side has stopped, and says why.
        self.sent
            .blocking_send(item)
            .map_err(|_| ArchiveError::Store(StoreError::not_written()))
    }

    fn flush(&mut self) -> Result<(), ArchiveError> {
        if self.records.is_empty() && self.skipped == 0 {
            return Ok(());
        }
        let records = std::mem::replace(&mut self.records, Vec::with_capacity(self.batch));
        let skipped = std::mem::take(&mut self.skipped);
        self.send(Read::Batch { records, skipped })
    }
}

impl Sink for Batches {
    fn record(&mut self, record: ImportRecord) -> Result<(), ArchiveError> {
        self.records.push(record);
        if self.records.len() >= self.batch {
            self.flush()?;
        }
        Ok(())
    }

    fn error(&mut self, error: RecordError) {
        // A failure to send shows at the next record.
        let _ = self.send(Read::Error(error));
    }

    fn skipped(&mut self) {
        self.skipped += 1;
    }
}
