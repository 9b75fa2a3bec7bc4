//! A send's handling goes on after its message is published (the assistant's plan, admitting
//! its job); the sender's tab sees the message meanwhile, as the user's other tabs do, and the
//! tab's next frame waits until the send is handled.

use app::protocol::*;
use sqlx::{Connection, Executor};

use crate::helpers::spawn_app;

fn is_own(m: &ServerMsg, client_id: &str) -> bool {
    matches!(m, ServerMsg::MessageAdded(a) if a.message.client_id.as_ref().is_some_and(|c| c.0 == client_id))
}

fn is_job(m: &ServerMsg) -> bool {
    matches!(m, ServerMsg::MessageAdded(a) if a.message.job.is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_sees_its_message_while_its_job_waits_and_its_next_frame_waits_too() {
    let app = spawn_app().await;
    if !app.db.url.starts_with("postgres") {
        // SQLite locks the whole file: no lock holds the job back and lets the message through.
        eprintln!("skipped: needs PostgreSQL (EASEL_TEST_DB=postgres)");
        return;
    }
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;

    // The job's row cannot be written while this transaction holds the table: the send's
    // handling stops there, after its message was stored and published.
    let mut holder = sqlx::PgConnection::connect(&app.db.url).await.expect("database");
    holder.execute("BEGIN").await.expect("begin");
    holder.execute("LOCK TABLE jobs IN EXCLUSIVE MODE").await.expect("lock");

    tab.say(thread.id, "m-1", "/imagine a lighthouse at dusk").await;
    let frames = tab.read_until(|m| is_own(m, "m-1")).await;
    assert!(!frames.iter().any(is_job), "the job cannot have started: {frames:#?}");

    // Handled after the send, not beside it: its event follows the job's message.
    let rename = RenameThread { thread_id: thread.id, title: "renamed".into() };
    tab.send(ClientMsg::RenameThread(rename)).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    holder.execute("COMMIT").await.expect("commit");

    let frames = tab.read_until(|m| matches!(m, ServerMsg::ThreadRenamed(r) if r.title == "renamed")).await;
    let job = frames.iter().position(is_job);
    assert!(job.is_some_and(|j| j < frames.len() - 1), "the job's message first, then the rename: {frames:#?}");
}
