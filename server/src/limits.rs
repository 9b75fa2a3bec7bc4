//! The generation gate: at most `max` running generations per user, as leases.
//!
//! A slot is a lease, not a counter: its holder renews it while the job runs, and if the
//! holder dies (process killed, network cut) the slot frees itself when the lease runs out,
//! so nothing leaks. Each holder has its own id, so a holder whose lease already expired can
//! neither renew nor release a slot someone else has taken since. Two implementations with
//! the same semantics and one shared test suite: in-process (one instance, no setup) and
//! Redis (atomic Lua scripts, Redis's clock, shared by every instance).
//!
//! First slice of the quota issue: the gate and its tests; the windows, cooldowns, spend caps
//! and wiring into the job runner come next.

mod memory;
mod redis_gate;

use std::time::Duration;

use app::protocol::UserId;
use async_trait::async_trait;

pub use memory::MemoryGate;
pub use redis_gate::RedisGate;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// The shared store cannot be reached: refuse generations, keep chat working.
    #[error("the generation gate is unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Gate: Send + Sync + 'static {
    /// Takes one of `user`'s `max` slots for `holder` until `lease` passes; `false` when all
    /// are taken. Taking again with the same holder renews instead of taking a second slot.
    async fn acquire(&self, user: UserId, holder: &str, max: u32, lease: Duration) -> Result<bool, GateError>;

    /// Extends `holder`'s lease; `false` when it had already run out.
    async fn renew(&self, user: UserId, holder: &str, lease: Duration) -> Result<bool, GateError>;

    /// Gives `holder`'s slot back (nothing happens when its lease already ran out).
    async fn release(&self, user: UserId, holder: &str) -> Result<(), GateError>;
}
