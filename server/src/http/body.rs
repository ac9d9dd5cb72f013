//! A request's body streamed into a file of the database (`store::blobs`), within a limit,
//! never held whole: what `POST /imports` and `POST /uploads` share.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use futures_util::StreamExt as _;
use serde_json::json;

use crate::store::Store;
use crate::store::StoreError;
use crate::store::blobs::{BlobId, BlobWriter};

/// Why a body was not stored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("the upload broke off: {0}")]
    BrokeOff(String),
    #[error("the body is over {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the body is empty")]
    Empty,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A JSON refusal, `{"error": code, "message": …}`, as the HTTP routes of files answer.
pub(crate) fn refuse(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": code, "message": message.into()})),
    )
        .into_response()
}

impl BodyError {
    /// The answer that refuses the body: `too_large` words the route's limit, `empty` says
    /// what to send.
    pub(crate) fn refusal(self, too_large: fn(u64) -> Response, empty: &str) -> Response {
        match self {
            BodyError::BrokeOff(m) => refuse(
                StatusCode::BAD_REQUEST,
                "upload_failed",
                format!("the upload broke off: {m}"),
            ),
            BodyError::TooLarge { limit } => too_large(limit),
            BodyError::Empty => refuse(StatusCode::BAD_REQUEST, "empty", empty),
            BodyError::Store(e) => unavailable(e),
        }
    }
}

/// The database failed a file's request: logged, and the client told to try again.
pub(crate) fn unavailable(e: StoreError) -> Response {
    tracing::warn!(error = %e, "a file's storage failed");
    refuse(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the server could not do that just now; try again",
    )
}

/// Streams `body` into the incomplete file `blob`, at most `limit` bytes, showing each piece
/// to `peek` on its way (to keep the first bytes, say), then marks the file whole. Its size.
pub(crate) async fn into_blob(
    store: &Store,
    blob: BlobId,
    body: Body,
    limit: u64,
    mut peek: impl FnMut(&[u8]),
) -> Result<u64, BodyError> {
    let mut stream = body.into_data_stream();
    let mut file = BlobWriter::new(store, blob, usize::try_from(limit).unwrap_or(usize::MAX));
    let mut total: u64 = 0;
    while let Some(data) = stream.next().await {
        let data = data.map_err(|e| BodyError::BrokeOff(e.to_string()))?;
        total += data.len() as u64;
        if total > limit {
            return Err(BodyError::TooLarge { limit });
        }
        peek(&data);
        file.write(&data).await?;
    }
    if total == 0 {
        return Err(BodyError::Empty);
    }
    file.finish().await?;
    Ok(total)
}
