//! AUTOMATIC1111 jobs sharing the one engine: a second job waits its turn in Easel, and a
//! job that is cancelled, dropped or cut off mid-run has its task interrupted before the
//! next one starts; one cancelled while waiting never reaches the engine.

use std::time::{Duration, Instant};

use server::providers::{ImageProvider, ProviderError, ProviderEvent};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::a1111::{is_progress, provider, request, settings, steps, Job};
use crate::fake_a1111::{Config, FakeA1111, Reply};

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
