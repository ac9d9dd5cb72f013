//! The import job: an uploaded archive (Palaver's own export, or Slack's), stored as messages.

use serde::{Deserialize, Serialize};

/// Which archive an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ImportFormat {
    /// Palaver's own export (`docs/export-format.md`).
    Palaver,
    /// A Slack workspace export.
    Slack,
}

/// What an import job is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ImportPayload {
    /// The uploaded archive (`store::blobs`).
    pub(crate) blob: i64,
    pub(crate) format: ImportFormat,
    /// Uploaded with the admin token: it may add to existing public rooms.
    pub(crate) moderator: bool,
}
