//! Deleting a thread removes what the user sees (messages, jobs, images and their bytes) but
//! not what was spent and counted: spend, the quota windows and the admin's totals stay true,
//! and a job still running in it is stopped and its slot freed.

use std::time::Duration;

use app::protocol::*;

use crate::helpers::{finished_job, now_ms, spawn_app_with, test_db};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_thread_keeps_what_it_spent_and_counted_and_removes_its_images() {
    let app = spawn_app_with(test_db().await, |s| {
        s.images.prices = s.images.prices.clone().with_per_image("scene-v1=0.04").expect("a price");
    })
    .await;
    let cookie = app.signup("ada").await;
    let user = app.user_id("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    tab.say(thread.id, "m-1", "/imagine a lighthouse").await;
    let frames = tab.read_until(|m| finished_job(m).is_some()).await;
    let image = frames.last().and_then(finished_job).and_then(|j| j.image().cloned()).expect("an image");
    let get_image = || {
        reqwest::Client::new().get(app.url(&format!("/images/{}/full", image.id.0))).header("cookie", &cookie).send()
    };
    assert_eq!(get_image().await.expect("sent").status(), reqwest::StatusCode::OK);
    let before = app.store.baseline(user, now_ms()).await.expect("db");
    assert_eq!((before.used[0], before.spent_micros), (1, 40_000));

    tab.send(ClientMsg::DeleteThread(DeleteThread { thread_id: thread.id })).await;
    tab.read_until(|m| matches!(m, ServerMsg::ThreadDeleted(_))).await;

    let after = app.store.baseline(user, now_ms()).await.expect("db");
    assert_eq!((after.used, after.spent_micros), (before.used, before.spent_micros), "still counted and spent");
    assert_eq!(app.store.spend_since(0, true).await.expect("db"), 40_000, "the admin's total too");
    assert_eq!(get_image().await.expect("sent").status(), reqwest::StatusCode::NOT_FOUND, "its image is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_thread_stops_its_running_job_and_frees_the_slot() {
    let app = spawn_app_with(test_db().await, |s| s.images.render_pace = Duration::from_secs(10)).await;
    let (mut tab, thread) = app.new_user_says("ada", "/imagine a lighthouse").await;
    tab.read_until(|m| matches!(m, ServerMsg::JobProgress(p) if p.stage == JobStage::Generating)).await;

    tab.send(ClientMsg::DeleteThread(DeleteThread { thread_id: thread.id })).await;
    // The slot may come back before or after the deletion is announced.
    let (mut deleted, mut freed) = (false, false);
    while !(deleted && freed) {
        match tab.recv_any().await {
            ServerMsg::ThreadDeleted(_) => deleted = true,
            ServerMsg::Quota(q) if q.quota.running == 0 => freed = true,
            _ => {}
        }
    }
}
