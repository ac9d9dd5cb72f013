//! Incoming webhooks: `POST /hooks/<id>/<token>` with Slack's payload (`{"text": "…",
//! "username": "…"}`, as JSON or as a form's `payload` field) posts a message to the hook's
//! room, stored and broadcast like any other, so that tools that speak to Slack speak to
//! Palaver. Answered `ok` as Slack does; a failure with a status and a JSON error.

use std::time::Instant;

use app::events::{self, ChatError};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tracing::debug;

use crate::conversation::ConversationId;
use crate::http::api::{Api, ApiError, BotPost, publish};
use crate::logging::Escaped;
use crate::tokens;

/// The largest body a webhook takes, as Slack's payloads go: a message is 4,000 characters.
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024;

/// Slack's payload, as far as Palaver uses it; its other fields (`icon_emoji`, `channel`,
/// `blocks`…) are ignored.
#[derive(Debug, Deserialize)]
struct Payload {
    text: Option<String>,
    username: Option<String>,
}

pub(crate) async fn post(
    State(api): State<Api>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match handle(&api, path, &headers, body).await {
        Ok(()) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok").into_response(),
        Err(e) => e.into_response(),
    }
}

async fn handle(
    api: &Api,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(), ApiError> {
    let Path((id, token)) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let chat = &api.chat;
    // A wrong token is answered as an unknown hook: it tells nobody which ids exist.
    let unknown = || ChatError::UnknownWebhook {
        webhook: id.clone(),
    };
    let hook = chat
        .store
        .incoming_hook(&id)
        .await
        .map_err(ApiError::store("finding a webhook"))?
        .filter(|hook| tokens::matches(&token, &hook.token_hash))
        .ok_or_else(unknown)?;
    if hook.revoked_at.is_some() {
        return Err(ApiError::WebhookRevoked);
    }
    // Charged once the token is known good: strangers cannot spend a hook's budget.
    chat.limits
        .webhook_post(&hook.id, Instant::now())
        .map_err(ApiError::rate_limited)?;
    let body = body.map_err(|e| ApiError::unread_body(e, MAX_BODY_BYTES))?;
    let payload = payload(headers, &body)?;
    let text = payload
        .text
        .ok_or_else(|| ApiError::bad_request("the payload has no `text`"))?;
    let text = events::validate_text(&text)?;
    // Blank is absent, as Slack takes it.
    let username = payload.username.as_deref().filter(|u| !u.trim().is_empty());
    // Tools name themselves as people read them ("Uptime Robot"): spaces become dashes, so
    // that their posts get through; a name still invalid, or reserved, is refused.
    let spelled = username.map(|u| u.split_whitespace().collect::<Vec<_>>().join("-"));
    let author = match &spelled {
        Some(username) => events::validate_bot_name(username)?,
        None => hook.name.as_str(),
    };
    let room = ConversationId::parse(hook.room.as_str())?;
    let posted = publish(
        api,
        BotPost {
            room: &room,
            author,
            text: &text,
            offset: None,
        },
    )
    .await?;
    debug!(hook = %hook.id, room = %room.as_str(), author = %Escaped(author), id = posted.id, "webhook posted");
    Ok(())
}

/// The payload, from a JSON body, or from the `payload` field of a form (as Slack takes it).
fn payload(headers: &HeaderMap, body: &[u8]) -> Result<Payload, ApiError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let field = form
        .then(|| url::form_urlencoded::parse(body).find(|(key, _)| key == "payload"))
        .flatten();
    let json = match field {
        Some((_, json)) => json.into_owned().into_bytes(),
        // `curl -d '{"text": …}'` sends JSON typed as a form: taken as the JSON it is.
        None if !form || body.trim_ascii_start().starts_with(b"{") => body.to_vec(),
        None => {
            return Err(ApiError::bad_request(
                "a form's JSON payload goes in its `payload` field",
            ));
        }
    };
    serde_json::from_slice(&json)
        .map_err(|e| ApiError::bad_request(format!("the payload is not Slack's JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_type(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn the_payload_comes_as_json_or_in_a_form() {
        let json = payload(
            &with_type("application/json"),
            br#"{"text":"hi","icon_emoji":":x:"}"#,
        );
        assert_eq!(json.unwrap().text.as_deref(), Some("hi"));
        let untyped = payload(&HeaderMap::new(), br#"{"text":"hi","username":"ci"}"#).unwrap();
        assert_eq!(untyped.username.as_deref(), Some("ci"));
        let form = payload(
            &with_type("application/x-www-form-urlencoded; charset=utf-8"),
            b"channel=x&payload=%7B%22text%22%3A%22a%20b%22%7D",
        );
        assert_eq!(form.unwrap().text.as_deref(), Some("a b"));
        // What `curl -d '{"text": …}'` sends.
        let curled = payload(
            &with_type("application/x-www-form-urlencoded"),
            br#" {"text":"a+b"}"#,
        );
        assert_eq!(curled.unwrap().text.as_deref(), Some("a+b"));
        for (headers, body) in [
            (
                with_type("application/x-www-form-urlencoded"),
                &b"text=hi"[..],
            ),
            (with_type("application/json"), b"{\"text\":"),
            (with_type("application/json"), b"[1]"),
            (with_type("application/json"), b"{\"text\": 5}"),
        ] {
            let e = payload(&headers, body).unwrap_err();
            assert!(matches!(e, ApiError::BadRequest { .. }), "{e}");
        }
    }
}
