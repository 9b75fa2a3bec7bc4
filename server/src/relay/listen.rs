//! The receiving side: delivers other instances' events to local sockets, passes their cancels
//! on, and notices when something was missed.

use std::collections::HashMap;
use std::time::Duration;

use app::protocol::{JobId, UserId};
use futures::StreamExt;
use tokio::sync::mpsc;

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

/// The last number seen from each other instance, since the current subscription began.
#[derive(Default)]
struct Sequences(HashMap<String, u64>);

impl Sequences {
    fn place(&mut self, origin: &str, seq: u64) -> Place {
        match self.0.get_mut(origin) {
            None => {
                self.0.insert(origin.to_string(), seq);
                Place::InOrder
            }
            Some(last) if seq <= *last => Place::Repeat,
            Some(last) => {
                let gap = seq > *last + 1;
                *last = seq;
                if gap {
                    Place::AfterGap
                } else {
                    Place::InOrder
                }
            }
        }
    }
}

impl Relay {
    /// Delivers other instances' events to `hub` and their cancels to `on_cancel`, for as
    /// long as the process runs, re-subscribing after Redis comes back. Every subscription but
    /// the first starts with a resync of local tabs: events published meanwhile were lost.
    pub async fn listen(self, url: String, hub: Hub, on_cancel: mpsc::UnboundedSender<Incoming>) {
        let mut wait = Duration::from_millis(250);
        let mut first = true;
        loop {
            match self.listen_once(&url, &hub, &on_cancel, &mut first).await {
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
        first: &mut bool,
    ) -> Result<(), redis::RedisError> {
        let client = redis::Client::open(url)?;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&*self.channel).await?;
        if !std::mem::replace(first, false) {
            let tabs = hub.resync_all();
            tracing::info!(tabs, "relay subscribed again; resyncing local tabs");
        } else {
            tracing::info!(channel = %self.channel, "relay subscribed");
        }
        let mut sequences = Sequences::default();
        let mut messages = pubsub.into_on_message();
        while let Some(m) = messages.next().await {
            let envelope: Envelope = match serde_json::from_slice(m.get_payload_bytes()) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable relay message ignored");
                    continue;
                }
            };
            if *envelope.origin == *self.origin {
                continue;
            }
            match sequences.place(&envelope.origin, envelope.seq) {
                Place::Repeat => continue,
                Place::AfterGap => {
                    let tabs = hub.resync_all();
                    tracing::warn!(origin = %envelope.origin, tabs, "relay gap; resyncing local tabs");
                }
                Place::InOrder => {}
            }
            match envelope.body {
                Body::Event { user, msg } => drop(hub.deliver(user, *msg)),
                Body::Cancel { user, job } => drop(on_cancel.send(Incoming::Cancel { user, job })),
                Body::Gap => {
                    let tabs = hub.resync_all();
                    tracing::warn!(origin = %envelope.origin, tabs, "another instance dropped events; resyncing local tabs");
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_numbers_are_in_order_and_a_hole_is_a_gap() {
        let mut s = Sequences::default();
        assert_eq!(s.place("a", 7), Place::InOrder);
        assert_eq!(s.place("a", 8), Place::InOrder);
        assert_eq!(s.place("b", 1), Place::InOrder);
        assert_eq!(s.place("a", 10), Place::AfterGap);
        assert_eq!(s.place("a", 11), Place::InOrder);
        assert_eq!(s.place("a", 11), Place::Repeat);
        assert_eq!(s.place("a", 3), Place::Repeat);
        assert_eq!(s.place("b", 2), Place::InOrder);
    }
}
