//! Who may open a Socket.IO session: a rate of new sessions per address and in all, so that a
//! storm of connections is refused cleanly (429 with `Retry-After`) before it costs a
//! handshake, a session and a catch-up each.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::warn;

use crate::http::peer::{self, Source, TrustedProxies};
use crate::logging::Hush;
use crate::throttle::Throttle;

/// New sessions per second, with their bursts; a rate of 0 turns that limit off.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rates {
    pub(crate) per_address: f64,
    pub(crate) per_address_burst: u32,
    pub(crate) total: f64,
    pub(crate) total_burst: u32,
}

#[derive(Clone)]
pub(crate) struct Admission {
    per_address: Arc<Throttle>,
    total: Arc<Throttle>,
    refusals: Arc<Hush>,
    trusted: Arc<TrustedProxies>,
}

impl Admission {
    pub(crate) fn new(rates: Rates, trusted: TrustedProxies) -> Admission {
        Admission {
            per_address: Arc::new(Throttle::per_second(
                rates.per_address,
                rates.per_address_burst,
            )),
            total: Arc::new(Throttle::per_second(rates.total, rates.total_burst)),
            trusted: Arc::new(trusted),
            refusals: Arc::new(Hush::new(std::time::Duration::from_secs(10))),
        }
    }

    /// Whether a new session from `ip` may open now, or how many seconds until it may.
    fn admit(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        self.per_address
            .take(&Source::of(ip).to_string(), now)
            .and_then(|()| self.total.take("", now))
            .map_err(|wait| wait.as_secs_f64().ceil().max(1.0) as u64)
    }
}

/// Whether a Socket.IO request opens a new Engine.IO session (it carries no `sid`).
fn opens_a_session(request: &Request) -> bool {
    crate::http::origin::is_socket_request(request.uri().path())
        && !request
            .uri()
            .query()
            .unwrap_or_default()
            .split('&')
            .any(|p| p.starts_with("sid="))
}

pub(crate) async fn check(
    State(admission): State<Admission>,
    request: Request,
    next: Next,
) -> Response {
    if !opens_a_session(&request) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let client = peer::client_ip(&parts, &admission.trusted);
    let request = Request::from_parts(parts, body);
    if let Some(client) = client
        && let Err(wait) = admission.admit(client, Instant::now())
    {
        if let Some(skipped) = admission.refusals.speak() {
            warn!(%client, skipped, "new sessions over the rate; refused");
        }
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            "too many new connections; try again shortly",
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_has_its_burst_then_waits_and_others_are_not_held_up() {
        let a = Admission::new(
            Rates {
                per_address: 1.0,
                per_address_burst: 3,
                total: 0.0,
                total_burst: 1,
            },
            TrustedProxies::default(),
        );
        let now = Instant::now();
        let one: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..3 {
            assert_eq!(a.admit(one, now), Ok(()));
        }
        assert_eq!(a.admit(one, now), Err(1));
        assert_eq!(a.admit([10, 0, 0, 2].into(), now), Ok(()));
    }

    #[test]
    fn the_total_binds_every_address() {
        let a = Admission::new(
            Rates {
                per_address: 0.0,
                per_address_burst: 1,
                total: 10.0,
                total_burst: 2,
            },
            TrustedProxies::default(),
        );
        let now = Instant::now();
        assert!(a.admit([10, 0, 0, 1].into(), now).is_ok());
        assert!(a.admit([10, 0, 0, 2].into(), now).is_ok());
        assert!(a.admit([10, 0, 0, 3].into(), now).is_err());
    }
}
