//! Per-user fan-out: every event of a user reaches every socket of that user, and nobody else's.
//!
//! One `broadcast` channel per signed-in user, made on first subscribe and dropped when its
//! last socket goes. A socket that falls more than [`CAPACITY`] events behind is told it
//! lagged and re-syncs from the database (see `ws::session`), so slowness never loses events.
//! With a [`Relay`] (Redis pub/sub), `publish` also hands each event to the other instances,
//! and what they publish arrives through `deliver`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use app::protocol::{ServerMsg, UserId};
use tokio::sync::broadcast;

use crate::relay::Relay;

/// Events buffered per user before a slow socket is considered lagging.
pub const CAPACITY: usize = 256;

pub type Event = Arc<ServerMsg>;

#[derive(Clone, Default)]
pub struct Hub {
    channels: Arc<Mutex<HashMap<UserId, broadcast::Sender<Event>>>>,
    relay: Option<Relay>,
}

impl Hub {
    /// A hub whose events also reach the other instances through `relay`.
    pub fn with_relay(relay: Relay) -> Self {
        Self { channels: Arc::default(), relay: Some(relay) }
    }

    pub fn subscribe(&self, user: UserId) -> broadcast::Receiver<Event> {
        let mut channels = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        channels.retain(|_, tx| tx.receiver_count() > 0);
        channels.entry(user).or_insert_with(|| broadcast::channel(CAPACITY).0).subscribe()
    }

    /// Sends an event to every socket of `user`, here and on other instances; returns how many
    /// sockets it reached here.
    pub fn publish(&self, user: UserId, msg: ServerMsg) -> usize {
        if let Some(relay) = &self.relay {
            relay.event(user, &msg);
        }
        self.deliver(user, msg)
    }

    /// Sends an event to this instance's sockets of `user` only (what the relay brings in).
    pub fn deliver(&self, user: UserId, msg: ServerMsg) -> usize {
        let channels = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // No receiver means the user has no open tab: the event is already stored, nothing is lost.
        channels.get(&user).and_then(|tx| tx.send(Arc::new(msg)).ok()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::protocol::{ThreadDeleted, ThreadId};

    fn deleted(id: i64) -> ServerMsg {
        ServerMsg::ThreadDeleted(ThreadDeleted { thread_id: ThreadId(id) })
    }

    #[tokio::test]
    async fn events_reach_every_socket_of_the_user_and_no_one_else() {
        let hub = Hub::default();
        let mut a1 = hub.subscribe(UserId(1));
        let mut a2 = hub.subscribe(UserId(1));
        let mut b = hub.subscribe(UserId(2));
        assert_eq!(hub.publish(UserId(1), deleted(9)), 2);
        assert_eq!(*a1.recv().await.expect("a1"), deleted(9));
        assert_eq!(*a2.recv().await.expect("a2"), deleted(9));
        assert!(b.try_recv().is_err());
    }

    #[test]
    fn a_user_with_no_socket_is_not_an_error() {
        let hub = Hub::default();
        assert_eq!(hub.publish(UserId(3), deleted(1)), 0);
        drop(hub.subscribe(UserId(3)));
        assert_eq!(hub.publish(UserId(3), deleted(1)), 0);
    }
}
