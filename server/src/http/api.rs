//! What the HTTP API for programs shares: incoming webhooks (`hooks.rs`) and the bot API
//! (`bots.rs`). Their routes, their state, the messages they read and send, and their errors:
//! JSON `{"error": {"code", "message", …}}` with a status, in the codes of the Socket.IO
//! protocol where one fits (`empty`, `too_long`, `unknown_room`, `rate_limited`…).
//!
//! The whole contract is in `docs/bot-api.md`.

use std::time::Duration;

use app::events::{ChatError, Main, MessageKind, Namespace as _, Posted, RoomKind, WireError};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Serialize;
use serde_json::json;

use crate::cluster::SocketIo;
use crate::conversation::ConversationId;
use crate::http::{bots, hooks};
use crate::socket::messages;
use crate::state::Chat;
use crate::store::{NewMessage, StoreError, StoredMessage};

/// What the API's handlers work with.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) chat: Chat,
    pub(crate) io: SocketIo,
}

/// The API's routes.
pub(crate) fn routes(chat: Chat, io: SocketIo) -> Router {
    Router::new()
        .route(
            "/hooks/{id}/{token}",
            post(hooks::post).layer(DefaultBodyLimit::max(hooks::MAX_BODY_BYTES)),
        )
        .route(
            "/api/v1/rooms/{room}/messages",
            post(bots::post)
                .get(bots::read)
                .layer(DefaultBodyLimit::max(bots::MAX_BODY_BYTES)),
        )
        .with_state(Api { chat, io })
}

/// `room` if it names an existing public room: direct conversations are their two people's
/// alone, and answered like rooms that do not exist.
pub(crate) async fn public_room(chat: &Chat, room: String) -> Result<ConversationId, ApiError> {
    let room = ConversationId::parse(room)?;
    let stored = match room.kind() {
        RoomKind::Room => chat
            .store
            .room_rules(room.as_str())
            .await
            .map_err(ApiError::store("the rooms query"))?,
        RoomKind::Dm => None,
    };
    // A private room is its members' alone: to moderators and programs it does not exist.
    if stored.is_some_and(|rules| !rules.private) {
        Ok(room)
    } else {
        Err(ChatError::UnknownRoom { room: room.into() }.into())
    }
}

/// A program's message, about to be stored and broadcast.
pub(crate) struct BotPost<'a> {
    pub(crate) room: &'a ConversationId,
    pub(crate) author: &'a str,
    pub(crate) text: &'a str,
    /// Its key, for a retry to find it, with whose keys it is among.
    pub(crate) offset: Option<(&'a str, &'a str)>,
}

/// Stores `post` as a [`MessageKind::Bot`] message and broadcasts it to its room, through the
/// writer like any message (idempotently by offset).
pub(crate) async fn publish(api: &Api, post: BotPost<'_>) -> Result<Posted, ApiError> {
    let main = api.io.of(Main::PATH).ok_or(ChatError::Unavailable)?;
    let message = NewMessage {
        room: post.room.as_str(),
        author: post.author,
        text: post.text,
        client_offset: post.offset.map(|(offset, _)| offset),
        sender: post.offset.map(|(_, sender)| sender),
        kind: Some(MessageKind::Bot),
        ..Default::default()
    };
    let to = main.within(post.room.audience());
    Ok(messages::publish(&api.chat, to, message).await?)
}

/// A stored message as programs read it (the bot API's reads, outgoing webhooks).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ApiMessage {
    pub(crate) id: i64,
    pub(crate) seq: i64,
    pub(crate) author: String,
    pub(crate) text: String,
    /// Milliseconds since the Unix epoch.
    pub(crate) created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<MessageKind>,
}

impl From<&StoredMessage> for ApiMessage {
    fn from(m: &StoredMessage) -> ApiMessage {
        // A tombstone says nothing of what it was, nor whose.
        let deleted = m.kind == Some(MessageKind::Deleted);
        ApiMessage {
            id: m.id,
            seq: m.seq,
            author: if deleted {
                String::new()
            } else {
                m.author.clone()
            },
            text: m.text.clone(),
            created_at: m.created_at,
            kind: m.kind,
        }
    }
}

/// Why a request of the API failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// A failure the Socket.IO protocol has a code for.
    #[error(transparent)]
    Chat(#[from] ChatError),
    /// No bot token, or one that is not a bot's.
    #[error("send a bot token as `Authorization: Bearer <token>`")]
    Unauthorized,
    #[error("this bot token was revoked")]
    TokenRevoked,
    #[error("this webhook was revoked")]
    WebhookRevoked,
    #[error("the body is larger than {max_bytes} bytes")]
    TooLarge { max_bytes: usize },
    /// A body or query that is not what the endpoint takes.
    #[error("{detail}")]
    BadRequest { detail: String },
    /// The server's own failure: logged, and answered `unavailable`.
    #[error("{doing} failed: {source}")]
    Internal {
        doing: &'static str,
        #[source]
        source: StoreError,
    },
}

impl ApiError {
    /// A store failure while doing `doing`.
    pub(crate) fn store(doing: &'static str) -> impl FnOnce(StoreError) -> ApiError {
        move |source| ApiError::Internal { doing, source }
    }

    pub(crate) fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            detail: detail.into(),
        }
    }

    /// The answer to a body the extractor could not read.
    pub(crate) fn unread_body(rejection: BytesRejection, max_bytes: usize) -> ApiError {
        match rejection {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                ApiError::TooLarge { max_bytes }
            }
            other => ApiError::bad_request(format!("the body could not be read: {other}")),
        }
    }

    pub(crate) fn rate_limited(wait: Duration) -> ApiError {
        ApiError::Chat(ChatError::RateLimited {
            retry_after_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1),
        })
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::Chat(e) => match e {
                ChatError::UnknownRoom { .. }
                | ChatError::UnknownWebhook { .. }
                | ChatError::UnknownBot { .. } => StatusCode::NOT_FOUND,
                ChatError::OffsetInUse => StatusCode::CONFLICT,
                ChatError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                ChatError::Unavailable | ChatError::Overloaded { .. } => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                _ => StatusCode::BAD_REQUEST,
            },
            ApiError::Unauthorized | ApiError::TokenRevoked => StatusCode::UNAUTHORIZED,
            ApiError::WebhookRevoked => StatusCode::GONE,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Internal { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `error` object of the body.
    fn body(&self) -> serde_json::Value {
        let own = |code: &str| json!({"code": code, "message": self.to_string()});
        match self {
            ApiError::Chat(e) => json!(WireError::from(e.clone())),
            ApiError::Unauthorized => own("unauthorized"),
            ApiError::TokenRevoked => own("token_revoked"),
            ApiError::WebhookRevoked => own("webhook_revoked"),
            ApiError::TooLarge { max_bytes } => {
                json!({"code": "payload_too_large", "message": self.to_string(), "max_bytes": max_bytes})
            }
            ApiError::BadRequest { detail } => {
                json!({"code": "invalid_request", "message": self.to_string(), "detail": detail})
            }
            ApiError::Internal { .. } => json!(WireError::from(ChatError::Unavailable)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal { .. } = &self {
            tracing::error!(error = %self, "an API request failed");
        }
        let status = self.status();
        let mut response = (status, axum::Json(json!({"error": self.body()}))).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Chat(ChatError::RateLimited { retry_after_ms }) => {
                let secs = retry_after_ms.div_ceil(1000).max(1);
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    headers.insert(header::RETRY_AFTER, v);
                }
            }
            ApiError::Unauthorized | ApiError::TokenRevoked => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_status_and_a_typed_body() {
        let cases = [
            (ApiError::Unauthorized, 401, "unauthorized"),
            (ApiError::TokenRevoked, 401, "token_revoked"),
            (ApiError::WebhookRevoked, 410, "webhook_revoked"),
            (
                ApiError::TooLarge { max_bytes: 9 },
                413,
                "payload_too_large",
            ),
            (ApiError::bad_request("no"), 400, "invalid_request"),
            (ChatError::Empty.into(), 400, "empty"),
            (ChatError::OffsetInUse.into(), 409, "offset_in_use"),
            (
                ChatError::UnknownRoom { room: "x".into() }.into(),
                404,
                "unknown_room",
            ),
            (
                ApiError::rate_limited(Duration::from_millis(1_500)),
                429,
                "rate_limited",
            ),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.status().as_u16(), status, "{error}");
            let body = error.body();
            assert_eq!(body["code"], code);
            assert!(!body["message"].as_str().unwrap().is_empty());
        }
        let limited = ApiError::rate_limited(Duration::from_millis(1_500)).into_response();
        assert_eq!(limited.headers()[header::RETRY_AFTER], "2");
    }
}
