//! One suite for both generation gates: the in-process one and the Redis one (a real
//! redis-server at `TEST_REDIS_URL`, default `redis://127.0.0.1:6379`, a fresh key prefix
//! per test).

use std::sync::Arc;
use std::time::Duration;

use app::protocol::UserId;
use server::limits::{Gate, MemoryGate, RedisGate};

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

pub fn prefix() -> String {
    format!("easel-test:{}", uuid::Uuid::new_v4().simple())
}

pub async fn gates() -> Vec<(&'static str, Arc<dyn Gate>)> {
    let redis = RedisGate::connect(&redis_url(), &prefix()).expect("a valid TEST_REDIS_URL");
    vec![("memory", Arc::new(MemoryGate::default())), ("redis", Arc::new(redis))]
}

pub fn holder() -> String {
    uuid::Uuid::new_v4().to_string()
}

const USER: UserId = UserId(1);

/// `n` simultaneous attempts at `max` slots of [`USER`]; how many were admitted.
async fn admitted(gate: &Arc<dyn Gate>, n: usize, max: u32) -> usize {
    let attempts = (0..n).map(|_| {
        let gate = gate.clone();
        tokio::spawn(async move { gate.acquire(USER, &holder(), max, LONG).await.expect("gate answers") })
    });
    futures::future::join_all(attempts).await.into_iter().filter(|r| *r.as_ref().expect("task")).count()
}
const LONG: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_simultaneous_attempts_admit_exactly_one() {
    for (name, gate) in gates().await {
        assert_eq!(admitted(&gate, 1000, 1).await, 1, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn premium_slots_admit_exactly_their_number_and_users_do_not_share() {
    for (name, gate) in gates().await {
        assert_eq!(admitted(&gate, 200, 3).await, 3, "{name}");
        assert!(
            gate.acquire(UserId(2), &holder(), 1, LONG).await.expect("answers"),
            "{name}: another user is not blocked"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_frees_itself_when_its_holder_stops_renewing() {
    for (name, gate) in gates().await {
        let dead = holder();
        assert!(gate.acquire(USER, &dead, 1, Duration::from_millis(300)).await.expect("answers"));
        assert!(!gate.acquire(USER, &holder(), 1, LONG).await.expect("answers"), "{name}: slot is held");
        tokio::time::sleep(Duration::from_millis(450)).await;
        assert!(gate.acquire(USER, &holder(), 1, LONG).await.expect("answers"), "{name}: lease ran out");
        assert!(!gate.renew(USER, &dead, LONG).await.expect("answers"), "{name}: the dead holder cannot renew");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewing_keeps_the_slot() {
    for (name, gate) in gates().await {
        let live = holder();
        assert!(gate.acquire(USER, &live, 1, Duration::from_millis(300)).await.expect("answers"));
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(120)).await;
            assert!(gate.renew(USER, &live, Duration::from_millis(300)).await.expect("answers"), "{name}");
            assert!(!gate.acquire(USER, &holder(), 1, LONG).await.expect("answers"), "{name}: still held");
        }
        assert!(gate.acquire(USER, &live, 1, LONG).await.expect("answers"), "{name}: re-entrant for its holder");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_holder_cannot_release_someone_elses_slot() {
    for (name, gate) in gates().await {
        let stale = holder();
        let current = holder();
        assert!(gate.acquire(USER, &stale, 1, Duration::from_millis(200)).await.expect("answers"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(gate.acquire(USER, &current, 1, LONG).await.expect("answers"));
        gate.release(USER, &stale).await.expect("answers");
        assert!(!gate.acquire(USER, &holder(), 1, LONG).await.expect("answers"), "{name}: current holder kept it");
        gate.release(USER, &current).await.expect("answers");
        assert!(gate.acquire(USER, &holder(), 1, LONG).await.expect("answers"), "{name}: released");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_redis_key_is_left_without_a_ttl() {
    let prefix = prefix();
    let gate = RedisGate::connect(&redis_url(), &prefix).expect("redis");
    for user in 1..=20 {
        let h = holder();
        assert!(gate.acquire(UserId(user), &h, 2, Duration::from_secs(5)).await.expect("answers"));
        assert!(gate.renew(UserId(user), &h, Duration::from_secs(7)).await.expect("answers"));
        if user % 2 == 0 {
            gate.release(UserId(user), &h).await.expect("answers");
        }
    }
    let client = redis::Client::open(redis_url()).expect("client");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connection");
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut conn).await.expect("keys");
    assert_eq!(keys.len(), 10, "released users leave no key");
    for key in keys {
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.expect("pttl");
        assert!(ttl > 0 && ttl <= 7_000, "{key} has ttl {ttl}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_is_a_clear_error_not_a_panic() {
    let gate = RedisGate::connect("redis://127.0.0.1:1", "x").expect("a valid URL");
    let refused = gate.acquire(USER, &holder(), 1, LONG).await;
    assert!(matches!(refused, Err(server::limits::GateError::Unavailable(_))), "{refused:?}");
    assert!(RedisGate::connect("not a url", "x").is_err());
}
