//! The Redis gate. Slots: one sorted set per user (`{prefix}:slots:{user}`), members the
//! holders, scores the lease ends. Windows: one counter per user and window id
//! (`{prefix}:q:{user}:h:{hour}`, `:d:{day}`, `:m:{month}`), the month's spend in micro-dollars
//! (`:s:{month}`), and the cooldown (`:cd`, holding the holder that started it). Time is
//! Redis's own (`TIME`), so every instance agrees on leases and on when windows reset.
//!
//! Each operation is one Lua script, one round trip, atomic: 1,000 simultaneous attempts
//! admit exactly as many as there are slots. Every key is written with an expiry (window end,
//! latest lease, cooldown end), so none outlives its use.
//!
//! The connection is a lazy [`ConnectionManager`]: start-up does not need Redis, a request
//! while Redis is down fails fast as [`GateError::Unavailable`], and the next request after
//! it returns reconnects.

pub mod scripts;

use std::time::Duration;

use app::protocol::{UserId, Window};
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Script, ScriptInvocation};

use super::{Admission, Ask, Baseline, Gate, GateError, Limits, Usage, Verdict, WindowIds};

pub struct RedisGate {
    conn: ConnectionManager,
    prefix: String,
    acquire: Script,
    renew: Script,
    release: Script,
    admit: Script,
    refund: Script,
    charge: Script,
    usage: Script,
}

fn unavailable(e: redis::RedisError) -> GateError {
    GateError::Unavailable(e.to_string())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// The baseline as the scripts' first seven arguments.
fn with_baseline<'i, 'a>(inv: &'i mut ScriptInvocation<'a>, b: &Baseline) -> &'i mut ScriptInvocation<'a> {
    inv.arg(b.ids.hour).arg(b.used[0]).arg(b.ids.day).arg(b.used[1]).arg(b.ids.month).arg(b.used[2]).arg(b.spent_micros)
}

/// Reads the scripts' `{code, now, hour, day, month, used × 3, spent, cooldown, running}`.
fn report(values: &[i64]) -> Result<(i64, Usage), GateError> {
    let [code, now_ms, hour, day, month, h, d, m, spent, cooldown, running] = values else {
        return Err(GateError::Unavailable(format!("unexpected reply from the gate script: {values:?}")));
    };
    let count = |n: &i64| u32::try_from(*n).unwrap_or(0);
    let usage = Usage {
        now_ms: *now_ms,
        ids: WindowIds { hour: *hour, day: *day, month: *month },
        used: [count(h), count(d), count(m)],
        spent_micros: *spent,
        cooldown_ms: (*cooldown).max(0),
        running: count(running),
    };
    Ok((*code, usage))
}

impl RedisGate {
    /// Prepares a gate for `url` without connecting yet; every key starts with `prefix` (tests
    /// use one per test). Fails only for a malformed URL. Call it inside a Tokio runtime: the
    /// connection manager spawns its task there.
    pub fn connect(url: &str, prefix: &str) -> Result<Self, GateError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(unavailable)?;
        let script = |body: &str| Script::new(&format!("{}{body}", scripts::PRELUDE));
        let quota =
            |body: &str| Script::new(&format!("{}{}{}{body}", scripts::PRELUDE, scripts::CALENDAR, scripts::QUOTA));
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
            acquire: script(scripts::ACQUIRE),
            renew: script(scripts::RENEW),
            release: script(scripts::RELEASE),
            admit: quota(scripts::ADMIT),
            refund: Script::new(scripts::REFUND),
            charge: quota(scripts::CHARGE),
            usage: quota(scripts::USAGE),
        })
    }

    /// The admission script as Redis runs it (for benchmarking it outside our code).
    pub fn admit_source() -> String {
        format!("{}{}{}{}", scripts::PRELUDE, scripts::CALENDAR, scripts::QUOTA, scripts::ADMIT)
    }

    /// The key names `admit` passes for `user` (slots, quota prefix).
    pub fn admit_keys(&self, user: UserId) -> [String; 2] {
        [self.slots_key(user), self.quota_key(user)]
    }

    fn slots_key(&self, user: UserId) -> String {
        format!("{}:slots:{}", self.prefix, user)
    }

    fn quota_key(&self, user: UserId) -> String {
        format!("{}:q:{}", self.prefix, user)
    }
}

#[async_trait]
impl Gate for RedisGate {
    async fn acquire(&self, user: UserId, holder: &str, max: u32, lease: Duration) -> Result<bool, GateError> {
        let mut conn = self.conn.clone();
        let mut inv = self.acquire.key(self.slots_key(user));
        inv.arg(holder).arg(millis(lease)).arg(max);
        let admitted: i64 = inv.invoke_async(&mut conn).await.map_err(unavailable)?;
        Ok(admitted == 1)
    }

    async fn renew(&self, user: UserId, holder: &str, lease: Duration) -> Result<bool, GateError> {
        let mut conn = self.conn.clone();
        let mut inv = self.renew.key(self.slots_key(user));
        inv.arg(holder).arg(millis(lease));
        let renewed: i64 = inv.invoke_async(&mut conn).await.map_err(unavailable)?;
        Ok(renewed == 1)
    }

    async fn release(&self, user: UserId, holder: &str) -> Result<(), GateError> {
        let mut conn = self.conn.clone();
        let _: i64 =
            self.release.key(self.slots_key(user)).arg(holder).invoke_async(&mut conn).await.map_err(unavailable)?;
        Ok(())
    }

    async fn admit(
        &self,
        user: UserId,
        holder: &str,
        limits: &Limits,
        baseline: &Baseline,
        lease: Duration,
        ask: Ask,
    ) -> Result<Admission, GateError> {
        let mut conn = self.conn.clone();
        let mut inv = self.admit.key(self.slots_key(user));
        inv.key(self.quota_key(user));
        with_baseline(&mut inv, baseline)
            .arg(holder)
            .arg(millis(lease))
            .arg(limits.max_running)
            .arg(limits.hourly)
            .arg(limits.daily)
            .arg(limits.monthly)
            .arg(u64::try_from(limits.cooldown.as_millis()).unwrap_or(u64::MAX))
            .arg(limits.spend_cap_micros)
            .arg(ask.images.max(1))
            .arg(ask.estimate_micros.max(0));
        let values: Vec<i64> = inv.invoke_async(&mut conn).await.map_err(unavailable)?;
        let (code, usage) = report(&values)?;
        let verdict = match code {
            0 => Verdict::Admitted,
            1 => Verdict::Busy,
            2 => Verdict::Cooldown,
            3 => Verdict::Window(Window::Hour),
            4 => Verdict::Window(Window::Day),
            5 => Verdict::Window(Window::Month),
            _ => Verdict::Spend,
        };
        Ok(Admission { verdict, usage })
    }

    async fn refund(&self, user: UserId, holder: &str, ids: WindowIds, images: u32) -> Result<(), GateError> {
        let mut conn = self.conn.clone();
        let mut inv = self.refund.key(self.quota_key(user));
        inv.arg(holder).arg(ids.hour).arg(ids.day).arg(ids.month).arg(images.max(1));
        let _: i64 = inv.invoke_async(&mut conn).await.map_err(unavailable)?;
        Ok(())
    }

    async fn charge(&self, user: UserId, baseline: &Baseline, month: i64, micros: i64) -> Result<(), GateError> {
        let mut conn = self.conn.clone();
        let mut inv = self.charge.key(self.slots_key(user));
        inv.key(self.quota_key(user));
        with_baseline(&mut inv, baseline).arg(month).arg(micros);
        let _: Vec<i64> = inv.invoke_async(&mut conn).await.map_err(unavailable)?;
        Ok(())
    }

    async fn usage(&self, user: UserId, baseline: &Baseline) -> Result<Usage, GateError> {
        let mut conn = self.conn.clone();
        let mut inv = self.usage.key(self.slots_key(user));
        inv.key(self.quota_key(user));
        with_baseline(&mut inv, baseline);
        let values: Vec<i64> = inv.invoke_async(&mut conn).await.map_err(unavailable)?;
        Ok(report(&values)?.1)
    }
}
