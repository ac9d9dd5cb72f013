//! The export job: conversations' histories as a ZIP (`docs/export-format.md`), kept in the
//! database as a file of the owner's, offered as a signed download link.

use serde::{Deserialize, Serialize};

/// What an export job is given: the conversations, fixed when it was asked for (what the
/// person could read then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ExportPayload {
    pub(crate) conversations: Vec<String>,
    /// The room asked for, or `None` for everything the person may read.
    pub(crate) room: Option<String>,
}
