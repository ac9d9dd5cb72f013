//! Palaver's shared crate: the wire contract, the browser Socket.IO client and the Leptos UI.
//!
//! Compiled twice: with `ssr` into the server (rendering), with `hydrate` into the browser
//! (`frontend`). Without either feature it still builds natively, which is how the contract and
//! the client's protocol logic are unit-tested.

// Erasing a whole panel's view (`ui::lazy`) needs the layout of its full type, deeper than the
// default limit.
#![recursion_limit = "256"]

pub mod auth;
pub mod client;
pub mod events;
pub mod history;
pub mod mentions;

mod sorted_map;

#[cfg(feature = "hydrate")]
pub use ui::hydrate;
pub use ui::{App, BuildRoot, Page, shell};

mod ui;
