//! Session tokens: who a person is, signed with the server's key (HMAC-SHA256), so a token
//! cannot be forged or altered, and the server needs no session table to check one.
//!
//! A token is `v1.<claims>.<mac>`, both parts base64url without padding; the claims are JSON.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use app::events::Refusal;

type HmacSha256 = Hmac<Sha256>;

const VERSION: &str = "v1";

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The person's id: stays the same when they rename; memberships hang on it.
    #[serde(rename = "p")]
    pub(crate) person: String,
    #[serde(rename = "n")]
    pub(crate) name: String,
    /// Expiry, milliseconds since the Unix epoch.
    #[serde(rename = "e")]
    pub(crate) expires_at: i64,
}

/// Signs and checks tokens. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Keys {
    mac: HmacSha256,
}

impl Keys {
    pub(crate) fn new(secret: &str) -> Keys {
        Keys {
            // HMAC takes keys of any length.
            mac: HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key"),
        }
    }

    pub(crate) fn issue(&self, claims: &Claims) -> String {
        let body = B64.encode(serde_json::to_vec(claims).expect("claims serialise"));
        let signed = format!("{VERSION}.{body}");
        let mut mac = self.mac.clone();
        mac.update(signed.as_bytes());
        format!("{signed}.{}", B64.encode(mac.finalize().into_bytes()))
    }

    /// A tag that proves this server wrote `data` (a download link's terms).
    pub(crate) fn tag(&self, data: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(b"tag\0");
        mac.update(data.as_bytes());
        B64.encode(mac.finalize().into_bytes())
    }

    /// Whether `tag` is this server's [`Keys::tag`] of `data`, compared in constant time.
    pub(crate) fn check_tag(&self, data: &str, tag: &str) -> bool {
        let Ok(tag) = B64.decode(tag) else {
            return false;
        };
        let mut mac = self.mac.clone();
        mac.update(b"tag\0");
        mac.update(data.as_bytes());
        mac.verify_slice(&tag).is_ok()
    }

    /// The claims of a token this server signed and that has not expired at `now`.
    pub(crate) fn verify(&self, token: &str, now: i64) -> Result<Claims, Refusal> {
        let (signed, tag) = token.rsplit_once('.').ok_or(Refusal::InvalidToken)?;
        let (version, body) = signed.split_once('.').ok_or(Refusal::InvalidToken)?;
        if version != VERSION {
            return Err(Refusal::InvalidToken);
        }
        let tag = B64.decode(tag).map_err(|_| Refusal::InvalidToken)?;
        let mut mac = self.mac.clone();
        mac.update(signed.as_bytes());
        // Constant-time comparison: timing must not reveal how much of a forged tag is right.
        mac.verify_slice(&tag).map_err(|_| Refusal::InvalidToken)?;
        let body = B64.decode(body).map_err(|_| Refusal::InvalidToken)?;
        let claims: Claims = serde_json::from_slice(&body).map_err(|_| Refusal::InvalidToken)?;
        if claims.expires_at <= now {
            return Err(Refusal::ExpiredToken);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(expires_at: i64) -> Claims {
        Claims {
            person: "p1".into(),
            name: "ann".into(),
            expires_at,
        }
    }

    #[test]
    fn a_token_round_trips_until_it_expires() {
        let keys = Keys::new("secret");
        let token = keys.issue(&claims(1_000));
        assert_eq!(keys.verify(&token, 999), Ok(claims(1_000)));
        assert_eq!(keys.verify(&token, 1_000), Err(Refusal::ExpiredToken));
    }

    #[test]
    fn forged_and_altered_tokens_are_refused() {
        let keys = Keys::new("secret");
        let token = keys.issue(&claims(1_000));
        // Another server's key.
        assert_eq!(
            Keys::new("other").verify(&token, 0),
            Err(Refusal::InvalidToken)
        );
        // Claims rewritten to another name, keeping the old signature.
        let (_, tag) = token.rsplit_once('.').unwrap();
        let mut bob = claims(1_000);
        bob.name = "bob".into();
        let body = B64.encode(serde_json::to_vec(&bob).unwrap());
        assert_eq!(
            keys.verify(&format!("v1.{body}.{tag}"), 0),
            Err(Refusal::InvalidToken)
        );
        for junk in ["", "v1", "v1.x", "v2.a.b", "v1.!!.??"] {
            assert_eq!(keys.verify(junk, 0), Err(Refusal::InvalidToken), "{junk}");
        }
    }
}
