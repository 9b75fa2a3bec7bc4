//! Two instances sharing one database and one Redis, as a deployment behind a load balancer:
//! a user's tabs on different instances stay in sync, Cancel reaches the job wherever it
//! runs, previews are served by either, and the quota is one quota.

use std::time::Duration;

use app::protocol::*;
use reqwest::StatusCode;

use crate::gate::{prefix, redis_url};
use crate::helpers::{roomy, spawn_app_with, test_db, TestApp};

/// Waits until both instances listen on the relay channel.
async fn both_subscribed(prefix: &str) {
    let client = redis::Client::open(redis_url()).expect("client");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connection");
    for _ in 0..100 {
        let counts: (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(format!("{prefix}:relay"))
            .query_async(&mut conn)
            .await
            .expect("numsub");
        if counts.1 >= 2 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the instances did not subscribe to the relay");
}

async fn pair(pace: Duration, spec: &str) -> (TestApp, TestApp) {
    let prefix = prefix();
    let free = roomy().free.with_spec(spec).expect("spec");
    let configure = move |prefix: String| {
        move |s: &mut server::config::Settings| {
            s.redis_url = Some(redis_url());
            s.redis_prefix = prefix;
            s.images.render_pace = pace;
            s.quotas.policies.free = free;
        }
    };
    let a = spawn_app_with(test_db().await, configure(prefix.clone())).await;
    let b = spawn_app_with(a.db.shared(), configure(prefix.clone())).await;
    both_subscribed(&prefix).await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tabs_on_two_instances_see_each_others_messages() {
    let (a, b) = pair(Duration::from_millis(20), "").await;
    let cookie = a.signup("ada").await;
    let mut on_a = a.connect(&cookie).await;
    let mut on_b = b.connect(&cookie).await;
    let thread = on_a.create_thread("t").await;
    let created = on_b.recv().await;
    assert!(matches!(&created, ServerMsg::ThreadCreated(c) if c.thread.id == thread.id), "{created:?}");
    on_b.say(thread.id, "m-1", "sent on b").await;
    assert_eq!(on_a.next_message().await.text, "sent on b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_previews_work_from_the_other_instance_and_the_quota_is_shared() {
    let (a, b) = pair(Duration::from_millis(400), "hour=2").await;
    let cookie = a.signup("ada").await;
    let mut on_a = a.connect(&cookie).await;
    let mut on_b = b.connect(&cookie).await;
    let thread = on_a.create_thread("t").await;
    on_a.say(thread.id, "m-1", "/imagine a lighthouse").await;

    // The job runs on a; b's tab sees its progress, loads its preview, and cancels it.
    let frames = on_b.read_until(|m| matches!(m, ServerMsg::JobProgress(p) if p.preview.is_some())).await;
    let Some(ServerMsg::JobProgress(p)) = frames.last() else { panic!("progress") };
    let preview = reqwest::Client::new()
        .get(b.url(&format!("/jobs/{}/preview", p.job_id)))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("sent");
    assert_eq!(preview.status(), StatusCode::OK, "b serves the preview of a job running on a");
    assert!(preview.bytes().await.expect("body").starts_with(b"\x89PNG"));
    on_b.send(ClientMsg::CancelJob(CancelJob { job_id: p.job_id })).await;
    let frames = on_a.read_until(|m| matches!(m, ServerMsg::JobUpdated(u) if u.job.status.is_finished())).await;
    let Some(ServerMsg::JobUpdated(u)) = frames.last() else { panic!("update") };
    assert_eq!(u.job.status, JobStatus::Cancelled);

    // One quota across both: the cancelled job counted; one more on b, then none on a.
    on_b.say(thread.id, "m-2", "/imagine a second lighthouse").await;
    let first = p.job_id;
    on_b.read_until(|m| matches!(m, ServerMsg::JobUpdated(u) if u.job.id != first && u.job.status.is_finished())).await;
    on_a.say(thread.id, "m-3", "/imagine a third lighthouse").await;
    let refusal = on_a
        .read_until(
            |m| matches!(m, ServerMsg::MessageAdded(a) if a.message.role == Role::Assistant && a.message.job.is_none()),
        )
        .await;
    let Some(ServerMsg::MessageAdded(r)) = refusal.last() else { panic!("refusal") };
    assert!(r.message.text.starts_with("You have used this hour's 2 images"), "{}", r.message.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_starting_up_leaves_jobs_running_on_another_alone() {
    let (a, _b) = pair(Duration::from_millis(2_000), "").await;
    let cookie = a.signup("ada").await;
    let mut on_a = a.connect(&cookie).await;
    let thread = on_a.create_thread("t").await;
    on_a.say(thread.id, "m-1", "/imagine a slow lighthouse").await;
    let frames = on_a.read_until(|m| matches!(m, ServerMsg::JobProgress(p) if p.stage == JobStage::Generating)).await;
    let Some(ServerMsg::JobProgress(p)) = frames.last() else { panic!("progress") };
    let user = a.store.credentials("ada").await.expect("db").expect("ada").user.id;

    // A third instance starts (a deploy): the job on a is alive, so it is not interrupted.
    let prefix = crate::gate::prefix();
    let c = spawn_app_with(a.db.shared(), move |s| {
        s.redis_url = Some(redis_url());
        s.redis_prefix = prefix;
    })
    .await;
    let (job, _) = c.store.job(user, p.job_id).await.expect("db").expect("job");
    assert_eq!(job.status, JobStatus::Running, "the new instance did not mark it interrupted");
    let frames = on_a.read_until(|m| matches!(m, ServerMsg::JobUpdated(u) if u.job.status.is_finished())).await;
    let Some(ServerMsg::JobUpdated(u)) = frames.last() else { panic!("update") };
    assert_eq!(u.job.status, JobStatus::Complete, "finished where it ran");
    drop(c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_on_one_instance_closes_the_sessions_sockets_on_the_other() {
    let (a, b) = pair(Duration::from_millis(20), "").await;
    let cookie = a.signup("ada").await;
    let mut on_b = b.connect(&cookie).await;
    let (status, _, _) = a.post_form("/auth/logout", &[], Some(&cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let code = crate::ws_auth::close_code_within(&mut on_b, Duration::from_secs(1)).await;
    assert_eq!(code, Some(SIGNED_OUT), "closed within a second on the other instance");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_limits_are_one_budget_across_instances() {
    let prefix = prefix();
    let tight = |s: &mut server::config::Settings, prefix: String| {
        s.redis_url = Some(redis_url());
        s.redis_prefix = prefix;
        s.throttle.logins_per_address = 4;
    };
    let p = prefix.clone();
    let a = spawn_app_with(test_db().await, move |s| tight(s, p)).await;
    let p = prefix.clone();
    let b = spawn_app_with(a.db.shared(), move |s| tight(s, p)).await;
    let wrong = [("username", "ada"), ("password", "not the password")];
    let mut statuses = Vec::new();
    for app in [&a, &b, &a, &b, &a, &b] {
        statuses.push(app.post_form("/auth/login", &wrong, None).await.0.as_u16());
    }
    // Four attempts from 127.0.0.1 a minute, whichever instance took them.
    assert_eq!(statuses, [303, 303, 303, 303, 429, 429], "one budget, not one per instance");
}
