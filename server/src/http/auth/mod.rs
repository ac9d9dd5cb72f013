//! `/auth/…`: signing up, in and out, setting a password, using a reset code (the contract is
//! `app::auth`). Each route takes JSON, runs its flow in `accounts`, sets or clears the
//! session cookie, and signs out the sockets of the sessions the flow ended.
//!
//! Cross-site requests: the cookie is SameSite=Strict, the Origin check covers these paths
//! (`origin.rs`), and a body must be `application/json`, which no page of another site can
//! send here without a preflight this server never grants.

use app::auth::{AuthError, AuthFailure, ResetPassword, SetPassword, SignIn, SignUp};
use app::events::{Main, Namespace as _};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::de::DeserializeOwned;

mod flows;

use crate::accounts;
use crate::cluster::SocketIo;
use crate::conversation::person_room;
use crate::http::peer::{self, Source};
use crate::socket::sessions::sign_out_sockets;
use crate::state::Chat;
use flows::{Issued, Requester};

/// The largest body a route takes: a name, a password of at most 1 KiB, and a code.
const MAX_BODY_BYTES: usize = 4 * 1024;

#[derive(Clone)]
struct Auth {
    chat: Chat,
    io: SocketIo,
}

pub(crate) fn routes(chat: Chat, io: SocketIo) -> Router {
    Router::new()
        .route("/auth/sign-up", post(sign_up))
        .route("/auth/sign-in", post(sign_in))
        .route("/auth/sign-out", post(sign_out))
        .route("/auth/password", post(password))
        .route("/auth/reset", post(reset))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(Auth { chat, io })
}

/// An [`AuthError`] as an HTTP answer.
struct Failure(AuthError);

impl From<AuthError> for Failure {
    fn from(e: AuthError) -> Failure {
        Failure(e)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(AuthFailure::from(self.0))).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// The JSON body, refusing anything that is not `application/json`.
fn body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, AuthError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(AuthError::BadRequest {
            detail: "send JSON, as `Content-Type: application/json`".to_owned(),
        });
    }
    let body = body.map_err(|e| AuthError::BadRequest {
        detail: e.body_text(),
    })?;
    serde_json::from_slice(&body).map_err(|e| AuthError::BadRequest {
        detail: e.to_string(),
    })
}

fn requester(chat: &Chat, parts: &Parts) -> Requester {
    Requester {
        source: peer::client_ip(parts, &chat.trusted_proxies).map(Source::of),
        device: accounts::describe_device(
            parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok()),
        ),
        presented: accounts::presented(&parts.headers).flatten(),
    }
}

/// Whether the browser reached the site over HTTPS: the public URL says so, or the proxy in
/// front does. A cookie marked `Secure` over plain HTTP would never come back.
fn secure(chat: &Chat, parts: &Parts) -> bool {
    let public = chat
        .webhooks
        .public_base
        .as_deref()
        .is_some_and(|b| b.starts_with("https://"));
    let proxied = parts
        .headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    public || proxied
}

/// The answer of a flow that signed in: the session in the cookie, and the ended sessions'
/// sockets signed out.
async fn answer(auth: &Auth, parts: &Parts, issued: Result<Issued, AuthError>) -> Response {
    let issued = match issued {
        Ok(issued) => issued,
        Err(e) => return Failure(e).into_response(),
    };
    sign_out_sockets(&auth.io, &issued.ended, "your password changed").await;
    let cookie = accounts::set_cookie(&issued.cookie, secure(&auth.chat, parts));
    let mut response = axum::Json(issued.signed_in).into_response();
    let headers = response.headers_mut();
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn sign_up(
    State(auth): State<Auth>,
    parts: Parts,
    request: Result<Bytes, BytesRejection>,
) -> Response {
    let who = requester(&auth.chat, &parts);
    let io = auth.io.clone();
    // Online: has a socket in their personal room, on this node.
    let online = move |person: &str| {
        io.of(Main::PATH)
            .is_some_and(|ns| !ns.within(person_room(person)).sockets().is_empty())
    };
    let issued = match body::<SignUp>(&parts.headers, request) {
        Ok(request) => flows::sign_up(&auth.chat, request, &who, &online).await,
        Err(e) => Err(e),
    };
    answer(&auth, &parts, issued).await
}

async fn sign_in(
    State(auth): State<Auth>,
    parts: Parts,
    request: Result<Bytes, BytesRejection>,
) -> Response {
    let who = requester(&auth.chat, &parts);
    let issued = match body::<SignIn>(&parts.headers, request) {
        Ok(request) => flows::sign_in(&auth.chat, request, &who).await,
        Err(e) => Err(e),
    };
    answer(&auth, &parts, issued).await
}

async fn password(
    State(auth): State<Auth>,
    parts: Parts,
    request: Result<Bytes, BytesRejection>,
) -> Response {
    let who = requester(&auth.chat, &parts);
    let issued = match body::<SetPassword>(&parts.headers, request) {
        Ok(request) => flows::set_password(&auth.chat, request, &who).await,
        Err(e) => Err(e),
    };
    answer(&auth, &parts, issued).await
}

async fn reset(
    State(auth): State<Auth>,
    parts: Parts,
    request: Result<Bytes, BytesRejection>,
) -> Response {
    let who = requester(&auth.chat, &parts);
    let issued = match body::<ResetPassword>(&parts.headers, request) {
        Ok(request) => flows::reset(&auth.chat, request, &who).await,
        Err(e) => Err(e),
    };
    answer(&auth, &parts, issued).await
}

/// Always answered `204`, with the cookie cleared: signing out cannot fail from where the
/// person stands.
async fn sign_out(State(auth): State<Auth>, parts: Parts) -> Response {
    let who = requester(&auth.chat, &parts);
    if let Some(ended) = flows::sign_out(&auth.chat, &who).await {
        sign_out_sockets(&auth.io, &[ended], "signed out").await;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let cookie = accounts::clear_cookie(secure(&auth.chat, &parts));
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}
