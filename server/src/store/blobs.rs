//! Files that jobs take in and give out (see migration 0011's `blobs`), kept in chunks of at
//! most [`CHUNK`] bytes, so that neither writing nor reading one holds it whole in memory.

use crate::store::{Store, StoreError, on_pool};

/// A file's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct BlobId(pub(crate) i64);

impl std::fmt::Display for BlobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The most bytes in one chunk.
pub(crate) const CHUNK: usize = 1 << 20;

/// A file's record.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct BlobRow {
    pub(crate) id: i64,
    pub(crate) owner: Option<String>,
    pub(crate) name: String,
    pub(crate) bytes: i64,
    pub(crate) complete: i64,
    pub(crate) expires_at: i64,
}

impl Store {
    /// A new, empty file of `owner`'s, deleted after `expires_at`.
    pub(crate) async fn create_blob(
        &self,
        owner: Option<&str>,
        name: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<BlobId, StoreError> {
        let (id,): (i64,) = on_pool!(self, p => sqlx::query_as(
            "INSERT INTO blobs (owner, name, created_at, expires_at) VALUES ($1, $2, $3, $4)
             RETURNING id",
        )
        .bind(owner)
        .bind(name)
        .bind(now)
        .bind(expires_at)
        .fetch_one(p)
        .await?);
        Ok(BlobId(id))
    }

    /// Adds chunk `n` (from 0, in order) to an incomplete file.
    pub(crate) async fn append_blob_chunk(
        &self,
        id: BlobId,
        n: i64,
        data: &[u8],
    ) -> Result<(), StoreError> {
        on_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("INSERT INTO blob_chunks (blob, n, data) VALUES ($1, $2, $3)")
                .bind(id.0)
                .bind(n)
                .bind(data)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE blobs SET bytes = bytes + $1 WHERE id = $2")
                .bind(data.len() as i64)
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Marks a file whole: readers take only whole ones.
    pub(crate) async fn complete_blob(&self, id: BlobId) -> Result<(), StoreError> {
        on_pool!(self, p => sqlx::query("UPDATE blobs SET complete = 1 WHERE id = $1")
            .bind(id.0)
            .execute(p)
            .await
            .map(drop)?);
        Ok(())
    }

    pub(crate) async fn blob(&self, id: BlobId) -> Result<Option<BlobRow>, StoreError> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT id, owner, name, bytes, complete, expires_at FROM blobs WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(p)
        .await?))
    }

    /// Chunk `n` of a file, `None` past its end.
    pub(crate) async fn blob_chunk(
        &self,
        id: BlobId,
        n: i64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let row: Option<(Vec<u8>,)> = on_pool!(self, p => sqlx::query_as(
            "SELECT data FROM blob_chunks WHERE blob = $1 AND n = $2",
        )
        .bind(id.0)
        .bind(n)
        .fetch_optional(p)
        .await?);
        Ok(row.map(|(d,)| d))
    }

    /// Deletes a file.
    pub(crate) async fn delete_blob(&self, id: BlobId) -> Result<(), StoreError> {
        on_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("DELETE FROM blob_chunks WHERE blob = $1")
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM blobs WHERE id = $1")
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The files past their time.
    pub(crate) async fn expired_blobs(&self, now: i64) -> Result<Vec<BlobId>, StoreError> {
        let rows: Vec<(i64,)> = on_pool!(self, p => sqlx::query_as(
            "SELECT id FROM blobs WHERE expires_at < $1 LIMIT 100",
        )
        .bind(now)
        .fetch_all(p)
        .await?);
        Ok(rows.into_iter().map(|(id,)| BlobId(id)).collect())
    }
}

/// Writes a file from pieces of any size, as they arrive (a request's body), in chunks of
/// [`CHUNK`] bytes: it holds at most one chunk.
pub(crate) struct BlobWriter<'a> {
    store: &'a Store,
    blob: BlobId,
    n: i64,
    chunk: Vec<u8>,
}

impl<'a> BlobWriter<'a> {
    /// A writer of the incomplete file `blob`, expecting about `expected` bytes at most.
    pub(crate) fn new(store: &'a Store, blob: BlobId, expected: usize) -> BlobWriter<'a> {
        BlobWriter {
            store,
            blob,
            n: 0,
            chunk: Vec::with_capacity(CHUNK.min(expected)),
        }
    }

    pub(crate) async fn write(&mut self, mut data: &[u8]) -> Result<(), StoreError> {
        while !data.is_empty() {
            let take = (CHUNK - self.chunk.len()).min(data.len());
            self.chunk.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.chunk.len() == CHUNK {
                self.flush().await?;
            }
        }
        Ok(())
    }

    /// Stores what is left and marks the file whole.
    pub(crate) async fn finish(mut self) -> Result<(), StoreError> {
        if !self.chunk.is_empty() {
            self.flush().await?;
        }
        self.store.complete_blob(self.blob).await
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        self.store
            .append_blob_chunk(self.blob, self.n, &self.chunk)
            .await?;
        self.n += 1;
        self.chunk.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::store::tests::stores;

    #[tokio::test]
    async fn a_file_is_written_and_read_back_in_chunks_then_expires() {
        for (_dir, store) in stores().await {
            let id = store
                .create_blob(Some("p1"), "x.zip", 1, 100)
                .await
                .unwrap();
            store.append_blob_chunk(id, 0, b"hello ").await.unwrap();
            store.append_blob_chunk(id, 1, b"world").await.unwrap();
            let row = store.blob(id).await.unwrap().unwrap();
            assert_eq!((row.bytes, row.complete), (11, 0));
            store.complete_blob(id).await.unwrap();
            assert_eq!(store.blob(id).await.unwrap().unwrap().complete, 1);
            assert_eq!(store.blob_chunk(id, 1).await.unwrap().unwrap(), b"world");
            assert_eq!(store.blob_chunk(id, 2).await.unwrap(), None);
            assert!(
                store.append_blob_chunk(id, 1, b"again").await.is_err(),
                "a chunk is written once"
            );
            assert_eq!(store.expired_blobs(100).await.unwrap(), vec![]);
            assert_eq!(store.expired_blobs(101).await.unwrap(), vec![id]);
            store.delete_blob(id).await.unwrap();
            assert_eq!(store.blob(id).await.unwrap(), None);
            assert_eq!(store.blob_chunk(id, 0).await.unwrap(), None);
        }
    }
}
