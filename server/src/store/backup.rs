//! Backups: a consistent copy of the database, taken while the server runs.
//!
//! SQLite: `VACUUM INTO` on a connection of its own that only reads. It reads one snapshot (a WAL
//! read transaction), so the writer goes on committing meanwhile, and the copy holds exactly
//! what was committed when it began. Postgres: `pg_dump --format=custom`, which also reads one
//! snapshot; `pg_restore` reads it back.
//!
//! The copy is written beside its destination under a hidden name, synced, then linked to the
//! destination, so that a backup cut short never leaves a file that looks whole (nor one that
//! [`prune`] would count).

use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr as _;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use sqlx::sqlite::SqliteConnectOptions;
use tracing::{info, warn};

use crate::store::{Backend, Location, Store};

/// Every backup file's name starts with this; [`prune`] deletes only such files.
pub(crate) const BACKUP_PREFIX: &str = "palaver-backup-";

/// How long the SQLite copy waits on a lock (a checkpoint's moment) before it gives up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// What to back up: a database by URL (as `palaver backup` is given it), or an open store
/// (a scheduled backup inside the server).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source<'a> {
    Url(&'a str),
    Store(&'a Store),
}

/// What a backup made, printed by `palaver backup` as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupSummary {
    pub path: PathBuf,
    pub bytes: u64,
    pub backend: Backend,
    pub took_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path} exists already: a backup never overwrites a file, give it a new name")]
    Exists { path: PathBuf },
    #[error("the directory of {path} does not exist")]
    NoDirectory { path: PathBuf },
    #[error("cannot back up {url}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("there is no SQLite database at {path}")]
    NoDatabase { path: PathBuf },
    #[error(
        "pg_dump was not found: backing up Postgres needs PostgreSQL's client tools \
         (Debian: postgresql-client) on PATH"
    )]
    PgDumpMissing,
    #[error("pg_dump failed ({status}): {stderr}")]
    PgDump { status: String, stderr: String },
    #[error("SQLite could not copy the database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("the backup's task stopped: {0}")]
    Task(String),
}

impl BackupError {
    /// The process's exit code: 2 when the request itself is wrong (as for a bad flag), 1
    /// when the backup failed on the way.
    pub fn exit_code(&self) -> u8 {
        match self {
            BackupError::Exists { .. }
            | BackupError::NoDirectory { .. }
            | BackupError::BadUrl { .. }
            | BackupError::NoDatabase { .. } => 2,
            BackupError::PgDumpMissing
            | BackupError::PgDump { .. }
            | BackupError::Sqlite(_)
            | BackupError::Io { .. }
            | BackupError::Task(_) => 1,
        }
    }
}

/// `palaver backup`: copies the database at `database_url` to `path`, which must not exist.
pub async fn backup(database_url: &str, path: &Path) -> Result<BackupSummary, BackupError> {
    backup_to(Source::Url(database_url), path).await
}

/// Copies the database `source` names to `path`, which must not exist, while the server goes
/// on writing to it.
pub(crate) async fn backup_to(
    source: Source<'_>,
    path: &Path,
) -> Result<BackupSummary, BackupError> {
    let started = Instant::now();
    let location = match source {
        Source::Store(store) => store.location(),
        Source::Url(url) => location_of(url)?,
    };
    let partial = partial_path(path)?;
    let (backend, copied) = match location {
        Location::SqliteFile(file) => (Backend::Sqlite, sqlite_copy(file, partial.clone()).await),
        Location::Postgres(url) => (Backend::Postgres, pg_dump("pg_dump", &url, &partial).await),
        Location::InMemory => {
            return Err(BackupError::BadUrl {
                url: "sqlite::memory:".to_owned(),
                reason: "an in-memory database cannot be copied from outside its process".into(),
            });
        }
    };
    let copied = copied.and_then(|()| publish(&partial, path));
    if copied.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    let bytes = copied?;
    let summary = BackupSummary {
        path: path.to_owned(),
        bytes,
        backend,
        took_ms: started.elapsed().as_millis().try_into().unwrap_or(u64::MAX),
    };
    info!(path = %path.display(), bytes, took_ms = summary.took_ms, "backup taken");
    Ok(summary)
}

/// Where a URL's database is, checked as far as can be without connecting.
fn location_of(url: &str) -> Result<Location, BackupError> {
    let bad = |reason: String| BackupError::BadUrl {
        url: super::redacted(url),
        reason,
    };
    match Backend::of(url) {
        Backend::Postgres => {
            url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
            Ok(Location::Postgres(url.to_owned()))
        }
        Backend::Sqlite => {
            if !url.starts_with("sqlite:") {
                return Err(bad("expected sqlite://FILE or postgres://…".to_owned()));
            }
            if url.contains(":memory:") || url.contains("mode=memory") {
                return Ok(Location::InMemory);
            }
            let options = SqliteConnectOptions::from_str(url).map_err(|e| bad(e.to_string()))?;
            let file = options.get_filename().to_owned();
            if !file.is_file() {
                return Err(BackupError::NoDatabase { path: file });
            }
            Ok(Location::SqliteFile(file))
        }
    }
}

/// The hidden name the copy is written under, beside `path`; checks that `path` is free and
/// its directory exists.
fn partial_path(path: &Path) -> Result<PathBuf, BackupError> {
    if path.symlink_metadata().is_ok() {
        return Err(BackupError::Exists {
            path: path.to_owned(),
        });
    }
    let name = path
        .file_name()
        .ok_or_else(|| BackupError::NoDirectory {
            path: path.to_owned(),
        })?
        .to_string_lossy();
    let dir = match path.parent() {
        Some(d) if d.as_os_str().is_empty() => Path::new("."),
        Some(d) => d,
        None => Path::new("/"),
    };
    if !dir.is_dir() {
        return Err(BackupError::NoDirectory {
            path: path.to_owned(),
        });
    }
    Ok(dir.join(format!(".{name}.partial-{}", std::process::id())))
}

/// `VACUUM INTO` from a connection of its own, which only reads the database (`query_only`
/// would refuse even the copy). It is opened read-write, not read-only, so that with no server running it ends as the last connection
/// and removes the `-wal` and `-shm` files it had to create: left behind, made by another user
/// than the server's, they would keep the server from writing.
async fn sqlite_copy(file: PathBuf, into: PathBuf) -> Result<(), BackupError> {
    tokio::task::spawn_blocking(move || {
        use rusqlite::OpenFlags;
        let db = rusqlite::Connection::open_with_flags(
            &file,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        db.busy_timeout(SQLITE_BUSY_TIMEOUT)?;
        let into = into.to_str().ok_or_else(|| BackupError::Io {
            what: "cannot name in SQL",
            path: into.clone(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not UTF-8"),
        })?;
        db.execute("VACUUM INTO ?1", [into])?;
        Ok(())
    })
    .await
    .map_err(|e| BackupError::Task(e.to_string()))?
}

/// `pg_dump --format=custom` of `url` into `into`, by `program`. The password goes through
/// the environment, not the command line, where other users could read it.
async fn pg_dump(program: &str, url: &str, into: &Path) -> Result<(), BackupError> {
    let mut url = url::Url::parse(url).map_err(|e| BackupError::BadUrl {
        url: super::redacted(url),
        reason: e.to_string(),
    })?;
    let password = url.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    let _ = url.set_password(None);
    let mut command = std::process::Command::new(program);
    command
        .arg("--format=custom")
        .arg("--no-password")
        .arg("--file")
        .arg(into)
        .arg("--dbname")
        .arg(url.as_str())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    let program = program.to_owned();
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .map_err(|e| BackupError::Task(e.to_string()))?
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => BackupError::PgDumpMissing,
            _ => BackupError::Io {
                what: "cannot run",
                path: program.into(),
                source: e,
            },
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(BackupError::PgDump {
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// Syncs the copy, then gives it its name (refusing to replace a file that appeared since),
/// and syncs the directory: its size in bytes.
fn publish(partial: &Path, path: &Path) -> Result<u64, BackupError> {
    let io_error = |what, path: &Path| {
        let path = path.to_owned();
        move |source| BackupError::Io { what, path, source }
    };
    let file = std::fs::File::open(partial).map_err(io_error("cannot open", partial))?;
    file.sync_all().map_err(io_error("cannot sync", partial))?;
    let bytes = file
        .metadata()
        .map_err(io_error("cannot read", partial))?
        .len();
    // A hard link fails where the name is taken, where a rename would replace the file.
    match std::fs::hard_link(partial, path) {
        Ok(()) => {
            std::fs::remove_file(partial).map_err(io_error("cannot remove", partial))?;
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(BackupError::Exists {
                path: path.to_owned(),
            });
        }
        // A file system without hard links.
        Err(_) => std::fs::rename(partial, path).map_err(io_error("cannot rename", partial))?,
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(dir) = std::fs::File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(bytes)
}

/// A scheduled backup: a copy of `store` into `dir` (created if need be) named for `now`,
/// then the oldest backups there beyond the newest `keep` deleted. A failure to delete is
/// logged: the new backup is taken all the same.
pub(crate) async fn take_scheduled(
    store: &Store,
    dir: &Path,
    keep: usize,
    now: SystemTime,
) -> Result<BackupSummary, BackupError> {
    std::fs::create_dir_all(dir).map_err(|source| BackupError::Io {
        what: "cannot create",
        path: dir.to_owned(),
        source,
    })?;
    let path = dir.join(backup_name(now, store.backend()));
    let summary = backup_to(Source::Store(store), &path).await?;
    match prune(dir, keep) {
        Ok(deleted) if !deleted.is_empty() => {
            info!(count = deleted.len(), dir = %dir.display(), "old backups deleted");
        }
        Ok(_) => {}
        Err(e) => warn!(dir = %dir.display(), error = %e, "cannot list old backups"),
    }
    Ok(summary)
}

/// The name of a backup taken at `now`: [`BACKUP_PREFIX`], the UTC time (so that names sort
/// as the backups were taken), and an extension for the backend's format.
pub(crate) fn backup_name(now: SystemTime, backend: Backend) -> String {
    // `2025-01-31T04:05:06Z` as `20250131T040506Z`: no colons, which some tools take for a host.
    let stamp: String = humantime::format_rfc3339_seconds(now)
        .to_string()
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let extension = match backend {
        Backend::Sqlite => "sqlite3",
        Backend::Postgres => "pgdump",
    };
    format!("{BACKUP_PREFIX}{stamp}.{extension}")
}

/// Deletes the oldest backups in `dir` (files named by [`backup_name`]) beyond the newest
/// `keep`: the paths it deleted, oldest first.
pub(crate) fn prune(dir: &Path, keep: usize) -> io::Result<Vec<PathBuf>> {
    let mut backups: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(BACKUP_PREFIX))
        })
        .map(|entry| entry.path())
        .collect();
    // The names hold the time they were taken, fixed-width: their order is the backups'.
    backups.sort();
    let excess = backups.len().saturating_sub(keep);
    let mut deleted = Vec::with_capacity(excess);
    for path in backups.into_iter().take(excess) {
        match std::fs::remove_file(&path) {
            Ok(()) => deleted.push(path),
            Err(e) => warn!(path = %path.display(), error = %e, "cannot delete an old backup"),
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn names_hold_the_utc_time_and_sort_as_taken() {
        assert_eq!(
            backup_name(at(1_738_296_306), Backend::Sqlite),
            "palaver-backup-20250131T040506Z.sqlite3"
        );
        assert_eq!(
            backup_name(at(0), Backend::Postgres),
            "palaver-backup-19700101T000000Z.pgdump"
        );
        let mut names: Vec<String> = [5_000_000_000, 9, 1_738_296_306, 86_400]
            .map(|s| backup_name(at(s), Backend::Sqlite))
            .to_vec();
        names.sort();
        let times: Vec<String> = [9, 86_400, 1_738_296_306, 5_000_000_000]
            .map(|s| backup_name(at(s), Backend::Sqlite))
            .to_vec();
        assert_eq!(names, times);
    }

    #[test]
    fn prune_deletes_the_oldest_backups_beyond_keep_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let days: Vec<String> = (1..=5)
            .map(|d| backup_name(at(d * 86_400), Backend::Sqlite))
            .collect();
        // Written out of order: age is read from the names, not from the files' times.
        for name in days.iter().rev() {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let others = [
            "palaver.db",
            "notes-palaver-backup-1.txt",
            ".palaver-backup-20250101T000000Z.sqlite3.partial-1",
        ];
        for name in others {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        std::fs::create_dir(dir.path().join("palaver-backup-a-directory")).unwrap();

        let deleted = prune(dir.path(), 3).unwrap();
        assert_eq!(
            deleted,
            vec![dir.path().join(&days[0]), dir.path().join(&days[1])]
        );
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut expected: Vec<String> = days[2..]
            .iter()
            .cloned()
            .chain(others.map(String::from))
            .chain(["palaver-backup-a-directory".to_owned()])
            .collect();
        expected.sort();
        assert_eq!(left, expected);

        assert!(prune(dir.path(), 3).unwrap().is_empty(), "nothing beyond 3");
        assert!(prune(&dir.path().join("missing"), 3).is_err());
    }

    /// A scheduled backup of each backend holds what was written before it, and only the
    /// newest `keep` stay.
    #[tokio::test]
    async fn scheduled_backups_copy_the_store_and_keep_the_newest() {
        use crate::store::NewMessage;
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Store::open(&format!(
            "sqlite://{}",
            dir.path().join("palaver.db").display()
        ))
        .await
        .unwrap();
        let postgres = Store::open(&crate::test_services::database())
            .await
            .unwrap();
        for (i, store) in [sqlite, postgres].iter().enumerate() {
            let backups = dir.path().join(format!("backups-{i}"));
            let mut taken = Vec::new();
            for day in 1..=3 {
                let text = format!("day {day}");
                store
                    .insert(NewMessage {
                        room: app::events::LOBBY,
                        author: "ann",
                        sender: None,
                        text: &text,
                        client_offset: None,
                        kind: None,
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                let summary = take_scheduled(store, &backups, 2, at(day as u64 * 86_400))
                    .await
                    .unwrap();
                assert_eq!(summary.backend, store.backend());
                assert!(summary.bytes > 0);
                taken.push(summary.path);
            }
            let mut left: Vec<PathBuf> = std::fs::read_dir(&backups)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            left.sort();
            assert_eq!(
                left,
                taken[1..],
                "the oldest went, and no partial file stayed"
            );
            if store.backend() == Backend::Sqlite {
                // Day 2's copy holds days 1 and 2.
                let copy = rusqlite::Connection::open(&taken[1]).unwrap();
                let texts: Vec<String> = copy
                    .prepare("SELECT text FROM messages ORDER BY id")
                    .unwrap()
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert_eq!(texts, ["day 1", "day 2"]);
            }
            // A second backup under a taken name is refused, and leaves the first whole.
            let before = std::fs::read(&taken[2]).unwrap();
            let again = take_scheduled(store, &backups, 2, at(3 * 86_400)).await;
            assert!(
                matches!(again, Err(BackupError::Exists { .. })),
                "{again:?}"
            );
            assert_eq!(std::fs::read(&taken[2]).unwrap(), before);
            store.close().await;
        }
    }

    /// With no server running, the copy leaves the database's directory as it found it: a
    /// `-wal` or `-shm` left there by another user would keep the server from writing.
    #[tokio::test]
    async fn a_backup_of_a_stopped_server_s_file_leaves_nothing_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let url = format!("sqlite://{}", data.join("palaver.db").display());
        Store::open(&url).await.unwrap().close().await;
        let files = || {
            let mut names: Vec<String> = std::fs::read_dir(&data)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        };
        let before = files();
        assert!(!before.iter().any(|n| n.ends_with("-wal")), "{before:?}");
        let copy = dir.path().join("copy.sqlite3");
        let summary = backup(&url, &copy).await.unwrap();
        assert_eq!(summary.backend, Backend::Sqlite);
        assert_eq!(files(), before);
        let copied = rusqlite::Connection::open(&copy).unwrap();
        let migrations: i64 = copied
            .query_row("SELECT COUNT(*) FROM _sqlx_migrations", [], |r| r.get(0))
            .unwrap();
        assert!(migrations > 0);
    }

    #[tokio::test]
    async fn a_missing_pg_dump_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let into = dir.path().join("x.pgdump");
        let error = pg_dump(
            "palaver-no-such-pg-dump",
            "postgres://palaver@127.0.0.1:1/x",
            &into,
        )
        .await
        .unwrap_err();
        assert!(matches!(error, BackupError::PgDumpMissing), "{error}");
        assert_eq!(error.exit_code(), 1);
    }
}
