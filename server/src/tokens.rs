//! Tokens of webhooks and bots: 32 random bytes, shown once when made and kept only as their
//! SHA-256, so that a copy of the database lets nobody post. Each is presented with the id of
//! what it opens, found by that id, then compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::secrets::{SecretError, random_hex};

/// Random bytes in a token (64 hex digits).
const TOKEN_BYTES: usize = 32;
/// Random bytes in an id (16 hex digits): ids are not secret, only distinct.
const ID_BYTES: usize = 8;
/// What a bot token starts with, so that one pasted where it should not be is recognisable.
const BOT_PREFIX: &str = "pvb_";

/// A token as made: the token, for the one answer that shows it, and the hash to keep.
pub(crate) struct Issued {
    pub(crate) token: String,
    pub(crate) hash: String,
}

/// A new id for a webhook or bot.
pub(crate) fn new_id() -> Result<String, SecretError> {
    random_hex(ID_BYTES)
}

/// A new id, and a new token and its hash: what a thing found by id and opened by its
/// token (a session, an invite, a reset code) is made of.
pub(crate) fn issue_with_id() -> Result<(String, Issued), SecretError> {
    Ok((new_id()?, issue()?))
}

/// A new token and its hash.
pub(crate) fn issue() -> Result<Issued, SecretError> {
    let token = random_hex(TOKEN_BYTES)?;
    Ok(Issued {
        hash: hash(&token),
        token,
    })
}

/// The hash kept of `token`: SHA-256, hex.
pub(crate) fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `presented` is the token whose hash is `kept`, in time that does not depend on how
/// much of it matches.
pub(crate) fn matches(presented: &str, kept: &str) -> bool {
    bool::from(hash(presented).as_bytes().ct_eq(kept.as_bytes()))
}

/// The bot token of bot `id`: `pvb_<id>_<token>`.
pub(crate) fn bot_token(id: &str, token: &str) -> String {
    format!("{BOT_PREFIX}{id}_{token}")
}

/// The bot id and token in a presented bot token, if it has their shape.
pub(crate) fn parse_bot_token(presented: &str) -> Option<(&str, &str)> {
    let (id, token) = presented.strip_prefix(BOT_PREFIX)?.split_once('_')?;
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id) && hex(token)).then_some((id, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_matches_its_hash_and_nothing_else() {
        let issued = issue().unwrap();
        assert_eq!(issued.token.len(), 64);
        assert!(matches(&issued.token, &issued.hash));
        assert!(!matches(&issued.hash, &issued.hash));
        assert!(!matches(&issued.token[1..], &issued.hash));
        assert_ne!(issue().unwrap().token, issued.token);
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_bot_token_carries_its_id() {
        let id = new_id().unwrap();
        let token = bot_token(&id, "00ff");
        assert_eq!(parse_bot_token(&token), Some((id.as_str(), "00ff")));
        for bad in [
            "",
            "pvb_",
            "pvb__00",
            "pvb_ab_",
            "pvb_ab_zz",
            "xyz_ab_00",
            "ab_00",
        ] {
            assert_eq!(parse_bot_token(bad), None, "{bad}");
        }
    }
}
