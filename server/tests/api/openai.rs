//! The OpenAI-compatible provider against a loopback fake of the API, directly and through
//! the whole application.

use std::time::Duration;

use app::protocol::*;
use server::config::ProviderChoice;
use server::providers::openai::{OpenAiImages, OpenAiSettings};
use server::providers::{ImageProvider, ImageRequest, ProviderError, ProviderEvent};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::fake_openai::{FakeOpenAi, Reply};
use crate::helpers::{finished_job, spawn_app_with, test_db};

fn settings(fake: &FakeOpenAi, model: &str, partial_images: u8) -> OpenAiSettings {
    OpenAiSettings {
        api_key: "sk-test".into(),
        base_url: fake.base_url.clone(),
        model: model.into(),
        size: "1024x1024".into(),
        quality: Some("low".into()),
        partial_images,
        request_timeout: Duration::from_secs(10),
        image_url_hosts: Default::default(),
    }
}

async fn generate(
    fake: &FakeOpenAi,
    model: &str,
    partial_images: u8,
) -> (Result<Vec<u8>, ProviderError>, usize, Option<String>) {
    let client = OpenAiImages::new(settings(fake, model, partial_images)).expect("client");
    let (tx, mut rx) = mpsc::channel(16);
    let request = ImageRequest::new("a lighthouse", 1024, 1024);
    let result = client.generate(&request, tx, CancellationToken::new()).await;
    let mut previews = 0;
    while let Ok(event) = rx.try_recv() {
        if matches!(event, ProviderEvent::Preview { .. }) {
            previews += 1;
        }
    }
    let revised = result.as_ref().ok().and_then(|i| i.revised_prompt.clone());
    (result.map(|i| i.images[0].clone()), previews, revised)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b64_json_answers_are_decoded_with_the_revised_prompt() {
    let fake = FakeOpenAi::start(vec![Reply::B64 { revised: Some("a tall lighthouse") }]).await;
    let (png, _, revised) = generate(&fake, "gpt-image-2.5-flare", 0).await;
    assert_eq!(png.expect("image"), fake.png());
    assert_eq!(revised.as_deref(), Some("a tall lighthouse"));
    let sent = &fake.requests()[0];
    assert_eq!(
        (sent["model"].as_str(), sent["prompt"].as_str(), sent["quality"].as_str()),
        (Some("gpt-image-2.5-flare"), Some("a lighthouse"), Some("low"))
    );
    assert!(sent.get("stream").is_none() && sent.get("response_format").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_answers_are_downloaded_at_once() {
    let fake = FakeOpenAi::start(vec![Reply::Url]).await;
    // A compatible server (LocalAI) that serves its own model under the old DALL-E name.
    fake.also_serve("dall-e-3");
    let (png, _, _) = generate(&fake, "dall-e-3", 0).await;
    assert_eq!(png.expect("image"), fake.png());
    assert_eq!(fake.requests()[0]["response_format"], "b64_json", "dall-e-3's request fields still work");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_partials_become_previews() {
    let fake = FakeOpenAi::start(vec![Reply::Stream { partials: 2, gap: Duration::from_millis(20) }]).await;
    let (png, previews, _) = generate(&fake, "gpt-image-2.5-flare", 2).await;
    assert_eq!(png.expect("image"), fake.png());
    assert_eq!(previews, 2);
    assert_eq!(
        (fake.requests()[0]["stream"].as_bool(), fake.requests()[0]["partial_images"].as_u64()),
        (Some(true), Some(2))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_ignores_stream_and_answers_json_works() {
    let fake = FakeOpenAi::start(vec![Reply::B64 { revised: None }]).await;
    let (png, previews, _) = generate(&fake, "gpt-image-2.5-flare", 3).await;
    assert_eq!((png.map(|p| p.len()).ok(), previews), (Some(fake.png().len()), 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_is_waited_out_and_retried() {
    let limited = Reply::Error { status: 429, code: "rate_limit_exceeded", retry_after_ms: Some(300) };
    let fake = FakeOpenAi::start(vec![limited, Reply::B64 { revised: None }]).await;
    let (png, _, _) = generate(&fake, "gpt-image-2.5-flare", 0).await;
    assert!(png.is_ok());
    assert_eq!(fake.requests().len(), 2);
    assert!(fake.span() >= Duration::from_millis(300), "waited {:?}", fake.span());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_at_most_twice() {
    let e503 = Reply::Error { status: 503, code: "server_error", retry_after_ms: None };
    let fake = FakeOpenAi::start(vec![e503.clone(), e503.clone(), Reply::B64 { revised: None }]).await;
    assert!(generate(&fake, "gpt-image-2.5-flare", 0).await.0.is_ok());
    assert_eq!(fake.requests().len(), 3);

    let fake = FakeOpenAi::start(vec![e503.clone(), e503.clone(), e503.clone(), e503]).await;
    assert_eq!(generate(&fake, "gpt-image-2.5-flare", 0).await.0, Err(ProviderError::Server { status: 503 }));
    assert_eq!(fake.requests().len(), 3, "one try and two retries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_quota_and_credentials_are_never_retried() {
    for (reply, expected) in [
        (Reply::Error { status: 400, code: "moderation_blocked", retry_after_ms: None }, ProviderError::ContentPolicy),
        (
            Reply::Error { status: 400, code: "content_policy_violation", retry_after_ms: None },
            ProviderError::ContentPolicy,
        ),
        (Reply::Error { status: 429, code: "insufficient_quota", retry_after_ms: None }, ProviderError::QuotaExhausted),
        (Reply::Error { status: 401, code: "invalid_api_key", retry_after_ms: None }, ProviderError::Unauthorized),
    ] {
        let fake = FakeOpenAi::start(vec![reply, Reply::B64 { revised: None }]).await;
        assert_eq!(generate(&fake, "gpt-image-2.5-flare", 0).await.0, Err(expected.clone()));
        assert_eq!(fake.requests().len(), 1, "{expected:?} was retried");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_and_broken_answers_are_typed_errors() {
    let fake = FakeOpenAi::start(vec![Reply::NoImage]).await;
    assert_eq!(generate(&fake, "gpt-image-2.5-flare", 0).await.0, Err(ProviderError::NoImage));
    let fake = FakeOpenAi::start(vec![Reply::BrokenJson]).await;
    assert!(matches!(generate(&fake, "gpt-image-2.5-flare", 0).await.0, Err(ProviderError::BadResponse(_))));
}

async fn app_with_fake(fake: &FakeOpenAi, timeout: Duration) -> crate::helpers::TestApp {
    let s = settings(fake, "gpt-image-2.5-flare", 2);
    spawn_app_with(test_db().await, move |settings| {
        settings.images = std::mem::take(&mut settings.images).with_provider(ProviderChoice::OpenAi(s));
        settings.images.job_timeout = Some(timeout);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_drops_the_provider_request() {
    let fake = FakeOpenAi::start(vec![Reply::Hang]).await;
    let app = app_with_fake(&fake, Duration::from_secs(30)).await;
    let (mut tab, _) = app.new_user_says("ada", "/imagine a lighthouse").await;
    let frames = tab.read_until(|m| matches!(m, ServerMsg::JobProgress(p) if p.stage == JobStage::Generating)).await;
    let Some(ServerMsg::JobProgress(p)) = frames.last() else { panic!("progress") };
    assert!(!fake.client_hung_up());

    tab.send(ClientMsg::CancelJob(CancelJob { job_id: p.job_id })).await;
    let frames = tab.read_until(|m| finished_job(m).is_some()).await;
    assert_eq!(frames.last().and_then(finished_job).map(|j| j.status), Some(JobStatus::Cancelled));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while !fake.client_hung_up() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(fake.client_hung_up(), "the provider saw the connection close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_prompt_fails_clearly_without_retry() {
    let blocked = Reply::Error { status: 400, code: "moderation_blocked", retry_after_ms: None };
    let fake = FakeOpenAi::start(vec![blocked]).await;
    let app = app_with_fake(&fake, Duration::from_secs(30)).await;
    let (mut tab, _) = app.new_user_says("ada", "/imagine something not allowed").await;
    let frames = tab.read_until(|m| finished_job(m).is_some()).await;
    let job = frames.last().and_then(finished_job).expect("finished");
    assert_eq!(job.status, JobStatus::Failed);
    let error = job.error.expect("an error");
    assert!(error.message.contains("declined this prompt"), "{}", error.message);
    assert!(!error.retryable, "no Retry for a blocked prompt");
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(app.store.job_cost(job.id).await.expect("cost"), None, "a blocked prompt costs nothing");
    assert_eq!(app.store.job_error_kind(job.id).await.expect("kind"), Some(FailureKind::ContentPolicy));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_job_says_so_waits_and_then_completes_with_its_cost() {
    let limited = Reply::Error { status: 429, code: "rate_limit_exceeded", retry_after_ms: Some(200) };
    let fake = FakeOpenAi::start(vec![limited, Reply::B64 { revised: Some("a lighthouse, revised") }]).await;
    let app = app_with_fake(&fake, Duration::from_secs(30)).await;
    let (mut tab, _) = app.new_user_says("ada", "/imagine a lighthouse").await;
    let frames = tab.read_until(|m| finished_job(m).is_some()).await;
    let told =
        frames.iter().any(|f| matches!(f, ServerMsg::JobProgress(p) if p.detail.starts_with("Too many requests")));
    assert!(told, "the user is told about the rate limit while it is waited out");
    let job = frames.last().and_then(finished_job).expect("finished");
    assert_eq!(job.status, JobStatus::Complete);
    assert_eq!(job.revised_prompt.as_deref(), Some("a lighthouse, revised"));
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(
        app.store.job_cost(job.id).await.expect("cost"),
        Some(50 * 5 + 272 * 30),
        "priced from usage (low quality: 272 image tokens)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_own_deadline_ends_a_slow_provider_call() {
    let fake = FakeOpenAi::start(vec![Reply::Hang]).await;
    let app = app_with_fake(&fake, Duration::from_millis(500)).await;
    let (mut tab, _) = app.new_user_says("ada", "/imagine a slow one").await;
    let frames = tab.read_until(|m| finished_job(m).is_some()).await;
    let warned = frames
        .iter()
        .any(|f| matches!(f, ServerMsg::JobProgress(p) if p.detail.contains("taking longer than expected")));
    assert!(warned, "the user is told it is slow before it fails");
    let job = frames.last().and_then(finished_job).expect("finished");
    let error = job.error.expect("an error");
    assert!(error.message.contains("taking longer than expected") && error.retryable, "{error:?}");
    assert_eq!(job.provider, ProviderKind::OpenAi);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refinement_sends_the_last_image_to_the_edits_endpoint() {
    let fake = FakeOpenAi::start(vec![]).await;
    let app = app_with_fake(&fake, Duration::from_secs(30)).await;
    let (mut tab, thread) = app.new_user_says("ada", "/imagine a lighthouse at dusk").await;
    let first = tab.read_until(|m| finished_job(m).is_some()).await.last().and_then(finished_job).expect("first");
    tab.say(thread.id, "m-2", "make it more vibrant").await;
    let second = tab.read_until(|m| finished_job(m).is_some()).await.last().and_then(finished_job).expect("second");
    assert_eq!((second.status, second.refines), (JobStatus::Complete, Some(first.id)));

    let sent = fake.requests();
    assert_eq!(sent.len(), 2);
    assert!(sent[0].get("endpoint").is_none(), "the first image is generated: {}", sent[0]);
    assert_eq!(sent[1]["endpoint"], "edits");
    assert_eq!(sent[1]["multipart"], true);
    assert_eq!(sent[1]["image"], true, "the form carries the stored image being changed");
    assert_eq!(sent[1]["prompt"], "a lighthouse at dusk, more vibrant");
}

/// Settings as `from_env` reads them, with only a key and the fake's address set.
fn default_settings(fake: &FakeOpenAi, db: &str) -> server::config::Settings {
    let base = crate::helpers::settings(db);
    let url = fake.base_url.clone();
    let lookup = move |name: &str| match name {
        "OPENAI_API_KEY" => Some("sk-test".to_string()),
        "OPENAI_BASE_URL" => Some(url.clone()),
        "DATABASE_URL" => Some(db.to_string()),
        _ => None,
    };
    let mut settings = server::config::Settings::from_vars(base.leptos.clone(), &lookup).expect("settings");
    settings.quotas = base.quotas;
    settings
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_configuration_generates_with_a_current_model() {
    let fake = FakeOpenAi::start(vec![]).await;
    let db = test_db().await;
    let settings = default_settings(&fake, &db.url);
    let app = spawn_app_with(db, move |s| *s = settings).await;
    let (mut tab, _) = app.new_user_says("ada", "/imagine a lighthouse").await;
    let job = tab.read_until(|m| finished_job(m).is_some()).await.last().and_then(finished_job).expect("finished");
    assert_eq!(job.status, JobStatus::Complete, "{:?}", job.error);
    assert_eq!(job.model, server::providers::catalogue::DEFAULT_MODEL);
    let sent = fake.requests();
    assert_eq!(sent[0]["model"], server::providers::catalogue::DEFAULT_MODEL);
    assert!(app.store.job_cost(job.id).await.expect("cost").is_some_and(|c| c > 0), "priced from usage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_model_fails_with_a_message_for_the_administrator_and_no_retry() {
    let fake = FakeOpenAi::start(vec![]).await;
    let s = settings(&fake, "gpt-image-1", 2);
    let app = spawn_app_with(test_db().await, move |settings| {
        settings.images = std::mem::take(&mut settings.images).with_provider(ProviderChoice::OpenAi(s));
    })
    .await;
    let (mut tab, _) = app.new_user_says("ada", "/imagine a lighthouse").await;
    let job = tab.read_until(|m| finished_job(m).is_some()).await.last().and_then(finished_job).expect("finished");
    assert_eq!(job.status, JobStatus::Failed);
    let error = job.error.expect("an error");
    assert_eq!(
        error.message,
        "The image model gpt-image-1 was retired by the provider on 2026-10-23; the administrator must set \
         OPENAI_IMAGE_MODEL to a current model."
    );
    assert!(!error.retryable, "a configuration error is not the user's to retry");
    assert_eq!(fake.requests().len(), 1, "never retried");
    assert_eq!(app.store.job_cost(job.id).await.expect("cost"), None, "never charged");
    assert_eq!(app.store.job_error_kind(job.id).await.expect("kind"), Some(FailureKind::ModelUnavailable));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_model_is_its_own_error_not_an_unreadable_response() {
    let fake = FakeOpenAi::start(vec![]).await;
    let (result, _, _) = generate(&fake, "gpt-image-9", 0).await;
    assert_eq!(result, Err(ProviderError::ModelUnavailable { model: "gpt-image-9".into(), retired_on: None }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_check_at_start_up_reads_the_provider_s_list() {
    use server::providers::catalogue::Lookup;
    use server::providers::openai::ModelCheck;
    let fake = FakeOpenAi::start(vec![]).await;
    let check = |model: &str| OpenAiImages::new(settings(&fake, model, 0)).expect("client");
    assert_eq!(check("gpt-image-2.5-flare").check_model().await, ModelCheck::Offered);
    assert_eq!(check("gpt-image-1").check_model().await, ModelCheck::Missing { retired_on: Some("2026-10-23") });
    assert_eq!(check("my-model").check_model().await, ModelCheck::Missing { retired_on: None });
    fake.hide_model_list();
    assert_eq!(check("dall-e-3").check_model().await, ModelCheck::Unchecked(Lookup::Retired("2026-05-12")));
    assert!(fake.requests().is_empty(), "checking generates nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wide_request_keeps_its_shape_in_a_size_the_model_takes() {
    let fake = FakeOpenAi::start(vec![]).await;
    let client = OpenAiImages::new(settings(&fake, "gpt-image-2.5-flare", 0)).expect("client");
    let request = ImageRequest::new("a panorama", 1536, 864);
    let result = client.generate(&request, mpsc::channel(16).0, CancellationToken::new()).await;
    assert!(result.is_ok(), "{result:?}");
    let size = fake.requests()[0]["size"].as_str().expect("size").to_string();
    let (w, h) =
        size.split_once('x').map(|(w, h)| (w.parse::<u32>().expect("w"), h.parse::<u32>().expect("h"))).expect("WxH");
    assert!(w > h && (w as f64 / h as f64 - 16.0 / 9.0).abs() < 0.05, "{size} keeps 16:9");
    assert!(client.deadline(&request) >= Duration::from_secs(10), "at least the configured base");
}
