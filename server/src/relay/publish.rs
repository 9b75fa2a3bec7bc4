//! The publisher task: the one writer of this instance's envelopes, so their numbers are
//! consecutive and their order is the order events happened. It also publishes a heartbeat
//! every [`HEARTBEAT`], so receivers notice an instance that went silent (killed with events
//! still queued) and their own subscription going dead.

use std::sync::atomic::Ordering;
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::{Body, Envelope, Relay};

/// How often an instance says it is alive on the relay channel.
pub const HEARTBEAT: Duration = Duration::from_secs(2);

pub(super) async fn run(relay: Relay, mut queue: mpsc::Receiver<Body>) {
    let mut publisher = Publisher { conn: relay.conn.clone(), relay, seq: 0 };
    let mut beat = tokio::time::interval(HEARTBEAT);
    beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let body = tokio::select! {
            body = queue.recv() => match body {
                Some(body) => body,
                None => return,
            },
            _ = beat.tick() => Body::Heartbeat,
        };
        let queued = !matches!(body, Body::Heartbeat);
        if publisher.relay.dropped.swap(false, Ordering::SeqCst) {
            // Older than what was dropped: the others' resync replaces it (an order stays).
            publisher.recover(&mut queue, body.must_arrive().then_some(body)).await;
        } else if let Err(e) = publisher.publish(body.clone()).await {
            tracing::warn!(error = %e, "relay could not publish; other instances will resync");
            publisher.recover(&mut queue, body.must_arrive().then_some(body)).await;
        }
        if queued {
            publisher.relay.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

struct Publisher {
    relay: Relay,
    conn: ConnectionManager,
    /// The number of the last envelope handed to Redis.
    seq: u64,
}

impl Publisher {
    async fn publish(&mut self, body: Body) -> Result<(), redis::RedisError> {
        self.seq += 1;
        self.publish_as(self.seq, body).await
    }

    async fn publish_as(&mut self, seq: u64, body: Body) -> Result<(), redis::RedisError> {
        let envelope = Envelope { origin: self.relay.origin.to_string(), seq, sent_ms: crate::store::now_ms(), body };
        let json = serde_json::to_string(&envelope).map_err(|e| {
            redis::RedisError::from((redis::ErrorKind::Client, "relay envelope could not be encoded", e.to_string()))
        })?;
        redis::cmd("PUBLISH").arg(&*self.relay.channel).arg(json).query_async::<i64>(&mut self.conn).await.map(drop)
    }

    /// After events were lost: drops what is queued (stale by the time Redis answers; the
    /// others' resync replaces it) except orders (cancels, ended sessions), announces the gap
    /// once Redis takes it, then sends the orders, which a snapshot cannot replace. A drop
    /// while this runs leaves the flag set, so the next envelope announces another gap.
    async fn recover(&mut self, queue: &mut mpsc::Receiver<Body>, order: Option<Body>) {
        let mut kept = Vec::new();
        let mut wait = Duration::from_millis(100);
        self.seq += 1;
        let gap = self.seq;
        loop {
            self.discard(queue, &mut kept);
            match self.publish_as(gap, Body::Gap).await {
                Ok(()) => break,
                Err(e) => tracing::debug!(error = %e, "relay still cannot publish"),
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
        tracing::info!(seq = gap, orders = kept.len(), "relay publishing again; announced the gap");
        if let Some(order) = order {
            if let Err(e) = self.publish(order).await {
                tracing::warn!(error = %e, "a relayed order was lost");
            }
        }
        for order in kept {
            if let Err(e) = self.publish(order).await {
                tracing::warn!(error = %e, "a relayed order was lost");
            }
            self.relay.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Empties the queue: events are dropped (no longer pending), orders kept (still pending).
    fn discard(&self, queue: &mut mpsc::Receiver<Body>, kept: &mut Vec<Body>) {
        while let Ok(body) = queue.try_recv() {
            match body {
                _ if body.must_arrive() && kept.len() < super::OUTBOX_CAPACITY => kept.push(body),
                _ => drop(self.relay.pending.fetch_sub(1, Ordering::SeqCst)),
            }
        }
    }
}
