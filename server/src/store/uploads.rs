//! Files attached to messages (migration sqlite 0017 / postgres 0008). The bytes are
//! [`blobs`](crate::store::blobs), in the database, so that every node serves every file and
//! backups hold them. An upload is its uploader's alone until a message carries it; the writer
//! attaches it in the message's own transaction ([`ATTACH`]), and a trigger deletes it, bytes
//! and thumbnail included, with its message.

use app::events::{FileInfo, Thumbnail};

use crate::store::blobs::BlobId;
use crate::store::{Store, StoreError, StoredMessage};

/// Attaches upload `$3` of sender `$4` to message `$2` of conversation `$1`, unless another
/// message carries it already; returns [`INFO_COLUMNS`]. One statement for both backends and
/// both connections (`$n` is positional in SQLite too).
pub(crate) const ATTACH: &str = "UPDATE uploads SET conversation = $1, message = $2
     WHERE id = $3 AND uploader = $4 AND message IS NULL
     RETURNING id, name, bytes, content_type, thumbnail";

/// How long an upload no message carries is kept.
pub(crate) const UNATTACHED_LIFETIME_MS: i64 = 24 * 60 * 60 * 1000;

/// The columns a [`FileInfo`] is made of, in [`file_info`]'s order.
const INFO_COLUMNS: &str = "id, name, bytes, content_type, thumbnail";

const COLUMNS: &str = "id, uploader, blob, name, bytes, content_type, thumbnail, thumb_blob, \
                       created_at, conversation, message";

/// An upload's row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct UploadRow {
    pub(crate) id: i64,
    pub(crate) uploader: String,
    pub(crate) blob: i64,
    pub(crate) name: String,
    pub(crate) bytes: i64,
    pub(crate) content_type: String,
    pub(crate) thumbnail: String,
    pub(crate) thumb_blob: Option<i64>,
    pub(crate) created_at: i64,
    pub(crate) conversation: Option<String>,
    pub(crate) message: Option<i64>,
}

impl UploadRow {
    pub(crate) fn info(&self) -> FileInfo {
        file_info(
            self.id,
            self.name.clone(),
            self.bytes,
            self.content_type.clone(),
            &self.thumbnail,
        )
    }

    pub(crate) fn thumbnail(&self) -> Thumbnail {
        thumbnail_of(&self.thumbnail)
    }
}

/// A file as messages carry it, from its columns.
pub(crate) fn file_info(
    id: i64,
    name: String,
    bytes: i64,
    content_type: String,
    thumbnail: &str,
) -> FileInfo {
    FileInfo {
        id,
        name,
        size: u64::try_from(bytes).unwrap_or(0),
        content_type,
        thumbnail: thumbnail_of(thumbnail),
    }
}

/// How a [`Thumbnail`] is spelled in `uploads.thumbnail`.
pub(crate) fn thumbnail_column(t: Thumbnail) -> &'static str {
    match t {
        Thumbnail::None => "none",
        Thumbnail::Pending => "pending",
        Thumbnail::Ready => "ready",
        Thumbnail::Failed => "failed",
    }
}

fn thumbnail_of(column: &str) -> Thumbnail {
    match column {
        "pending" => Thumbnail::Pending,
        "ready" => Thumbnail::Ready,
        "failed" => Thumbnail::Failed,
        _ => Thumbnail::None,
    }
}

/// What a new upload is.
pub(crate) struct NewUpload<'a> {
    pub(crate) uploader: &'a str,
    pub(crate) blob: BlobId,
    pub(crate) name: &'a str,
    pub(crate) bytes: u64,
    pub(crate) content_type: &'a str,
    pub(crate) thumbnail: Thumbnail,
    pub(crate) now: i64,
}

impl Store {
    /// How many uploads of `uploader`'s no message carries yet.
    pub(crate) async fn pending_uploads(&self, uploader: &str) -> Result<i64, StoreError> {
        let (n,): (i64,) = on_pool!(self, p => sqlx::query_as(
            "SELECT COUNT(*) FROM uploads WHERE uploader = $1 AND message IS NULL",
        )
        .bind(uploader)
        .fetch_one(p)
        .await?);
        Ok(n)
    }

    /// Records an upload whose blob is whole, and keeps the blob for good (until its upload
    /// goes): its row.
    pub(crate) async fn create_upload(&self, u: &NewUpload<'_>) -> Result<UploadRow, StoreError> {
        let sql = format!(
            "INSERT INTO uploads (uploader, blob, name, bytes, content_type, thumbnail, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
        );
        Ok(on_pool!(self, p => {
            let mut tx = p.begin().await?;
            let row: UploadRow = sqlx::query_as(&sql)
                .bind(u.uploader)
                .bind(u.blob.0)
                .bind(u.name)
                .bind(i64::try_from(u.bytes).unwrap_or(i64::MAX))
                .bind(u.content_type)
                .bind(thumbnail_column(u.thumbnail))
                .bind(u.now)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query("UPDATE blobs SET expires_at = $1 WHERE id = $2")
                .bind(i64::MAX)
                .bind(u.blob.0)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            row
        }))
    }

    pub(crate) async fn upload(&self, id: i64) -> Result<Option<UploadRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM uploads WHERE id = $1");
        Ok(on_pool!(self, p => sqlx::query_as(&sql).bind(id).fetch_optional(p).await?))
    }

    /// Records an upload's thumbnail, made (`thumb` is its blob) or not; `None` when the upload
    /// is gone meanwhile (its message deleted) or was told already: the caller then deletes
    /// the thumbnail it made.
    pub(crate) async fn set_thumbnail(
        &self,
        id: i64,
        state: Thumbnail,
        thumb: Option<BlobId>,
    ) -> Result<Option<UploadRow>, StoreError> {
        let sql = format!(
            "UPDATE uploads SET thumbnail = $1, thumb_blob = $2
             WHERE id = $3 AND thumbnail = 'pending' RETURNING {COLUMNS}"
        );
        Ok(on_pool!(self, p => sqlx::query_as(&sql)
            .bind(thumbnail_column(state))
            .bind(thumb.map(|b| b.0))
            .bind(id)
            .fetch_optional(p)
            .await?))
    }

    /// Fills in the files of `rows`, messages of one conversation.
    pub(crate) async fn with_files(&self, rows: &mut [StoredMessage]) -> Result<(), StoreError> {
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return Ok(());
        };
        let (room, low, high) = (
            first.room.clone(),
            first.id.min(last.id),
            first.id.max(last.id),
        );
        let sql = format!(
            "SELECT message, {INFO_COLUMNS} FROM uploads
             WHERE conversation = $1 AND message >= $2 AND message <= $3 ORDER BY message, id"
        );
        let found: Vec<(i64, i64, String, i64, String, String)> = on_pool!(self, p =>
            sqlx::query_as(&sql).bind(&room).bind(low).bind(high).fetch_all(p).await?);
        if found.is_empty() {
            return Ok(());
        }
        for (message, id, name, bytes, content_type, thumbnail) in found {
            if let Some(row) = rows.iter_mut().find(|r| r.id == message) {
                row.files
                    .push(file_info(id, name, bytes, content_type, &thumbnail));
            }
        }
        Ok(())
    }

    /// Whether message `id` is `sender`'s, sent under client offset `offset`.
    pub(crate) async fn sent_with_offset(
        &self,
        id: i64,
        sender: &str,
        offset: &str,
    ) -> Result<bool, StoreError> {
        let found: Option<(i64,)> = on_pool!(self, p => sqlx::query_as(
            "SELECT id FROM messages WHERE id = $1 AND sender = $2 AND client_offset = $3",
        )
        .bind(id)
        .bind(sender)
        .bind(offset)
        .fetch_optional(p)
        .await?);
        Ok(found.is_some())
    }

    /// Uploads no message took, made before `before`: at most 100.
    pub(crate) async fn abandoned_uploads(&self, before: i64) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> = on_pool!(self, p => sqlx::query_as(
            "SELECT id FROM uploads WHERE message IS NULL AND created_at < $1 LIMIT 100",
        )
        .bind(before)
        .fetch_all(p)
        .await?);
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Deletes upload `id`, bytes and thumbnail, unless a message carries it now.
    pub(crate) async fn delete_abandoned_upload(&self, id: i64) -> Result<bool, StoreError> {
        on_pool!(self, p => {
            let mut tx = p.begin().await?;
            let gone: Option<(i64, Option<i64>)> = sqlx::query_as(
                "DELETE FROM uploads WHERE id = $1 AND message IS NULL
                 RETURNING blob, thumb_blob",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((blob, thumb)) = gone else {
                return Ok(false);
            };
            for blob in std::iter::once(blob).chain(thumb) {
                sqlx::query("DELETE FROM blob_chunks WHERE blob = $1")
                    .bind(blob)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM blobs WHERE id = $1")
                    .bind(blob)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::stores;

    async fn upload(store: &Store, uploader: &str, now: i64) -> UploadRow {
        let blob = store
            .create_blob(Some(uploader), "a.txt", now, now + 10)
            .await
            .unwrap();
        store.append_blob_chunk(blob, 0, b"hello").await.unwrap();
        store.complete_blob(blob).await.unwrap();
        store
            .create_upload(&NewUpload {
                uploader,
                blob,
                name: "a.txt",
                bytes: 5,
                content_type: "application/octet-stream",
                thumbnail: Thumbnail::None,
                now,
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_upload_no_message_took_is_deleted_after_its_day_with_its_bytes() {
        for (_dir, store) in stores().await {
            let old = upload(&store, "p-ann", 1_000).await;
            let fresh = upload(&store, "p-ann", 5_000).await;
            assert_eq!(store.pending_uploads("p-ann").await.unwrap(), 2);
            // Recorded, its blob is kept past the blob's own expiry.
            assert_eq!(store.expired_blobs(i64::MAX - 1).await.unwrap(), vec![]);
            assert_eq!(store.abandoned_uploads(2_000).await.unwrap(), vec![old.id]);
            assert!(store.delete_abandoned_upload(old.id).await.unwrap());
            assert_eq!(store.upload(old.id).await.unwrap(), None);
            assert_eq!(store.blob(BlobId(old.blob)).await.unwrap(), None);
            assert_eq!(store.blob_chunk(BlobId(old.blob), 0).await.unwrap(), None);
            assert!(store.upload(fresh.id).await.unwrap().is_some());
            assert_eq!(store.pending_uploads("p-ann").await.unwrap(), 1);
        }
    }
}
