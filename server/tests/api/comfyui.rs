//! The ComfyUI provider against a loopback fake of the engine: steps, previews, the graph
//! sent, errors, and a socket or an end event lost on the way. Cancelling is in
//! `comfyui_cancel.rs`, a job through the whole application in `comfyui_app.rs`; the helpers
//! here serve all three.

use std::sync::Arc;
use std::time::Duration;

use server::providers::comfyui::{ComfyUi, ComfyUiSettings};
use server::providers::{GeneratedImage, ImageProvider, ImageRequest, ProviderError, ProviderEvent};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::fake_comfyui::{FakeComfyUi, Options, Reply, Run};

pub(crate) fn settings(base_url: &str) -> ComfyUiSettings {
    // The provider's own logs, as `spawn_app` shows the app's.
    if std::env::var_os("RUST_LOG").is_some() {
        server::telemetry::init();
    }
    let mut s = ComfyUiSettings::new(base_url);
    s.connect_wait = Duration::from_secs(2);
    s.reconnect_min = Duration::from_millis(50);
    s.reconnect_max = Duration::from_millis(200);
    s.unreachable_grace = Duration::from_secs(1);
    s.request_timeout = Duration::from_secs(5);
    s
}

pub(crate) fn provider(fake: &FakeComfyUi) -> Arc<ComfyUi> {
    Arc::new(ComfyUi::new(settings(&fake.base_url)).expect("provider starts"))
}

pub(crate) fn request(seed: Option<u64>) -> ImageRequest {
    ImageRequest { seed, ..ImageRequest::new("a lighthouse", 1000, 771) }
}

/// A generation in flight: its events as they come, its result at the end.
pub(crate) struct Running {
    events: mpsc::Receiver<ProviderEvent>,
    pub(crate) seen: Vec<ProviderEvent>,
    pub(crate) cancel: CancellationToken,
    pub(crate) task: tokio::task::JoinHandle<Result<GeneratedImage, ProviderError>>,
}

pub(crate) fn start(provider: &Arc<ComfyUi>, request: ImageRequest) -> Running {
    let (tx, events) = mpsc::channel(256);
    let cancel = CancellationToken::new();
    let (p, c) = (provider.clone(), cancel.clone());
    let task = tokio::spawn(async move { p.generate(&request, tx, c).await });
    Running { events, seen: Vec::new(), cancel, task }
}

impl Running {
    /// Reads events until one matches.
    pub(crate) async fn until(&mut self, want: impl Fn(&ProviderEvent) -> bool) {
        loop {
            let event = tokio::time::timeout(Duration::from_secs(10), self.events.recv()).await;
            let event = event.expect("an event within 10 s").expect("the provider still runs");
            let stop = want(&event);
            self.seen.push(event);
            if stop {
                return;
            }
        }
    }

    pub(crate) async fn finish(mut self) -> (Result<GeneratedImage, ProviderError>, Vec<ProviderEvent>) {
        let result = tokio::time::timeout(Duration::from_secs(20), self.task).await.expect("ends within 20 s");
        while let Some(e) = self.events.recv().await {
            self.seen.push(e);
        }
        (result.expect("no panic"), self.seen)
    }
}

pub(crate) async fn generate(
    provider: &Arc<ComfyUi>,
    seed: Option<u64>,
) -> (Result<GeneratedImage, ProviderError>, Vec<ProviderEvent>) {
    start(provider, request(seed)).finish().await
}

fn steps(events: &[ProviderEvent]) -> Vec<(u32, u32)> {
    events
        .iter()
        .filter_map(|e| match e {
            ProviderEvent::Step { step, total } => Some((*step, *total)),
            _ => None,
        })
        .collect()
}

fn previews(events: &[ProviderEvent]) -> usize {
    events.iter().filter(|e| matches!(e, ProviderEvent::Preview { .. })).count()
}

pub(crate) fn is_step(e: &ProviderEvent) -> bool {
    matches!(e, ProviderEvent::Step { .. })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_arrive_in_order_with_their_total_and_the_image_is_the_engines() {
    let run = Run { preview_every: 2, ..Run::steps(6) };
    let fake = FakeComfyUi::start(vec![Reply::Run(run)]).await;
    let comfy = provider(&fake);
    let (result, events) = generate(&comfy, None).await;
    let image = result.expect("an image");
    assert_eq!(image.images[0], fake.png());
    assert_eq!((image.provider, image.model.as_str()), ("ComfyUI", "sd_xl_base_1.0.safetensors"));
    assert_eq!(steps(&events), (1..=6).map(|s| (s, 6)).collect::<Vec<_>>());
    assert_eq!(previews(&events), 3);
    let generating = events.iter().position(|e| *e == ProviderEvent::Generating).expect("generating");
    assert!(generating < events.iter().position(is_step).expect("a step"), "generating comes before the steps");
    let first = &fake.first_frames()[0];
    assert_eq!(first["type"], "feature_flags");
    assert_eq!(first["data"]["supports_preview_metadata"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previews_go_to_the_prompt_they_name_and_a_second_prompt_waits_its_turn() {
    let first = Run { preview_every: 1, ..Run::slow(4, Duration::from_millis(60)) };
    let second = Run { preview_every: 3, ..Run::steps(6) };
    let fake = FakeComfyUi::start(vec![Reply::Run(first), Reply::Run(second)]).await;
    let comfy = provider(&fake);
    let mut a = start(&comfy, request(None));
    a.until(is_step).await;
    let b = start(&comfy, request(None));
    let ((a, a_events), (b, b_events)) = tokio::join!(a.finish(), b.finish());
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    assert_eq!((previews(&a_events), previews(&b_events)), (4, 2), "each prompt's previews reach its own job");
    assert_eq!(steps(&b_events), (1..=6).map(|s| (s, 6)).collect::<Vec<_>>());
    assert!(
        b_events.contains(&ProviderEvent::Queued { position: Some(1) }),
        "the second job is told one is ahead: {b_events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graph_sent_has_the_request_at_the_mapped_places_and_asks_for_previews() {
    let fake = FakeComfyUi::start(vec![]).await;
    let mut s = settings(&fake.base_url);
    s.steps = Some(7);
    let comfy = Arc::new(ComfyUi::new(s).expect("provider starts"));
    let (result, _) = generate(&comfy, Some(1234)).await;
    assert_eq!(result.expect("an image").seed, Some(1234));
    let sent = &fake.prompts()[0];
    let graph = &sent["prompt"];
    assert_eq!(graph["6"]["inputs"]["text"], "a lighthouse");
    assert_eq!(graph["7"]["inputs"]["text"], "text, watermark, blurry, low quality");
    assert_eq!(graph["3"]["inputs"]["seed"], 1234);
    assert_eq!(graph["3"]["inputs"]["steps"], 7);
    assert_eq!(
        (graph["5"]["inputs"]["width"].as_u64(), graph["5"]["inputs"]["height"].as_u64()),
        (Some(1000), Some(768))
    );
    assert_eq!(sent["extra_data"]["preview_method"], "auto");
    assert_eq!(sent["front"], false);
    let prompt_id = sent["prompt_id"].as_str().expect("a prompt id");
    assert_eq!(uuid::Uuid::parse_str(prompt_id).map(|u| u.to_string()).ok().as_deref(), Some(prompt_id));
    generate(&comfy, None).await.0.expect("a second image");
    assert_eq!(fake.prompts()[1]["client_id"], sent["client_id"], "one client id: one socket");
    assert_eq!(fake.connections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_random_seed_differs_between_requests_unless_one_was_asked_for() {
    let fake = FakeComfyUi::start(vec![]).await;
    let comfy = provider(&fake);
    let mut seeds = Vec::new();
    for asked in [None, None, Some(42), Some(42)] {
        let image = generate(&comfy, asked).await.0.expect("an image");
        seeds.push(image.seed.expect("the seed is reported"));
    }
    let sent: Vec<u64> = fake.prompts().iter().filter_map(|p| p["prompt"]["3"]["inputs"]["seed"].as_u64()).collect();
    assert_eq!(sent, seeds, "the reported seed is the one sent");
    assert_ne!(seeds[0], seeds[1]);
    assert!(seeds[0] < 1 << 53 && seeds[1] < 1 << 53);
    assert_eq!((seeds[2], seeds[3]), (42, 42));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_error_is_an_engine_error_with_the_engines_words() {
    let fake = FakeComfyUi::start(vec![Reply::Run(Run { fail_at: Some(2), ..Run::steps(5) })]).await;
    let (result, _) = generate(&provider(&fake), None).await;
    match result {
        Err(ProviderError::Engine(message)) => assert!(message.contains("out of memory"), "{message}"),
        other => panic!("expected an engine error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_workflow_is_a_rejection_naming_the_node_and_not_retried() {
    let fake = FakeComfyUi::start(vec![Reply::NodeErrors]).await;
    let (result, _) = generate(&provider(&fake), None).await;
    match result {
        Err(e @ ProviderError::Rejected(_)) => {
            let ProviderError::Rejected(message) = &e else { unreachable!() };
            assert!(message.contains("Prompt outputs failed validation") && message.contains("ckpt_name"), "{message}");
            assert!(!e.retryable(), "a configuration error is not the user's to retry");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_is_down_is_a_network_error_within_seconds() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base_url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let comfy = Arc::new(ComfyUi::new(settings(&base_url)).expect("starts even when the engine is down"));
    let asked = Instant::now();
    let (result, _) = generate(&comfy, None).await;
    assert!(asked.elapsed() < Duration::from_secs(3), "took {:?}", asked.elapsed());
    match result {
        Err(ProviderError::Network(message)) => assert!(message.contains("not reachable"), "{message}"),
        other => panic!("expected a network error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_dropped_mid_job_is_reconciled_and_the_job_completes() {
    for jobs_api in [true, false] {
        let run = Run { drop_socket_at: Some(2), ..Run::slow(6, Duration::from_millis(40)) };
        let fake =
            FakeComfyUi::start_with(Options { script: vec![Reply::Run(run)], jobs_api, ..Options::default() }).await;
        let (result, events) = generate(&provider(&fake), None).await;
        assert_eq!(result.map(|i| i.images[0].clone()).ok().as_deref(), Some(fake.png()), "jobs api: {jobs_api}");
        assert_eq!(steps(&events).first(), Some(&(1, 6)));
        assert!(fake.connections() >= 2, "the socket reconnected");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_vanishes_mid_job_fails_it_after_the_grace() {
    let fake = FakeComfyUi::start(vec![Reply::Run(Run::slow(200, Duration::from_millis(100)))]).await;
    let comfy = provider(&fake);
    let mut job = start(&comfy, request(None));
    job.until(is_step).await;
    let gone = Instant::now();
    fake.vanish();
    let (result, _) = job.finish().await;
    assert!(matches!(result, Err(ProviderError::Network(_))), "{result:?}");
    assert!(gone.elapsed() < Duration::from_secs(4), "took {:?}", gone.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_server_errors_are_typed() {
    let fake = FakeComfyUi::start(vec![Reply::Garbage, Reply::NoPromptId, Reply::Status(503)]).await;
    let comfy = provider(&fake);
    assert!(matches!(generate(&comfy, None).await.0, Err(ProviderError::BadResponse(_))), "an HTML body");
    match generate(&comfy, None).await.0 {
        Err(ProviderError::BadResponse(message)) => assert!(message.contains("prompt_id"), "{message}"),
        other => panic!("expected a bad response, got {other:?}"),
    }
    assert_eq!(generate(&comfy, None).await.0.err(), Some(ProviderError::Server { status: 503 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_end_is_reconciled_after_the_quiet_poll_though_status_frames_keep_coming() {
    for jobs_api in [true, false] {
        // A busy engine: a status to every socket each 100 ms; our end event never arrives.
        let options = Options {
            script: vec![Reply::Run(Run::slow(4, Duration::from_millis(50)))],
            jobs_api,
            lose_end_of: vec![1],
            status_every: Some(Duration::from_millis(100)),
            ..Options::default()
        };
        let fake = FakeComfyUi::start_with(options).await;
        let mut s = settings(&fake.base_url);
        s.quiet_poll = Duration::from_millis(500);
        let comfy = Arc::new(ComfyUi::new(s).expect("provider starts"));
        let asked = Instant::now();
        let job = start(&comfy, request(None));
        let result = tokio::time::timeout(Duration::from_secs(4), job.task).await;
        let result = result.unwrap_or_else(|_| panic!("not reconciled within 4 s (jobs api: {jobs_api})"));
        assert_eq!(
            result.expect("no panic").map(|i| i.images[0].clone()).ok().as_deref(),
            Some(fake.png()),
            "jobs api: {jobs_api}"
        );
        assert!(asked.elapsed() < Duration::from_secs(3), "took {:?}", asked.elapsed());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_read_before_the_prompt_was_queued_does_not_pin_the_position() {
    // One prompt runs; ours is slow to queue while `status` says one prompt is there.
    let options = Options {
        script: vec![
            Reply::Run(Run::slow(20, Duration::from_millis(50))),
            Reply::Slow { queue_after: Duration::from_millis(400), answer_after: Duration::ZERO, run: Run::steps(2) },
        ],
        status_every: Some(Duration::from_millis(50)),
        ..Options::default()
    };
    let fake = FakeComfyUi::start_with(options).await;
    let comfy = provider(&fake);
    let mut first = start(&comfy, request(None));
    first.until(is_step).await;
    let mut second = start(&comfy, request(None));
    second.until(|e| matches!(e, ProviderEvent::Queued { position: Some(_) })).await;
    assert_eq!(second.seen.last(), Some(&ProviderEvent::Queued { position: Some(1) }), "{:?}", second.seen);
    let ((a, _), (b, _)) = tokio::join!(first.finish(), second.finish());
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
}
