//! Sends that are not acknowledged yet, kept in the browser's local storage so that a reload,
//! a closed tab or a crash does not lose them. The next page load sends them again; the client
//! offset (the entry's key) makes the repeat harmless.
//!
//! One storage item per send, so that two tabs of the same person never overwrite each other's
//! entries; a tab only removes entries it has seen stored.

use serde::{Deserialize, Serialize};

/// Prefix of every outbox item in local storage.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const PREFIX: &str = "palaver.outbox.";

/// One unacknowledged send.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) room: String,
    pub(crate) text: String,
    pub(crate) author: String,
    /// When it was written, ms since the epoch by the browser's clock: the send order.
    pub(crate) at: f64,
    /// The message it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reply: Option<crate::events::ReplyQuote>,
    /// The uploaded files it carries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) files: Vec<crate::events::FileInfo>,
}

#[cfg(feature = "hydrate")]
pub(crate) use browser::{load, put, remove};

#[cfg(feature = "hydrate")]
mod browser {
    use super::{Entry, PREFIX};

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok()?
    }

    /// Every entry, oldest first. Unreadable items are dropped rather than retried forever.
    pub(crate) fn load() -> Vec<Entry> {
        let Some(s) = storage() else {
            return Vec::new();
        };
        let len = s.length().unwrap_or(0);
        let keys: Vec<String> = (0..len)
            .filter_map(|i| s.key(i).ok().flatten())
            .filter(|k| k.starts_with(PREFIX))
            .collect();
        let mut entries = Vec::new();
        for k in keys {
            match s
                .get_item(&k)
                .ok()
                .flatten()
                .and_then(|v| crate::client::args::read::<Entry>(&v).ok())
            {
                // In the order written; inserted in place rather than sorted after, as a sort
                // is a function of its own in the wasm for each kind of item.
                Some(e) => {
                    let at = entries.partition_point(|x: &Entry| x.at.total_cmp(&e.at).is_le());
                    entries.insert(at, e);
                }
                None => {
                    let _ = s.remove_item(&k);
                }
            }
        }
        entries
    }

    pub(crate) fn put(entry: &Entry) {
        if let (Some(s), Ok(v)) = (storage(), serde_json::to_string(entry)) {
            // A full storage only costs durability across reloads, not the send itself.
            if s.set_item(&format!("{PREFIX}{}", entry.key), &v).is_err() {
                leptos::logging::warn!("could not save a pending message to local storage");
            }
        }
    }

    pub(crate) fn remove(key: &str) {
        if let Some(s) = storage() {
            let _ = s.remove_item(&format!("{PREFIX}{key}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_as_json() {
        let e = Entry {
            key: "k".into(),
            room: "lobby".into(),
            text: "hi".into(),
            author: "ann".into(),
            at: 1.5,
            reply: None,
            files: Vec::new(),
        };
        let v = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Entry>(&v).unwrap(), e);
    }
}
