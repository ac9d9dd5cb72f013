//! Arrivals: the sockets whose welcome (their list, their catch-up, presence) is under way, and
//! those waiting for one.
//!
//! A welcome awaits the database and the catch-up gates, and its future is a few KB. Spawned
//! one per socket, a crowd connecting at once held thousands of them, all alive together while
//! they waited for the pool, and the holes they left stayed in the process's memory. At most
//! [`AT_ONCE`] welcomes run, each in a task that then takes the next arrival ([`Turn`]); the
//! others wait as a socket and its `auth`, in order of arrival.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use app::events::MainAuth;

use crate::cluster::SocketRef;

/// Welcomes under way at most: twice the catch-ups that may read at once, so that the person's
/// list of one socket is read while others' catch-ups are.
const AT_ONCE: usize = 32;

/// A socket let in, to be welcomed.
pub(crate) struct Arrival {
    pub(crate) socket: SocketRef,
    pub(crate) auth: MainAuth,
}

#[derive(Default)]
pub(crate) struct Arrivals {
    state: Mutex<Queue<Arrival>>,
}

struct Queue<T> {
    waiting: VecDeque<T>,
    running: usize,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue {
            waiting: VecDeque::new(),
            running: 0,
        }
    }
}

impl<T> Queue<T> {
    /// `Some` if a place is free, which the arrival then holds; else it waits.
    fn admit(&mut self, arrival: T) -> Option<T> {
        if self.running < AT_ONCE {
            self.running += 1;
            Some(arrival)
        } else {
            self.waiting.push_back(arrival);
            None
        }
    }

    /// The next arrival for a place that has finished one, or `None`, and the place is free.
    fn next(&mut self) -> Option<T> {
        let next = self.waiting.pop_front();
        if next.is_none() {
            self.running -= 1;
            // A crowd's queue is not kept at its size once it has been welcomed.
            if self.waiting.capacity() > AT_ONCE {
                self.waiting = VecDeque::new();
            }
        }
        next
    }
}

impl Arrivals {
    /// A turn that welcomes `arrival` first, if fewer than [`AT_ONCE`] are under way; else
    /// `arrival` waits for a turn that is under way.
    pub(crate) fn admit(self: &Arc<Self>, arrival: Arrival) -> Option<Turn> {
        let first = self.lock().admit(arrival)?;
        Some(Turn {
            arrivals: self.clone(),
            first: Some(first),
            done: false,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue<Arrival>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One place among the [`AT_ONCE`]: it welcomes arrivals one after another while any wait.
pub(crate) struct Turn {
    arrivals: Arc<Arrivals>,
    first: Option<Arrival>,
    done: bool,
}

impl Turn {
    /// The next socket to welcome; `None` gives the place back.
    pub(crate) fn next(&mut self) -> Option<Arrival> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        // Under the lock that `admit` takes: an arrival is either taken here or finds a place.
        let next = self.arrivals.lock().next();
        self.done = next.is_none();
        next
    }
}

impl Drop for Turn {
    /// A turn that ends otherwise (its task stopped) gives its place back too.
    fn drop(&mut self) {
        if !self.done {
            self.arrivals.lock().running -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_places_arrivals_wait_in_order_and_each_is_taken_once() {
        let mut queue = Queue::default();
        let admitted: Vec<usize> = (0..AT_ONCE + 3).filter_map(|i| queue.admit(i)).collect();
        assert_eq!(admitted, (0..AT_ONCE).collect::<Vec<_>>());
        assert_eq!(queue.running, AT_ONCE);
        // The first place to finish takes the waiting ones in order, then frees itself.
        assert_eq!(queue.next(), Some(AT_ONCE));
        assert_eq!(queue.next(), Some(AT_ONCE + 1));
        assert_eq!(queue.next(), Some(AT_ONCE + 2));
        assert_eq!(queue.running, AT_ONCE);
        assert_eq!(queue.next(), None);
        assert_eq!(queue.running, AT_ONCE - 1);
        // A place is free again: the next arrival is admitted at once.
        assert_eq!(queue.admit(99), Some(99));
        assert_eq!(queue.running, AT_ONCE);
    }

    #[test]
    fn a_drained_crowd_gives_its_queue_back() {
        let mut queue = Queue::default();
        for i in 0..AT_ONCE * 10 {
            queue.admit(i);
        }
        while queue.next().is_some() {}
        assert!(queue.waiting.capacity() <= AT_ONCE);
    }
}
