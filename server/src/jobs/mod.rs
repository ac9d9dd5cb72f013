//! Work done away from the request that asked for it.

// Until the job queue's handlers call them, its entry points are used by its tests alone.
#[allow(dead_code)]
pub(crate) mod archive;
