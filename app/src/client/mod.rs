//! A Socket.IO v5 client over Engine.IO v4 WebSockets, typed by Palaver's wire contract.
//!
//! Layers, each in its own module:
//! - `engine`: Engine.IO v4 packets (open, close, ping, pong, message, noop) as text frames.
//! - [`Connection`]: the protocol logic without I/O. One Engine.IO session multiplexing
//!   namespaces: it connects them with their auth, matches acks, expires them and watches the
//!   server's pings. Frames and time go in; frames to send and events come out. Socket.IO
//!   packets go through the server's own codec, `socketioxide-parser-common`; their arguments
//!   through `serde_json` alone (`args`). It runs anywhere, and that is how it is tested.
//! - `backoff`: reconnection delays, exponential with jitter.
//! - `Client` and `Socket` (browser only, feature `hydrate`): the driver. It owns the
//!   `WebSocket` and the timers, and reconnects with backoff. It exposes the connection state
//!   as Leptos signals.
//!
//! The API is typed by [`crate::events`]: a namespace handle only accepts that namespace's
//! client events, and the payload is the event itself. (The compile-fail examples below name
//! their expected error codes; stable rustdoc does not check them, they were checked by hand.)
//!
//! ```
//! use app::client::{Connection, EmitError, Output};
//! use app::events::{Event, Main, MainAuth, SendMessage};
//!
//! let mut connection = Connection::new();
//! let main = connection.add_namespace::<Main>();
//! let message = SendMessage { text: "hi".into(), client_offset: None, room: None, ..Default::default() };
//! assert_eq!(connection.emit(main, &message), Err(EmitError::NotConnected));
//!
//! // The server's handshake, then its answer to the namespace CONNECT.
//! connection.handle_frame(r#"0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000}"#, 0.0);
//! connection.connect(main, &MainAuth::default()).unwrap();
//! connection.handle_frame(r#"40{"sid":"m"}"#, 1.0);
//! connection.emit(main, &message).unwrap();
//! let frames: Vec<String> = std::iter::from_fn(|| connection.poll_output())
//!     .filter_map(|output| match output {
//!         Output::Send(frame) => Some(frame),
//!         _ => None,
//!     })
//!     .collect();
//! assert_eq!(frames[0], r#"40{"serverOffset":0}"#);
//! assert_eq!(frames[1], format!(r#"42["{}","hi"]"#, SendMessage::NAME));
//! ```
//!
//! Sending a server-to-client event does not compile:
//!
//! ```compile_fail,E0277
//! use app::client::Connection;
//! use app::events::{ChatMessage, Main, MessageMeta};
//!
//! let mut connection = Connection::new();
//! let main = connection.add_namespace::<Main>();
//! let message = ChatMessage {
//!     text: "hi".into(),
//!     id: 1,
//!     meta: MessageMeta { room: "lobby".into(), author: "ann".into(), ts: 0, seq: 1, client_offset: None, kind: None, ..Default::default() },
//! };
//! let _ = connection.emit(main, &message); // ChatMessage is not a ClientEvent
//! ```
//!
//! Neither does sending the wrong payload:
//!
//! ```compile_fail,E0308
//! use app::client::Connection;
//! use app::events::{Main, SendMessage};
//!
//! let mut connection = Connection::new();
//! let main = connection.add_namespace::<Main>();
//! let _ = connection.emit::<SendMessage>(main, &"hi".to_string()); // a String is not a SendMessage
//! ```
//!
//! Nor sending an event on another namespace than its own:
//!
//! ```compile_fail,E0271
//! use app::client::Connection;
//! use app::events::{Namespace, SendMessage};
//!
//! struct Admin;
//! impl Namespace for Admin {
//!     const PATH: &'static str = "/admin";
//!     type Auth = ();
//! }
//!
//! let mut connection = Connection::new();
//! let admin = connection.add_namespace::<Admin>();
//! let message = SendMessage { text: "hi".into(), client_offset: None, room: None, ..Default::default() };
//! let _ = connection.emit(admin, &message); // SendMessage belongs to `/`
//! ```

pub(crate) mod args;
mod backoff;
mod connection;
pub(crate) mod early;
mod engine;

#[cfg(feature = "hydrate")]
mod browser;

pub use backoff::Backoff;
pub use connection::{
    AckFailure, CONNECT_TIMEOUT, Connection, DecodeError, EmitError, Incoming, Millis, Ns,
    NsStatus, Output,
};

#[cfg(feature = "hydrate")]
pub use browser::{AckError, Client, ConnectionState, Socket};
