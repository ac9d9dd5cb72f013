//! Files attached to messages over HTTP. `POST /uploads?name=…` takes a file (the body,
//! streamed into the database a chunk at a time) from a signed-in account; `GET
//! /uploads/{id}/{name}` and `/uploads/{id}/thumbnail/{name}` serve it, and its thumbnail, to
//! whoever may read the conversation of the message that carries it (an upload no message
//! carries yet, to its uploader). To anyone else a file is missing: 404, as a room they may
//! not read does not exist.
//!
//! A file's type is found in its first bytes, never taken from its name or the request; only
//! PNG, JPEG, GIF and WebP are served as what they are (and shown inline), everything else as
//! an attachment of no type, with `nosniff` and a sandboxing policy.

use std::time::Instant;

use app::events::{
    JobKind, LOBBY, MAX_FILE_NAME_CHARS, MAX_PENDING_UPLOADS, Thumbnail, is_inline_image,
};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use futures_util::StreamExt as _;
use serde::Deserialize;
use tracing::{info, warn};

use crate::accounts;
use crate::config::GuestPolicy;
use crate::conversation::{Conversation, ConversationId};
use crate::http::body::{self, refuse, unavailable};
use crate::http::peer::{self, Source};
use crate::jobs::thumbnails::ThumbnailPayload;
use crate::state::Chat;
use crate::state::limits::{Action, Payer};
use crate::store::blobs::BlobId;
use crate::store::uploads::{NewUpload, UNATTACHED_LIFETIME_MS, UploadRow};
use crate::store::{StoreError, now_ms};

/// How many of a file's first bytes its type is read from.
const SNIFF_BYTES: usize = 8 * 1024;

#[derive(Clone)]
struct Uploads {
    chat: Chat,
    /// The largest file taken, in bytes.
    limit: u64,
}

pub(crate) fn routes(chat: Chat, limit: u64) -> Router {
    Router::new()
        .route("/uploads", post(upload))
        .route("/uploads/{id}/{name}", get(download))
        .route("/uploads/{id}/thumbnail/{name}", get(thumbnail))
        .with_state(Uploads { chat, limit })
}

fn too_large(limit: u64) -> Response {
    refuse(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "a file may be at most {} ({limit} bytes)",
            app::events::size_text(limit)
        ),
    )
}

/// The signed-in person the session cookie names, if any.
async fn person(chat: &Chat, headers: &HeaderMap) -> Option<String> {
    let presented = accounts::presented(headers).flatten()?;
    accounts::signed_in(&chat.store, &presented)
        .await
        .ok()
        .map(|me| me.person)
}

#[derive(Deserialize)]
struct UploadQuery {
    #[serde(default)]
    name: Option<String>,
}

/// A file's name as kept: its last path component, without control characters, at most
/// [`MAX_FILE_NAME_CHARS`]; `file` when nothing is left.
fn clean_name(name: Option<&str>) -> String {
    let name = name.unwrap_or_default();
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let kept: String = last
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_FILE_NAME_CHARS)
        .collect();
    let kept = kept.trim();
    if kept.is_empty() || kept == "." || kept == ".." {
        "file".to_owned()
    } else {
        kept.to_owned()
    }
}

/// The type of a file that begins with `head`: found in its content, or
/// `application/octet-stream`.
fn content_type(head: &[u8]) -> &'static str {
    infer::get(head).map_or("application/octet-stream", |t| t.mime_type())
}

/// `POST /uploads?name=…`: the file is the body. Answers `201` with its [`FileInfo`].
async fn upload(
    State(uploads): State<Uploads>,
    Query(query): Query<UploadQuery>,
    request: Request,
) -> Response {
    let chat = &uploads.chat;
    let (parts, body) = request.into_parts();
    let Some(person) = person(chat, &parts.headers).await else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "sign_in_required",
            "sign in to share files: guests cannot",
        );
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > uploads.limit) {
        return too_large(uploads.limit);
    }
    let payer = Payer {
        person: Some(&person),
        source: peer::client_ip(&parts, &chat.trusted_proxies).map(Source::of),
        socket: "",
    };
    if let Err(wait) = chat
        .limits
        .charge(Action::Upload, &payer, 1, Instant::now())
    {
        let mut response = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many files at once; try again later",
        );
        if let Ok(secs) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, secs);
        }
        return response;
    }
    match chat.store.pending_uploads(&person).await {
        Ok(n) if n >= MAX_PENDING_UPLOADS as i64 => {
            return refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_pending",
                format!(
                    "you hold {MAX_PENDING_UPLOADS} files that no message carries yet: send or \
                     drop some first"
                ),
            );
        }
        Ok(_) => {}
        Err(e) => return unavailable(e),
    }
    let name = clean_name(query.name.as_deref());
    let now = now_ms();
    // Until its upload is recorded, the blob expires like any unfinished one.
    let blob = match chat
        .store
        .create_blob(Some(&person), &name, now, now + UNATTACHED_LIFETIME_MS)
        .await
    {
        Ok(blob) => blob,
        Err(e) => return unavailable(e),
    };
    let (bytes, head) = match receive(&uploads, blob, body).await {
        Ok(received) => received,
        Err(refusal) => {
            if let Err(e) = chat.store.delete_blob(blob).await {
                warn!(error = %e, "deleting a refused upload failed");
            }
            return refusal;
        }
    };
    let content_type = content_type(&head);
    let thumbnail = if is_inline_image(content_type) {
        Thumbnail::Pending
    } else {
        Thumbnail::None
    };
    let row = match chat
        .store
        .create_upload(&NewUpload {
            uploader: &person,
            blob,
            name: &name,
            bytes,
            content_type,
            thumbnail,
            now,
        })
        .await
    {
        Ok(row) => row,
        Err(e) => {
            let _ = chat.store.delete_blob(blob).await;
            return unavailable(e);
        }
    };
    if thumbnail == Thumbnail::Pending {
        let payload = ThumbnailPayload { upload: row.id };
        // Not the uploader's job to watch: `file ready` tells of it.
        if let Err(e) = chat
            .jobs
            .enqueue(JobKind::Thumbnail, None, &payload, None)
            .await
        {
            warn!(error = %e, upload = row.id, "queueing a thumbnail failed");
        }
    }
    info!(upload = row.id, bytes, content_type, "file uploaded");
    (StatusCode::CREATED, Json(row.info())).into_response()
}

/// Streams `body` into blob `blob`: its size and its first bytes, or the answer that refuses it.
async fn receive(uploads: &Uploads, blob: BlobId, body: Body) -> Result<(u64, Vec<u8>), Response> {
    let mut head: Vec<u8> = Vec::new();
    let total = body::into_blob(&uploads.chat.store, blob, body, uploads.limit, |data| {
        let take = SNIFF_BYTES.saturating_sub(head.len()).min(data.len());
        head.extend_from_slice(&data[..take]);
    })
    .await
    .map_err(|e| {
        e.refusal(
            too_large,
            "the file is empty: send it as the request's body",
        )
    })?;
    Ok((total, head))
}

/// Whether `person` (`None`: a guest) may read upload `row`.
async fn may_read(chat: &Chat, row: &UploadRow, person: Option<&str>) -> Result<bool, StoreError> {
    let Some(conversation) = &row.conversation else {
        return Ok(person == Some(row.uploader.as_str()));
    };
    let Ok(id) = ConversationId::parse(conversation.as_str()) else {
        return Ok(false);
    };
    Ok(match (id.conversation(), person) {
        (Conversation::Dm { .. }, Some(person)) => id.is_party(person),
        (Conversation::Dm { .. }, None) => false,
        (Conversation::Room(LOBBY), None) => chat.accounts.guests != GuestPolicy::Off,
        (Conversation::Room(_), None) => false,
        (Conversation::Room(LOBBY), Some(_)) => true,
        (Conversation::Room(name), Some(person)) => match chat.store.room_rules(name).await? {
            Some(rules) if !rules.private => true,
            Some(_) => chat.store.is_member(name, person).await?,
            None => false,
        },
    })
}

#[derive(Deserialize)]
struct FilePath {
    id: i64,
    #[allow(dead_code)]
    name: String,
}

async fn download(
    State(uploads): State<Uploads>,
    Path(path): Path<FilePath>,
    headers: HeaderMap,
) -> Response {
    serve(&uploads.chat, path.id, &headers, false).await
}

async fn thumbnail(
    State(uploads): State<Uploads>,
    Path(path): Path<FilePath>,
    headers: HeaderMap,
) -> Response {
    serve(&uploads.chat, path.id, &headers, true).await
}

fn missing() -> Response {
    refuse(StatusCode::NOT_FOUND, "not_found", "no such file")
}

/// Serves upload `id` (its thumbnail, with `thumb`) to whoever may read it.
async fn serve(chat: &Chat, id: i64, headers: &HeaderMap, thumb: bool) -> Response {
    let row = match chat.store.upload(id).await {
        Ok(Some(row)) => row,
        Ok(None) => return missing(),
        Err(e) => return unavailable(e),
    };
    let me = person(chat, headers).await;
    match may_read(chat, &row, me.as_deref()).await {
        Ok(true) => {}
        Ok(false) => return missing(),
        Err(e) => return unavailable(e),
    }
    let (blob, content_type, inline) = if thumb {
        match (row.thumbnail(), row.thumb_blob) {
            (Thumbnail::Ready, Some(blob)) => {
                (BlobId(blob), thumbnail_type(chat, blob).await, true)
            }
            _ => return missing(),
        }
    } else if is_inline_image(&row.content_type) {
        (BlobId(row.blob), row.content_type.clone(), true)
    } else {
        (
            BlobId(row.blob),
            "application/octet-stream".to_owned(),
            false,
        )
    };
    let bytes = match chat.store.blob(blob).await {
        Ok(Some(b)) if b.complete == 1 => b.bytes,
        Ok(_) => return missing(),
        Err(e) => return unavailable(e),
    };
    let store = chat.store.clone();
    // A chunk at a time from the database, never the whole file in memory.
    let chunks = futures_util::stream::unfold(Some(0i64), move |n| {
        let store = store.clone();
        async move {
            let n = n?;
            match store.blob_chunk(blob, n).await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(n + 1))),
                Ok(None) => None,
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, bytes)
        .header(header::CONTENT_DISPOSITION, disposition(inline, &row.name))
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        )
        // Never in a shared cache: whether it may be read depends on who asks.
        .header(header::CACHE_CONTROL, "private, max-age=3600")
        // Fused: a layer may poll a body once more after its end.
        .body(Body::from_stream(chunks.fuse()))
        .unwrap_or_else(|_| missing())
}

/// A thumbnail's type, from its first bytes (it is what the thumbnail job wrote: PNG or JPEG).
async fn thumbnail_type(chat: &Chat, blob: i64) -> String {
    match chat.store.blob_chunk(BlobId(blob), 0).await {
        Ok(Some(head)) if is_inline_image(content_type(&head)) => content_type(&head).to_owned(),
        _ => "application/octet-stream".to_owned(),
    }
}

/// `Content-Disposition` for `name`: `inline` or `attachment`, with an ASCII `filename` for old
/// clients and the exact one as RFC 5987's `filename*`.
fn disposition(inline: bool, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let how = if inline { "inline" } else { "attachment" };
    format!(
        "{how}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        app::events::path_segment(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_keeps_its_last_part_without_controls() {
        assert_eq!(clean_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_name(Some("C:\\a\\b.txt")), "b.txt");
        assert_eq!(clean_name(Some("a\u{0}b\nc.png")), "abc.png");
        assert_eq!(clean_name(Some("  ")), "file");
        assert_eq!(clean_name(None), "file");
        assert_eq!(clean_name(Some("..")), "file");
        assert_eq!(
            clean_name(Some(&"x".repeat(500))).chars().count(),
            MAX_FILE_NAME_CHARS
        );
    }

    #[test]
    fn the_type_comes_from_the_content() {
        assert_eq!(content_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(
            content_type(b"<html><script>alert(1)</script>"),
            "text/html"
        );
        assert!(!is_inline_image(content_type(b"<svg onload=alert(1)>")));
        assert_eq!(content_type(b"just text"), "application/octet-stream");
    }

    #[test]
    fn the_disposition_names_the_file_both_ways() {
        assert_eq!(
            disposition(false, "r\u{e9}sum\u{e9} \"1\".pdf"),
            "attachment; filename=\"r_sum_ _1_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.pdf"
        );
        assert!(disposition(true, "a.png").starts_with("inline; "));
    }
}
