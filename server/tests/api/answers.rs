//! A message is answered once, even when its first answer failed after the message was
//! stored (F3): a resend or the sweep answers it, and nothing answers it twice.

use std::time::Duration;

use app::protocol::*;
use sqlx::{Connection, Executor};

use crate::helpers::{spawn_app, Client, TestApp};

/// Makes the database refuse the assistant's messages: the user's message is stored, its
/// answer (here, the job's message) fails.
async fn refuse_answers(app: &TestApp, on: bool) {
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.expect("database");
    let pg = app.db.url.starts_with("postgres");
    let sql = match (on, pg) {
        (true, true) => {
            "CREATE FUNCTION easel_refuse_answers() RETURNS trigger AS $$ BEGIN \
               IF NEW.role = 'assistant' THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER refuse_answers BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION easel_refuse_answers();"
        }
        (true, false) => {
            "CREATE TRIGGER refuse_answers BEFORE INSERT ON messages WHEN NEW.role = 'assistant' \
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
        }
        (false, true) => "DROP TRIGGER refuse_answers ON messages",
        (false, false) => "DROP TRIGGER refuse_answers",
    };
    conn.execute(sql).await.expect("trigger");
}

/// Sends a request whose answer fails; returns the tab and the thread, the error read.
async fn request_whose_answer_fails(app: &TestApp) -> (Client, ThreadSummary) {
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    refuse_answers(app, true).await;
    tab.say(thread.id, "m-1", "/imagine a lighthouse at dusk").await;
    let frames = tab.read_until(|m| matches!(m, ServerMsg::Error(_))).await;
    let Some(ServerMsg::Error(e)) = frames.last() else { unreachable!() };
    assert_eq!((e.code, e.client_id.clone()), (ErrorCode::Internal, Some(ClientId("m-1".into()))));
    refuse_answers(app, false).await;
    (tab, thread)
}

async fn jobs_in(app: &TestApp, thread: ThreadId) -> usize {
    let user = app.user_id("ada").await;
    let history = app.store.history(user, thread, None).await.expect("db").expect("thread");
    history.messages.iter().filter(|m| m.job.is_some()).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_answers_a_message_whose_answer_failed_and_only_once() {
    let app = spawn_app().await;
    let (mut tab, thread) = request_whose_answer_fails(&app).await;
    assert_eq!(jobs_in(&app, thread.id).await, 0, "the answer failed");

    tab.say(thread.id, "m-1", "/imagine a lighthouse at dusk").await;
    // The resend's own reply (the stored message again) comes when its handling is done, after
    // the events of the answer it started.
    let frames = tab
        .read_until(|m| matches!(m, ServerMsg::MessageAdded(a) if a.message.client_id == Some(ClientId("m-1".into()))))
        .await;
    assert!(frames.iter().any(|m| matches!(m, ServerMsg::MessageAdded(a) if a.message.job.is_some())));

    // Answered now: another resend only echoes the message.
    tab.say(thread.id, "m-1", "/imagine a lighthouse at dusk").await;
    tab.read_until(|m| matches!(m, ServerMsg::MessageAdded(a) if a.message.client_id.is_some())).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(jobs_in(&app, thread.id).await, 1, "one job, not two");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_answers_a_message_whose_answer_failed_without_a_resend() {
    let app = spawn_app().await;
    let (mut tab, thread) = request_whose_answer_fails(&app).await;
    // The sweep runs every 5 s; the failed answer released its claim.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(12);
    let found = loop {
        let read = tokio::time::timeout_at(deadline, tab.recv_any()).await;
        match read {
            Ok(ServerMsg::MessageAdded(a)) if a.message.job.is_some() => break true,
            Ok(_) => continue,
            Err(_) => break false,
        }
    };
    assert!(found, "the job started without a resend");
    assert_eq!(jobs_in(&app, thread.id).await, 1);
}
