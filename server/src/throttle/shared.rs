//! Login and sign-up counts shared by every instance through Redis (C6): with several
//! instances behind a balancer, per-instance counts would give an attacker each instance's
//! budget. Fixed windows (one Redis key per window, `INCR` and an expiry in one round trip):
//! at a window's edge up to twice the budget can pass, never more. Usernames are hashed, so
//! a key is short whatever was typed.

use std::time::Duration;

use redis::aio::ConnectionManager;
use sha2::{Digest, Sha256};

use super::TooMany;

#[derive(Clone)]
pub struct SharedCounts {
    conn: ConnectionManager,
    prefix: String,
}

impl SharedCounts {
    /// Counts over `conn` (the relay's: one multiplexed connection serves both).
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Self { conn, prefix: prefix.to_string() }
    }

    /// Counts one attempt of `kind` by `who` in the current window; refused past `limit`.
    pub async fn hit(
        &self,
        kind: &str,
        who: &str,
        limit: u32,
        window: Duration,
    ) -> Result<Result<(), TooMany>, redis::RedisError> {
        let window_ms = window.as_millis().max(1) as i64;
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let index = now / window_ms;
        let digest: String = Sha256::digest(who.as_bytes()).iter().take(12).map(|b| format!("{b:02x}")).collect();
        let key = format!("{}:rate:{kind}:{index}:{digest}", self.prefix);
        let mut conn = self.conn.clone();
        let (count,): (u64,) =
            redis::pipe().atomic().incr(&key, 1u64).pexpire(&key, window_ms).ignore().query_async(&mut conn).await?;
        if count <= u64::from(limit) {
            return Ok(Ok(()));
        }
        let left = (index + 1) * window_ms - now;
        Ok(Err(TooMany(Duration::from_millis(left.max(1000) as u64))))
    }
}
