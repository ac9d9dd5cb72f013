//! People's pictures: `POST /avatar` (the image is the body) and `DELETE /avatar` for one's
//! own, `GET /avatars/<name>` for anyone's. Only PNG, JPEG, GIF and WebP, recognised by their
//! first bytes whatever the request says, so that nothing else (an SVG with a script, an HTML
//! page) is ever served from the site's origin.

use app::events::{MAX_AVATAR_BYTES, Main, Namespace as _, ProfileChanged, name_key};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tracing::{info, warn};

use crate::accounts;
use crate::cluster::SocketIo;
use crate::http::peer::{self, Source};
use crate::socket::emit::broadcast;
use crate::state::Chat;
use crate::state::limits::{Action, Payer};
use crate::store::now_ms;
use crate::store::profiles::Avatar;

#[derive(Clone)]
struct Avatars {
    chat: Chat,
    io: SocketIo,
}

pub(crate) fn routes(chat: Chat, io: SocketIo) -> Router {
    Router::new()
        .route(
            "/avatar",
            post(upload)
                .delete(remove)
                .layer(DefaultBodyLimit::max(MAX_AVATAR_BYTES)),
        )
        .route("/avatars/{name}", get(show))
        .with_state(Avatars { chat, io })
}

/// `{"error": code, "message": text}` with `status`.
fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": code, "message": message})),
    )
        .into_response()
}

/// The image type `bytes` begin like, if it is one served here.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// The person the request is from: a signed-in account (the cookie), or a name held by the
/// token in `Authorization: Bearer`.
async fn requester(chat: &Chat, headers: &HeaderMap) -> Option<String> {
    if let Some(presented) = accounts::presented(headers).flatten() {
        return accounts::signed_in(&chat.store, &presented)
            .await
            .ok()
            .map(|me| me.person);
    }
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .trim();
    let claims = chat.keys.verify(token, now_ms()).ok()?;
    // A name with a password signs in with it; its tokens no longer work.
    let account = chat.store.account(&claims.person).await.ok()??;
    (account.password_hash.is_none() && !account.banned).then_some(claims.person)
}

async fn upload(
    State(avatars): State<Avatars>,
    parts: axum::http::request::Parts,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(bytes) = body else {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!("a picture is at most {} KiB", MAX_AVATAR_BYTES / 1024),
        );
    };
    let Some(content_type) = image_type(&bytes) else {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_an_image",
            "send a PNG, JPEG, GIF or WebP picture",
        );
    };
    let avatar = Avatar {
        content_type: content_type.to_owned(),
        bytes: bytes.to_vec(),
    };
    change(&avatars, &parts, Some(&avatar)).await
}

async fn remove(State(avatars): State<Avatars>, parts: axum::http::request::Parts) -> Response {
    change(&avatars, &parts, None).await
}

/// Sets or removes the requester's picture, and tells everyone.
async fn change(
    avatars: &Avatars,
    parts: &axum::http::request::Parts,
    avatar: Option<&Avatar>,
) -> Response {
    let chat = &avatars.chat;
    let Some(person) = requester(chat, &parts.headers).await else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "sign_in_required",
            "sign in first",
        );
    };
    let source = peer::client_ip(parts, &chat.trusted_proxies).map(Source::of);
    let payer = Payer {
        person: Some(&person),
        source,
        socket: "",
    };
    if let Err(wait) = chat
        .limits
        .charge(Action::Profile, &payer, 1, std::time::Instant::now())
    {
        let mut response = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many changes; try again later",
        );
        if let Ok(secs) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, secs);
        }
        return response;
    }
    let profile = match chat.store.set_avatar(&person, avatar, now_ms()).await {
        Ok(Some(profile)) => profile,
        Ok(None) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "sign_in_required",
                "sign in first",
            );
        }
        Err(e) => {
            warn!(error = %e, "keeping a picture failed");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the server could not do that just now; try again",
            );
        }
    };
    if let Some(main) = avatars.io.of(Main::PATH) {
        let _ = broadcast(main, &ProfileChanged(profile.clone())).await;
    }
    info!(
        bytes = avatar.map_or(0, |a| a.bytes.len()),
        "picture changed"
    );
    axum::Json(profile).into_response()
}

async fn show(State(avatars): State<Avatars>, Path(name): Path<String>) -> Response {
    let avatar = match avatars.chat.store.avatar(&name_key(&name)).await {
        Ok(Some(avatar)) => avatar,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            warn!(error = %e, "reading a picture failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    // Kept only if it still is an image this route serves.
    let Some(content_type) = image_type(&avatar.bytes) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = avatar.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The URL names the version (`?v=`): a new picture is a new URL.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_four_image_types_are_recognised() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(image_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(image_type(b"GIF89a..."), Some("image/gif"));
        assert_eq!(image_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        for other in [
            &b"<svg onload=alert(1)>"[..],
            b"<html>",
            b"",
            b"RIFF\0\0\0\0WAVE",
        ] {
            assert_eq!(image_type(other), None);
        }
    }
}
