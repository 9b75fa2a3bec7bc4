//! The quota half of the gate suite: windows, cooldowns, spend, refunds and seeding, run
//! against both gates (in-process and a real redis-server), plus what only Redis can do wrong
//! (key expiry, its own calendar arithmetic, going away and coming back).

use std::sync::Arc;
use std::time::Duration;

use app::protocol::{UserId, Window};
use server::limits::{Admission, Ask, Baseline, Gate, GateError, Limits, RedisGate, Usage, Verdict, WindowIds};

use crate::gate::{gates, holder, prefix, redis_url};

const USER: UserId = UserId(7);
const LONG: Duration = Duration::from_secs(30);

fn limits(spec: &str) -> Limits {
    let open = Limits {
        max_running: 1_000,
        hourly: 1_000,
        daily: 1_000,
        monthly: 1_000,
        cooldown: Duration::ZERO,
        spend_cap_micros: i64::MAX / 2,
        tokens_hour: u64::MAX,
        tokens_day: u64::MAX,
    };
    open.with_spec(spec).expect("spec")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn empty() -> Baseline {
    Baseline { ids: WindowIds::at(now_ms()), used: [0; 3], spent_micros: 0 }
}

async fn admit(gate: &Arc<dyn Gate>, holder: &str, limits: &Limits, baseline: &Baseline) -> Admission {
    gate.admit(USER, holder, limits, baseline, LONG, Ask::ONE).await.expect("gate answers")
}

/// `n` simultaneous admissions; the verdicts.
async fn concurrent(gate: &Arc<dyn Gate>, n: usize, limits: Limits) -> Vec<Verdict> {
    let attempts = (0..n).map(|_| {
        let gate = gate.clone();
        tokio::spawn(async move { admit(&gate, &holder(), &limits, &empty()).await.verdict })
    });
    futures::future::join_all(attempts).await.into_iter().map(|r| r.expect("task")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_grants_exactly_its_limit_under_200_concurrent_requests() {
    for (name, gate) in gates().await {
        let verdicts = concurrent(&gate, 200, limits("hour=10")).await;
        let admitted = verdicts.iter().filter(|v| **v == Verdict::Admitted).count();
        assert_eq!(admitted, 10, "{name}");
        assert!(verdicts.iter().all(|v| matches!(v, Verdict::Admitted | Verdict::Window(Window::Hour))), "{name}");
        let usage = gate.usage(USER, &empty()).await.expect("answers");
        assert_eq!(usage.used, [10, 10, 10], "{name}: the counts are what was granted");
        assert_eq!(usage.running, 10, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_simultaneous_admissions_admit_exactly_one_running() {
    for (name, gate) in gates().await {
        let verdicts = concurrent(&gate, 1000, limits("running=1")).await;
        assert_eq!(verdicts.iter().filter(|v| **v == Verdict::Admitted).count(), 1, "{name}");
        assert_eq!(
            gate.usage(USER, &empty()).await.expect("answers").used,
            [1, 1, 1],
            "{name}: refusals count nothing"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cooldown_refuses_with_the_time_left_and_a_refund_lifts_it() {
    for (name, gate) in gates().await {
        let l = limits("cooldown=60");
        let first = holder();
        assert_eq!(admit(&gate, &first, &l, &empty()).await.verdict, Verdict::Admitted, "{name}");
        gate.release(USER, &first).await.expect("answers");
        let refused = admit(&gate, &holder(), &l, &empty()).await;
        assert_eq!(refused.verdict, Verdict::Cooldown, "{name}");
        assert!(
            refused.usage.cooldown_ms > 55_000 && refused.usage.cooldown_ms <= 60_000,
            "{name}: {:?}",
            refused.usage
        );
        gate.refund(USER, &first, refused.usage.ids, 1).await.expect("answers");
        assert_eq!(admit(&gate, &holder(), &l, &empty()).await.verdict, Verdict::Admitted, "{name}: refunded");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_returns_one_place_in_each_window_and_never_goes_below_zero() {
    for (name, gate) in gates().await {
        let l = limits("day=2");
        let (a, b) = (holder(), holder());
        let ids = admit(&gate, &a, &l, &empty()).await.usage.ids;
        admit(&gate, &b, &l, &empty()).await;
        assert_eq!(admit(&gate, &holder(), &l, &empty()).await.verdict, Verdict::Window(Window::Day), "{name}");
        gate.refund(USER, &a, ids, 1).await.expect("answers");
        let again = admit(&gate, &holder(), &l, &empty()).await;
        assert_eq!(again.verdict, Verdict::Admitted, "{name}");
        assert_eq!(again.usage.used, [2, 2, 2], "{name}");
        // A refund for windows that are over touches nothing.
        let old = WindowIds { hour: ids.hour - 5, day: ids.day - 5, month: ids.month - 5 };
        gate.refund(USER, &b, old, 1).await.expect("answers");
        for _ in 0..5 {
            gate.refund(USER, &holder(), ids, 1).await.expect("answers");
        }
        assert_eq!(gate.usage(USER, &empty()).await.expect("answers").used, [0, 0, 0], "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spend_cap_refuses_once_charges_reach_it() {
    for (name, gate) in gates().await {
        let l = limits("spend=1");
        let month = admit(&gate, &holder(), &l, &empty()).await.usage.ids.month;
        gate.charge(USER, &empty(), month, 600_000).await.expect("answers");
        assert_eq!(admit(&gate, &holder(), &l, &empty()).await.verdict, Verdict::Admitted, "{name}: $0.60 < $1");
        gate.charge(USER, &empty(), month, 600_000).await.expect("answers");
        let refused = admit(&gate, &holder(), &l, &empty()).await;
        assert_eq!(refused.verdict, Verdict::Spend, "{name}");
        assert_eq!(refused.usage.spent_micros, 1_200_000, "{name}");
        // A charge for a month that is over is not this month's.
        gate.charge(USER, &empty(), month - 1, 5_000_000).await.expect("answers");
        assert_eq!(gate.usage(USER, &empty()).await.expect("answers").spent_micros, 1_200_000, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_the_gate_has_not_seen_start_from_the_database() {
    for (name, gate) in gates().await {
        let ids = WindowIds::at(now_ms());
        let remembered = Baseline { ids, used: [9, 20, 40], spent_micros: 300_000 };
        let l = limits("hour=10");
        let first = admit(&gate, &holder(), &l, &remembered).await;
        assert_eq!(first.verdict, Verdict::Admitted, "{name}");
        assert_eq!((first.usage.used, first.usage.spent_micros), ([10, 21, 41], 300_000), "{name}");
        assert_eq!(admit(&gate, &holder(), &l, &remembered).await.verdict, Verdict::Window(Window::Hour), "{name}");
        // Once seen, the gate's own count wins over a baseline.
        let usage = gate.usage(USER, &Baseline { used: [0; 3], ..remembered }).await.expect("answers");
        assert_eq!(usage.used, [10, 21, 41], "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_baseline_from_another_window_is_not_used() {
    for (name, gate) in gates().await {
        let ids = WindowIds::at(now_ms());
        let stale = Baseline { ids: WindowIds { hour: ids.hour - 1, ..ids }, used: [9, 9, 9], spent_micros: 0 };
        let usage: Usage = gate.usage(USER, &stale).await.expect("answers");
        assert_eq!(usage.used, [0, 9, 9], "{name}: last hour's count is not this hour's");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_into_an_unseen_month_does_not_count_the_cost_twice() {
    for (name, gate) in gates().await {
        let ids = WindowIds::at(now_ms());
        // The database already holds the cost being charged.
        let remembered = Baseline { ids, used: [1, 1, 1], spent_micros: 500_000 };
        gate.charge(USER, &remembered, ids.month, 500_000).await.expect("answers");
        assert_eq!(gate.usage(USER, &remembered).await.expect("answers").spent_micros, 500_000, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_counts_in_the_same_windows_as_the_calendar() {
    for (name, gate) in gates().await {
        let before = WindowIds::at(now_ms());
        let usage = gate.usage(USER, &empty()).await.expect("answers");
        let after = WindowIds::at(now_ms());
        assert!(usage.ids == before || usage.ids == after, "{name}: {:?} vs {before:?}", usage.ids);
        assert!((usage.now_ms - now_ms()).abs() < 5_000, "{name}: clocks agree");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_names_months_as_the_calendar_does_across_four_centuries() {
    let client = redis::Client::open(redis_url()).expect("client");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connection");
    let days: Vec<i64> = (-150_000..150_000).step_by(37).collect();
    let body = format!(
        "{}\nlocal out = {{}}\nfor i, z in ipairs(ARGV) do out[i] = month_of_day(tonumber(z)) end\nreturn out",
        server::limits::LUA_CALENDAR
    );
    let script = redis::Script::new(&body);
    let mut inv = script.prepare_invoke();
    for d in &days {
        inv.arg(*d);
    }
    let months: Vec<i64> = inv.invoke_async(&mut conn).await.expect("script runs");
    for (d, m) in days.iter().zip(months) {
        assert_eq!(m, Window::Month.id_at(d * 86_400_000), "day {d}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_quota_key_is_left_without_a_ttl() {
    let prefix = prefix();
    let gate: Arc<dyn Gate> = Arc::new(RedisGate::connect(&redis_url(), &prefix).expect("redis"));
    let l = limits("cooldown=30");
    for user in 1..=10 {
        let h = holder();
        let a = gate.admit(UserId(user), &h, &l, &empty(), Duration::from_secs(5), Ask::ONE).await.expect("answers");
        assert_eq!(a.verdict, Verdict::Admitted);
        gate.charge(UserId(user), &empty(), a.usage.ids.month, 1_000).await.expect("answers");
        if user % 2 == 0 {
            gate.refund(UserId(user), &h, a.usage.ids, 1).await.expect("answers");
            gate.release(UserId(user), &h).await.expect("answers");
        }
    }
    let client = redis::Client::open(redis_url()).expect("client");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connection");
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut conn).await.expect("keys");
    assert!(keys.len() >= 40, "windows, spend, cooldowns and slots: {keys:?}");
    for key in keys {
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.expect("pttl");
        assert!(ttl > 0, "{key} has no expiry ({ttl})");
    }
}

/// A redis-server of this test's own, on a free port, that the test can stop and restart.
struct OwnRedis {
    port: u16,
    child: tokio::process::Child,
}

impl OwnRedis {
    async fn start(port: u16) -> Self {
        let child = tokio::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server on PATH");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { port, child }
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_redis_goes_away_admission_fails_fast_and_resumes_when_it_returns() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port");
    let redis = OwnRedis::start(port).await;
    let gate = RedisGate::connect(&format!("redis://127.0.0.1:{}", redis.port), "own").expect("url");
    let l = limits("");
    assert_eq!(gate.admit(USER, &holder(), &l, &empty(), LONG, Ask::ONE).await.expect("up").verdict, Verdict::Admitted);

    redis.stop().await;
    let started = std::time::Instant::now();
    let down = gate.admit(USER, &holder(), &l, &empty(), LONG, Ask::ONE).await;
    assert!(matches!(down, Err(GateError::Unavailable(_))), "{down:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "fails fast: {:?}", started.elapsed());

    let _back = OwnRedis::start(port).await;
    let mut resumed = false;
    for _ in 0..50 {
        if let Ok(a) = gate.admit(USER, &holder(), &l, &empty(), LONG, Ask::ONE).await {
            assert_eq!(a.verdict, Verdict::Admitted);
            resumed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(resumed, "admission works again once Redis is back");
}
