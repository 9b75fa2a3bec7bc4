//! Request rates from outside (review row C6): sign-ups per client address, logins per
//! client address and per username, and the Argon2 work they cause, bounded so that a flood
//! is answered 429 with `Retry-After` at once instead of taking the CPU. Counted per instance
//! (`governor`'s keyed limiters, in memory).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{Semaphore, SemaphorePermit};

/// How many of each a client may do; see the README's configuration table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// Logins per client address per minute (`EASEL_LOGINS_PER_MINUTE`).
    pub logins_per_address: u32,
    /// Logins per username per minute, from any address (`EASEL_LOGINS_PER_NAME_PER_MINUTE`).
    pub logins_per_name: u32,
    /// Sign-ups per client address per hour (`EASEL_SIGNUPS_PER_HOUR`).
    pub signups_per_address: u32,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self { logins_per_address: 30, logins_per_name: 10, signups_per_address: 20 }
    }
}

/// Password hashes computed at once at most; more wait up to [`HASH_WAIT`], then are refused.
fn hashing_permits() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
const HASH_WAIT: Duration = Duration::from_secs(3);

/// A refusal: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooMany(pub Duration);

#[derive(Clone)]
pub struct Throttle {
    logins_by_address: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    logins_by_name: Arc<DefaultKeyedRateLimiter<String>>,
    signups_by_address: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    hashing: Arc<Semaphore>,
}

fn per(n: u32, period: Duration) -> Quota {
    let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    // `n` at once, then one every `period / n`.
    Quota::with_period(period / n.get()).unwrap_or_else(|| Quota::per_second(n)).allow_burst(n)
}

impl Throttle {
    pub fn new(settings: ThrottleSettings) -> Self {
        let minute = Duration::from_secs(60);
        Self {
            logins_by_address: Arc::new(RateLimiter::keyed(per(settings.logins_per_address, minute))),
            logins_by_name: Arc::new(RateLimiter::keyed(per(settings.logins_per_name, minute))),
            signups_by_address: Arc::new(RateLimiter::keyed(per(settings.signups_per_address, minute * 60))),
            hashing: Arc::new(Semaphore::new(hashing_permits())),
        }
    }

    /// A login attempt from `address` for `username` (counted against both).
    pub fn login(&self, address: IpAddr, username: &str) -> Result<(), TooMany> {
        check(&self.logins_by_address, &address)?;
        check(&self.logins_by_name, &username.trim().to_lowercase())
    }

    pub fn signup(&self, address: IpAddr) -> Result<(), TooMany> {
        check(&self.signups_by_address, &address)
    }

    /// A turn at hashing a password; refused when the hashers stay busy for [`HASH_WAIT`].
    pub async fn hashing(&self) -> Result<SemaphorePermit<'_>, TooMany> {
        match tokio::time::timeout(HASH_WAIT, self.hashing.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(TooMany(Duration::from_secs(5))),
        }
    }

    /// Forgets keys whose budget is full again, so the maps do not grow with every address seen.
    pub fn shrink(&self) {
        self.logins_by_address.retain_recent();
        self.logins_by_name.retain_recent();
        self.signups_by_address.retain_recent();
    }
}

fn check<K: std::hash::Hash + Eq + Clone>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), TooMany> {
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        TooMany(wait.max(Duration::from_secs(1)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_budget_then_waits_and_others_are_not_affected() {
        let t = Throttle::new(ThrottleSettings { logins_per_address: 3, logins_per_name: 100, signups_per_address: 1 });
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        for i in 0..3 {
            assert_eq!(t.login(a, &format!("user{i}")), Ok(()));
        }
        let TooMany(wait) = t.login(a, "user9").expect_err("the fourth is refused");
        assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_secs(20), "{wait:?}");
        assert_eq!(t.login(b, "user9"), Ok(()), "another address is not affected");
        assert_eq!(t.signup(a), Ok(()));
        assert!(t.signup(a).is_err());
    }

    #[test]
    fn a_username_is_limited_from_every_address() {
        let t = Throttle::new(ThrottleSettings { logins_per_address: 100, logins_per_name: 2, signups_per_address: 1 });
        assert!(t.login(IpAddr::from([10, 0, 0, 1]), "ada").is_ok());
        assert!(t.login(IpAddr::from([10, 0, 0, 2]), "ADA ").is_ok());
        assert!(t.login(IpAddr::from([10, 0, 0, 3]), "ada").is_err(), "a third address, the same name");
    }
}
