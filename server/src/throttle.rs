//! Request rates from outside (review row C6): sign-ups per client address, logins per
//! client address and per username, and the Argon2 work they cause, bounded so that a flood
//! is answered 429 with `Retry-After` at once instead of taking the CPU. Counted per instance
//! (`governor`'s keyed limiters, in memory).

mod shared;

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::protocol::UserId;
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
    /// Socket frames per user per second, with three seconds' worth at once
    /// (`EASEL_FRAMES_PER_SECOND`).
    pub frames_per_second: u32,
    /// Sockets open at once per user (`EASEL_SOCKETS_PER_USER`).
    pub sockets_per_user: u32,
    /// Sockets open at once per client address (`EASEL_SOCKETS_PER_ADDRESS`).
    pub sockets_per_address: u32,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            logins_per_address: 30,
            logins_per_name: 10,
            signups_per_address: 20,
            frames_per_second: 20,
            sockets_per_user: 30,
            sockets_per_address: 200,
        }
    }
}

/// Password hashes computed at once at most; more wait up to [`HASH_WAIT`], then are refused.
pub(crate) fn hashing_permits() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
const HASH_WAIT: Duration = Duration::from_secs(3);

/// A refusal: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooMany(pub Duration);

impl TooMany {
    /// Whole seconds to wait, at least one (what `Retry-After` and the sentences say).
    pub fn secs(self) -> u64 {
        self.0.as_secs().max(1)
    }

    /// What a user sending frames or forms too fast reads.
    pub fn sending_too_fast(self) -> String {
        format!("You are sending too fast; wait {} seconds and try again.", self.secs())
    }
}

pub use shared::SharedCounts;

#[derive(Clone)]
pub struct Throttle {
    settings: ThrottleSettings,
    /// Counts every instance shares, when Redis is configured; the local limiters stand in
    /// while Redis cannot be reached.
    shared: Option<SharedCounts>,
    logins_by_address: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    logins_by_name: Arc<DefaultKeyedRateLimiter<String>>,
    signups_by_address: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    frames: Arc<DefaultKeyedRateLimiter<UserId>>,
    sockets: Arc<Mutex<OpenSockets>>,
    hashing: Arc<Semaphore>,
}

/// Sockets open now, per user and per address (this instance's).
#[derive(Default)]
struct OpenSockets {
    by_user: HashMap<UserId, u32>,
    by_address: HashMap<IpAddr, u32>,
    per_user: u32,
    per_address: u32,
}

/// One open socket's place in the counts, given back when it is dropped.
pub struct SocketPlace {
    sockets: Arc<Mutex<OpenSockets>>,
    user: UserId,
    address: IpAddr,
}

impl Drop for SocketPlace {
    fn drop(&mut self) {
        let mut open = self.sockets.lock().unwrap_or_else(|p| p.into_inner());
        release(&mut open.by_user, &self.user);
        release(&mut open.by_address, &self.address);
    }
}

fn release<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, u32>, key: &K) {
    if let Some(c) = counts.get_mut(key) {
        *c = c.saturating_sub(1);
        if *c == 0 {
            counts.remove(key);
        }
    }
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
            settings,
            shared: None,
            logins_by_address: Arc::new(RateLimiter::keyed(per(settings.logins_per_address, minute))),
            logins_by_name: Arc::new(RateLimiter::keyed(per(settings.logins_per_name, minute))),
            signups_by_address: Arc::new(RateLimiter::keyed(per(settings.signups_per_address, minute * 60))),
            frames: Arc::new(RateLimiter::keyed(frames(settings.frames_per_second))),
            sockets: Arc::new(Mutex::new(OpenSockets {
                per_user: settings.sockets_per_user,
                per_address: settings.sockets_per_address,
                ..OpenSockets::default()
            })),
            hashing: Arc::new(Semaphore::new(hashing_permits())),
        }
    }

    /// Counts logins and sign-ups in Redis, for every instance at once.
    pub fn shared_through(mut self, counts: SharedCounts) -> Self {
        self.shared = Some(counts);
        self
    }

    /// A login attempt from `address` for `username` (counted against both).
    pub async fn login(&self, address: IpAddr, username: &str) -> Result<(), TooMany> {
        let name = username.trim().to_lowercase();
        if let Some(shared) = &self.shared {
            let minute = Duration::from_secs(60);
            let s = self.settings;
            let counted = async {
                if let Err(wait) =
                    shared.hit("login-address", &address.to_string(), s.logins_per_address, minute).await?
                {
                    return Ok(Err(wait));
                }
                shared.hit("login-name", &name, s.logins_per_name, minute).await
            };
            match counted.await {
                Ok(verdict) => return verdict,
                Err(e) => tracing::warn!(error = %e, "shared login counts unavailable; counting on this instance"),
            }
        }
        check(&self.logins_by_address, &address)?;
        check(&self.logins_by_name, &name)
    }

    pub async fn signup(&self, address: IpAddr) -> Result<(), TooMany> {
        if let Some(shared) = &self.shared {
            let hour = Duration::from_secs(3600);
            match shared.hit("signup-address", &address.to_string(), self.settings.signups_per_address, hour).await {
                Ok(verdict) => return verdict,
                Err(e) => tracing::warn!(error = %e, "shared sign-up counts unavailable; counting on this instance"),
            }
        }
        check(&self.signups_by_address, &address)
    }

    /// One frame from a socket of `user`.
    pub fn frame(&self, user: UserId) -> Result<(), TooMany> {
        check(&self.frames, &user)
    }

    /// A place for one more socket of `user` from `address`, or why not.
    pub fn open_socket(&self, user: UserId, address: IpAddr) -> Result<SocketPlace, SocketRefused> {
        let mut open = self.sockets.lock().unwrap_or_else(|p| p.into_inner());
        let (per_user, per_address) = (open.per_user, open.per_address);
        if open.by_user.get(&user).copied().unwrap_or(0) >= per_user {
            return Err(SocketRefused::User(per_user));
        }
        if open.by_address.get(&address).copied().unwrap_or(0) >= per_address {
            return Err(SocketRefused::Address(per_address));
        }
        *open.by_user.entry(user).or_default() += 1;
        *open.by_address.entry(address).or_default() += 1;
        Ok(SocketPlace { sockets: Arc::clone(&self.sockets), user, address })
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
        self.frames.retain_recent();
    }
}

/// Why a socket was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketRefused {
    User(u32),
    Address(u32),
}

impl SocketRefused {
    pub fn sentence(self) -> String {
        match self {
            Self::User(n) => format!("You have {n} tabs open already; close one and reload."),
            Self::Address(n) => format!("{n} connections are open from your address already."),
        }
    }
}

/// `n` frames a second, three seconds' worth at once.
fn frames(n: u32) -> Quota {
    let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = n.saturating_mul(NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN));
    Quota::per_second(n).allow_burst(burst)
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

    #[tokio::test]
    async fn an_address_gets_its_budget_then_waits_and_others_are_not_affected() {
        let t = Throttle::new(ThrottleSettings {
            logins_per_address: 3,
            logins_per_name: 100,
            signups_per_address: 1,
            ..Default::default()
        });
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        for i in 0..3 {
            assert_eq!(t.login(a, &format!("user{i}")).await, Ok(()));
        }
        let TooMany(wait) = t.login(a, "user9").await.expect_err("the fourth is refused");
        assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_secs(20), "{wait:?}");
        assert_eq!(t.login(b, "user9").await, Ok(()), "another address is not affected");
        assert_eq!(t.signup(a).await, Ok(()));
        assert!(t.signup(a).await.is_err());
    }

    #[tokio::test]
    async fn a_username_is_limited_from_every_address() {
        let t = Throttle::new(ThrottleSettings {
            logins_per_address: 100,
            logins_per_name: 2,
            signups_per_address: 1,
            ..Default::default()
        });
        assert!(t.login(IpAddr::from([10, 0, 0, 1]), "ada").await.is_ok());
        assert!(t.login(IpAddr::from([10, 0, 0, 2]), "ADA ").await.is_ok());
        assert!(t.login(IpAddr::from([10, 0, 0, 3]), "ada").await.is_err(), "a third address, the same name");
    }

    #[test]
    fn sockets_are_counted_per_user_and_per_address_and_given_back() {
        let t = Throttle::new(ThrottleSettings { sockets_per_user: 2, sockets_per_address: 3, ..Default::default() });
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let first = t.open_socket(UserId(1), a).expect("first");
        let _second = t.open_socket(UserId(1), a).expect("second");
        assert_eq!(t.open_socket(UserId(1), b).err(), Some(SocketRefused::User(2)));
        let _other = t.open_socket(UserId(2), a).expect("another user");
        assert_eq!(t.open_socket(UserId(3), a).err(), Some(SocketRefused::Address(3)));
        drop(first);
        assert!(t.open_socket(UserId(1), b).is_ok(), "a closed socket gives its place back");
    }

    #[test]
    fn frames_come_in_bursts_of_three_seconds_then_wait() {
        let t = Throttle::new(ThrottleSettings { frames_per_second: 2, ..Default::default() });
        for _ in 0..6 {
            assert!(t.frame(UserId(1)).is_ok());
        }
        assert!(t.frame(UserId(1)).is_err());
        assert!(t.frame(UserId(2)).is_ok(), "per user");
    }
}
