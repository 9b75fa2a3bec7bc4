//! Fan-out across instances over Redis pub/sub, when `REDIS_URL` is set.
//!
//! Every instance publishes each hub event (and each Cancel it cannot serve itself) on one
//! channel, `{prefix}:relay`, tagged with its own random id; every instance delivers what
//! others published to its local sockets, so a user's tabs stay in sync whichever instance
//! they are connected to. One publisher task per instance drains an ordered queue, so a
//! user's events leave in the order they happened. The newest preview of a running job is
//! also kept in Redis (two minutes), so `/jobs/{id}/preview` works on every instance.
//!
//! Pub/sub is best effort: while Redis is away, other instances' events are not delivered
//! (chat keeps working on each instance, and a reload reads everything from the database).

use std::time::Duration;

use app::protocol::{JobId, ServerMsg, UserId};
use futures::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::hub::Hub;

/// How long a preview stays in Redis after its last update.
const PREVIEW_TTL_MS: u64 = 120_000;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Envelope {
    Event { origin: String, user: UserId, msg: Box<ServerMsg> },
    Cancel { origin: String, user: UserId, job: JobId },
}

/// This instance's end of the relay. Cheap to clone.
#[derive(Clone)]
pub struct Relay {
    origin: String,
    channel: String,
    prefix: String,
    conn: ConnectionManager,
    outbox: mpsc::UnboundedSender<String>,
}

/// What arrives from other instances and is for this one to act on.
pub enum Incoming {
    Cancel { user: UserId, job: JobId },
}

impl Relay {
    /// Prepares the relay (no connection yet) and starts its publisher task. Call it inside a
    /// Tokio runtime.
    pub fn connect(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_lazy_with_config(client, config)?;
        let (outbox, queue) = mpsc::unbounded_channel();
        let channel = format!("{prefix}:relay");
        tokio::spawn(publish_all(conn.clone(), channel.clone(), queue));
        Ok(Self { origin: uuid::Uuid::new_v4().to_string(), channel, prefix: prefix.to_string(), conn, outbox })
    }

    fn send(&self, envelope: &Envelope) {
        match serde_json::to_string(envelope) {
            // Fails only when the publisher task is gone, i.e. the process is stopping.
            Ok(json) => drop(self.outbox.send(json)),
            Err(e) => tracing::error!(error = %e, "relay envelope could not be encoded"),
        }
    }

    /// Hands a hub event to the other instances.
    pub fn event(&self, user: UserId, msg: &ServerMsg) {
        self.send(&Envelope::Event { origin: self.origin.clone(), user, msg: Box::new(msg.clone()) });
    }

    /// Asks whichever instance runs `job` to cancel it.
    pub fn cancel(&self, user: UserId, job: JobId) {
        self.send(&Envelope::Cancel { origin: self.origin.clone(), user, job });
    }

    fn preview_key(&self, job: JobId) -> String {
        format!("{}:preview:{job}", self.prefix)
    }

    pub async fn store_preview(&self, job: JobId, png: &[u8]) {
        let mut conn = self.conn.clone();
        let stored: Result<(), _> = redis::cmd("SET")
            .arg(self.preview_key(job))
            .arg(png)
            .arg("PX")
            .arg(PREVIEW_TTL_MS)
            .query_async(&mut conn)
            .await;
        if let Err(e) = stored {
            tracing::warn!(%job, error = %e, "preview could not be shared through Redis");
        }
    }

    pub async fn preview(&self, job: JobId) -> Option<Vec<u8>> {
        let mut conn = self.conn.clone();
        redis::cmd("GET").arg(self.preview_key(job)).query_async::<Option<Vec<u8>>>(&mut conn).await.ok().flatten()
    }

    /// Delivers other instances' events to `hub` and their cancels to `on_cancel`, for as
    /// long as the process runs, re-subscribing after Redis comes back.
    pub async fn listen(self, url: String, hub: Hub, on_cancel: mpsc::UnboundedSender<Incoming>) {
        let mut wait = Duration::from_millis(250);
        loop {
            match self.listen_once(&url, &hub, &on_cancel).await {
                Ok(()) => tracing::warn!("relay subscription ended; subscribing again"),
                Err(e) => tracing::warn!(error = %e, "relay subscription failed; retrying"),
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
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
        pubsub.subscribe(&self.channel).await?;
        tracing::info!(channel = %self.channel, "relay subscribed");
        let mut messages = pubsub.into_on_message();
        while let Some(m) = messages.next().await {
            let envelope: Envelope = match serde_json::from_slice(m.get_payload_bytes()) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable relay message ignored");
                    continue;
                }
            };
            match envelope {
                Envelope::Event { origin, user, msg } if origin != self.origin => {
                    hub.deliver(user, *msg);
                }
                Envelope::Cancel { origin, user, job } if origin != self.origin => {
                    let _ = on_cancel.send(Incoming::Cancel { user, job });
                }
                _ => {}
            }
        }
        Ok(())
    }
}

async fn publish_all(mut conn: ConnectionManager, channel: String, mut queue: mpsc::UnboundedReceiver<String>) {
    while let Some(json) = queue.recv().await {
        let sent: Result<i64, _> = redis::cmd("PUBLISH").arg(&channel).arg(&json).query_async(&mut conn).await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "an event could not be relayed to other instances");
        }
    }
}
