//! Who a socket of the main namespace is: decided once, by the connect middleware
//! ([`crate::socket::sign_in`]), then kept in the socket's extensions. Event payloads never say
//! who sent them.

use crate::cluster::SocketRef;
use app::events::{ANONYMOUS, Role};

use crate::http::peer::Source;

/// Who a socket is. Set once by the connect middleware; never taken from event payloads.
#[derive(Clone, Debug)]
pub(crate) struct Identity {
    pub(crate) name: String,
    /// The person's stable id; `None` for a guest (no name, no token: the tutorial's client).
    pub(crate) person: Option<String>,
    /// Where the socket connects from, which the per-address limits count it under; `None`
    /// when the listener did not record it. Kept here rather than as an extension of its own:
    /// each extension is a boxed entry in a map on every socket.
    pub(crate) source: Option<Source>,
    /// The session (one signed-in device) of a socket signed in by its cookie.
    pub(crate) session: Option<String>,
    /// What the account may do (as it was when the socket connected); members, guests and
    /// names held by token are [`Role::Member`].
    pub(crate) role: Role,
}

impl Identity {
    pub(crate) fn guest() -> Identity {
        Identity {
            name: ANONYMOUS.to_owned(),
            person: None,
            source: None,
            session: None,
            role: Role::Member,
        }
    }
}

/// The socket's identity, as the middleware set it.
pub(crate) fn of(socket: &SocketRef) -> Identity {
    // The middleware always sets it; the fallback only guards against a future code path.
    socket
        .extensions
        .get::<Identity>()
        .unwrap_or_else(Identity::guest)
}
