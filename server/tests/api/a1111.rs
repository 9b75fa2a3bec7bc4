//! The AUTOMATIC1111 provider against a loopback fake of the engine: what one generation
//! sends, the progress and result it reports, and how engine failures come back. The
//! helpers here (`Job`, `settings`, `steps`, …) are shared with `a1111_engine` (jobs sharing
//! the engine: queueing, cancel, interrupt) and `a1111_app` (through the whole application).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use server::providers::a1111::{A1111Settings, Automatic1111};
use server::providers::{GeneratedImage, ImageProvider, ImageRequest, ProviderError, ProviderEvent};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::fake_a1111::{Config, FakeA1111, Reply};

pub(crate) const STEPS: u32 = 8;

pub(crate) fn settings(fake: &FakeA1111) -> A1111Settings {
    let mut s = A1111Settings::new(&fake.base_url);
    s.steps = STEPS;
    s.poll_interval = Duration::from_millis(15);
    s.timeout = Duration::from_secs(30);
    s
}

pub(crate) fn provider(settings: A1111Settings) -> Arc<Automatic1111> {
    Arc::new(Automatic1111::new(settings).expect("provider"))
}

pub(crate) fn request(prompt: &str) -> ImageRequest {
    ImageRequest::new(prompt, 1020, 768)
}

pub(crate) type Events = Arc<Mutex<Vec<(Instant, ProviderEvent)>>>;

/// A generation under way: its events as they arrive, its cancel, its outcome.
pub(crate) struct Job {
    events: Events,
    pub(crate) cancel: CancellationToken,
    pub(crate) handle: tokio::task::JoinHandle<Result<GeneratedImage, ProviderError>>,
}

impl Job {
    pub(crate) fn start(provider: &Arc<Automatic1111>, request: ImageRequest) -> Self {
        let (provider, cancel, events) = (provider.clone(), CancellationToken::new(), Events::default());
        let (tx, mut rx) = mpsc::channel(64);
        let sink = events.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                sink.lock().expect("lock").push((Instant::now(), event));
            }
        });
        let token = cancel.clone();
        let handle = tokio::spawn(async move { provider.generate(&request, tx, token).await });
        Self { events, cancel, handle }
    }

    pub(crate) fn events(&self) -> Vec<(Instant, ProviderEvent)> {
        self.events.lock().expect("lock").clone()
    }

    pub(crate) async fn until(&self, done: impl Fn(&[(Instant, ProviderEvent)]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done(&self.events()) {
            assert!(Instant::now() < deadline, "events so far: {:?}", self.events());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The result and every event sent before it.
    pub(crate) async fn outcome(self) -> (Result<GeneratedImage, ProviderError>, Vec<(Instant, ProviderEvent)>) {
        let result = tokio::time::timeout(Duration::from_secs(10), self.handle).await.expect("in time").expect("ran");
        // The collector hands on what the provider sent just before answering.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let events = self.events.lock().expect("lock").clone();
        (result, events)
    }
}

pub(crate) fn steps(events: &[(Instant, ProviderEvent)]) -> Vec<(u32, u32)> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            ProviderEvent::Step { step, total } => Some((*step, *total)),
            _ => None,
        })
        .collect()
}

pub(crate) fn previews(events: &[(Instant, ProviderEvent)]) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            ProviderEvent::Preview { png } => Some(png.clone()),
            _ => None,
        })
        .collect()
}

pub(crate) async fn generate_once(config: Config) -> (FakeA1111, Result<GeneratedImage, ProviderError>) {
    let fake = FakeA1111::start_with(config).await;
    let (result, _) = Job::start(&provider(settings(&fake)), request("a lighthouse")).outcome().await;
    (fake, result)
}

pub(crate) fn is_progress(e: &ProviderEvent) -> bool {
    matches!(e, ProviderEvent::Generating | ProviderEvent::Step { .. } | ProviderEvent::Preview { .. })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_arrive_in_order_with_the_engines_total() {
    let fake = FakeA1111::start().await;
    let (result, events) = Job::start(&provider(settings(&fake)), request("a lighthouse")).outcome().await;
    assert!(result.is_ok(), "{result:?}");
    let generating = events.iter().position(|(_, e)| *e == ProviderEvent::Generating).expect("generating");
    let first_step = events.iter().position(|(_, e)| matches!(e, ProviderEvent::Step { .. })).expect("a step");
    assert!(generating < first_step, "generating comes first: {events:?}");
    let steps = steps(&events);
    assert!(steps.windows(2).all(|w| w[0].0 < w[1].0), "rising: {steps:?}");
    assert!(steps.iter().all(|(_, total)| *total == STEPS), "{steps:?}");
    assert_eq!(steps.last(), Some(&(STEPS, STEPS)), "{steps:?}");
    assert!(steps.len() >= 4, "most steps seen: {steps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previews_arrive_once_each_because_the_preview_id_is_echoed() {
    let fake = FakeA1111::start().await;
    let (result, events) = Job::start(&provider(settings(&fake)), request("a lighthouse")).outcome().await;
    result.expect("image");
    let previews = previews(&events);
    let sent = fake.previews_sent();
    assert!(previews.len() >= 2, "{} previews", previews.len());
    assert_eq!(previews.len(), sent.len(), "every preview the engine sent arrived, once");
    assert!(sent.windows(2).all(|w| w[0].1 < w[1].1), "the engine never sent one twice: {sent:?}");
    assert!(previews.windows(2).all(|w| w[0] != w[1]), "no duplicate previews");
    assert!(previews.iter().all(|p| image::load_from_memory(p).is_ok()), "previews are images");
    let echoed: Vec<i64> = fake.polls().into_iter().map(|(_, id)| id).collect();
    assert!(echoed.windows(2).all(|w| w[0] <= w[1]), "{echoed:?}");
    // The last may be answered by the result, before another poll could echo it.
    let before_last = &sent[..sent.len() - 1];
    assert!(before_last.iter().all(|(_, id)| echoed.contains(id)), "each preview id was echoed back: {echoed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_result_is_the_engines_image_with_the_seed_it_used() {
    let (fake, result) = generate_once(Config { seed: 987_654, ..Config::default() }).await;
    let image = result.expect("image");
    assert_eq!(image.images[0], fake.png());
    assert_eq!(image.seed, Some(987_654), "the engine's random seed is recorded");
    assert_eq!((image.provider, image.model.as_str()), ("AUTOMATIC1111", "a1111"));
    assert_eq!(fake.requests()[0].1["seed"], -1, "no seed asked: the engine picks one");

    let fake = FakeA1111::start().await;
    let job = Job::start(&provider(settings(&fake)), ImageRequest { seed: Some(77), ..request("a lighthouse") });
    assert_eq!(job.outcome().await.0.expect("image").seed, Some(77));
    assert_eq!(fake.requests()[0].1["seed"], 77);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_names_its_task_enables_previews_and_carries_size_and_prompt() {
    let fake = FakeA1111::start().await;
    let mut s = settings(&fake);
    s.checkpoint = Some("sdxl_base.safetensors".into());
    s.negative_prompt = "blurry".into();
    let image = Job::start(&provider(s), request("a lighthouse at dusk")).outcome().await.0.expect("image");
    assert_eq!(image.model, "sdxl_base.safetensors");
    let (path, body) = fake.requests().remove(0);
    assert_eq!(path, "/sdapi/v1/txt2img");
    let task = body["force_task_id"].as_str().expect("force_task_id").to_string();
    assert!(!task.is_empty());
    assert!(fake.polls().iter().all(|(id, _)| *id == task), "progress asked about our task only");
    assert_eq!(
        (body["prompt"].as_str(), body["negative_prompt"].as_str()),
        (Some("a lighthouse at dusk"), Some("blurry"))
    );
    assert_eq!((body["width"].as_u64(), body["height"].as_u64()), (Some(1024), Some(768)), "multiples of 8");
    assert_eq!((body["steps"].as_u64(), body["sampler_name"].as_str()), (Some(u64::from(STEPS)), Some("Euler a")));
    let overrides = &body["override_settings"];
    assert_eq!(overrides["live_previews_enable"], true);
    assert_eq!(overrides["show_progress_every_n_steps"], 1);
    assert_eq!(overrides["sd_model_checkpoint"], "sdxl_base.safetensors");
    assert_eq!(body["override_settings_restore_afterwards"], true);
    assert_eq!((body["batch_size"].as_u64(), body["n_iter"].as_u64()), (Some(1), Some(1)));
    assert_eq!((body["send_images"].as_bool(), body["save_images"].as_bool()), (Some(true), Some(false)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_image_goes_to_img2img_as_init_images() {
    let fake = FakeA1111::start().await;
    let source = crate::fake_a1111::png(32, 9);
    let req = ImageRequest { source: Some(Arc::new(source.clone())), ..request("the same, at night") };
    Job::start(&provider(settings(&fake)), req).outcome().await.0.expect("image");
    let (path, body) = fake.requests().remove(0);
    assert_eq!(path, "/sdapi/v1/img2img");
    let sent = base64::engine::general_purpose::STANDARD.decode(body["init_images"][0].as_str().expect("init image"));
    assert_eq!(sent.expect("base64"), source);
    assert!(body["denoising_strength"].as_f64().is_some_and(|d| d > 0.0 && d < 1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_is_down_fails_promptly_as_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let mut s = A1111Settings::new(&base);
    s.poll_interval = Duration::from_millis(15);
    let began = Instant::now();
    let job = Job::start(&provider(s), request("a lighthouse"));
    let (result, _) = job.outcome().await;
    assert!(began.elapsed() < Duration::from_secs(2), "took {:?}", began.elapsed());
    match result {
        Err(ProviderError::Network(m)) => assert!(m.contains("not reachable") && m.contains(&base), "{m}"),
        other => panic!("expected a network error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_without_its_api_says_to_start_it_with_api() {
    let (_fake, result) = generate_once(Config { api: false, ..Config::default() }).await;
    match result {
        Err(ProviderError::Rejected(m)) => assert!(m.contains("--api"), "{m}"),
        other => panic!("expected the API to be missing, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_failure_is_reported_in_its_words_and_not_retried() {
    let (fake, result) = generate_once(Config { script: vec![Reply::OutOfMemory], ..Config::default() }).await;
    match result {
        Err(ProviderError::Engine(m)) => {
            assert!(m.contains("OutOfMemoryError") && m.contains("CUDA out of memory"), "{m}")
        }
        other => panic!("expected an engine error, got {other:?}"),
    }
    assert_eq!(fake.requests().len(), 1, "a failed local run is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_empty_and_garbled_answers_are_typed_errors() {
    let (_, refused) = generate_once(Config { script: vec![Reply::Unprocessable], ..Config::default() }).await;
    assert!(matches!(&refused, Err(ProviderError::Rejected(m)) if m.contains("body.steps")), "{refused:?}");
    let (_, empty) = generate_once(Config { script: vec![Reply::NoImages], ..Config::default() }).await;
    assert_eq!(empty.map(|i| i.images[0].clone()), Err(ProviderError::NoImage));
    let (_, garbage) = generate_once(Config { script: vec![Reply::Garbage], ..Config::default() }).await;
    assert!(matches!(garbage, Err(ProviderError::BadResponse(_))), "{garbage:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_sent_as_basic_auth() {
    let fake = FakeA1111::start_with(Config { auth: Some(("ada", "s3cret")), ..Config::default() }).await;
    let (refused, _) = Job::start(&provider(settings(&fake)), request("a lighthouse")).outcome().await;
    assert_eq!(refused.map(|i| i.images[0].clone()), Err(ProviderError::Unauthorized));
    let mut s = settings(&fake);
    s.auth = Some(("ada".into(), "s3cret".into()));
    let (result, events) = Job::start(&provider(s), request("a lighthouse")).outcome().await;
    assert!(result.is_ok());
    assert!(!steps(&events).is_empty(), "progress is polled with the credentials too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_task_progress_still_reports_steps_and_previews() {
    let fake = FakeA1111::start_with(Config { internal_progress: false, ..Config::default() }).await;
    let (result, events) = Job::start(&provider(settings(&fake)), request("a lighthouse")).outcome().await;
    assert_eq!(result.map(|i| i.images[0].clone()).ok().as_deref(), Some(fake.png()));
    let steps = steps(&events);
    assert!(!steps.is_empty() && steps.windows(2).all(|w| w[0].0 < w[1].0), "{steps:?}");
    let previews = previews(&events);
    assert!(!previews.is_empty() && previews.windows(2).all(|w| w[0] != w[1]), "{} previews", previews.len());
}
