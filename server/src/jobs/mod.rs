//! Work done away from the request that asked for it.

pub(crate) mod archive;
