//! Stopping a ComfyUI prompt: a cancel or a drop at the runner's deadline reaches the engine
//! for that prompt only, by the jobs route or by dequeue-and-interrupt on older servers, even
//! while the `POST /prompt` is still unanswered.

use std::sync::Arc;
use std::time::Duration;

use server::providers::comfyui::ComfyUi;
use server::providers::{GeneratedImage, ProviderError, ProviderEvent};
use tokio::time::Instant;

use crate::comfyui::{generate, is_step, provider, request, settings, start};
use crate::fake_comfyui::{CancelRoute, FakeComfyUi, Options, Reply, Run};

/// Starts a slow prompt, cancels it after its first step, and returns when it was asked.
async fn cancel_a_running_prompt(fake: &FakeComfyUi) -> (Result<GeneratedImage, ProviderError>, Instant, String) {
    let comfy = provider(fake);
    let mut job = start(&comfy, request(None));
    job.until(is_step).await;
    let asked = Instant::now();
    job.cancel.cancel();
    let (result, _) = job.finish().await;
    assert!(asked.elapsed() < Duration::from_secs(1), "the job ended {:?} after the cancel", asked.elapsed());
    let prompt_id = fake.prompts()[0]["prompt_id"].as_str().expect("id").to_string();
    (result, asked, prompt_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_reaches_the_engine_through_the_jobs_route_within_a_second() {
    let fake = FakeComfyUi::start(vec![Reply::Run(Run::slow(100, Duration::from_millis(100)))]).await;
    let (result, asked, prompt_id) = cancel_a_running_prompt(&fake).await;
    assert_eq!(result.err(), Some(ProviderError::Cancelled));
    let cancels = fake.cancels();
    assert_eq!(
        cancels.iter().map(|c| (c.route, c.prompt_id.as_str())).collect::<Vec<_>>(),
        [(CancelRoute::Jobs, prompt_id.as_str())]
    );
    assert!(cancels[0].at.duration_since(asked.into_std()) < Duration::from_secs(1));
    assert_eq!(fake.bare_interrupts(), 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.interrupted(), [prompt_id], "the engine stopped that prompt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_jobs_route_cancel_dequeues_and_interrupts_that_prompt_only() {
    let options = Options {
        script: vec![Reply::Run(Run::slow(100, Duration::from_millis(100)))],
        jobs_api: false,
        ..Options::default()
    };
    let fake = FakeComfyUi::start_with(options).await;
    let (result, asked, prompt_id) = cancel_a_running_prompt(&fake).await;
    assert_eq!(result.err(), Some(ProviderError::Cancelled));
    let cancels = fake.cancels();
    let routes: Vec<(CancelRoute, &str)> = cancels.iter().map(|c| (c.route, c.prompt_id.as_str())).collect();
    assert_eq!(routes, [(CancelRoute::QueueDelete, prompt_id.as_str()), (CancelRoute::Interrupt, prompt_id.as_str())]);
    assert!(cancels.iter().all(|c| c.at.duration_since(asked.into_std()) < Duration::from_secs(1)));
    assert_eq!(fake.bare_interrupts(), 0, "never a global interrupt");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.interrupted(), [prompt_id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_dropped_at_the_runners_deadline_is_cancelled_on_the_engine() {
    let fake = FakeComfyUi::start(vec![Reply::Run(Run::slow(100, Duration::from_millis(100)))]).await;
    let comfy = provider(&fake);
    let mut job = start(&comfy, request(None));
    job.until(is_step).await;
    job.task.abort();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let prompt_id = fake.prompts()[0]["prompt_id"].as_str().expect("id").to_string();
    assert_eq!(fake.interrupted(), [prompt_id]);
    assert_eq!(fake.bare_interrupts(), 0);
}

/// The prompt id of the `n`th prompt the fake accepted.
fn prompt_id(fake: &FakeComfyUi, n: usize) -> String {
    fake.prompts()[n]["prompt_id"].as_str().expect("a prompt id").to_string()
}

fn routes(fake: &FakeComfyUi) -> Vec<(CancelRoute, String)> {
    fake.cancels().into_iter().map(|c| (c.route, c.prompt_id)).collect()
}

/// Waits until the fake has received `n` prompts.
async fn until_posted(fake: &FakeComfyUi, n: usize) {
    let waited = Instant::now();
    while fake.prompts().len() < n {
        assert!(waited.elapsed() < Duration::from_secs(5), "no prompt posted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_jobs_route_only_our_running_prompt_is_interrupted() {
    // An engine older than the prompt-scoped interrupt: `/interrupt` stops whatever runs.
    let slow = || Reply::Run(Run::slow(100, Duration::from_millis(100)));
    let options =
        Options { script: vec![slow(), slow()], jobs_api: false, global_interrupt: true, ..Options::default() };
    let fake = FakeComfyUi::start_with(options).await;
    let (alice, bob) = (provider(&fake), provider(&fake));
    let mut running = start(&alice, request(None));
    running.until(is_step).await;
    let mut waiting = start(&bob, request(None));
    waiting.until(|e| matches!(e, ProviderEvent::Queued { .. })).await;
    let (first, second) = (prompt_id(&fake, 0), prompt_id(&fake, 1));

    waiting.cancel.cancel();
    assert_eq!(waiting.finish().await.0.err(), Some(ProviderError::Cancelled));
    assert_eq!(routes(&fake), [(CancelRoute::QueueDelete, second.clone())], "a waiting prompt is only dequeued");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(fake.interrupted().is_empty(), "the running prompt was stopped: {:?}", fake.interrupted());
    assert_eq!(fake.prompts().len(), 2);

    running.cancel.cancel();
    assert_eq!(running.finish().await.0.err(), Some(ProviderError::Cancelled));
    assert_eq!(
        routes(&fake)[1..],
        [(CancelRoute::QueueDelete, first.clone()), (CancelRoute::Interrupt, first.clone())],
        "our running prompt is interrupted by its id"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.interrupted(), [first]);
    assert_eq!(fake.bare_interrupts(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_while_the_prompt_is_posted_stops_it_once_the_engine_queued_it() {
    let run = Run::slow(100, Duration::from_millis(100));
    let slow = Reply::Slow { queue_after: Duration::from_millis(600), answer_after: Duration::ZERO, run };
    let fake = FakeComfyUi::start(vec![slow]).await;
    let comfy = provider(&fake);
    let job = start(&comfy, request(None));
    until_posted(&fake, 1).await;
    let asked = Instant::now();
    job.cancel.cancel();
    let (result, _) = job.finish().await;
    assert_eq!(result.err(), Some(ProviderError::Cancelled));
    assert!(asked.elapsed() < Duration::from_millis(500), "the job ended {:?} after the cancel", asked.elapsed());
    let id = prompt_id(&fake, 0);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(fake.job_status(&id).as_deref(), Some("cancelled"), "the prompt was left to run");
    assert_eq!(routes(&fake), [(CancelRoute::Jobs, id)], "one cancel, after the engine answered the POST");
    assert_eq!(fake.bare_interrupts(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submit_that_timed_out_is_cancelled_on_the_engine() {
    let run = Run::slow(100, Duration::from_millis(100));
    let slow = Reply::Slow { queue_after: Duration::ZERO, answer_after: Duration::from_secs(3), run };
    let fake = FakeComfyUi::start(vec![slow]).await;
    let mut s = settings(&fake.base_url);
    s.request_timeout = Duration::from_millis(500);
    let comfy = Arc::new(ComfyUi::new(s).expect("provider starts"));
    let (result, _) = generate(&comfy, None).await;
    assert_eq!(result.err(), Some(ProviderError::Timeout));
    let id = prompt_id(&fake, 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(routes(&fake), [(CancelRoute::Jobs, id.clone())]);
    assert_eq!(fake.interrupted(), [id], "the engine stopped the prompt nobody waits for");
}
