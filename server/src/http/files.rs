//! Jobs' files over HTTP: `POST /imports` takes an archive to import (streamed into the
//! database, then queued as a job), and `GET /files/{id}` serves what a job made (an export)
//! to whoever holds its signed link.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq as _;
use tracing::{info, warn};

use app::events::JobKind;

use crate::accounts;
use crate::http::body::{self, refuse};
use crate::jobs::Queue;
use crate::jobs::files::{FILE_LIFETIME_MS, link_is_good};
use crate::jobs::import::{ImportFormat, ImportPayload};
use crate::session::Keys;
use crate::store::blobs::BlobId;
use crate::store::{Store, now_ms};

/// What the routes need.
#[derive(Clone)]
pub(crate) struct FilesState {
    pub(crate) store: Store,
    pub(crate) keys: Keys,
    pub(crate) admin_token: std::sync::Arc<str>,
    pub(crate) queue: Queue,
    /// The largest archive taken, in bytes.
    pub(crate) max_import_bytes: u64,
}

pub(crate) fn routes(state: FilesState) -> Router {
    Router::new()
        .route("/files/{id}", get(download))
        .route("/imports", post(upload))
        .with_state(state)
}

#[derive(Deserialize)]
struct Link {
    exp: i64,
    sig: String,
}

/// A JSON error: `{"error": code, "message": text}`.
async fn download(
    State(state): State<FilesState>,
    Path(id): Path<i64>,
    Query(link): Query<Link>,
) -> Response {
    let id = BlobId(id);
    if !link_is_good(&state.keys, id, link.exp, &link.sig, now_ms()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "bad_link",
            "this download link is not valid, or has expired: ask for a new one",
        );
    }
    let row = match state.store.blob(id).await {
        Ok(Some(row)) if row.complete == 1 => row,
        Ok(_) => return refuse(StatusCode::NOT_FOUND, "gone", "this file is gone"),
        Err(e) => {
            warn!(error = %e, "reading a file failed");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try again");
        }
    };
    // A chunk at a time from the database, never the whole file in memory.
    let store = state.store.clone();
    let chunks = futures_util::stream::unfold(Some(0i64), move |n| {
        let store = store.clone();
        async move {
            let n = n?;
            match store.blob_chunk(id, n).await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(n + 1))),
                Ok(None) => None,
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        }
    });
    let name = row.name.replace(['"', '\\', '\r', '\n'], "_");
    Response::builder()
        .header(header::CONTENT_TYPE, "application/zip")
        .header(header::CONTENT_LENGTH, row.bytes)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .header(header::CACHE_CONTROL, "private, no-store")
        // Fused: a layer may poll a body once more after its end.
        .body(Body::from_stream(chunks.fuse()))
        .unwrap_or_else(|_| refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal", "no answer"))
}

#[derive(Deserialize)]
struct UploadQuery {
    format: ImportFormat,
    #[serde(default)]
    name: Option<String>,
}

/// Who uploads: a person (by their session cookie or token), or a moderator (by the admin
/// token, or an administrator's session: imports are administrators' business on `/admin`).
enum Uploader {
    Person(String),
    Moderator,
}

async fn uploader(state: &FilesState, headers: &HeaderMap) -> Option<Uploader> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = bearer else {
        let presented = accounts::presented(headers)??;
        let me = accounts::signed_in(&state.store, &presented).await.ok()?;
        return Some(if me.role == app::events::Role::Admin {
            Uploader::Moderator
        } else {
            Uploader::Person(me.person)
        });
    };
    if bool::from(token.as_bytes().ct_eq(state.admin_token.as_bytes())) {
        return Some(Uploader::Moderator);
    }
    let claims = state.keys.verify(token, now_ms()).ok()?;
    // A name with a password signs in with it; its tokens no longer work.
    let account = state.store.account(&claims.person).await.ok()?;
    account
        .is_none_or(|a| a.password_hash.is_none())
        .then_some(Uploader::Person(claims.person))
}

/// `POST /imports?format=slack|palaver`: the archive is the body. Answers `202` with the
/// import job's id once the archive is stored; the job runs on.
async fn upload(
    State(state): State<FilesState>,
    Query(query): Query<UploadQuery>,
    request: Request,
) -> Response {
    let Some(who) = uploader(&state, request.headers()).await else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "sign in, or send your session token (or the admin token) as `Authorization: Bearer …`",
        );
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_import_bytes) {
        return too_large(state.max_import_bytes);
    }
    let owner = match &who {
        Uploader::Person(p) => Some(p.as_str()),
        Uploader::Moderator => None,
    };
    let now = now_ms();
    let name = query.name.as_deref().unwrap_or("import.zip");
    let blob = match state
        .store
        .create_blob(owner, name, now, now + FILE_LIFETIME_MS)
        .await
    {
        Ok(id) => id,
        Err(e) => {
            warn!(error = %e, "storing an upload failed");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try again");
        }
    };
    let stored = receive(&state, blob, request.into_body()).await;
    let bytes = match stored {
        Ok(bytes) => bytes,
        Err(refusal) => {
            if let Err(e) = state.store.delete_blob(blob).await {
                warn!(error = %e, "deleting a refused upload failed");
            }
            return refusal;
        }
    };
    let payload = ImportPayload {
        blob: blob.0,
        format: query.format,
        moderator: matches!(who, Uploader::Moderator),
    };
    match state
        .queue
        .enqueue(JobKind::Import, owner, &payload, None)
        .await
    {
        Ok(job) => {
            info!(%job, bytes, format = ?query.format, "import queued");
            (StatusCode::ACCEPTED, Json(json!({"job": job.0}))).into_response()
        }
        Err(e) => {
            warn!(error = %e, "queueing an import failed");
            let _ = state.store.delete_blob(blob).await;
            refuse(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try again")
        }
    }
}

fn too_large(max: u64) -> Response {
    refuse(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("an archive may be at most {max} bytes"),
    )
}

/// Streams `body` into file `blob`: its size, or the answer that refuses it.
async fn receive(state: &FilesState, blob: BlobId, body: Body) -> Result<u64, Response> {
    body::into_blob(&state.store, blob, body, state.max_import_bytes, |_| {})
        .await
        .map_err(|e| {
            e.refusal(
                too_large,
                "the upload is empty: send the archive as the request's body",
            )
        })
}
