//! The chaos suite: real `server` processes (two instances, one database, one Redis) killed
//! and restarted under load, and a Redis of the test's own stopped mid-stream. After each:
//! nothing lost or doubled, no job left running, every tab converged (checked with the app's
//! own reducer). The figures each test prints are in docs/benchmarks.md ("Chaos").

mod process;
mod tab;

use std::time::Duration;

use app::protocol::*;
use tokio::time::Instant;

use crate::gate::{prefix, redis_url};
use crate::helpers::{test_db, TestDb, PASSWORD};
use process::{RedisProcess, ServerProcess};
use tab::Tab;

fn env(db: &TestDb, redis: &str, prefix: &str, extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("DATABASE_URL", db.url.clone()),
        ("REDIS_URL", redis.to_string()),
        ("EASEL_REDIS_PREFIX", prefix.to_string()),
        ("EASEL_QUOTA_FREE", "hour=1000,day=1000,month=1000,cooldown=0".to_string()),
        ("EASEL_SHUTDOWN_GRACE_SECS", "0".to_string()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    env
}

async fn signup(server: &ServerProcess, username: &str) -> String {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let res = client
        .post(server.url("/auth/signup"))
        .form(&[("username", username), ("password", PASSWORD)])
        .send()
        .await
        .expect("sign-up");
    let cookie = res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).expect("a session cookie");
    cookie.split(';').next().expect("name=value").to_string()
}

/// Creates a thread from a tab of its own and returns it.
async fn new_thread(server: &ServerProcess, cookie: &str) -> ThreadId {
    let tab = Tab::open(server.addr, cookie, None);
    let client_id = ClientId("chaos-thread".into());
    tab.send(ClientMsg::CreateThread(CreateThread { client_id, title: Some("chaos".into()) }));
    assert!(tab.wait_for(Duration::from_secs(10), |s| s.state.threads.as_ref().is_some_and(|t| !t.is_empty())).await);
    tab.with(|s| s.state.threads.as_ref().expect("threads")[0].id)
}

/// Every message of `thread`, oldest first, read page by page as a tab would.
async fn stored(db: &TestDb, username: &str, thread: ThreadId) -> Vec<ChatMessage> {
    let store = server::store::Store::connect(&db.url).await.expect("database");
    let user = store.credentials(username).await.expect("db").expect("account").user.id;
    let newest = store.history(user, thread, None).await.expect("db").expect("thread");
    let (mut all, mut more) = (newest.messages, newest.has_older);
    while more {
        let before = all.first().map_or(0, |m| m.seq);
        let (mut page, older) = store.older_messages(user, thread, before).await.expect("db").expect("thread");
        page.append(&mut all);
        (all, more) = (page, older);
    }
    all
}

/// Waits until every tab shows exactly what the database holds for `thread` (at least its
/// newest page; a tab that reloaded holds no more than that, one that stayed live holds
/// everything); returns how long it took, or which tab did not converge within `limit` and how
/// its log differs from the database.
async fn converged(
    tabs: &[Tab],
    db: &TestDb,
    user: &str,
    thread: ThreadId,
    limit: Duration,
) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        let truth: Vec<(MessageId, Seq, String)> =
            stored(db, user, thread).await.into_iter().map(|m| (m.id, m.seq, m.text)).collect();
        let shown = |t: &Tab| -> Vec<_> { t.log(thread).into_iter().map(|m| (m.id, m.seq, m.text)).collect() };
        let behind = tabs.iter().position(|t| {
            let shown = shown(t);
            let newest_page = truth.len().min(HISTORY_PAGE);
            shown.len() < newest_page || shown.len() > truth.len() || shown[..] != truth[truth.len() - shown.len()..]
        });
        match behind {
            None => return Ok(start.elapsed()),
            Some(i) if start.elapsed() > limit => {
                let shown = shown(&tabs[i]);
                let missing: Vec<_> = truth.iter().filter(|m| !shown.contains(m)).take(10).collect();
                let extra: Vec<_> = shown.iter().filter(|m| !truth.contains(m)).take(10).collect();
                let heard = tabs[i].with(|s| s.heard.iter().cloned().collect::<Vec<_>>().join("\n"));
                return Err(format!(
                    "tab {i} did not converge: it shows {} messages, the database holds {}; \
                     missing (first 10): {missing:?}; not in the database (first 10): {extra:?}\n\
                     the tab's newest frames:\n{heard}",
                    shown.len(),
                    truth.len()
                ));
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Sends `count` messages ("{side} {i}"), one every 4 ms, as fast typing in many tabs would.
async fn say_many(tab: &Tab, thread: ThreadId, side: &str, count: usize) {
    for i in 0..count {
        tab.say(thread, &format!("{side}-{i}"), &format!("{side} {i}"));
        tokio::time::sleep(Duration::from_millis(4)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_messages_survive_sigkill_and_restart_of_one_instance() {
    let db = test_db().await;
    let prefix = prefix();
    let env = env(&db, &redis_url(), &prefix, &[]);
    let mut a = ServerProcess::start(&env).await;
    let b = ServerProcess::start(&env).await;
    let cookie = signup(&b, "ada").await;
    let thread = new_thread(&b, &cookie).await;
    let tabs: Vec<Tab> =
        (0..10).map(|i| Tab::open(if i < 5 { a.addr } else { b.addr }, &cookie, Some(thread))).collect();
    for t in &tabs {
        assert!(t.wait_for(Duration::from_secs(10), |s| s.connections == 1).await, "every tab connects");
    }

    // Two senders, one per instance, 500 messages each, while A is killed and started again.
    const EACH: usize = 500;
    let chaos = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        a.kill().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        a.restart().await;
        Instant::now()
    };
    let ((), (), restarted) =
        tokio::join!(say_many(&tabs[0], thread, "a", EACH), say_many(&tabs[5], thread, "b", EACH), chaos);

    // Every message acknowledged (echoed), then every tab equal to the database.
    for sender in [&tabs[0], &tabs[5]] {
        let acked = sender.wait_for(Duration::from_secs(60), |s| s.state.outbox.is_empty()).await;
        assert!(acked, "every message acknowledged; left: {}", sender.with(|s| s.state.outbox.len()));
    }
    let caught_up = converged(&tabs, &db, "ada", thread, Duration::from_secs(10)).await;
    let took = caught_up.unwrap_or_else(|e| panic!("{e}\nA:\n{}\nB:\n{}", a.log_text(), b.log_text()));
    let since_restart = restarted.elapsed();
    println!("chaos: 1,000 messages, SIGKILL + restart of one of two instances: all 10 tabs equal to the database {took:?} after the last acknowledgement ({since_restart:?} after the restart)");
    assert!(took <= Duration::from_secs(3), "tabs caught up within 3 s, took {took:?}");

    let messages = stored(&db, "ada", thread).await;
    for side in ["a", "b"] {
        let sent: Vec<usize> = messages
            .iter()
            .filter(|m| m.role == Role::User)
            .filter_map(|m| m.text.strip_prefix(side).and_then(|n| n.trim().parse().ok()))
            .collect();
        assert_eq!(sent.len(), EACH, "{side}: none lost, none doubled");
        assert!(sent.windows(2).all(|w| w[0] < w[1]), "{side}: stored in the order sent");
    }
    for t in &tabs[..5] {
        assert!(t.with(|s| s.connections) >= 2, "the tabs on the killed instance reconnected");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_job_frees_the_slot_within_the_lease_and_a_sweep_closes_the_job() {
    let db = test_db().await;
    let prefix = prefix();
    // A slow built-in renderer: the job is still running when its process dies.
    let env = env(&db, &redis_url(), &prefix, &[("EASEL_RENDER_PACE_MS", "5000")]);
    let mut a = ServerProcess::start(&env).await;
    let b = ServerProcess::start(&env).await;
    let cookie = signup(&b, "ada").await;
    let thread = new_thread(&b, &cookie).await;
    let on_a = Tab::open(a.addr, &cookie, Some(thread));
    let on_b = Tab::open(b.addr, &cookie, Some(thread));
    on_a.say(thread, "m-1", "/imagine a slow lighthouse");
    assert!(on_b.wait_for(Duration::from_secs(10), |s| s.job_status(thread) == Some(JobStatus::Running)).await);

    a.kill().await;
    let killed = Instant::now();
    // The gate itself (Redis), read as the instances read it.
    let store = server::store::Store::connect(&db.url).await.expect("database");
    let user = store.credentials("ada").await.expect("db").expect("account").user.id;
    let gate = server::limits::RedisGate::connect(&redis_url(), &prefix).expect("gate");
    let slot_free = async {
        loop {
            let baseline = store.baseline(user, crate::helpers::now_ms()).await.expect("db");
            if server::limits::Gate::usage(&gate, user, &baseline).await.expect("gate").running == 0 {
                return killed.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let slot_free = tokio::time::timeout(Duration::from_secs(30), slot_free).await.expect("the slot came back");
    let closed = on_b.wait_for(Duration::from_secs(30), |s| s.job_status(thread) == Some(JobStatus::Interrupted)).await;
    let took = killed.elapsed();
    assert!(closed, "the other instance closed the dead process's job and told the tab");
    println!("chaos: SIGKILL mid-job: slot free {slot_free:?} after the kill; job closed as interrupted and announced after {took:?}");
    // Expired at most a lease after its last renewal (before the kill); read every 0.1 s.
    assert!(slot_free <= Duration::from_millis(15_500), "the slot came back within the lease: {slot_free:?}");
    // The row is stale a lease and a second after its last beat; a sweep runs every 3.2 s.
    assert!(took <= Duration::from_secs(21), "closed within one sweep of the slot: {took:?}");

    // The slot came back with the close: Retry runs at once (on the surviving instance).
    let job = on_b.log(thread).iter().find_map(|m| m.job.clone()).expect("the job");
    assert!(job.error.as_ref().is_some_and(|e| e.retryable), "Retry offered");
    on_b.send(ClientMsg::RetryJob(RetryJob { job_id: job.id }));
    let running = on_b.wait_for(Duration::from_secs(5), |s| s.job_status(thread) == Some(JobStatus::Running)).await;
    assert!(running, "the retry was admitted: {:?}", on_b.with(|s| s.state.last_error.clone()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tabs_converge_after_redis_dies_and_returns_mid_stream() {
    let db = test_db().await;
    let mut redis = RedisProcess::start().await;
    let env = env(&db, &redis.url(), "easel", &[("EASEL_RENDER_PACE_MS", "300")]);
    let a = ServerProcess::start(&env).await;
    let b = ServerProcess::start(&env).await;
    let cookie = signup(&a, "ada").await;
    let thread = new_thread(&a, &cookie).await;
    let tabs = [Tab::open(a.addr, &cookie, Some(thread)), Tab::open(b.addr, &cookie, Some(thread))];
    for t in &tabs {
        assert!(t.wait_for(Duration::from_secs(10), |s| s.connections == 1).await, "connected");
    }
    // A job is running on A when Redis goes.
    tabs[0].say(thread, "m-0", "/imagine a lighthouse at dusk");
    assert!(tabs[1].wait_for(Duration::from_secs(10), |s| s.job_status(thread) == Some(JobStatus::Running)).await);

    redis.kill().await;
    for i in 0..20 {
        tabs[0].say(thread, &format!("down-{i}"), &format!("said while Redis is down {i}"));
    }
    assert!(tabs[0].wait_for(Duration::from_secs(10), |s| s.state.outbox.is_empty()).await, "chat works without Redis");
    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.restart().await;
    let back = Instant::now();

    let took = converged(&tabs, &db, "ada", thread, Duration::from_secs(10)).await;
    let took = took.unwrap_or_else(|e| panic!("{e}\nA:\n{}\nB:\n{}", a.log_text(), b.log_text()));
    println!(
        "chaos: Redis killed and restarted: both instances' tabs equal to the database {:?} after Redis returned",
        back.elapsed().max(took)
    );
    // The messages converge first; the job (rendered at its own pace) may end a little later.
    let ended = |s: &tab::Shared| s.job_status(thread).is_some_and(|st| st != JobStatus::Running);
    tabs[1].wait_for(Duration::from_secs(10), ended).await;
    let job = tabs[1].log(thread).iter().find_map(|m| m.job.clone()).expect("the job");
    assert_ne!(job.status, JobStatus::Running, "the job ended, and the other instance's tab heard it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_lost_while_the_relay_resubscribes_reach_the_tabs_by_a_resync() {
    let redis = RedisProcess::start().await;
    let url = redis.url();
    let configure = |url: String| move |s: &mut server::config::Settings| s.redis_url = Some(url);
    let a = crate::helpers::spawn_app_with(test_db().await, configure(url.clone())).await;
    let b = crate::helpers::spawn_app_with(a.db.shared(), configure(url.clone())).await;
    let cookie = a.signup("ada").await;
    let mut on_a = a.connect(&cookie).await;
    let mut on_b = b.connect(&cookie).await;
    let first = on_a.create_thread("t-1").await;
    assert!(matches!(on_b.recv().await, ServerMsg::ThreadCreated(c) if c.thread.id == first.id), "relayed");

    // Every subscription is cut; what A publishes now reaches no one until B subscribes again.
    let client = redis::Client::open(url).expect("client");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
    let killed: i64 =
        redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut conn).await.expect("kill");
    assert!(killed >= 2, "both instances' subscriptions were cut");
    // (A's own tab may be resynced too when A subscribes again: read past its snapshot.)
    on_a.send(ClientMsg::CreateThread(CreateThread { client_id: ClientId("t-2".into()), title: None })).await;
    let frames = on_a.read_until(|m| matches!(m, ServerMsg::ThreadCreated(_))).await;
    let Some(ServerMsg::ThreadCreated(lost)) = frames.last() else { unreachable!() };
    let lost = lost.thread.clone();

    let frames =
        on_b.read_until(|m| matches!(m, ServerMsg::Welcome(w) if w.threads.iter().any(|t| t.id == lost.id))).await;
    assert!(
        !frames.iter().any(|m| matches!(m, ServerMsg::ThreadCreated(_))),
        "the event itself was lost; the snapshot brought the thread"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_job_tells_the_tabs_lets_the_job_finish_and_exits_cleanly() {
    let db = test_db().await;
    // No Redis: one instance alone; the job takes a few seconds, well inside the grace.
    let env = vec![
        ("DATABASE_URL", db.url.clone()),
        ("EASEL_RENDER_PACE_MS", "700".to_string()),
        ("EASEL_SHUTDOWN_GRACE_SECS", "30".to_string()),
    ];
    let mut server = ServerProcess::start(&env).await;
    let cookie = signup(&server, "ada").await;
    let thread = new_thread(&server, &cookie).await;
    let tab = Tab::open(server.addr, &cookie, Some(thread));
    tab.say(thread, "m-1", "/imagine a lighthouse");
    assert!(tab.wait_for(Duration::from_secs(10), |s| s.job_status(thread) == Some(JobStatus::Running)).await);

    let code = server.terminate(Duration::from_secs(40)).await;
    assert_eq!(code, Some(0), "exits 0 after the drain:\n{}", server.log_text());
    assert!(tab.with(|s| s.restarting_notices) >= 1, "the tab was told the server is restarting");
    assert_eq!(tab.with(|s| s.job_status(thread)), Some(JobStatus::Complete), "the job finished and the tab saw it");
    let stored = stored(&db, "ada", thread).await;
    let job = stored.iter().find_map(|m| m.job.clone()).expect("the job");
    assert_eq!(job.status, JobStatus::Complete, "and it is recorded");
}
