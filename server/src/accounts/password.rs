//! Password hashing: argon2id with the crate's default parameters (19 MiB, two passes, one
//! lane: OWASP's recommendation), off the runtime's threads, and at most [`AT_ONCE`] at a
//! time, so that a flood of sign-ins queues rather than taking the server's memory and cores.

use std::sync::Arc;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use tokio::sync::Semaphore;

/// Hashes computed at once: each takes a core and 19 MiB.
const AT_ONCE: usize = 2;
/// How long a request waits for its turn before it is told to try again.
const WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("too many passwords being checked at once")]
    Busy,
    #[error("no randomness for a salt: {0}")]
    Random(getrandom::Error),
    #[error("hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("the hashing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Hashes and checks passwords. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Hasher {
    turns: Arc<Semaphore>,
    /// A hash of nothing anyone knows, checked for names without a password, so that an
    /// unknown name takes as long to refuse as a wrong password.
    decoy: Arc<str>,
}

impl Hasher {
    pub(crate) fn new() -> Result<Hasher, PasswordError> {
        let decoy = hash_now("decoy: no account has this password")?;
        Ok(Hasher {
            turns: Arc::new(Semaphore::new(AT_ONCE)),
            decoy: decoy.into(),
        })
    }

    /// The PHC string of `password` under a fresh salt.
    pub(crate) async fn hash(&self, password: String) -> Result<String, PasswordError> {
        let _turn = self.turn().await?;
        tokio::task::spawn_blocking(move || hash_now(&password)).await?
    }

    /// Whether `password` matches `hash`; against `None` (no such account, or no password)
    /// the answer is `false`, after as much work as a real check.
    pub(crate) async fn verify(
        &self,
        password: String,
        hash: Option<String>,
    ) -> Result<bool, PasswordError> {
        let _turn = self.turn().await?;
        let decoy = self.decoy.clone();
        tokio::task::spawn_blocking(move || {
            let real = hash.is_some();
            let hash = hash.unwrap_or_else(|| decoy.to_string());
            let matches = PasswordHash::new(&hash)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false);
            real && matches
        })
        .await
        .map_err(PasswordError::from)
    }

    async fn turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, PasswordError> {
        tokio::time::timeout(WAIT, self.turns.acquire())
            .await
            .map_err(|_| PasswordError::Busy)?
            .map_err(|_| PasswordError::Busy)
    }
}

fn hash_now(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(PasswordError::Random)?;
    let salt = SaltString::encode_b64(&salt).map_err(PasswordError::Hash)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(PasswordError::Hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_matches_its_hash_and_nothing_else() {
        let hasher = Hasher::new().unwrap();
        let hash = hasher.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert_ne!(hasher.hash("correct horse".into()).await.unwrap(), hash);
        assert!(
            hasher
                .verify("correct horse".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("correct horsf".into(), Some(hash))
                .await
                .unwrap()
        );
        // The decoy's own password does not open an account that has none.
        assert!(
            !hasher
                .verify("decoy: no account has this password".into(), None)
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("x".into(), Some("not a hash".into()))
                .await
                .unwrap()
        );
    }
}
