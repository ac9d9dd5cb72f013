//! Palaver's shared crate: the wire contract, the browser Socket.IO client and the Leptos UI.
//!
//! Compiled twice: with `ssr` into the server (rendering), with `hydrate` into the browser
//! (`frontend`). Without either feature it still builds natively, which is how the contract and
//! the client's protocol logic are unit-tested.

pub mod auth;
pub mod client;
pub mod events;
pub mod history;
pub mod mentions;

pub use ui::{App, Page, shell};

mod ui;
