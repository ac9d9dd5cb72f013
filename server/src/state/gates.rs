//! The gates that catch-ups pass (see [`crate::socket::catchup`]).

use tokio::sync::{Semaphore, SemaphorePermit};

/// How many catch-ups may be under way at once, and how many may wait for the order lock.
///
/// A catch-up holds what it read until it has sent it, so those under way bound that memory;
/// they also bound the crowd waiting for the database's pool, where `/healthz`, history pages
/// and the chat page wait too. Only a few may queue for the order lock, which is fair: the
/// writer, queued behind them, waits for a few replays, not for a crowd's.
pub(crate) struct Gates {
    reading: Semaphore,
    sending: Semaphore,
}

/// Catch-ups reading, or holding what they read: twice the database pool's connections.
const UNDER_WAY: usize = 16;
/// Catch-ups waiting for the order lock, or sending under it.
const SENDING: usize = 2;

impl Default for Gates {
    fn default() -> Gates {
        Gates {
            reading: Semaphore::new(UNDER_WAY),
            sending: Semaphore::new(SENDING),
        }
    }
}

impl Gates {
    /// Held from the first read until the replay is sent.
    pub(crate) async fn read(&self) -> Option<SemaphorePermit<'_>> {
        self.reading.acquire().await.ok()
    }

    /// Held around taking the order lock and sending.
    pub(crate) async fn send(&self) -> Option<SemaphorePermit<'_>> {
        self.sending.acquire().await.ok()
    }
}
