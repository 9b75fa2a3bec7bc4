//! Image jobs through the socket, with the built-in renderer as the provider.

use std::time::Duration;

use app::protocol::*;
use reqwest::StatusCode;

use crate::helpers::{finished_job, spawn_app_with, test_db, TestApp};

async fn app_with_pace(pace_ms: u64) -> TestApp {
    spawn_app_with(test_db().await, |s| s.images.render_pace = Duration::from_millis(pace_ms)).await
}

fn stages(frames: &[ServerMsg]) -> Vec<(JobStage, u8)> {
    let mut out: Vec<(JobStage, u8)> = Vec::new();
    for f in frames {
        if let ServerMsg::JobProgress(p) = f {
            if out.last().map(|l| l.0) != Some(p.stage) {
                out.push((p.stage, p.percent));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imagine_runs_through_every_stage_in_every_tab_and_stores_the_image() {
    let app = app_with_pace(20).await;
    let cookie = app.signup("ada").await;
    let mut tab1 = app.connect(&cookie).await;
    let mut tab2 = app.connect(&cookie).await;
    let thread = tab1.create_thread("t").await;
    tab2.recv().await;

    tab1.say(thread.id, "m-1", "/imagine a lighthouse at dusk").await;
    let mut image = None;
    for tab in [&mut tab1, &mut tab2] {
        let frames = tab.read_until(|m| finished_job(m).is_some()).await;
        let expected = [
            (JobStage::Queued, 10),
            (JobStage::Initializing, 30),
            (JobStage::Generating, 60),
            (JobStage::Processing, 80),
            (JobStage::Saving, 90),
            (JobStage::Complete, 100),
        ];
        assert_eq!(stages(&frames), expected);
        let previews = frames.iter().filter(|f| matches!(f, ServerMsg::JobProgress(p) if p.preview.is_some())).count();
        assert!(previews >= 1, "the renderer streams previews");
        let started = frames.iter().find_map(|f| match f {
            ServerMsg::MessageAdded(m) if m.message.role == Role::Assistant => m.message.job.clone(),
            _ => None,
        });
        let started = started.expect("the assistant message shows the job");
        assert_eq!((started.subject.as_str(), started.prompt.as_str()), ("lighthouse", "a lighthouse at dusk"));
        let done = finished_job(frames.last().expect("frames")).expect("finished");
        assert_eq!(done.status, JobStatus::Complete);
        assert_eq!(done.provider, ProviderKind::Builtin);
        image = done.image().cloned();
    }
    let image = image.expect("an image");
    assert_eq!((image.width, image.height, image.variants.clone()), (1024, 1024, vec![256, 512, 1024]));

    // A reload finds it: the history carries the finished job.
    tab1.send(ClientMsg::OpenThread(OpenThread { thread_id: thread.id, after_seq: None })).await;
    let history = tab1.read_until(|m| matches!(m, ServerMsg::ThreadHistory(_))).await;
    let Some(ServerMsg::ThreadHistory(h)) = history.last() else { panic!("history") };
    let shown = h.messages.iter().find_map(|m| m.job.clone()).expect("job in history");
    assert_eq!(shown.status, JobStatus::Complete);
    assert_eq!(h.messages.last().map(|m| m.text.as_str()), Some("Here is your lighthouse scene."));

    // The bytes are served to the owner only, cached, with an ETag.
    let client = reqwest::Client::new();
    let url = app.url(&format!("/images/{}/512", image.id));
    let res = client.get(&url).header("cookie", &cookie).send().await.expect("sent");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/webp");
    assert!(res.headers()["cache-control"].to_str().unwrap_or_default().contains("immutable"));
    let etag = res.headers()["etag"].clone();
    let bytes = res.bytes().await.expect("body");
    assert_eq!(image::load_from_memory(&bytes).map(|i| i.width()).ok(), Some(512));
    let again = client.get(&url).header("cookie", &cookie).header("if-none-match", etag).send().await.expect("sent");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let full = client.get(app.url(&format!("/images/{}/full", image.id))).header("cookie", &cookie).send().await;
    assert_eq!(full.expect("sent").headers()["content-type"], "image/png");

    let bob = app.signup("bob").await;
    let stolen = client.get(&url).header("cookie", &bob).send().await.expect("sent");
    assert_eq!(stolen.status(), StatusCode::NOT_FOUND);
    let anonymous = client.get(&url).send().await.expect("sent");
    assert_eq!(anonymous.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_from_another_tab_stops_the_job_and_frees_the_slot() {
    let app = app_with_pace(10_000).await;
    let cookie = app.signup("ada").await;
    let mut tab1 = app.connect(&cookie).await;
    let mut tab2 = app.connect(&cookie).await;
    let thread = tab1.create_thread("t").await;
    tab2.recv().await;

    tab1.say(thread.id, "m-1", "/imagine a slow sunset").await;
    let frames = tab2.read_until(|m| matches!(m, ServerMsg::JobProgress(p) if p.stage == JobStage::Generating)).await;
    let job_id = frames
        .iter()
        .find_map(|f| match f {
            ServerMsg::JobProgress(p) => Some(p.job_id),
            _ => None,
        })
        .expect("job id");

    let asked = tokio::time::Instant::now();
    tab2.send(ClientMsg::CancelJob(CancelJob { job_id })).await;
    let frames = tab1.read_until(|m| finished_job(m).is_some()).await;
    assert!(asked.elapsed() < Duration::from_secs(1), "cancelled within a second");
    assert_eq!(finished_job(frames.last().expect("frames")).map(|j| j.status), Some(JobStatus::Cancelled));

    // The user may start another at once.
    tab1.say(thread.id, "m-2", "/imagine another one").await;
    let frames = tab1.read_until(|m| matches!(m, ServerMsg::JobProgress(p) if p.stage == JobStage::Initializing)).await;
    assert!(!frames.iter().any(|f| matches!(f, ServerMsg::MessageAdded(m) if m.message.text.contains("already"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_imagine_while_one_runs_is_refused_not_queued() {
    let app = app_with_pace(10_000).await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    tab.say(thread.id, "m-1", "/imagine a first picture").await;
    tab.read_until(|m| matches!(m, ServerMsg::JobProgress(p) if p.stage == JobStage::Generating)).await;

    tab.say(thread.id, "m-2", "/imagine a second picture").await;
    let frames = tab.read_until(|m| matches!(m, ServerMsg::MessageAdded(a) if a.message.role == Role::Assistant)).await;
    let Some(ServerMsg::MessageAdded(refusal)) = frames.last() else { panic!("refusal") };
    assert!(refusal.message.text.contains("already being generated"), "{}", refusal.message.text);
    assert!(refusal.message.job.is_none(), "no second job");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_killed_by_a_restart_is_marked_interrupted_and_retry_finishes_it() {
    let app = app_with_pace(10_000).await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    tab.say(thread.id, "m-1", "/imagine a lighthouse").await;
    tab.read_until(|m| matches!(m, ServerMsg::JobProgress(p) if p.stage == JobStage::Generating)).await;
    drop(tab);
    let db = app.stop().await;

    let app = spawn_app_with(db, |s| s.images.render_pace = Duration::from_millis(10)).await;
    let mut tab = app.connect(&cookie).await;
    tab.send(ClientMsg::OpenThread(OpenThread { thread_id: thread.id, after_seq: None })).await;
    let history = tab.read_until(|m| matches!(m, ServerMsg::ThreadHistory(_))).await;
    let Some(ServerMsg::ThreadHistory(h)) = history.last() else { panic!("history") };
    let job = h.messages.iter().find_map(|m| m.job.clone()).expect("the job");
    assert_eq!(job.status, JobStatus::Interrupted);
    assert_eq!(job.error.as_ref().map(|e| e.retryable), Some(true));

    tab.send(ClientMsg::RetryJob(RetryJob { job_id: job.id })).await;
    let frames = tab.read_until(|m| finished_job(m).is_some()).await;
    assert_eq!(finished_job(frames.last().expect("frames")).map(|j| j.status), Some(JobStatus::Complete));

    // The interrupted attempt kept its place; the retry's replaces it instead of adding one,
    // in the gate as in the database.
    let frames = tab.read_until(|m| matches!(m, ServerMsg::Quota(_))).await;
    let Some(ServerMsg::Quota(q)) = frames.last() else { panic!("quota") };
    let user = app.user_id("ada").await;
    let now = crate::helpers::now_ms();
    let db = app.store.baseline(user, now).await.expect("db");
    assert_eq!((q.quota.windows[0].used, db.used[0]), (1, 1), "counted once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_else_can_cancel_or_retry_a_job() {
    let app = app_with_pace(10_000).await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let mut tab = app.connect(&ada).await;
    let mut intruder = app.connect(&bob).await;
    let thread = tab.create_thread("t").await;
    tab.say(thread.id, "m-1", "/imagine a secret").await;
    let frames = tab.read_until(|m| matches!(m, ServerMsg::JobProgress(p) if p.stage == JobStage::Generating)).await;
    let Some(ServerMsg::JobProgress(p)) = frames.last() else { panic!("progress") };

    intruder.send(ClientMsg::CancelJob(CancelJob { job_id: p.job_id })).await;
    assert!(matches!(intruder.recv().await, ServerMsg::Error(ProtocolError { code: ErrorCode::NotFound, .. })));
    intruder.send(ClientMsg::RetryJob(RetryJob { job_id: p.job_id })).await;
    assert!(matches!(intruder.recv().await, ServerMsg::Error(ProtocolError { code: ErrorCode::NotFound, .. })));
    let preview = reqwest::Client::new()
        .get(app.url(&format!("/jobs/{}/preview", p.job_id)))
        .header("cookie", &bob)
        .send()
        .await
        .expect("sent");
    assert_eq!(preview.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_the_slot_is_renewed_while_the_job_runs_and_freed_after() {
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string());
    let prefix = format!("easel-test:{}", uuid::Uuid::new_v4().simple());
    let app = spawn_app_with(test_db().await, move |s| {
        s.redis_url = Some(redis);
        s.redis_prefix = prefix;
        s.images.render_pace = Duration::from_millis(10_000);
        s.images.slot_lease = Duration::from_millis(300);
    })
    .await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    tab.say(thread.id, "m-1", "/imagine a long one").await;
    let frames = tab.read_until(|m| matches!(m, ServerMsg::JobProgress(p) if p.stage == JobStage::Generating)).await;
    let Some(ServerMsg::JobProgress(p)) = frames.last() else { panic!("progress") };

    // Several leases later the running job still holds its slot: it renews it.
    tokio::time::sleep(Duration::from_millis(900)).await;
    tab.say(thread.id, "m-2", "/imagine a second one").await;
    let frames = tab.read_until(|m| matches!(m, ServerMsg::MessageAdded(a) if a.message.role == Role::Assistant)).await;
    let Some(ServerMsg::MessageAdded(refusal)) = frames.last() else { panic!("refusal") };
    assert!(refusal.message.text.contains("already being generated"), "{}", refusal.message.text);

    tab.send(ClientMsg::CancelJob(CancelJob { job_id: p.job_id })).await;
    tab.read_until(|m| finished_job(m).is_some()).await;
    tab.say(thread.id, "m-3", "/imagine a third one").await;
    let frames = tab.read_until(|m| matches!(m, ServerMsg::JobProgress(p) if p.stage == JobStage::Initializing)).await;
    assert!(!frames.iter().any(|f| matches!(f, ServerMsg::MessageAdded(m) if m.message.text.contains("already"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_chat_works_and_generations_are_refused_clearly() {
    let app = spawn_app_with(test_db().await, |s| s.redis_url = Some("redis://127.0.0.1:1".into())).await;
    let (mut tab, thread) = app.new_user_says("ada", "hello while redis is down").await;
    assert_eq!(tab.next_message().await.text, "hello while redis is down");
    assert!(tab.next_message().await.text.starts_with("Hello! I make images"), "the assistant answers");
    tab.say(thread.id, "m-2", "/imagine a lighthouse").await;
    assert_eq!(tab.next_message().await.text, "/imagine a lighthouse");
    let refusal = tab.next_message().await;
    assert_eq!(refusal.role, Role::Assistant);
    assert!(refusal.text.contains("Image generation is unavailable right now"), "{}", refusal.text);
    assert!(refusal.job.is_none(), "no job was created");
}
