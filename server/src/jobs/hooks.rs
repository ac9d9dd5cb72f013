//! Outgoing webhooks: the building blocks of their delivery, which the job queue drives
//! (retries with backoff, then dead letters).
//!
//! - [`pending`]: the messages of the hook's room after its `delivered_up_to`, a page of them.
//! - [`deliver`]: POSTs them as JSON, signed, through a [`Client`] whose resolver is the
//!   address guard (`guard.rs`), within a timeout; a failure says whether it is worth trying
//!   again.
//! - [`delivered`] and [`give_up`]: move `delivered_up_to` past them, having recorded them as
//!   dead letters in the second case.
//! - [`deliver_pending`]: the three together, once.
//!
//! The body is `{"hook", "room", "messages": [{id, seq, author, text, created_at, kind?}]}`.
//! It is signed with HMAC-SHA256, keyed by the hook's secret, over `<timestamp>.<body>`:
//! `X-Palaver-Timestamp` carries the timestamp (Unix seconds), `X-Palaver-Signature`
//! `sha256=<hex>`. `docs/bot-api.md` says how a receiver checks them.

// The job queue drives the delivery (issue 20's integration); until it does, only the tests
// and `/admin`'s URL check call into this module.

pub(crate) mod guard;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac as _};
use reqwest::redirect::Policy;
use serde::Serialize;
use sha2::Sha256;
use url::Url;

use crate::http::api::ApiMessage;
use crate::jobs::hooks::guard::{Guard, Refused, Resolver};
use crate::store::hooks::OutgoingHook;
use crate::store::{Store, StoreError, StoredMessage, now_ms};

/// The most messages one delivery carries.
pub(crate) const PAGE: usize = 100;
/// The longest URL an outgoing webhook may have.
pub(crate) const MAX_URL_CHARS: usize = 2_000;
/// Headers of a delivery.
pub(crate) const TIMESTAMP_HEADER: &str = "x-palaver-timestamp";
pub(crate) const SIGNATURE_HEADER: &str = "x-palaver-signature";
/// How long connecting may take, within the whole delivery's timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeliveryError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("the webhook's URL cannot be used: {0}")]
    BadUrl(String),
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("the receiver answered {status}{}", if status / 100 == 3 { " (redirects are not followed)" } else { "" })]
    Status { status: u16 },
    #[error("the delivery failed: {0}")]
    Failed(String),
}

impl DeliveryError {
    /// Whether trying again later may succeed: timeouts, refused or dropped connections, a
    /// receiver's 5xx, 408 or 429. A refused address, a bad URL, or another answer (4xx,
    /// redirects) will be the same next time.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            DeliveryError::Refused(_) | DeliveryError::BadUrl(_) => false,
            DeliveryError::TimedOut(_) | DeliveryError::Connect(_) | DeliveryError::Failed(_) => {
                true
            }
            DeliveryError::Status { status } => *status >= 500 || *status == 408 || *status == 429,
        }
    }
}

/// The HTTP client of outgoing webhooks: the guard as its resolver, no redirects, no proxy,
/// a timeout. Cheap to clone; one serves every delivery.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
    guard: Guard,
    timeout: Duration,
}

impl Client {
    pub(crate) fn new(allow_private: bool, timeout: Duration) -> Result<Client, DeliveryError> {
        let guard = Guard { allow_private };
        let http = reqwest::Client::builder()
            .dns_resolver(std::sync::Arc::new(Resolver(guard)))
            // A redirect could lead anywhere, the guard's refusals included.
            .redirect(Policy::none())
            // A proxy would resolve the name itself, past the guard.
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .user_agent(concat!("Palaver-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DeliveryError::Failed(e.to_string()))?;
        Ok(Client {
            http,
            guard,
            timeout,
        })
    }
}

/// What a delivery's body holds.
#[derive(Debug, Serialize)]
struct Body<'a> {
    hook: &'a str,
    room: &'a str,
    messages: Vec<ApiMessage>,
}

/// The signature of a delivery: HMAC-SHA256, keyed by the hook's secret, over
/// `<timestamp>.<body>`, as `sha256=<hex>`.
pub(crate) fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// Checks an outgoing webhook's URL as a moderator gives it: `http` or `https`, with a host,
/// and not one the guard refuses without a lookup. (Names are looked up at each delivery.)
pub(crate) fn validate_url(url: &str, allow_private: bool) -> Result<Url, String> {
    let url = url.trim();
    if url.chars().count() > MAX_URL_CHARS {
        return Err(format!("longer than {MAX_URL_CHARS} characters"));
    }
    let parsed = Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("`{}:` is neither http nor https", parsed.scheme()));
    }
    if parsed.host().is_none() {
        return Err("it names no host".to_owned());
    }
    Guard { allow_private }
        .check_url(&parsed)
        .map_err(|refused| refused.to_string())?;
    Ok(parsed)
}

/// POSTs `messages` (of `hook`'s room) to `hook`'s URL, signed. `Ok` once the receiver
/// answered 2xx.
pub(crate) async fn deliver(
    client: &Client,
    hook: &OutgoingHook,
    messages: &[StoredMessage],
) -> Result<(), DeliveryError> {
    let url = Url::parse(&hook.url).map_err(|e| DeliveryError::BadUrl(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(DeliveryError::BadUrl(format!(
            "`{}:` is neither http nor https",
            url.scheme()
        )));
    }
    // The resolver checks names; addresses written in the URL are connected to directly.
    client.guard.check_url(&url)?;
    let body = serde_json::to_vec(&Body {
        hook: &hook.id,
        room: &hook.room,
        messages: messages.iter().map(ApiMessage::from).collect(),
    })
    .map_err(|e| DeliveryError::Failed(e.to_string()))?;
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let signature = sign(&hook.secret, timestamp, &body);
    let sent = client
        .http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await
        .map_err(|e| failure(e, client.timeout))?;
    let status = sent.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(DeliveryError::Status {
            status: status.as_u16(),
        })
    }
}

/// What a failed request means: the guard's refusal (found in the error's causes, as the
/// resolver's), a timeout, a failed connection, or something else on the way.
fn failure(e: reqwest::Error, timeout: Duration) -> DeliveryError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if let Some(refused) = c.downcast_ref::<Refused>() {
            return DeliveryError::Refused(refused.clone());
        }
        cause = c.source();
    }
    let detail = causes(&e);
    if e.is_timeout() {
        DeliveryError::TimedOut(timeout)
    } else if e.is_connect() {
        DeliveryError::Connect(detail)
    } else if e.is_builder() {
        DeliveryError::BadUrl(detail)
    } else {
        DeliveryError::Failed(detail)
    }
}

/// An error and its causes, as one line: reqwest's own message says little.
fn causes(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        line.push_str(": ");
        line.push_str(&c.to_string());
        cause = c.source();
    }
    line
}

/// The messages `hook` has yet to deliver: its room's after `delivered_up_to`, oldest first,
/// [`PAGE`] at most.
pub(crate) async fn pending(
    store: &Store,
    hook: &OutgoingHook,
) -> Result<Vec<StoredMessage>, StoreError> {
    store
        .oldest_after(&hook.room, hook.delivered_up_to, PAGE)
        .await
}

/// Moves `hook`'s `delivered_up_to` past `messages`, delivered: whether it moved (not when
/// another delivery moved it first, or the hook was removed meanwhile).
pub(crate) async fn delivered(
    store: &Store,
    hook: &OutgoingHook,
    messages: &[StoredMessage],
) -> Result<bool, StoreError> {
    match messages.last() {
        Some(last) => {
            store
                .advance_delivered(&hook.id, hook.delivered_up_to, last.id)
                .await
        }
        None => Ok(false),
    }
}

/// Records `messages` as dead letters of `hook` (after `attempts`, the last failing with
/// `error`), then moves past them as [`delivered`] does, so that the hook goes on with the
/// messages after them.
pub(crate) async fn give_up(
    store: &Store,
    hook: &OutgoingHook,
    messages: &[StoredMessage],
    attempts: u32,
    error: &DeliveryError,
) -> Result<bool, StoreError> {
    let ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
    store
        .record_dead_letters(&hook.id, &ids, attempts, &error.to_string(), now_ms())
        .await?;
    delivered(store, hook, messages).await
}

/// What [`deliver_pending`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// This many messages were delivered (0: there were none).
    Delivered(usize),
    /// The hook is removed, or there is no such hook: nothing to do.
    Gone,
}

/// Why [`deliver_pending`] failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PendingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The delivery of `messages` to `hook` failed: the caller tries again later (when
    /// `error` [is retryable](DeliveryError::is_retryable)), or [`give_up`]s these messages.
    #[error("{error}")]
    Delivery {
        error: DeliveryError,
        hook: Box<OutgoingHook>,
        messages: Vec<StoredMessage>,
    },
}

/// One delivery of hook `id`: its pending messages, delivered, then `delivered_up_to` moved
/// past them. A job runs it until it delivers fewer than [`PAGE`]; on a failure it is run
/// again later, and after the last attempt the failed page is given up ([`give_up`]).
pub(crate) async fn deliver_pending(
    store: &Store,
    client: &Client,
    id: &str,
) -> Result<Outcome, PendingError> {
    let Some(hook) = store
        .outgoing_hook(id)
        .await?
        .filter(|h| h.removed_at.is_none())
    else {
        return Ok(Outcome::Gone);
    };
    let messages = pending(store, &hook).await?;
    if messages.is_empty() {
        return Ok(Outcome::Delivered(0));
    }
    if let Err(error) = deliver(client, &hook, &messages).await {
        return Err(PendingError::Delivery {
            error,
            hook: Box::new(hook),
            messages,
        });
    }
    delivered(store, &hook, &messages).await?;
    Ok(Outcome::Delivered(messages.len()))
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use app::events::MessageKind;
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};
    use serde_json::{Value, json};
    use tokio::sync::mpsc;

    use super::*;
    use crate::store::NewMessage;

    /// What a receiver does with each delivery.
    #[derive(Clone, Copy)]
    enum Answer {
        Status(StatusCode),
        Never,
    }

    /// A real HTTP receiver on loopback: each request's headers and body, as they arrived.
    struct Receiver {
        addr: SocketAddr,
        got: mpsc::UnboundedReceiver<(HeaderMap, Bytes)>,
    }

    async fn receiver(answer: Answer) -> Receiver {
        let (tell, got) = mpsc::unbounded_channel();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let tell = tell.clone();
                async move {
                    let _ = tell.send((headers, body));
                    match answer {
                        Answer::Status(status) => status,
                        Answer::Never => std::future::pending().await,
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, got }
    }

    fn hook(url: String) -> OutgoingHook {
        OutgoingHook {
            id: "o1".into(),
            room: "lobby".into(),
            url,
            secret: "5ec2e7".into(),
            created_at: 1,
            removed_at: None,
            delivered_up_to: 0,
        }
    }

    fn message(id: i64, text: &str) -> StoredMessage {
        StoredMessage {
            id,
            room: "lobby".into(),
            author: "ann".into(),
            text: text.into(),
            client_offset: Some("k".into()),
            created_at: 1_700_000_000_000 + id,
            seq: id,
            kind: None,
            ..Default::default()
        }
    }

    fn client(allow_private: bool) -> Client {
        Client::new(allow_private, Duration::from_secs(5)).unwrap()
    }

    /// The receiver's check, as `docs/bot-api.md` tells it: HMAC-SHA256 of
    /// `<timestamp>.<body>` with the secret, compared in constant time, and a recent timestamp.
    fn verifies(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
        let timestamp = headers[TIMESTAMP_HEADER].to_str().unwrap();
        let given = headers[SIGNATURE_HEADER].to_str().unwrap();
        let Some(hex) = given.strip_prefix("sha256=") else {
            return false;
        };
        let Ok(given) = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
        else {
            return false;
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let fresh = timestamp
            .parse::<u64>()
            .is_ok_and(|t| now.abs_diff(t) <= 300);
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{timestamp}.").as_bytes());
        mac.update(body);
        fresh && mac.verify_slice(&given).is_ok()
    }

    #[tokio::test]
    async fn a_delivery_is_signed_and_its_signature_verifies() {
        let mut receiver = receiver(Answer::Status(StatusCode::NO_CONTENT)).await;
        let hook = hook(format!("http://{}/hook", receiver.addr));
        let mut deleted = message(2, "");
        deleted.kind = Some(MessageKind::Deleted);
        let messages = [message(1, "hello"), deleted];
        deliver(&client(true), &hook, &messages).await.unwrap();
        let (headers, body) = receiver.got.recv().await.unwrap();
        assert!(verifies("5ec2e7", &headers, &body));
        assert!(!verifies("another secret", &headers, &body));
        let mut tampered = body.to_vec();
        tampered[0] = b' ';
        assert!(!verifies("5ec2e7", &headers, &tampered));
        assert_eq!(headers["content-type"], "application/json");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            json!({"hook": "o1", "room": "lobby", "messages": [
                {"id": 1, "seq": 1, "author": "ann", "text": "hello",
                 "created_at": 1_700_000_000_001_i64},
                {"id": 2, "seq": 2, "author": "", "text": "",
                 "created_at": 1_700_000_000_002_i64, "kind": "deleted"},
            ]})
        );
    }

    #[tokio::test]
    async fn a_failure_says_whether_to_try_again() {
        let statuses = [
            (StatusCode::INTERNAL_SERVER_ERROR, true),
            (StatusCode::BAD_GATEWAY, true),
            (StatusCode::TOO_MANY_REQUESTS, true),
            (StatusCode::REQUEST_TIMEOUT, true),
            (StatusCode::NOT_FOUND, false),
            (StatusCode::UNAUTHORIZED, false),
            (StatusCode::FOUND, false),
        ];
        for (status, retry) in statuses {
            let receiver = receiver(Answer::Status(status)).await;
            let hook = hook(format!("http://{}/hook", receiver.addr));
            let e = deliver(&client(true), &hook, &[message(1, "x")])
                .await
                .unwrap_err();
            assert!(
                matches!(e, DeliveryError::Status { status: s } if s == status.as_u16()),
                "{e}"
            );
            assert_eq!(e.is_retryable(), retry, "{status}: {e}");
        }

        // Nobody listening: refused, worth trying again.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let e = deliver(
            &client(true),
            &hook(format!("http://{addr}/hook")),
            &[message(1, "x")],
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e, DeliveryError::Connect(_)) && e.is_retryable(),
            "{e}"
        );

        // A receiver that never answers: timed out, worth trying again.
        let mut silent = receiver(Answer::Never).await;
        let quick = Client::new(true, Duration::from_millis(300)).unwrap();
        let e = deliver(
            &quick,
            &hook(format!("http://{}/hook", silent.addr)),
            &[message(1, "x")],
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e, DeliveryError::TimedOut(_)) && e.is_retryable(),
            "{e}"
        );
        assert!(silent.got.recv().await.is_some(), "the request did arrive");

        for bad in ["ftp://example.org/", "not a url"] {
            let e = deliver(&client(true), &hook(bad.into()), &[])
                .await
                .unwrap_err();
            assert!(
                matches!(e, DeliveryError::BadUrl(_)) && !e.is_retryable(),
                "{e}"
            );
        }
    }

    /// Loopback in every spelling is refused unless allowed, before any connection (the
    /// receiver would have answered 204). Other private ranges are the guard's unit tests'
    /// (`guard.rs`): nothing here may send to an address off this machine.
    #[tokio::test]
    async fn the_guard_refuses_loopback_unless_allowed() {
        let receiver = receiver(Answer::Status(StatusCode::NO_CONTENT)).await;
        let port = receiver.addr.port();
        for url in [
            format!("http://127.0.0.1:{port}/hook"),
            format!("http://[::ffff:127.0.0.1]:{port}/hook"),
            format!("http://[::1]:{port}/hook"),
            format!("http://localhost:{port}/hook"),
        ] {
            let e = deliver(&client(false), &hook(url.clone()), &[message(1, "x")])
                .await
                .unwrap_err();
            assert!(matches!(e, DeliveryError::Refused(_)), "{url}: {e}");
            assert!(!e.is_retryable());
        }
        for url in [
            format!("http://127.0.0.1:{port}/hook"),
            format!("http://localhost:{port}/hook"),
        ] {
            deliver(&client(true), &hook(url), &[message(1, "x")])
                .await
                .unwrap();
        }
    }

    /// A name that the system resolves to loopback is refused by the resolver the
    /// connection uses (what `localhost` does without `check_url`, as any DNS name could).
    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_by_the_connection_s_own_lookup() {
        let receiver = receiver(Answer::Status(StatusCode::NO_CONTENT)).await;
        let guarded = client(false);
        // Past `check_url`, as a name that is not `localhost` would be.
        let url = format!("http://localhost:{}/hook", receiver.addr.port());
        let e = guarded
            .http
            .post(url)
            .send()
            .await
            .map(drop)
            .map_err(|e| failure(e, guarded.timeout))
            .unwrap_err();
        assert!(
            matches!(e, DeliveryError::Refused(Refused::NotPublic { .. })),
            "{e}"
        );
    }

    #[test]
    fn urls_are_checked_when_made() {
        assert!(validate_url(" https://example.org/hook ", false).is_ok());
        for bad in [
            "example.org/hook",
            "ftp://example.org/",
            "http://127.0.0.1/",
            "http://localhost:3000/",
            "https://[fc00::1]/",
            "https://10.0.0.1/",
        ] {
            assert!(validate_url(bad, false).is_err(), "{bad}");
        }
        assert!(validate_url("http://127.0.0.1:9/", true).is_ok());
        assert!(validate_url(&format!("https://e.org/{}", "a".repeat(2_000)), true).is_err());
    }

    #[tokio::test]
    async fn pending_messages_are_delivered_once_and_a_page_given_up_moves_on() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("p.db").display());
        let store = Store::open(&url).await.unwrap();
        let post = |text: &'static str| {
            let store = store.clone();
            async move {
                store
                    .insert(NewMessage {
                        room: "lobby",
                        author: "ann",
                        text,
                        client_offset: None,
                        sender: None,
                        kind: None,
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .message
            }
        };
        post("before the hook").await;
        let mut ok = receiver(Answer::Status(StatusCode::OK)).await;
        let hook = store
            .create_outgoing_hook("o1", "lobby", &format!("http://{}/hook", ok.addr), "s", 1)
            .await
            .unwrap();
        let client = client(true);
        assert_eq!(
            deliver_pending(&store, &client, "o1").await.unwrap(),
            Outcome::Delivered(0)
        );
        let one = post("one").await;
        let two = post("two").await;
        assert_eq!(
            deliver_pending(&store, &client, "o1").await.unwrap(),
            Outcome::Delivered(2)
        );
        let (headers, body) = ok.got.recv().await.unwrap();
        assert!(verifies("s", &headers, &body));
        let body: Value = serde_json::from_slice(&body).unwrap();
        let texts: Vec<&str> = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap())
            .collect();
        assert_eq!(texts, ["one", "two"]);
        let moved = store.outgoing_hook("o1").await.unwrap().unwrap();
        assert_eq!(moved.delivered_up_to, two.id);
        assert_eq!(
            deliver_pending(&store, &client, "o1").await.unwrap(),
            Outcome::Delivered(0)
        );

        // Removed: nothing more.
        store.remove_outgoing_hook("o1", 2).await.unwrap();
        post("three").await;
        assert_eq!(
            deliver_pending(&store, &client, "o1").await.unwrap(),
            Outcome::Gone
        );
        assert_eq!(
            deliver_pending(&store, &client, "nope").await.unwrap(),
            Outcome::Gone
        );

        // A receiver that fails: the page stays pending until given up, then the hook goes on.
        let down = receiver(Answer::Status(StatusCode::SERVICE_UNAVAILABLE)).await;
        let url = format!("http://{}/hook", down.addr);
        store
            .create_outgoing_hook("o2", "lobby", &url, "s", 3)
            .await
            .unwrap();
        let four = post("four").await;
        let failed = deliver_pending(&store, &client, "o2").await.unwrap_err();
        let PendingError::Delivery {
            error,
            hook: o2,
            messages: stuck,
        } = failed
        else {
            panic!("{failed}")
        };
        assert!(error.is_retryable());
        assert_eq!(stuck, std::slice::from_ref(&four));
        assert_eq!(pending(&store, &o2).await.unwrap(), stuck, "still pending");
        assert!(give_up(&store, &o2, &stuck, 5, &error).await.unwrap());
        let letters = store.dead_letters(Some("o2"), 10).await.unwrap();
        assert_eq!(letters.len(), 1);
        assert_eq!((letters[0].message, letters[0].attempts), (four.id, 5));
        assert!(
            letters[0].last_error.contains("503"),
            "{}",
            letters[0].last_error
        );
        assert_eq!(
            deliver_pending(&store, &client, "o2").await.unwrap(),
            Outcome::Delivered(0)
        );
        let _ = (hook, one);
    }
}
