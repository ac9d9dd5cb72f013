//! Moving jobs' files between disk and the database's `blobs` (see `store::blobs`), a chunk at
//! a time, and the signed links that let a browser download one.

use std::path::Path;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::session::Keys;
use crate::store::blobs::{BlobId, CHUNK};
use crate::store::{Store, StoreError};

/// How long a download link is good for.
pub(crate) const LINK_LIFETIME_MS: i64 = 24 * 60 * 60 * 1000;
/// How long a job's file is kept.
pub(crate) const FILE_LIFETIME_MS: i64 = 7 * 24 * 60 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub(crate) enum FileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("no such file")]
    Missing,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Stores the file at `path` as `name`, of `owner`, until `expires_at`.
pub(crate) async fn save(
    store: &Store,
    path: &Path,
    owner: Option<&str>,
    name: &str,
    now: i64,
    expires_at: i64,
) -> Result<BlobId, FileError> {
    let mut file = tokio::fs::File::open(path).await.map_err(io(path))?;
    let id = store.create_blob(owner, name, now, expires_at).await?;
    let mut buf = vec![0u8; CHUNK];
    let mut n = 0;
    loop {
        let mut filled = 0;
        while filled < CHUNK {
            let read = file.read(&mut buf[filled..]).await.map_err(io(path))?;
            if read == 0 {
                break;
            }
            filled += read;
        }
        if filled == 0 {
            break;
        }
        store.append_blob_chunk(id, n, &buf[..filled]).await?;
        n += 1;
    }
    store.complete_blob(id).await?;
    Ok(id)
}

/// Writes a whole stored file to `path`: its size in bytes.
pub(crate) async fn spool(store: &Store, id: BlobId, path: &Path) -> Result<u64, FileError> {
    let row = store.blob(id).await?.ok_or(FileError::Missing)?;
    if row.complete == 0 {
        return Err(FileError::Missing);
    }
    let mut file = tokio::fs::File::create(path).await.map_err(io(path))?;
    let mut bytes = 0;
    let mut n = 0;
    while let Some(chunk) = store.blob_chunk(id, n).await? {
        file.write_all(&chunk).await.map_err(io(path))?;
        bytes += chunk.len() as u64;
        n += 1;
    }
    file.flush().await.map_err(io(path))?;
    Ok(bytes)
}

/// Deletes the files past their time (exports no longer offered, archives never imported,
/// uploads no message took within a day), every ten minutes, forever.
pub(crate) async fn sweep(store: Store) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        match store.expired_blobs(crate::store::now_ms()).await {
            Ok(ids) => {
                for id in ids {
                    if let Err(e) = store.delete_blob(id).await {
                        tracing::warn!(error = %e, "deleting an expired file failed");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "looking for expired files failed"),
        }
        let before = crate::store::now_ms() - crate::store::uploads::UNATTACHED_LIFETIME_MS;
        match store.abandoned_uploads(before).await {
            Ok(ids) => {
                for id in ids {
                    if let Err(e) = store.delete_abandoned_upload(id).await {
                        tracing::warn!(error = %e, "deleting an unsent upload failed");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "looking for unsent uploads failed"),
        }
    }
}

fn terms(id: BlobId, expires_at: i64) -> String {
    format!("file:{id}:{expires_at}")
}

/// A link to download file `id`, good for [`LINK_LIFETIME_MS`] from `now`.
pub(crate) fn download_link(keys: &Keys, id: BlobId, now: i64) -> String {
    let expires_at = now + LINK_LIFETIME_MS;
    let sig = keys.tag(&terms(id, expires_at));
    format!("/files/{id}?exp={expires_at}&sig={sig}")
}

/// Whether a link's `exp` and `sig` are this server's for file `id`, and still good at `now`.
pub(crate) fn link_is_good(keys: &Keys, id: BlobId, expires_at: i64, sig: &str, now: i64) -> bool {
    expires_at > now && keys.check_tag(&terms(id, expires_at), sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_good_until_it_expires_and_only_for_its_file() {
        let keys = Keys::new("secret");
        let link = download_link(&keys, BlobId(7), 1_000);
        let query = link.split_once('?').unwrap().1;
        let exp: i64 = query.split('&').next().unwrap()[4..].parse().unwrap();
        let sig = query.split_once("&sig=").unwrap().1;
        assert_eq!(exp, 1_000 + LINK_LIFETIME_MS);
        assert!(link_is_good(&keys, BlobId(7), exp, sig, exp - 1));
        assert!(!link_is_good(&keys, BlobId(7), exp, sig, exp), "expired");
        assert!(!link_is_good(&keys, BlobId(8), exp, sig, 0), "another file");
        assert!(
            !link_is_good(&keys, BlobId(7), exp + 1, sig, 0),
            "a later expiry"
        );
        assert!(!link_is_good(&Keys::new("other"), BlobId(7), exp, sig, 0));
    }

    #[tokio::test]
    async fn a_file_goes_in_and_comes_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("f.db").display());
        let store = Store::open(&url).await.unwrap();
        let data: Vec<u8> = (0..CHUNK * 2 + 17).map(|i| (i % 251) as u8).collect();
        let from = dir.path().join("in.bin");
        std::fs::write(&from, &data).unwrap();
        let id = save(&store, &from, Some("p"), "in.bin", 0, 10)
            .await
            .unwrap();
        let to = dir.path().join("out.bin");
        assert_eq!(spool(&store, id, &to).await.unwrap(), data.len() as u64);
        assert_eq!(std::fs::read(&to).unwrap(), data);
        assert!(matches!(
            spool(&store, BlobId(999), &to).await,
            Err(FileError::Missing)
        ));
    }
}
