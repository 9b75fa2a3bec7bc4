//! The receiving side: delivers other instances' events to local sockets, passes their cancels
//! on, and notices when something was missed.

use std::collections::HashMap;
use std::time::Duration;

use app::protocol::{JobId, UserId};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Body, Envelope, Relay};
use crate::hub::Hub;

/// What arrives from other instances and is for this one to act on.
pub enum Incoming {
    Cancel { user: UserId, job: JobId },
}

/// Where an envelope falls in its origin's numbering.
#[derive(Debug, PartialEq, Eq)]
enum Place {
    /// The first seen from this origin since subscribing (or the one after the last).
    InOrder,
    /// Numbers were skipped: something from this origin never arrived.
    AfterGap,
    /// Seen already (a publish retried after a lost answer).
    Repeat,
}

/// What is known of each other instance since the current subscription began: the last
/// number seen and when it was heard from.
#[derive(Default)]
struct Sequences(HashMap<String, (u64, Instant)>);

impl Sequences {
    fn place(&mut self, origin: &str, seq: u64, now: Instant) -> Place {
        match self.0.get_mut(origin) {
            None => {
                self.0.insert(origin.to_string(), (seq, now));
                Place::InOrder
            }
            Some((last, _)) if seq <= *last => Place::Repeat,
            Some((last, heard)) => {
                let gap = seq > *last + 1;
                *last = seq;
                *heard = now;
                if gap {
                    Place::AfterGap
                } else {
                    Place::InOrder
                }
            }
        }
    }

    /// Forgets the instances not heard from since `before` (each beats every two seconds);
    /// returns how many: what they had queued when they died never came.
    fn expire(&mut self, before: Instant) -> usize {
        let known = self.0.len();
        self.0.retain(|_, (_, heard)| *heard >= before);
        known - self.0.len()
    }
}

/// Silence after which an instance (or this instance's own subscription, which hears its own
/// heartbeat) is taken for dead.
/// Five beats: a busy machine delays a beat, it does not miss five.
const SILENCE: Duration = Duration::from_secs(5 * super::publish::HEARTBEAT.as_secs());

impl Relay {
    /// Delivers other instances' events to `hub` and their cancels to `on_cancel`, for as
    /// long as the process runs, re-subscribing after Redis comes back. Every subscription
    /// starts with a resync of local tabs: events published before it were not heard.
    pub async fn listen(self, url: String, hub: Hub, on_cancel: mpsc::UnboundedSender<Incoming>) {
        let mut wait = Duration::from_millis(250);
        loop {
            match self.listen_once(&url, &hub, &on_cancel).await {
                Ok(()) => tracing::warn!("relay subscription ended; subscribing again"),
                Err(e) => tracing::warn!(error = %e, "relay subscription failed; retrying"),
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    }

    async fn listen_once(
        &self,
        url: &str,
        hub: &Hub,
        on_cancel: &mpsc::UnboundedSender<Incoming>,
    ) -> Result<(), redis::RedisError> {
        let client = redis::Client::open(url)?;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&*self.channel).await?;
        let tabs = hub.resync_all();
        tracing::info!(channel = %self.channel, tabs, "relay subscribed; resynced local tabs");
        let mut sequences = Sequences::default();
        let mut messages = pubsub.into_on_message();
        loop {
            // This instance hears its own heartbeat: silence means the subscription is dead
            // (a connection dropped without a word), so subscribe again.
            let m = match tokio::time::timeout(SILENCE, messages.next()).await {
                Ok(Some(m)) => m,
                Ok(None) => return Ok(()),
                Err(_) => {
                    return Err(redis::RedisError::from((redis::ErrorKind::Io, "relay subscription silent")));
                }
            };
            let now = Instant::now();
            let gone = now.checked_sub(SILENCE).map_or(0, |before| sequences.expire(before));
            if gone > 0 {
                let tabs = hub.resync_all();
                tracing::warn!(instances = gone, tabs, "an instance went silent; resyncing local tabs");
            }
            let envelope: Envelope = match serde_json::from_slice(m.get_payload_bytes()) {
                Ok(e) => e,
                Err(e) => {
                    // From an instance of another version, say: whatever it said is missed.
                    let tabs = hub.resync_all();
                    tracing::warn!(error = %e, tabs, "unreadable relay message; resyncing local tabs");
                    continue;
                }
            };
            if *envelope.origin == *self.origin {
                continue;
            }
            match sequences.place(&envelope.origin, envelope.seq, now) {
                Place::Repeat => continue,
                Place::AfterGap => {
                    let tabs = hub.resync_all();
                    tracing::warn!(origin = %envelope.origin, tabs, "relay gap; resyncing local tabs");
                }
                Place::InOrder => {}
            }
            match envelope.body {
                Body::Event { user, msg } => {
                    let lag = crate::store::now_ms().saturating_sub(envelope.sent_ms).max(0);
                    crate::monitoring::relay_received(std::time::Duration::from_millis(lag as u64));
                    hub.deliver(user, *msg);
                }
                Body::Cancel { user, job } => drop(on_cancel.send(Incoming::Cancel { user, job })),
                Body::Gap => {
                    let tabs = hub.resync_all();
                    tracing::warn!(origin = %envelope.origin, tabs, "another instance dropped events; resyncing local tabs");
                }
                Body::SessionEnded { user, session } => drop(hub.end_session_here(user, session)),
                Body::Heartbeat => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_numbers_are_in_order_and_a_hole_is_a_gap() {
        let mut s = Sequences::default();
        let t = Instant::now();
        assert_eq!(s.place("a", 7, t), Place::InOrder);
        assert_eq!(s.place("a", 8, t), Place::InOrder);
        assert_eq!(s.place("b", 1, t), Place::InOrder);
        assert_eq!(s.place("a", 10, t), Place::AfterGap);
        assert_eq!(s.place("a", 11, t), Place::InOrder);
        assert_eq!(s.place("a", 11, t), Place::Repeat);
        assert_eq!(s.place("a", 3, t), Place::Repeat);
        assert_eq!(s.place("b", 2, t), Place::InOrder);
    }

    #[test]
    fn an_instance_not_heard_from_is_forgotten_once() {
        let mut s = Sequences::default();
        let t = Instant::now();
        s.place("a", 1, t);
        s.place("b", 1, t + Duration::from_secs(5));
        assert_eq!(s.expire(t + Duration::from_secs(1)), 1, "a went silent");
        assert_eq!(s.expire(t + Duration::from_secs(1)), 0, "and is counted once");
        assert_eq!(s.place("a", 9, t + Duration::from_secs(6)), Place::InOrder, "back: a fresh start");
    }
}
