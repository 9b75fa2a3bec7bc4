//! Benchmark: our own overhead around a provider. From the moment the provider hands over a
//! 1024×1024 PNG to the moment the image is decoded, turned into WebP variants, stored, and
//! the finished job announced to every tab (three hub subscribers), p50/p99; and the memory a
//! running job holds. `cargo bench -p server --bench pipeline` prints a table.
//!
//! The provider here is a stand-in that answers at once with fixed bytes (or, for the memory
//! part, waits until cancelled): the point is to time everything *but* the provider.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::protocol::*;
use async_trait::async_trait;
use server::hub::{Hub, Signal};
use server::jobs::{JobRequest, Jobs, JobsConfig};
use server::limits::MemoryGate;
use server::providers::builtin::{paint::paint, scene::Scene};
use server::providers::pricing::PriceTable;
use server::providers::registry::Providers;
use server::providers::{
    Capabilities, GeneratedImage, ImageProvider, ImageRequest, ProviderError, ProviderEvent, ProviderKind,
};
use server::store::Store;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const RUNS: usize = 40;
const TABS: usize = 3;
const RUNNING_JOBS: usize = 200;

/// Answers with `png` at once and records when it did; or, with `hold`, waits for cancel.
struct Handover {
    png: Vec<u8>,
    handed_over: Arc<Mutex<Option<Instant>>>,
    hold: bool,
}

#[async_trait]
impl ImageProvider for Handover {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Builtin
    }

    fn name(&self) -> &'static str {
        "bench"
    }

    fn model(&self) -> String {
        "bench".into()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    fn deadline(&self, _request: &ImageRequest) -> Duration {
        Duration::from_secs(60)
    }

    async fn generate(
        &self,
        _request: &ImageRequest,
        _events: mpsc::Sender<ProviderEvent>,
        cancel: CancellationToken,
    ) -> Result<GeneratedImage, ProviderError> {
        if self.hold {
            cancel.cancelled().await;
            return Err(ProviderError::Cancelled);
        }
        if let Ok(mut t) = self.handed_over.lock() {
            *t = Some(Instant::now());
        }
        Ok(GeneratedImage {
            images: vec![self.png.clone()],
            revised_prompt: None,
            provider: "bench",
            model: "bench".into(),
            usage: None,
            seed: None,
            steps: None,
        })
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

fn config(deadline: Duration) -> JobsConfig {
    JobsConfig {
        deadline: Some(deadline),
        prices: PriceTable::default(),
        gate: Arc::new(MemoryGate::default()),
        lease: Duration::from_secs(15),
        policies: server::limits::Policies::default(),
        spend_alert_micros: None,
        spend_cap_micros: None,
        storage_bytes: i64::MAX,
        relay: None,
        mailer: None,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::connect(&format!("sqlite://{}/bench.db", dir.path().display())).await?;
    let hub = Hub::default();
    // A painted scene plus grain: as hard to compress as a photograph-like provider image
    // (a flat painted scene alone compresses to a few KiB and would flatter the numbers).
    let mut img = paint(&Scene::from_prompt("a lighthouse at dusk with mountains"), 1024, 1024);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for p in img.pixels_mut() {
        for c in p.0.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *c = c.saturating_add((seed % 48) as u8).saturating_sub(24);
        }
    }
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
    let handed_over = Arc::new(Mutex::new(None));
    let provider = Arc::new(Handover { png: png.clone(), handed_over: handed_over.clone(), hold: false });
    let jobs = Jobs::new(store.clone(), hub.clone(), Providers::single(provider), config(Duration::from_secs(60)));

    let user = store.create_user("bench", "x").await?.ok_or("user")?.id;
    let (thread, _) = store.create_thread(user, &ClientId("bench".into()), "bench").await?;
    let mut tabs: Vec<_> = (0..TABS).map(|_| hub.subscribe(user)).collect();

    let mut samples = Vec::with_capacity(RUNS);
    for i in 0..RUNS {
        let prompt = format!("run {i}");
        jobs.start(user, thread.id, &JobRequest::simple(&prompt)).await?;
        for tab in &mut tabs {
            loop {
                let msg = tab.recv().await?;
                let done = |m: &ServerMsg| matches!(m, ServerMsg::JobUpdated(u) if u.job.status == JobStatus::Complete);
                if matches!(msg.as_ref(), Signal::Event(frame) if done(frame.msg())) {
                    break;
                }
            }
        }
        let started = handed_over.lock().map_err(|_| "lock")?.take().ok_or("provider did not run")?;
        samples.push(started.elapsed());
        // The slot is released just after the announcement; wait for it before the next run.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    samples.sort();
    println!(
        "pipeline: provider PNG ({} KiB, 1024×1024) → decoded, 3 WebP variants, stored, announced to {TABS} tabs",
        png.len() / 1024
    );
    println!("| runs | p50 | p99 |");
    println!("|---:|---:|---:|");
    println!(
        "| {RUNS} | {:.1} ms | {:.1} ms |",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3
    );

    // Memory: many users, each with one job waiting on its provider.
    let hold = Arc::new(Handover { png, handed_over, hold: true });
    let waiting = Jobs::new(store.clone(), hub.clone(), Providers::single(hold), config(Duration::from_secs(600)));
    let mut users = Vec::with_capacity(RUNNING_JOBS);
    for i in 0..RUNNING_JOBS {
        let u = store.create_user(&format!("waiting{i}"), "x").await?.ok_or("user")?.id;
        let (t, _) = store.create_thread(u, &ClientId(format!("t{i}")), "t").await?;
        users.push((u, t.id));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib();
    let mut ids = Vec::with_capacity(RUNNING_JOBS);
    for (u, t) in &users {
        let message = waiting.start(*u, *t, &JobRequest::simple("held")).await?;
        ids.push((*u, message.job.ok_or("job")?.id));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = rss_kib();
    println!();
    println!("| running jobs | RSS growth | per job |");
    println!("|---:|---:|---:|");
    let growth = after.saturating_sub(before);
    println!("| {RUNNING_JOBS} | {growth} KiB | {:.1} KiB |", growth as f64 / RUNNING_JOBS as f64);
    for (u, id) in ids {
        waiting.cancel(u, id).await?;
    }
    Ok(())
}
