//! A hostile or broken OpenAI-compatible server cannot hurt us (E1, E2, E3): endless bodies
//! are cut at their budget, links into our own network are not fetched, and images larger
//! than any engine makes are refused from their header. Memory is measured where it is the
//! point: the process's resident set, sampled while the provider answers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use app::protocol::*;
use server::config::ProviderChoice;
use server::providers::openai::{AllowedHosts, OpenAiImages, OpenAiSettings};
use server::providers::{ImageProvider, ImageRequest, ProviderError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::fake_openai::{FakeOpenAi, Reply};
use crate::helpers::{finished_job, spawn_app_with, test_db};

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

fn settings(fake: &FakeOpenAi, partial_images: u8, hosts: &str) -> OpenAiSettings {
    OpenAiSettings {
        api_key: "sk-test".into(),
        base_url: fake.base_url.clone(),
        model: "gpt-image-2.5-flare".into(),
        size: "1024x1024".into(),
        quality: Some("low".into()),
        partial_images,
        request_timeout: Duration::from_secs(60),
        image_url_hosts: AllowedHosts::parse(hosts).expect("hosts"),
    }
}

/// The process's resident memory in bytes, from `/proc/self/status`.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Runs `work` while sampling the resident set every 10 ms; returns its result and the
/// largest growth seen over the resident set before it started.
async fn with_peak_growth<T>(work: impl std::future::Future<Output = T>) -> (T, u64) {
    let before = rss();
    let peak = Arc::new(AtomicU64::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                peak.fetch_max(rss(), Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let out = work.await;
    peak.fetch_max(rss(), Ordering::SeqCst);
    done.store(true, Ordering::SeqCst);
    let _ = sampler.await;
    (out, peak.load(Ordering::SeqCst).saturating_sub(before))
}

async fn generate(client: &OpenAiImages) -> Result<Vec<u8>, ProviderError> {
    // Previews are drained as they come, so a stream is never held up by our side.
    let (tx, mut rx) = mpsc::channel(16);
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let request = ImageRequest::new("a lighthouse", 1024, 1024);
    let result = client.generate(&request, tx, CancellationToken::new()).await.map(|mut i| i.images.remove(0));
    let _ = drain.await;
    result
}

fn over_budget(result: &Result<Vec<u8>, ProviderError>) -> bool {
    matches!(result, Err(ProviderError::BadResponse(m)) if m.contains("passed the") && m.contains("limit"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_gigabytes_of_json_are_cut_at_the_budget_and_never_held() {
    let fake = FakeOpenAi::start(vec![Reply::HugeJson { bytes: 3 * GIB }]).await;
    let client = OpenAiImages::new(settings(&fake, 0, "")).expect("client");
    let started = std::time::Instant::now();
    let (result, growth) = with_peak_growth(generate(&client)).await;
    assert!(over_budget(&result), "{result:?}");
    assert!(!result.as_ref().expect_err("an error").retryable(), "the same answer would come again");
    let sent = fake.hostile_bytes_sent();
    println!(
        "3 GiB JSON: refused after {sent} bytes sent, in {:?}, resident growth {} MiB",
        started.elapsed(),
        growth / MIB
    );
    assert!(sent < 300 * MIB, "stopped reading near the 192 MiB budget, not at 3 GiB ({sent} bytes)");
    assert!(growth < 700 * MIB, "memory stays bounded: grew {} MiB", growth / MIB);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_never_ends_and_a_stream_that_never_ends_are_cut() {
    let fake =
        FakeOpenAi::start(vec![Reply::EndlessEvent { bytes: 3 * GIB }, Reply::EndlessEvents { bytes: 3 * GIB }]).await;
    let client = OpenAiImages::new(settings(&fake, 2, "")).expect("client");
    let started = std::time::Instant::now();
    let (one_event, growth) = with_peak_growth(generate(&client)).await;
    println!("endless event: cut in {:?}, resident growth {} MiB", started.elapsed(), growth / MIB);
    assert!(over_budget(&one_event) && format!("{one_event:?}").contains("96 MiB"), "{one_event:?}");
    assert!(growth < 700 * MIB, "grew {} MiB", growth / MIB);
    let first = fake.hostile_bytes_sent();
    assert!(first < 200 * MIB, "{first} bytes read of one endless event");

    let started = std::time::Instant::now();
    let (many_events, growth) = with_peak_growth(generate(&client)).await;
    println!("endless small events: cut in {:?}, resident growth {} MiB", started.elapsed(), growth / MIB);
    assert!(over_budget(&many_events) && format!("{many_events:?}").contains("256 MiB"), "{many_events:?}");
    assert!(growth < 700 * MIB, "grew {} MiB", growth / MIB);
    assert!(fake.hostile_bytes_sent() - first < 400 * MIB, "stopped near the 256 MiB stream budget");
}

/// A listener that counts the connections it accepts: a fetch that reached it is an SSRF.
async fn internal_service() -> (String, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicU64::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (addr.to_string(), hits)
}

fn refused_link(result: &Result<Vec<u8>, ProviderError>) -> bool {
    matches!(result, Err(ProviderError::BadResponse(m)) if m.starts_with("the image link was refused"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_into_our_own_network_are_not_fetched() {
    let (internal, hits) = internal_service().await;
    let port = internal.rsplit(':').next().expect("port").to_string();
    for link in [
        format!("http://{internal}/x.png"),
        format!("https://{internal}/x.png"),
        "https://169.254.169.254/latest/meta-data/iam/security-credentials/".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        format!("https://localhost:{port}/x.png"),
        format!("https://[::ffff:127.0.0.1]:{port}/x.png"),
        // The provider's own origin is allowed; where it redirects is checked again.
        format!("ORIGIN/redirect?to=http://{internal}/latest/meta-data/"),
    ] {
        let fake = FakeOpenAi::start(vec![]).await;
        fake.then(Reply::UrlTo(link.replace("ORIGIN", &fake.origin())));
        let client = OpenAiImages::new(settings(&fake, 0, "")).expect("client");
        let started = std::time::Instant::now();
        let result = generate(&client).await;
        assert!(refused_link(&result), "{link}: {result:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{link}: refused without waiting on a connect");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing reached the internal service");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_the_operator_allows_is_fetched_and_a_public_https_link_is_tried() {
    let fake = FakeOpenAi::start(vec![]).await;
    // The fake serves its image at /files/…; another origin on loopback, allowed by name.
    let own = format!("{}/files/image.png", fake.origin());
    let fake = FakeOpenAi::start(vec![Reply::UrlTo(own.clone())]).await;
    let other_host = own.trim_start_matches("http://").split('/').next().expect("host").to_string();
    let allowed = OpenAiImages::new(settings(&fake, 0, &other_host)).expect("client");
    assert!(generate(&allowed).await.is_ok(), "an allowed host on loopback is fetched over http");

    // Without the allowance the same link is refused.
    let fake2 = FakeOpenAi::start(vec![Reply::UrlTo(own)]).await;
    let strict = OpenAiImages::new(settings(&fake2, 0, "")).expect("client");
    assert!(refused_link(&generate(&strict).await));
}

/// A PNG that says `side`×`side` and is rows of zeros: a few megabytes that would be
/// `side² × channels` bytes decoded. Written row by row, never held whole.
fn bomb(side: u32, color: png::ColorType) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fastest);
    let mut writer = encoder.write_header().expect("header");
    let channels = if color == png::ColorType::Rgba { 4 } else { 1 };
    let mut stream = writer.stream_writer().expect("stream");
    let row = vec![0u8; side as usize * channels];
    for _ in 0..side {
        std::io::Write::write_all(&mut stream, &row).expect("row");
    }
    stream.finish().expect("finish");
    drop(writer);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decompression_bombs_fail_the_job_without_the_memory_they_ask_for() {
    let small_bomb = Arc::new(tokio::task::spawn_blocking(|| bomb(11_000, png::ColorType::Rgba)).await.expect("bomb"));
    let big_bomb =
        Arc::new(tokio::task::spawn_blocking(|| bomb(30_000, png::ColorType::Grayscale)).await.expect("bomb"));
    println!("bombs: 11000² RGBA in {} kB, 30000² grey in {} kB", small_bomb.len() / 1024, big_bomb.len() / 1024);
    let fake = FakeOpenAi::start(vec![Reply::Image(small_bomb), Reply::Image(big_bomb)]).await;
    let s = settings(&fake, 0, "");
    let app = spawn_app_with(test_db().await, move |settings| {
        settings.images = std::mem::take(&mut settings.images).with_provider(ProviderChoice::OpenAi(s));
    })
    .await;
    let (mut tab, thread) = app.new_user_says("ada", "/imagine a lighthouse").await;
    for side in [11_000, 30_000] {
        if side == 30_000 {
            tab.say(thread.id, "second", "/imagine a harbour").await;
        }
        let started = std::time::Instant::now();
        let (job, growth) = with_peak_growth(async {
            tab.read_until(|m| finished_job(m).is_some()).await.last().and_then(finished_job).expect("finished")
        })
        .await;
        println!("{side}² bomb: job failed in {:?}, resident growth {} MiB", started.elapsed(), growth / MIB);
        assert_eq!(job.status, JobStatus::Failed, "{side}²");
        assert_eq!(job.error.as_ref().map(|e| e.message.as_str()), Some("Generation failed, please try again."));
        assert_eq!(app.store.job_error_kind(job.id).await.expect("kind"), Some(FailureKind::BadImage));
        assert!(growth < 400 * MIB, "{side}²: grew {} MiB", growth / MIB);
    }
}
