//! Jobs under faults: whatever breaks in the middle of a job, it ends in a final state that
//! every tab sees, its slot comes back, and the gate counts what the database counts.

use app::protocol::*;
use sqlx::{Connection, Executor};

use crate::helpers::{finished_job, spawn_app, TestApp};

/// Makes the database refuse to move a job to the `processing` stage: a store error in the
/// middle of a job, after the provider made the image.
async fn refuse_processing(app: &TestApp) {
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.expect("database");
    let sql = if app.db.url.starts_with("postgres") {
        "CREATE FUNCTION easel_refuse_processing() RETURNS trigger AS $$ BEGIN \
           IF NEW.stage = 'processing' THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql; \
         CREATE TRIGGER refuse_processing BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION easel_refuse_processing();"
    } else {
        "CREATE TRIGGER refuse_processing BEFORE UPDATE OF stage ON jobs WHEN NEW.stage = 'processing' \
         BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
    };
    conn.execute(sql).await.expect("trigger");
}

async fn allow_processing(app: &TestApp) {
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.expect("database");
    let sql = if app.db.url.starts_with("postgres") {
        "DROP TRIGGER refuse_processing ON jobs"
    } else {
        "DROP TRIGGER refuse_processing"
    };
    conn.execute(sql).await.expect("drop trigger");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_error_mid_job_closes_it_frees_the_slot_and_keeps_the_counts_in_step() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let mut other = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    other.recv().await;
    refuse_processing(&app).await;

    tab.say(thread.id, "m-1", "/imagine a lighthouse").await;
    for t in [&mut tab, &mut other] {
        let frames = t.read_until(|m| finished_job(m).is_some()).await;
        let job = frames.last().and_then(finished_job).expect("a final state in every tab");
        assert_eq!(job.status, JobStatus::Failed);
        assert_eq!(job.error.as_ref().map(|e| e.retryable), Some(true), "with Retry");
    }
    let user = app.user_id("ada").await;
    let history = app.store.history(user, thread.id, None).await.expect("db").expect("thread");
    let stored = history.messages.iter().find_map(|m| m.job.clone()).expect("the job");
    assert_eq!(stored.status, JobStatus::Failed, "the row is closed, not left running");

    // The slot is back: the next request runs at once and completes.
    allow_processing(&app).await;
    tab.say(thread.id, "m-2", "/imagine a fox").await;
    let frames = tab.read_until(|m| finished_job(m).is_some()).await;
    assert_eq!(frames.last().and_then(finished_job).map(|j| j.status), Some(JobStatus::Complete));

    // The provider was called for the first one (it probably billed): both count, in the
    // gate and in the database alike.
    let frames = tab.read_until(|m| matches!(m, ServerMsg::Quota(_))).await;
    let Some(ServerMsg::Quota(q)) = frames.last() else { panic!("quota") };
    let now = crate::helpers::now_ms();
    let db = app.store.baseline(user, now).await.expect("db");
    assert_eq!((q.quota.windows[0].used, db.used[0]), (2, 2));
    assert_eq!(q.quota.running, 0, "no slot held");
}

/// A database opened beside the stopped app, to read what it left before any restart's
/// recovery runs.
async fn job_left_in(db: &crate::helpers::TestDb, user: UserId, thread: ThreadId) -> JobView {
    let store = server::store::Store::connect(&db.url).await.expect("database");
    let history = store.history(user, thread, None).await.expect("db").expect("thread");
    history.messages.iter().find_map(|m| m.job.clone()).expect("the job")
}

/// An app whose built-in renderer waits `pace` between previews and whose shutdown grants
/// `grace`, with Ada's tab watching her first job generate.
async fn generating(
    pace: std::time::Duration,
    grace: std::time::Duration,
) -> (TestApp, crate::helpers::Client, UserId, ThreadId) {
    let app = crate::helpers::spawn_app_with(crate::helpers::test_db().await, |s| {
        s.images.render_pace = pace;
        s.images.shutdown_grace = grace;
    })
    .await;
    let (mut tab, thread) = app.new_user_says("ada", "/imagine a lighthouse").await;
    let user = app.user_id("ada").await;
    tab.read_until(|m| matches!(m, ServerMsg::JobProgress(p) if p.stage == JobStage::Generating)).await;
    (app, tab, user, thread.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_lets_a_running_job_finish_within_the_grace_and_records_it() {
    let (app, mut tab, user, thread) =
        generating(std::time::Duration::from_millis(300), std::time::Duration::from_secs(20)).await;
    let db = app.stop().await;

    let frames = tab.read_until(|m| finished_job(m).is_some()).await;
    assert_eq!(frames.last().and_then(finished_job).map(|j| j.status), Some(JobStatus::Complete), "the tab saw it end");
    assert_eq!(job_left_in(&db, user, thread).await.status, JobStatus::Complete, "and it was recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_still_running_after_the_grace_are_closed_as_interrupted_with_retry() {
    let (app, mut tab, user, thread) =
        generating(std::time::Duration::from_secs(10), std::time::Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let db = app.stop().await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "the grace, not the job, set the wait");

    let frames = tab.read_until(|m| finished_job(m).is_some()).await;
    let seen = frames.last().and_then(finished_job).expect("a final state");
    assert_eq!(seen.status, JobStatus::Interrupted);
    let left = job_left_in(&db, user, thread).await;
    assert_eq!((left.status, left.error.map(|e| e.retryable)), (JobStatus::Interrupted, Some(true)));
}
