//! A socket's posts reach the writer in the order the socket sent them.
//!
//! socketioxide spawns a task for each event, and tokio's multi-threaded scheduler runs the
//! newest spawned task first (its LIFO slot). So when several posts were read from one socket
//! at once, under load, their handlers started out of order, and a client that does not wait
//! for acks (the tutorial's `socket.emit`) had its messages stored out of order. A [`Turn`] is
//! taken by an extractor, which socketioxide runs in the order the socket's events are read,
//! before it spawns the handler; the handler waits for the turn before it touches the writer's
//! queue.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use socketioxide::adapter::Adapter;
use socketioxide::handler::FromMessageParts;
use socketioxide::socket::Socket;
use tokio::sync::oneshot;

/// Where the socket's latest turn ends, kept in the socket's extensions.
#[derive(Clone, Default)]
struct Latest(Arc<Mutex<Option<oneshot::Receiver<()>>>>);

/// One post's place in its socket's order. The next post's turn comes when this one is
/// dropped: once its message is queued for the writer, or it was refused.
pub(crate) struct Turn {
    before: Option<oneshot::Receiver<()>>,
    _done: oneshot::Sender<()>,
}

impl Turn {
    /// Waits until every earlier post of the socket has been queued or refused.
    pub(crate) async fn wait(&mut self) {
        if let Some(before) = &mut self.before {
            // An error only means the earlier turn was dropped, which is what we wait for.
            let _ = before.await;
            self.before = None;
        }
    }

    /// The turn after `latest`'s, which becomes the latest.
    fn after(latest: &Latest) -> Turn {
        let (done, end) = oneshot::channel();
        let mut slot = latest
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Turn {
            before: slot.replace(end),
            _done: done,
        }
    }
}

impl<A: Adapter> FromMessageParts<A> for Turn {
    type Error = Infallible;
    fn from_message_parts(
        socket: &Arc<Socket<A>>,
        _: &mut socketioxide_core::Value,
        _: &Option<i64>,
    ) -> Result<Self, Infallible> {
        let latest = socket.extensions.get::<Latest>().unwrap_or_else(|| {
            let latest = Latest::default();
            socket.extensions.insert(latest.clone());
            latest
        });
        Ok(Turn::after(&latest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[test]
    fn a_turn_comes_when_the_one_before_is_dropped() {
        let latest = Latest::default();
        let mut first = Turn::after(&latest);
        let mut second = Turn::after(&latest);
        let mut third = Turn::after(&latest);
        assert!(
            first.wait().now_or_never().is_some(),
            "the first waits for nothing"
        );
        assert!(
            second.wait().now_or_never().is_none(),
            "the second waits for the first"
        );
        assert!(third.wait().now_or_never().is_none());
        drop(first);
        assert!(second.wait().now_or_never().is_some());
        assert!(
            third.wait().now_or_never().is_none(),
            "the third waits for the second"
        );
        drop(second);
        assert!(third.wait().now_or_never().is_some());
    }
}
