//! Export: conversations written to a ZIP in Palaver's format ([`crate::jobs::archive::format`]),
//! read from the store a page at a time and written as they come.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use crate::jobs::archive::format::{Conversation, FORMAT, Line, MANIFEST, Manifest, VERSION};
use crate::jobs::archive::limits::ArchiveError;
use crate::store::{Store, StoredMessage, now_ms, room_kind_column};

/// Messages read from the store at a time.
const PAGE: usize = 1_000;

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExportSummary {
    pub(crate) conversations: u64,
    pub(crate) messages: u64,
    /// The archive's size.
    pub(crate) bytes: u64,
}

/// Writes `conversations` (rooms' names or direct conversations' ids: the caller checks that
/// whoever asked may read them) to a new ZIP at `out`, each as it stood when the export began.
/// `progress` is told the messages written and the messages to write, after each page.
///
/// The archive is written beside `out` and renamed to it once complete, so `out` is never a
/// partial archive; on error nothing is left at `out`.
pub(crate) async fn export_to(
    store: &Store,
    conversations: &[String],
    out: &Path,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<ExportSummary, ArchiveError> {
    // Each conversation's newest seq now: what is posted meanwhile is not exported. Seqs run
    // from 1 without holes, so the newest is also how many messages there are.
    let mut planned = Vec::with_capacity(conversations.len());
    let mut total = 0;
    for (n, room) in conversations.iter().enumerate() {
        let kind = store
            .room_kind(room)
            .await?
            .ok_or_else(|| ArchiveError::UnknownConversation(room.clone()))?;
        let (_, head) = store.head(room).await?;
        total += head.max(0) as u64;
        planned.push((room, kind, head, format!("conversations/{}.ndjson", n + 1)));
    }
    progress(0, total);

    let partial = partial_path(out);
    let (pieces, taken) = mpsc::channel(2);
    let writing = {
        let partial = partial.clone();
        tokio::task::spawn_blocking(move || write_zip(&partial, taken))
    };
    let read = async {
        let mut manifest = Manifest {
            format: FORMAT.to_owned(),
            version: VERSION,
            exported_at: now_ms(),
            conversations: Vec::with_capacity(planned.len()),
        };
        let mut done = 0;
        for (room, kind, head, file) in planned {
            send(&pieces, Piece::Begin(file.clone())).await?;
            let (mut after, mut messages) = (0, 0);
            while after < head {
                let page = store.page_by_seq(room, after, head, PAGE).await?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                messages += page.len() as u64;
                done += page.len() as u64;
                send(&pieces, Piece::Messages(page)).await?;
                progress(done, total);
            }
            manifest.conversations.push(Conversation {
                room: room.clone(),
                kind: room_kind_column(kind).to_owned(),
                messages,
                file,
            });
        }
        send(&pieces, Piece::Manifest(manifest)).await?;
        Ok::<_, ArchiveError>(done)
    };
    let read = read.await;
    drop(pieces);
    let written = writing
        .await
        .map_err(|e| ArchiveError::Io(std::io::Error::other(e)));
    let finished = match (read, written) {
        (Ok(messages), Ok(Ok(bytes))) => std::fs::rename(&partial, out)
            .map(|()| ExportSummary {
                conversations: conversations.len() as u64,
                messages,
                bytes,
            })
            .map_err(ArchiveError::from),
        // The store's error first: the writer fails for want of pieces after it.
        (Err(e), _) | (Ok(_), Ok(Err(e)) | Err(e)) => Err(e),
    };
    if finished.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    finished
}

/// Where the archive is written until it is complete.
fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// What the reading side hands the writing side.
enum Piece {
    /// The next conversation's file begins.
    Begin(String),
    Messages(Vec<StoredMessage>),
    /// The last piece.
    Manifest(Manifest),
}

async fn send(pieces: &mpsc::Sender<Piece>, piece: Piece) -> Result<(), ArchiveError> {
    pieces
        .send(piece)
        .await
        .map_err(|_| ArchiveError::Io(std::io::Error::other("the archive's writer stopped")))
}

/// Writes the pieces to a ZIP at `path` as they come: its size once complete.
fn write_zip(path: &Path, mut pieces: mpsc::Receiver<Piece>) -> Result<u64, ArchiveError> {
    let file = File::create(path)?;
    let mut zip = ZipWriter::new(BufWriter::new(file));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut line = Vec::with_capacity(1024);
    let mut complete = false;
    while let Some(piece) = pieces.blocking_recv() {
        match piece {
            // A conversation's file may pass 4 GiB: its size is not known before it is written.
            Piece::Begin(name) => zip.start_file(name, options.large_file(true))?,
            Piece::Messages(page) => {
                for m in &page {
                    line.clear();
                    serde_json::to_writer(&mut line, &Line::from(m))
                        .map_err(std::io::Error::from)?;
                    line.push(b'\n');
                    zip.write_all(&line)?;
                }
            }
            Piece::Manifest(manifest) => {
                zip.start_file(MANIFEST, options)?;
                serde_json::to_writer_pretty(&mut zip, &manifest).map_err(std::io::Error::from)?;
                complete = true;
            }
        }
    }
    if !complete {
        return Err(ArchiveError::Io(std::io::Error::other(
            "the export stopped before its manifest",
        )));
    }
    let file = zip
        .finish()?
        .into_inner()
        .map_err(|e| ArchiveError::Io(e.into_error()))?;
    file.sync_all()?;
    Ok(file.metadata()?.len())
}
