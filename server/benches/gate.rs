//! Benchmark: one admission through our own gate (`RedisGate::admit`: argument building, the
//! multiplexed connection, reply parsing) against `redis-benchmark` sending the very same
//! script with the same keys and arguments (`EVALSHA`), at 1 and 50 concurrent clients.
//! The difference is what our code adds to Redis's own cost.
//!
//! `cargo bench -p server --bench gate` starts its own redis-server on a free loopback port
//! (persistence off) and prints a table; `redis-server` and `redis-benchmark` must be on PATH.
//! Limits are set out of reach, so every call takes the full path: clean-up, seeding,
//! the four checks, ZADD and three INCRs.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::protocol::UserId;
use server::limits::{Ask, Baseline, Gate, Limits, RedisGate, Verdict, WindowIds};

const CALLS: usize = 20_000;
const CLIENTS: [usize; 2] = [1, 50];
const HOLDER: &str = "bench-holder";
const LEASE_MS: u64 = 15_000;

fn limits() -> Limits {
    Limits {
        max_running: 1_000_000,
        hourly: u32::MAX / 2,
        daily: u32::MAX / 2,
        monthly: u32::MAX / 2,
        cooldown: Duration::ZERO,
        spend_cap_micros: i64::MAX / 4,
        tokens_hour: u64::MAX,
        tokens_day: u64::MAX,
    }
}

fn baseline() -> Baseline {
    Baseline { ids: WindowIds { hour: 0, day: 0, month: 0 }, used: [0; 3], spent_micros: 0 }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

struct OwnRedis(std::process::Child);

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let _redis = OwnRedis(
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()?,
    );
    let url = format!("redis://127.0.0.1:{port}");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // The gate's connection manager spawns its task on the current runtime.
    let _inside = rt.enter();
    rt.block_on(async {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    println!("| clients | through our code p50 | p99 | calls/s | redis-benchmark p50 | p99 | calls/s |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for clients in CLIENTS {
        let ours = rt.block_on(ours(&url, clients))?;
        let theirs = redis_benchmark(&url, port, clients)?;
        println!(
            "| {clients} | {} | {} | {:.0} | {} | {} | {:.0} |",
            ms(ours.0),
            ms(ours.1),
            ours.2,
            theirs.0,
            theirs.1,
            theirs.2
        );
        // For bench/node/report.mjs (scripts/bench).
        println!(
            "{{\"kind\":\"row\",\"measure\":\"quota gate, {clients} client(s)\",\"easel\":{:.0},\"peer\":{:.0},\"unit\":\"calls/s\",\"peer_name\":\"redis-benchmark\"}}",
            ours.2, theirs.2
        );
    }
    Ok(())
}

/// p50, p99 and throughput of `CALLS` admissions spread over `clients` tasks on one gate.
async fn ours(url: &str, clients: usize) -> Result<(Duration, Duration, f64), Box<dyn std::error::Error>> {
    let gate = Arc::new(RedisGate::connect(url, &format!("bench-ours-{clients}"))?);
    let l = limits();
    // Warm up: connection, script cache.
    for _ in 0..200 {
        gate.admit(UserId(1), HOLDER, &l, &baseline(), Duration::from_millis(LEASE_MS), Ask::ONE).await?;
    }
    let started = Instant::now();
    let tasks = (0..clients).map(|_| {
        let gate = gate.clone();
        tokio::spawn(async move {
            let mut samples = Vec::with_capacity(CALLS / clients);
            for _ in 0..CALLS / clients {
                let t = Instant::now();
                let a = gate.admit(UserId(1), HOLDER, &l, &baseline(), Duration::from_millis(LEASE_MS), Ask::ONE).await;
                samples.push(t.elapsed());
                assert!(matches!(a, Ok(ref a) if a.verdict == Verdict::Admitted), "{a:?}");
            }
            samples
        })
    });
    let mut all = Vec::with_capacity(CALLS);
    for t in futures::future::join_all(tasks).await {
        all.extend(t?);
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    all.sort();
    Ok((percentile(&all, 0.5), percentile(&all, 0.99), rate))
}

/// The same script and arguments through `redis-benchmark --csv`: (p50, p99, calls/s).
fn redis_benchmark(url: &str, port: u16, clients: usize) -> Result<(String, String, f64), Box<dyn std::error::Error>> {
    let gate = RedisGate::connect(url, &format!("bench-theirs-{clients}"))?;
    let [slots, quota] = gate.admit_keys(UserId(1));
    let client = redis::Client::open(url)?;
    let mut conn = client.get_connection()?;
    let sha: String = redis::cmd("SCRIPT").arg("LOAD").arg(RedisGate::admit_source()).query(&mut conn)?;
    let l = limits();
    let b = baseline();
    let mut args: Vec<String> = vec!["EVALSHA".into(), sha, "2".into(), slots, quota];
    args.extend(
        [
            b.ids.hour,
            i64::from(b.used[0]),
            b.ids.day,
            i64::from(b.used[1]),
            b.ids.month,
            i64::from(b.used[2]),
            b.spent_micros,
        ]
        .iter()
        .map(i64::to_string),
    );
    args.push(HOLDER.into());
    args.extend(
        [
            LEASE_MS as i64,
            l.max_running.into(),
            l.hourly.into(),
            l.daily.into(),
            l.monthly.into(),
            0,
            l.spend_cap_micros,
            // One image, no estimate: what `ours` asks (`Ask::ONE`).
            1,
            0,
        ]
        .iter()
        .map(i64::to_string),
    );
    let out = Command::new("redis-benchmark")
        .args(["-p", &port.to_string(), "-c", &clients.to_string(), "-n", &CALLS.to_string(), "--csv"])
        .args(&args)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    let row = text.lines().nth(1).ok_or("redis-benchmark printed no result")?;
    let cols: Vec<String> = row.split(',').map(|c| c.trim_matches('"').to_string()).collect();
    let get = |i: usize| cols.get(i).cloned().unwrap_or_default();
    let rps: f64 = get(1).parse().unwrap_or(0.0);
    Ok((format!("{} ms", get(4)), format!("{} ms", get(6)), rps))
}
