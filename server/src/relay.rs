//! Fan-out across instances over Redis pub/sub, when `REDIS_URL` is set.
//!
//! Every instance publishes each hub event (and each Cancel it cannot serve itself) on one
//! channel, `{prefix}:relay`, tagged with its own random id and a sequence number; every
//! instance delivers what others published to its local sockets, so a user's tabs stay in
//! sync whichever instance they are connected to. One publisher task per instance drains an
//! ordered queue, so events leave in the order they happened and numbers have no holes unless
//! something was lost. The newest preview of a running job is also kept in Redis
//! (`previews`), so `/jobs/{id}/preview` works on every instance.
//!
//! Pub/sub loses what is published while a subscriber is away, so losses are detected and
//! repaired instead of prevented (`listen`): a hole in an instance's numbers, a subscription
//! (re)made, an instance announcing it dropped events, an instance falling silent (no
//! heartbeat: killed with events queued) or an unreadable envelope makes the receiver re-send
//! every local tab a snapshot from the database, which all tabs converge on. That also bounds
//! the outbox: while Redis is away, queued events are discarded (they would be stale, and the
//! snapshot replaces them) and at most [`OUTBOX_CAPACITY`] wait.

mod listen;
mod previews;
mod publish;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use app::protocol::{JobId, ServerMsg, UserId};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::hub::{Ended, Outbound};
pub use listen::Incoming;

/// Envelopes waiting for Redis at most; past that, new ones are dropped and counted as a gap.
pub const OUTBOX_CAPACITY: usize = 4_096;

/// One message on the relay channel.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    origin: String,
    /// Consecutive per origin; a hole means the receiver missed something.
    seq: u64,
    /// Wall clock (Unix ms) when it was published: the receiver's relay lag.
    #[serde(default)]
    sent_ms: i64,
    body: Body,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Body {
    Event {
        user: UserId,
        msg: Box<ServerMsg>,
    },
    Cancel {
        user: UserId,
        job: JobId,
    },
    /// The origin dropped events (Redis was away or its outbox was full): resync.
    Gap,
    /// The origin is alive (every two seconds).
    Heartbeat,
    /// A session ended (logout): its sockets close wherever they are.
    SessionEnded {
        user: UserId,
        session: Ended,
    },
}

impl Body {
    /// What a resync cannot replace (an order to act): kept through an outage.
    fn must_arrive(&self) -> bool {
        matches!(self, Self::Cancel { .. } | Self::SessionEnded { .. })
    }
}

/// This instance's end of the relay. Cheap to clone.
#[derive(Clone)]
pub struct Relay {
    origin: Arc<str>,
    channel: Arc<str>,
    prefix: Arc<str>,
    conn: ConnectionManager,
    outbox: mpsc::Sender<Body>,
    /// Set when an envelope could not be queued; the publisher then announces a gap.
    dropped: Arc<AtomicBool>,
    /// Envelopes queued or being published, for `flush`.
    pending: Arc<AtomicUsize>,
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
        let (outbox, queue) = mpsc::channel(OUTBOX_CAPACITY);
        let relay = Self {
            origin: uuid::Uuid::new_v4().to_string().into(),
            channel: format!("{prefix}:relay").into(),
            prefix: prefix.into(),
            conn,
            outbox,
            dropped: Arc::default(),
            pending: Arc::default(),
        };
        tokio::spawn(publish::run(relay.clone(), queue));
        Ok(relay)
    }

    /// The relay's Redis connection (multiplexed), for others that count in Redis.
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn send(&self, body: Body) {
        self.pending.fetch_add(1, Ordering::SeqCst);
        if let Err(e) = self.outbox.try_send(body) {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            // Full (Redis is slow or away) or closed (the process is stopping): the others
            // will see a gap and resync, so nothing is lost for good.
            if !self.dropped.swap(true, Ordering::SeqCst) {
                tracing::warn!(reason = %e, "relay outbox full; other instances will resync");
            }
        }
    }

    /// Asks whichever instance runs `job` to cancel it.
    pub fn cancel(&self, user: UserId, job: JobId) {
        self.send(Body::Cancel { user, job });
    }

    /// Waits (at most `limit`) until everything queued has been published or dropped, and a
    /// gap it caused announced.
    pub async fn flush(&self, limit: Duration) {
        let until = tokio::time::Instant::now() + limit;
        while self.pending.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Outbound for Relay {
    fn event(&self, user: UserId, msg: &ServerMsg) {
        self.send(Body::Event { user, msg: Box::new(msg.clone()) });
    }

    fn session_ended(&self, user: UserId, ended: &Ended) {
        self.send(Body::SessionEnded { user, session: ended.clone() });
    }
}
