//! Archives in and out: Palaver's own export (a ZIP of NDJSON, `docs/export-format.md`), and
//! imports of it or of a Slack export, streamed a record at a time into the writer.

pub(crate) mod json;
pub(crate) mod limits;
pub(crate) mod zipped;
