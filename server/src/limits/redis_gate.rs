//! The Redis gate: one sorted set per user (`{prefix}:slots:{user}`), members the holders,
//! scores the lease ends in Redis's own clock (`TIME`), so every instance agrees. Each
//! operation is one Lua script, one round trip, atomic: 1,000 simultaneous attempts admit
//! exactly as many as there are slots. The key's expiry follows its latest lease, so no key
//! outlives its holders.

use std::time::Duration;

use app::protocol::UserId;
use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use redis::Script;

use super::{Gate, GateError};

/// Drops expired holders and returns Redis's clock in ms; shared by every script.
const PRELUDE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local function expire_with_last_lease()
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIREAT', KEYS[1], last[2]) end
end
";

const ACQUIRE: &str = r"
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  expire_with_last_lease()
  return 1
end
return 0
";

const RENEW: &str = r"
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
expire_with_last_lease()
return 1
";

const RELEASE: &str = r"
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
return 1
";

pub struct RedisGate {
    conn: MultiplexedConnection,
    prefix: String,
    acquire: Script,
    renew: Script,
    release: Script,
}

fn unavailable(e: redis::RedisError) -> GateError {
    GateError::Unavailable(e.to_string())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisGate {
    /// Connects to `url`; every key starts with `prefix` (tests use one per test).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, GateError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let conn = client.get_multiplexed_async_connection().await.map_err(unavailable)?;
        let script = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
            acquire: script(ACQUIRE),
            renew: script(RENEW),
            release: script(RELEASE),
        })
    }

    fn key(&self, user: UserId) -> String {
        format!("{}:slots:{}", self.prefix, user)
    }
}

#[async_trait]
impl Gate for RedisGate {
    async fn acquire(&self, user: UserId, holder: &str, max: u32, lease: Duration) -> Result<bool, GateError> {
        let mut conn = self.conn.clone();
        let admitted: i64 = self
            .acquire
            .key(self.key(user))
            .arg(holder)
            .arg(millis(lease))
            .arg(max)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(admitted == 1)
    }

    async fn renew(&self, user: UserId, holder: &str, lease: Duration) -> Result<bool, GateError> {
        let mut conn = self.conn.clone();
        let renewed: i64 = self
            .renew
            .key(self.key(user))
            .arg(holder)
            .arg(millis(lease))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(renewed == 1)
    }

    async fn release(&self, user: UserId, holder: &str) -> Result<(), GateError> {
        let mut conn = self.conn.clone();
        let _: i64 = self.release.key(self.key(user)).arg(holder).invoke_async(&mut conn).await.map_err(unavailable)?;
        Ok(())
    }
}
