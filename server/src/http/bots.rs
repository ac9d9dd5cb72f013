//! The bot API: programs holding a bot token (`Authorization: Bearer <token>`) post to public
//! rooms and read their history. Every request is charged to its token's budget.
//!
//! - `POST /api/v1/rooms/<room>/messages` `{text, offset?}` → `{id, seq, ts}`; a retry with
//!   the same offset (and text and room) is stored once and answered alike.
//! - `GET /api/v1/rooms/<room>/messages?after=<seq>&limit=<n>` → `{messages, more}`.

use std::collections::HashMap;
use std::time::Instant;

use app::events::{self, ChatError, HISTORY_PAGE, MAX_CLIENT_OFFSET_CHARS, MAX_HISTORY_LIMIT};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::http::api::{Api, ApiError, ApiMessage, BotPost, public_room, publish};
use crate::store::hooks::BotToken;
use crate::tokens;

/// The largest body a post takes: a 4,000-character message is at most 24 KiB of JSON.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// What a bot's offsets are kept under: offsets are unique per sender, and person ids are
/// UUIDs, so this is nobody's.
fn sender(bot: &BotToken) -> String {
    format!("bot:{}", bot.id)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPost {
    text: String,
    #[serde(default)]
    offset: Option<String>,
}

#[derive(Debug, Serialize)]
struct Page {
    messages: Vec<ApiMessage>,
    /// Whether messages follow the last one here: ask again with its `seq` as `after`.
    more: bool,
}

pub(crate) async fn post(
    State(api): State<Api>,
    room: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    answer(post_message(&api, room, &headers, body).await)
}

pub(crate) async fn read(
    State(api): State<Api>,
    room: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    answer(read_messages(&api, room, &headers, query).await)
}

fn answer<T: Serialize>(result: Result<T, ApiError>) -> Response {
    match result {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn post_message(
    api: &Api,
    room: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<events::Posted, ApiError> {
    let bot = authorize(api, headers).await?;
    let Path(room) = room.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let body = body.map_err(|e| ApiError::unread_body(e, MAX_BODY_BYTES))?;
    let NewPost { text, offset } = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"text\": string, \"offset\"?: string}}: {e}"
        ))
    })?;
    let text = events::validate_text(&text)?;
    if offset
        .as_deref()
        .is_some_and(|o| o.chars().count() > MAX_CLIENT_OFFSET_CHARS)
    {
        return Err(ChatError::OffsetTooLong {
            max: MAX_CLIENT_OFFSET_CHARS,
        }
        .into());
    }
    let room = public_room(&api.chat, room).await?;
    let sender = sender(&bot);
    publish(
        api,
        BotPost {
            room: &room,
            author: &bot.name,
            text: &text,
            offset: offset.as_deref().map(|o| (o, sender.as_str())),
        },
    )
    .await
}

async fn read_messages(
    api: &Api,
    room: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Page, ApiError> {
    authorize(api, headers).await?;
    let Path(room) = room.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let number = |key: &str, default: i64, range: std::ops::RangeInclusive<i64>| {
        let Some(given) = query.get(key) else {
            return Ok(default);
        };
        given
            .parse::<i64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "`{key}` is an integer from {} to {}, not `{given}`",
                    range.start(),
                    range.end()
                ))
            })
    };
    let after = number("after", 0, 0..=i64::MAX)?;
    let limit = number("limit", HISTORY_PAGE as i64, 1..=MAX_HISTORY_LIMIT as i64)? as usize;
    let room = public_room(&api.chat, room).await?;
    let mut rows = api
        .chat
        .store
        .after_seq(room.as_str(), after, limit + 1)
        .await
        .map_err(ApiError::store("reading a room for a bot"))?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    Ok(Page {
        messages: rows.iter().map(ApiMessage::from).collect(),
        more,
    })
}

/// The bot whose token the request carries, charged one request.
async fn authorize(api: &Api, headers: &HeaderMap) -> Result<BotToken, ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .ok_or(ApiError::Unauthorized)?;
    let (id, token) = tokens::parse_bot_token(presented).ok_or(ApiError::Unauthorized)?;
    let bot = api
        .chat
        .store
        .bot(id)
        .await
        .map_err(ApiError::store("finding a bot"))?
        .filter(|bot| tokens::matches(token, &bot.token_hash))
        .ok_or(ApiError::Unauthorized)?;
    if bot.revoked_at.is_some() {
        return Err(ApiError::TokenRevoked);
    }
    api.chat
        .limits
        .bot_request(&bot.id, Instant::now())
        .map_err(ApiError::rate_limited)?;
    Ok(bot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredMessage;
    use app::events::MessageKind;
    use serde_json::json;

    #[test]
    fn a_page_reads_as_the_docs_say() {
        let stored = StoredMessage {
            id: 7,
            room: "lobby".into(),
            author: "ci".into(),
            text: "built".into(),
            client_offset: Some("k".into()),
            created_at: 1_700_000_000_000,
            seq: 3,
            kind: Some(MessageKind::Bot),
            ..Default::default()
        };
        let page = Page {
            messages: vec![ApiMessage::from(&stored)],
            more: false,
        };
        assert_eq!(
            serde_json::to_value(&page).unwrap(),
            json!({"messages": [{"id": 7, "seq": 3, "author": "ci", "text": "built",
                                 "created_at": 1_700_000_000_000_i64, "kind": "bot"}],
                   "more": false})
        );
    }
}
