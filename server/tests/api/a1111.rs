//! The AUTOMATIC1111 provider against a loopback fake of the engine, directly and through
//! the whole application.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::protocol::*;
use base64::Engine as _;
use server::config::{ImageSettings, ProviderChoice};
use server::providers::a1111::{A1111Settings, Automatic1111};
use server::providers::{GeneratedImage, ImageProvider, ImageRequest, ProviderError, ProviderEvent};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::fake_a1111::{Config, FakeA1111, Reply};
use crate::helpers::{finished_job, spawn_app_with, test_db};

const STEPS: u32 = 8;

fn settings(fake: &FakeA1111) -> A1111Settings {
    let mut s = A1111Settings::new(&fake.base_url);
    s.steps = STEPS;
    s.poll_interval = Duration::from_millis(15);
    s.timeout = Duration::from_secs(30);
    s
}

fn provider(settings: A1111Settings) -> Arc<Automatic1111> {
    Arc::new(Automatic1111::new(settings).expect("provider"))
}

fn request(prompt: &str) -> ImageRequest {
    ImageRequest { prompt: prompt.into(), width: 1020, height: 768, source: None, seed: None }
}

type Events = Arc<Mutex<Vec<(Instant, ProviderEvent)>>>;

/// A generation under way: its events as they arrive, its cancel, its outcome.
struct Job {
    events: Events,
    cancel: CancellationToken,
    handle: tokio::task::JoinHandle<Result<GeneratedImage, ProviderError>>,
}

impl Job {
    fn start(provider: &Arc<Automatic1111>, request: ImageRequest) -> Self {
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

    fn events(&self) -> Vec<(Instant, ProviderEvent)> {
        self.events.lock().expect("lock").clone()
    }

    async fn until(&self, done: impl Fn(&[(Instant, ProviderEvent)]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done(&self.events()) {
            assert!(Instant::now() < deadline, "events so far: {:?}", self.events());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The result and every event sent before it.
    async fn outcome(self) -> (Result<GeneratedImage, ProviderError>, Vec<(Instant, ProviderEvent)>) {
        let result = tokio::time::timeout(Duration::from_secs(10), self.handle).await.expect("in time").expect("ran");
        // The collector hands on what the provider sent just before answering.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let events = self.events.lock().expect("lock").clone();
        (result, events)
    }
}

fn steps(events: &[(Instant, ProviderEvent)]) -> Vec<(u32, u32)> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            ProviderEvent::Step { step, total } => Some((*step, *total)),
            _ => None,
        })
        .collect()
}

fn previews(events: &[(Instant, ProviderEvent)]) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            ProviderEvent::Preview { png } => Some(png.clone()),
            _ => None,
        })
        .collect()
}

async fn generate_once(config: Config) -> (FakeA1111, Result<GeneratedImage, ProviderError>) {
    let fake = FakeA1111::start_with(config).await;
    let (result, _) = Job::start(&provider(settings(&fake)), request("a lighthouse")).outcome().await;
    (fake, result)
}

fn is_progress(e: &ProviderEvent) -> bool {
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
    assert_eq!(image.png, fake.png());
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
async fn a_second_job_waits_its_turn_and_never_sees_the_firsts_progress() {
    let fake = FakeA1111::start().await;
    let provider = provider(settings(&fake));
    let first = Job::start(&provider, request("first"));
    first.until(|e| e.iter().any(|(_, e)| matches!(e, ProviderEvent::Step { .. }))).await;
    let second = Job::start(&provider, request("second"));
    second.until(|e| !e.is_empty()).await;
    assert_eq!(second.events()[0].1, ProviderEvent::Queued { position: Some(1) }, "one job ahead");
    assert_eq!(fake.requests().len(), 1, "the second is held by Easel, not queued on the engine");

    let (first_result, first_events) = first.outcome().await;
    let (second_result, events) = second.outcome().await;
    assert!(first_result.is_ok() && second_result.is_ok());
    let runs = fake.runs();
    assert_eq!(runs.len(), 2);
    assert_ne!(runs[0].task, runs[1].task);
    assert!(runs[1].started >= runs[0].ended, "one job at a time on the engine");
    let progress: Vec<_> = events.iter().filter(|(_, e)| is_progress(e)).collect();
    assert!(!steps(&events).is_empty(), "the second job has its own steps");
    assert!(
        progress.iter().all(|(at, _)| *at >= runs[0].ended),
        "the second job reported progress before the first ended: {events:?}"
    );
    let queued = events.iter().filter(|(_, e)| matches!(e, ProviderEvent::Queued { .. })).count();
    assert_eq!(queued, 1, "its place said once: {events:?}");
    assert!(!first_events.iter().any(|(_, e)| matches!(e, ProviderEvent::Queued { .. })), "the first never waited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_reaches_the_engines_interrupt_within_a_second_and_returns_cancelled() {
    let fake = FakeA1111::start().await;
    let mut s = settings(&fake);
    s.steps = 200;
    let provider = provider(s);
    let job = Job::start(&provider, request("a slow one"));
    job.until(|e| e.iter().any(|(_, e)| matches!(e, ProviderEvent::Step { .. }))).await;

    let asked = Instant::now();
    job.cancel.cancel();
    let result = tokio::time::timeout(Duration::from_secs(1), job.handle).await.expect("answers within a second");
    assert_eq!(result.expect("ran"), Err(ProviderError::Cancelled));
    assert!(fake.until(Duration::from_secs(1), |f| !f.interrupts().is_empty()).await, "interrupt sent");
    assert!(fake.interrupts()[0] - asked < Duration::from_secs(1));
    assert!(fake.until(Duration::from_secs(2), |f| !f.runs().is_empty()).await, "the engine stopped early");
    assert!(fake.runs()[0].interrupted);

    // The engine is free for the next job, which is not interrupted.
    let next = Job::start(&provider, request("the next one"));
    next.until(|e| e.iter().any(|(_, e)| matches!(e, ProviderEvent::Step { .. }))).await;
    assert_eq!((fake.requests().len(), fake.interrupts().len()), (2, 1));
}

/// After the first job was abandoned mid-run: its task is interrupted within a second of
/// `abandoned`, once, and the job queued behind it reaches the engine only once it is off.
async fn the_abandoned_task_is_stopped_before_the_next_starts(fake: &FakeA1111, abandoned: Instant, next: Job) {
    assert!(fake.until(Duration::from_secs(1), |f| !f.interrupts().is_empty()).await, "no interrupt sent");
    assert!(fake.interrupts()[0] - abandoned < Duration::from_secs(1));
    let (result, _) = next.outcome().await;
    assert!(result.is_ok(), "{result:?}");
    let runs = fake.runs();
    assert_eq!(runs.len(), 2);
    assert!(runs[0].interrupted, "the abandoned task was still running, and stopped early");
    assert!(!runs[1].interrupted, "the next job was left alone");
    assert!(runs[1].received >= runs[0].ended, "the next job was sent while the abandoned one ran");
    assert_eq!(fake.interrupts().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_dropped_mid_run_is_interrupted_and_keeps_the_engine_until_it_is_off() {
    let fake = FakeA1111::start().await;
    let mut s = settings(&fake);
    s.steps = 200;
    let provider = provider(s);
    // What the job runner does at its deadline: stop polling `generate` and drop it.
    let (tx, mut rx) = mpsc::channel(64);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let req = request("abandoned");
    let dropped =
        tokio::time::timeout(Duration::from_millis(400), provider.generate(&req, tx, CancellationToken::new())).await;
    assert!(dropped.is_err(), "still generating when dropped: {dropped:?}");
    let abandoned = Instant::now();
    assert_eq!(fake.requests().len(), 1);

    let next = Job::start(&provider, request("the next one"));
    the_abandoned_task_is_stopped_before_the_next_starts(&fake, abandoned, next).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_lost_mid_run_interrupts_the_task_still_on_the_engine() {
    let config = Config { script: vec![Reply::HangUp], ..Config::default() };
    let fake = FakeA1111::start_with(config).await;
    let mut s = settings(&fake);
    s.steps = 200;
    let provider = provider(s);
    let job = Job::start(&provider, request("cut off"));
    let result = tokio::time::timeout(Duration::from_secs(5), job.handle).await.expect("in time").expect("ran");
    let failed = Instant::now();
    assert!(matches!(result, Err(ProviderError::Network(_))), "{result:?}");

    let next = Job::start(&provider, request("the next one"));
    the_abandoned_task_is_stopped_before_the_next_starts(&fake, failed, next).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_while_waiting_for_the_engine_does_not_interrupt_it() {
    let fake = FakeA1111::start().await;
    let provider = provider(settings(&fake));
    let first = Job::start(&provider, request("first"));
    first.until(|e| e.iter().any(|(_, e)| *e == ProviderEvent::Generating)).await;
    let second = Job::start(&provider, request("second"));
    second.until(|e| !e.is_empty()).await;

    second.cancel.cancel();
    let result = tokio::time::timeout(Duration::from_millis(200), second.handle).await.expect("at once");
    assert_eq!(result.expect("ran"), Err(ProviderError::Cancelled));
    assert!(first.outcome().await.0.is_ok(), "the running job is untouched");
    assert!(fake.interrupts().is_empty());
    assert_eq!(fake.requests().len(), 1, "the cancelled job never reached the engine");
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
    assert_eq!(empty.map(|i| i.png), Err(ProviderError::NoImage));
    let (_, garbage) = generate_once(Config { script: vec![Reply::Garbage], ..Config::default() }).await;
    assert!(matches!(garbage, Err(ProviderError::BadResponse(_))), "{garbage:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_sent_as_basic_auth() {
    let fake = FakeA1111::start_with(Config { auth: Some(("ada", "s3cret")), ..Config::default() }).await;
    let (refused, _) = Job::start(&provider(settings(&fake)), request("a lighthouse")).outcome().await;
    assert_eq!(refused.map(|i| i.png), Err(ProviderError::Unauthorized));
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
    assert_eq!(result.map(|i| i.png).ok().as_deref(), Some(fake.png()));
    let steps = steps(&events);
    assert!(!steps.is_empty() && steps.windows(2).all(|w| w[0].0 < w[1].0), "{steps:?}");
    let previews = previews(&events);
    assert!(!previews.is_empty() && previews.windows(2).all(|w| w[0] != w[1]), "{} previews", previews.len());
}

/// "Step 3 of 8: generating…" → (3, 8).
fn step_of(detail: &str) -> Option<(u32, u32)> {
    let rest = detail.split("Step ").nth(1)?;
    let (n, rest) = rest.split_once(" of ")?;
    let m: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((n.trim().parse().ok()?, m.parse().ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imagine_on_a1111_shows_rising_steps_then_the_image() {
    let fake = FakeA1111::start().await;
    let s = settings(&fake);
    let app = spawn_app_with(test_db().await, move |settings| {
        settings.images = ImageSettings::default().with_provider(ProviderChoice::Automatic1111(s));
    })
    .await;
    let (mut tab, _) = app.new_user_says("ada", "/imagine a lighthouse").await;
    let frames = tab.read_until(|m| finished_job(m).is_some()).await;
    let steps: Vec<(u32, u32)> = frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::JobProgress(p) => step_of(&p.detail),
            _ => None,
        })
        .collect();
    assert!(!steps.is_empty(), "no \"Step n of m\" in {frames:?}");
    assert!(steps.windows(2).all(|w| w[0].0 <= w[1].0), "rising: {steps:?}");
    assert!(steps.iter().all(|(_, total)| *total == STEPS), "{steps:?}");
    let job = frames.last().and_then(finished_job).expect("finished");
    assert_eq!(job.status, JobStatus::Complete);
    assert_eq!(job.provider, "AUTOMATIC1111");
    assert!(job.image.is_some());
    assert_eq!(fake.requests()[0].1["prompt"].as_str().map(|p| p.contains("lighthouse")), Some(true));
}
