//! The session cookie: `palaver_session=<id>.<secret>`, HttpOnly (no script reads it),
//! SameSite=Strict (no other site's page sends it), `Secure` on an HTTPS site.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use cookie::{Cookie, SameSite};

/// The cookie's name.
pub(crate) const NAME: &str = "palaver_session";
/// How long a browser keeps it: browsers cap cookies at 400 days. The server ends a session
/// unused for [`app::events::SESSION_TTL_MS`] whatever the browser keeps.
const MAX_AGE_DAYS: i64 = 400;

/// The session a request's cookie names: its id and secret, as sent (unchecked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Presented {
    pub(crate) id: String,
    pub(crate) secret: String,
}

impl Presented {
    fn parse(value: &str) -> Option<Presented> {
        let (id, secret) = value.split_once('.')?;
        let hex =
            |s: &str| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_hexdigit());
        (hex(id) && hex(secret)).then(|| Presented {
            id: id.to_owned(),
            secret: secret.to_owned(),
        })
    }

    /// The cookie's value for a session.
    pub(crate) fn value(&self) -> String {
        format!("{}.{}", self.id, self.secret)
    }
}

/// What the request's session cookie says: `None` without one, `Some(None)` when it is there
/// but not a session cookie's shape.
pub(crate) fn presented(headers: &HeaderMap) -> Option<Option<Presented>> {
    session_value(headers).map(|value| Presented::parse(&value))
}

/// The session cookie's value, as sent.
fn session_value(headers: &HeaderMap) -> Option<String> {
    Some(
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == NAME)?
            .value()
            .to_owned(),
    )
}

/// The session cookie alone, as a `Cookie` header's value, for a request kept for a
/// socket's whole life (`http/handshake.rs`): the request's other cookies are no concern of
/// the server's, and a value longer than any session's is kept empty (refused as no session).
pub(crate) fn session_only(headers: &HeaderMap) -> Option<String> {
    let value = session_value(headers)?;
    let value = if value.len() <= 256 {
        value
    } else {
        String::new()
    };
    Some(format!("{NAME}={value}"))
}

/// `Set-Cookie` for a new session.
pub(crate) fn set(session: &Presented, secure: bool) -> String {
    Cookie::build((NAME, session.value()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .max_age(cookie::time::Duration::days(MAX_AGE_DAYS))
        .build()
        .to_string()
}

/// `Set-Cookie` that removes it.
pub(crate) fn clear(secure: bool) -> String {
    Cookie::build((NAME, ""))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(cookies: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for c in cookies {
            h.append(COOKIE, HeaderValue::from_str(c).unwrap());
        }
        h
    }

    #[test]
    fn the_session_is_found_among_other_cookies() {
        let want = Presented {
            id: "ab12".into(),
            secret: "cd34".into(),
        };
        assert_eq!(presented(&headers(&[])), None);
        assert_eq!(presented(&headers(&["a=1; b=2"])), None);
        assert_eq!(
            presented(&headers(&["a=1; palaver_session=ab12.cd34; b=2"])),
            Some(Some(want.clone()))
        );
        assert_eq!(
            presented(&headers(&["a=1", "palaver_session=ab12.cd34"])),
            Some(Some(want))
        );
        for bad in [
            "",
            "ab12",
            "ab12.",
            ".cd34",
            "ab12.cd34.ef",
            "zz.cd34",
            "ab 12.cd34",
        ] {
            assert_eq!(
                presented(&headers(&[&format!("palaver_session={bad}")])),
                Some(None),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_cookie_is_http_only_and_strict() {
        let s = Presented {
            id: "ab".into(),
            secret: "cd".into(),
        };
        let set = set(&s, false);
        assert!(set.starts_with("palaver_session=ab.cd;"), "{set}");
        for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=34560000"] {
            assert!(set.contains(part), "{set} lacks {part}");
        }
        assert!(!set.contains("Secure"), "{set}");
        assert!(super::set(&s, true).contains("Secure"));
        assert!(clear(false).contains("Max-Age=0"));
    }
}
