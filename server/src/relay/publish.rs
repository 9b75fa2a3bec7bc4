//! The publisher task: the one writer of this instance's envelopes, so their numbers are
//! consecutive and their order is the order events happened.

use std::sync::atomic::Ordering;
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::mpsc;

use super::{Body, Envelope, Relay};

pub(super) async fn run(relay: Relay, mut queue: mpsc::Receiver<Body>) {
    let mut publisher = Publisher { conn: relay.conn.clone(), relay, seq: 0 };
    while let Some(body) = queue.recv().await {
        if publisher.relay.dropped.swap(false, Ordering::SeqCst) {
            publisher.recover(&mut queue, Vec::new()).await;
        }
        let result = publisher.publish(body.clone()).await;
        publisher.relay.pending.fetch_sub(1, Ordering::SeqCst);
        if let Err(e) = result {
            tracing::warn!(error = %e, "relay could not publish; other instances will resync");
            let keep = matches!(body, Body::Cancel { .. }).then_some(body).into_iter().collect();
            publisher.recover(&mut queue, keep).await;
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
        let envelope = Envelope { origin: self.relay.origin.to_string(), seq, body };
        let json = serde_json::to_string(&envelope).map_err(|e| {
            redis::RedisError::from((redis::ErrorKind::Client, "relay envelope could not be encoded", e.to_string()))
        })?;
        redis::cmd("PUBLISH").arg(&*self.relay.channel).arg(json).query_async::<i64>(&mut self.conn).await.map(drop)
    }

    /// After events were lost: drops what is queued (stale by the time Redis answers; the
    /// others' resync replaces it) except cancels, announces the gap once Redis takes it,
    /// then sends the cancels, which a snapshot cannot replace.
    async fn recover(&mut self, queue: &mut mpsc::Receiver<Body>, mut cancels: Vec<Body>) {
        let mut wait = Duration::from_millis(100);
        self.seq += 1;
        let gap = self.seq;
        loop {
            self.discard(queue, &mut cancels);
            match self.publish_as(gap, Body::Gap).await {
                Ok(()) => break,
                Err(e) => tracing::debug!(error = %e, "relay still cannot publish"),
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
        self.relay.dropped.store(false, Ordering::SeqCst);
        tracing::info!(seq = gap, cancels = cancels.len(), "relay publishing again; announced the gap");
        for cancel in cancels {
            if let Err(e) = self.publish(cancel).await {
                tracing::warn!(error = %e, "a relayed cancel was lost");
            }
        }
    }

    fn discard(&self, queue: &mut mpsc::Receiver<Body>, cancels: &mut Vec<Body>) {
        while let Ok(body) = queue.try_recv() {
            self.relay.pending.fetch_sub(1, Ordering::SeqCst);
            if matches!(body, Body::Cancel { .. }) && cancels.len() < super::OUTBOX_CAPACITY {
                cancels.push(body);
            }
        }
    }
}
