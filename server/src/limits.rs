//! The generation gate: at most `max` running generations per user, as leases.
//!
//! A slot is a lease, not a counter: its holder renews it while the job runs, and if the
//! holder dies (process killed, network cut) the slot frees itself when the lease runs out,
//! so nothing leaks. Each holder has its own id, so a holder whose lease already expired can
//! neither renew nor release a slot someone else has taken since. Two implementations with
//! the same semantics and one shared test suite: in-process (one instance, no setup) and
//! Redis (atomic Lua scripts, Redis's clock, shared by every instance).
//!
//! Admission (`admit`) takes a slot and a place in every window in one atomic step, after
//! checking the cooldown and the month's spend; anything short of all of it takes nothing.
//! Windows are calendar windows (UTC) named by their id, read off the gate's own clock, so
//! they reset at the same moment on every instance. The gate is seeded from the database
//! ([`Baseline`]) whenever it meets a window it has no count for (first use, a restart of the
//! in-process gate, a Redis that lost its data), so its numbers survive those.

mod memory;
pub mod policy;
mod redis_gate;

use std::time::Duration;

use app::protocol::{UserId, Window};
use async_trait::async_trait;

pub use memory::MemoryGate;
pub use policy::{Limits, Policies};
pub use redis_gate::scripts::CALENDAR as LUA_CALENDAR;
pub use redis_gate::RedisGate;

/// The windows an instant falls in (see [`Window::id_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowIds {
    pub hour: i64,
    pub day: i64,
    pub month: i64,
}

impl WindowIds {
    pub fn at(ms: i64) -> Self {
        Self { hour: Window::Hour.id_at(ms), day: Window::Day.id_at(ms), month: Window::Month.id_at(ms) }
    }

    pub fn of(&self, window: Window) -> i64 {
        match window {
            Window::Hour => self.hour,
            Window::Day => self.day,
            Window::Month => self.month,
        }
    }
}

/// What the database remembers of a user's use, counted for the windows around `ids`
/// (read with this server's clock: the gate ignores a count whose window is not its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Baseline {
    pub ids: WindowIds,
    /// Generations counted in the hour, day and month of `ids`.
    pub used: [u32; 3],
    /// Cost recorded in the month of `ids`, in millionths of a dollar.
    pub spent_micros: i64,
}

/// A user's use, as the gate counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// The gate's clock (Unix ms) when it counted.
    pub now_ms: i64,
    pub ids: WindowIds,
    /// Hour, day, month.
    pub used: [u32; 3],
    pub spent_micros: i64,
    /// Time left of the cooldown (0: none).
    pub cooldown_ms: i64,
    /// Slots held.
    pub running: u32,
}

impl Usage {
    pub fn used(&self, window: Window) -> u32 {
        match window {
            Window::Hour => self.used[0],
            Window::Day => self.used[1],
            Window::Month => self.used[2],
        }
    }
}

/// What an admission asks for: a place per image in each window, and room under the spend
/// cap for what the images are expected to cost (settled later from the provider's usage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask {
    pub images: u32,
    pub estimate_micros: i64,
}

impl Ask {
    /// One image of unknown price: what most tests and benchmarks ask.
    pub const ONE: Self = Self { images: 1, estimate_micros: 0 };
}

/// The answer to an admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Admitted,
    /// Every running slot is taken.
    Busy,
    Cooldown,
    /// The window has no generations left.
    Window(Window),
    /// The month's spend reached the cap.
    Spend,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    pub verdict: Verdict,
    /// After the admission (counting it, when admitted).
    pub usage: Usage,
}

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

    /// Checks slots, cooldown, windows (room for `ask.images`) and spend (room for the
    /// estimate), in that order, and when all allow it takes a slot for `holder`, `ask.images`
    /// places in each window and starts the cooldown, atomically.
    async fn admit(
        &self,
        user: UserId,
        holder: &str,
        limits: &Limits,
        baseline: &Baseline,
        lease: Duration,
        ask: Ask,
    ) -> Result<Admission, GateError>;

    /// Gives back the `images` places `admit` took in the windows `ids` (and the cooldown
    /// `holder` started): the generation did not happen. Windows since reset are left alone.
    async fn refund(&self, user: UserId, holder: &str, ids: WindowIds, images: u32) -> Result<(), GateError>;

    /// Adds a completed generation's cost to the month `month` (ignored once that month is over).
    async fn charge(&self, user: UserId, baseline: &Baseline, month: i64, micros: i64) -> Result<(), GateError>;

    /// The user's current use, without changing it.
    async fn usage(&self, user: UserId, baseline: &Baseline) -> Result<Usage, GateError>;
}
