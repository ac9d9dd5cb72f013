//! The security headers on every response: a Content-Security-Policy, whose nonce (new for
//! each response) the page's scripts carry, and the headers that tell browsers not to guess
//! content types, not to show the site in a frame, and not to tell other sites where their
//! visitors came from.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use leptos::config::LeptosOptions;
use leptos::nonce::Nonce;
use leptos::prelude::{provide_context, use_context};
use tower_http::set_header::SetResponseHeaderLayer;
use url::Origin;

use crate::http::origin::is_socket_request;

/// The Content-Security-Policy, around the place of each response's nonce.
#[derive(Debug)]
pub(crate) struct Policy {
    before_nonce: String,
    after_nonce: String,
    /// For Socket.IO's responses, which render no page.
    without_nonce: HeaderValue,
}

impl Policy {
    /// `public`: the public URL's origin, whose WebSocket address is allowed by name too.
    pub(crate) fn new(public: Option<&Origin>, options: &LeptosOptions) -> Policy {
        // `'self'` covers a same-host WebSocket in current browsers (CSP 3); older ones
        // (Safari before 16) need it named, which is possible when the public URL is known.
        let mut connect = String::from("'self'");
        if let Some(origin) = public {
            let origin = origin.ascii_serialization();
            if let Some(host) = origin.strip_prefix("https://") {
                connect.push_str(&format!(" wss://{host}"));
            } else if let Some(host) = origin.strip_prefix("http://") {
                connect.push_str(&format!(" ws://{host}"));
            }
        }
        // `cargo leptos watch`: the reload script connects to its own port, on the page's host
        // (`AutoReload` renders it on the same condition).
        if std::env::var_os("LEPTOS_WATCH").is_some() {
            let port = options.reload_external_port.unwrap_or(options.reload_port);
            connect.push_str(&format!(" ws://*:{port} wss://*:{port}"));
        }
        let before_nonce = "default-src 'self'; script-src 'self' 'nonce-".to_owned();
        // Styles come from the stylesheet only (the app sets no `style` attribute); the icon
        // is a `data:` URL; instantiating the wasm needs 'wasm-unsafe-eval'.
        let rest = format!(
            "'wasm-unsafe-eval'; connect-src {connect}; style-src 'self'; img-src 'self' data:; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        );
        // The public URL's host is ASCII already (punycode), so the fallback is for form's sake.
        let without_nonce =
            HeaderValue::try_from(format!("default-src 'self'; script-src 'self' {rest}"))
                .unwrap_or(HeaderValue::from_static(
                    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
                     object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
                ));
        Policy {
            before_nonce,
            after_nonce: format!("' {rest}"),
            without_nonce,
        }
    }

    fn with_nonce(&self, nonce: &Nonce) -> HeaderValue {
        let value = format!("{}{nonce}{}", self.before_nonce, self.after_nonce);
        // A nonce is URL-safe base64; should one ever not fit a header, no script runs.
        HeaderValue::try_from(value).unwrap_or_else(|_| self.without_nonce.clone())
    }
}

/// Wraps everything `router` answers in the security headers.
pub(crate) fn secure(router: Router, policy: Policy) -> Router {
    let fixed = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    router
        .layer(fixed(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // `frame-ancestors 'none'` for browsers that predate it.
        .layer(fixed(header::X_FRAME_OPTIONS, "DENY"))
        // Within the site the full referrer, to other sites none. Unlike `no-referrer`, it
        // never turns a same-origin request's `Origin` into `null` (which the origin check
        // would refuse).
        .layer(fixed(header::REFERRER_POLICY, "same-origin"))
        .layer(middleware::from_fn_with_state(
            Arc::new(policy),
            content_security_policy,
        ))
}

/// Gives the request a fresh nonce, for the page's render ([`provide_nonce`]), and the
/// response the policy that names it.
async fn content_security_policy(
    State(policy): State<Arc<Policy>>,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = (!is_socket_request(request.uri().path())).then(Nonce::new);
    if let Some(nonce) = &nonce {
        request.extensions_mut().insert(nonce.clone());
    }
    let mut response = next.run(request).await;
    // A route's own policy is stricter (a file served in a sandbox): kept.
    if response
        .headers()
        .contains_key(header::CONTENT_SECURITY_POLICY)
    {
        return response;
    }
    let value = match &nonce {
        Some(nonce) => policy.with_nonce(nonce),
        None => policy.without_nonce.clone(),
    };
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, value);
    response
}

/// Replaces the nonce leptos_axum made up for the render with the request's, the one the
/// response's policy names. Runs as the render's additional context, after leptos_axum's.
pub(crate) fn provide_nonce() {
    let nonce = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Nonce>().cloned());
    if let Some(nonce) = nonce {
        provide_context(nonce);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_nonce_and_the_public_websocket() {
        let options = LeptosOptions::builder().output_name("palaver").build();
        let public = url::Url::parse("https://chat.example.org")
            .unwrap()
            .origin();
        let policy = Policy::new(Some(&public), &options);
        let nonce = Nonce::new();
        let value = policy.with_nonce(&nonce);
        let value = value.to_str().unwrap();
        assert!(
            value.contains(&format!(
                "script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval';"
            )),
            "{value}"
        );
        assert!(
            value.contains("connect-src 'self' wss://chat.example.org;"),
            "{value}"
        );
        let plain = Policy::new(None, &options);
        let value = plain.without_nonce.to_str().unwrap();
        assert!(
            value.starts_with("default-src 'self'; script-src 'self' 'wasm-unsafe-eval';"),
            "{value}"
        );
        assert!(value.contains("connect-src 'self';"), "{value}");
        assert!(value.ends_with("frame-ancestors 'none'"), "{value}");
    }
}
