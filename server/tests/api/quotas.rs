//! Quotas through the whole application: what is refused, what is given back, what is
//! charged, and that the numbers a tab is shown are the numbers the gate and the database hold.

use std::time::Duration;

use app::protocol::*;
use server::config::ProviderChoice;
use server::limits::Limits;
use server::providers::openai::OpenAiSettings;

use crate::fake_openai::{FakeOpenAi, Reply};
use crate::helpers::{finished_job, roomy, spawn_app_with, test_db, Client, TestApp};

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The OpenAI provider pointed at `fake`, priced from its reported usage.
pub fn openai_at(fake: &FakeOpenAi) -> OpenAiSettings {
    OpenAiSettings {
        api_key: "sk-test".into(),
        base_url: fake.base_url.clone(),
        model: "gpt-image-2.5-flare".into(),
        size: "1024x1024".into(),
        quality: None,
        partial_images: 0,
        request_timeout: Duration::from_secs(10),
        image_url_hosts: Default::default(),
    }
}

/// An app whose free tier is `spec` (over roomy defaults), with `fake` as the provider.
pub async fn app_with(fake: Option<&FakeOpenAi>, spec: &str) -> TestApp {
    let free = roomy().free.with_spec(spec).expect("spec");
    let provider = fake.map(openai_at);
    spawn_app_with(test_db().await, move |s| {
        s.quotas.policies.free = free;
        if let Some(p) = provider {
            s.images = std::mem::take(&mut s.images).with_provider(ProviderChoice::OpenAi(p));
        }
    })
    .await
}

/// Sends `/imagine …` and waits for the job to end; the job and the last quota the tab saw.
pub async fn imagine_to_the_end(tab: &mut Client, thread: ThreadId, id: &str) -> (JobView, QuotaView) {
    tab.say(thread, id, &format!("/imagine lighthouse {id}")).await;
    let mut quota = None;
    let mut job = None;
    // The job ends, then the quota with its slot back arrives.
    while quota.as_ref().is_none_or(|q: &QuotaView| q.running > 0) || job.is_none() {
        match tab.recv_any().await {
            ServerMsg::Quota(q) => quota = Some(q.quota),
            other => job = job.or(finished_job(&other)),
        }
    }
    (job.expect("job"), quota.expect("quota"))
}

/// Sends `/imagine …` expecting a refusal; its text.
pub async fn imagine_refused(tab: &mut Client, thread: ThreadId, id: &str) -> String {
    tab.say(thread, id, &format!("/imagine lighthouse {id}")).await;
    loop {
        if let ServerMsg::MessageAdded(m) = tab.recv().await {
            if m.message.role == Role::Assistant {
                assert!(m.message.job.is_none(), "a refusal starts no job: {m:?}");
                return m.message.text;
            }
        }
    }
}

async fn user_of(app: &TestApp, name: &str) -> UserId {
    app.store.credentials(name).await.expect("db").expect("user").user.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_costs_nothing_and_reaches_no_provider() {
    let fake = FakeOpenAi::start(vec![]).await;
    let app = app_with(Some(&fake), "hour=1").await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    let (job, quota) = imagine_to_the_end(&mut tab, thread.id, "1").await;
    assert_eq!(job.status, JobStatus::Complete);
    assert_eq!(quota.summary(), "0 of 1 hourly generations left");
    let user = user_of(&app, "ada").await;
    let spent = app.store.baseline(user, now_ms()).await.expect("db").spent_micros;
    assert!(spent > 0, "the completed job was charged");

    let text = imagine_refused(&mut tab, thread.id, "2").await;
    assert!(text.starts_with("You have used this hour's 1 image; more at "), "{text}");
    assert!(text.ends_with("Upgrade to Premium for 1000 images an hour."), "{text}");
    assert_eq!(fake.requests().len(), 1, "the refusal never reached the provider");
    let after = app.store.baseline(user, now_ms()).await.expect("db");
    assert_eq!((after.used, after.spent_micros), ([1, 1, 1], spent), "and cost nothing");

    // Premium has room: the same user, upgraded, is admitted.
    app.store.set_plan(user, Tier::Premium, false).await.expect("db");
    let (job, quota) = imagine_to_the_end(&mut tab, thread.id, "3").await;
    assert_eq!(job.status, JobStatus::Complete);
    assert_eq!((quota.tier, quota.windows[0].used, quota.windows[0].limit), (Tier::Premium, 2, 1_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_failures_return_the_reservation_and_a_cancel_after_the_call_counts() {
    let blocked = Reply::Error { status: 400, code: "moderation_blocked", retry_after_ms: None };
    let server_error = Reply::Error { status: 500, code: "server_error", retry_after_ms: Some(10) };
    let fake =
        FakeOpenAi::start(vec![blocked, server_error.clone(), server_error.clone(), server_error, Reply::Hang]).await;
    let app = app_with(Some(&fake), "day=1").await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;

    let (job, quota) = imagine_to_the_end(&mut tab, thread.id, "blocked").await;
    assert_eq!(
        job.error.map(|e| e.message).unwrap_or_default(),
        "The provider declined this prompt; try rephrasing it."
    );
    assert_eq!(quota.summary(), "1 of 1 daily generations left", "a blocked prompt is given back");

    let (job, quota) = imagine_to_the_end(&mut tab, thread.id, "broken").await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(quota.summary(), "1 of 1 daily generations left", "a provider failure is given back");

    // This one reaches the provider and is cancelled there: it counts.
    tab.say(thread.id, "hang", "/imagine a slow lighthouse").await;
    let frames = tab.read_until(|m| matches!(m, ServerMsg::JobProgress(p) if p.stage == JobStage::Generating)).await;
    let Some(ServerMsg::JobProgress(p)) = frames.last() else { panic!("progress") };
    tab.send(ClientMsg::CancelJob(CancelJob { job_id: p.job_id })).await;
    let mut quota = None;
    while quota.as_ref().is_none_or(|q: &QuotaView| q.running > 0) {
        if let ServerMsg::Quota(q) = tab.recv_any().await {
            quota = Some(q.quota);
        }
    }
    assert_eq!(quota.map(|q| q.summary()).unwrap_or_default(), "0 of 1 daily generations left");
    let user = user_of(&app, "ada").await;
    assert_eq!(app.store.baseline(user, now_ms()).await.expect("db").used, [1, 1, 1], "the database agrees");
    assert_eq!(fake.requests().len(), 5, "blocked once, 500 three times (two retries), hung once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cooldown_refusal_says_how_many_seconds_to_wait() {
    let app = app_with(None, "cooldown=30").await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    let (_, quota) = imagine_to_the_end(&mut tab, thread.id, "1").await;
    assert!(quota.cooldown_ms > 25_000 && quota.cooldown_ms <= 30_000, "{quota:?}");
    let text = imagine_refused(&mut tab, thread.id, "2").await;
    let seconds: u32 = text
        .strip_prefix("Please wait ")
        .and_then(|t| t.strip_suffix(" seconds before the next image."))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!((20..=30).contains(&seconds), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_numbers_a_tab_is_shown_are_the_counters() {
    let app = app_with(None, "hour=5,day=8").await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    let mut last = None;
    for i in 0..3 {
        last = Some(imagine_to_the_end(&mut tab, thread.id, &i.to_string()).await.1);
    }
    let shown = last.expect("quota");
    assert_eq!(shown.summary(), "2 of 5 hourly generations left");
    // A new tab's snapshot, the database, and the notice agree with it.
    let (_, welcome) = app.try_connect(Some(&cookie), Some(&app.origin())).await.expect("connects");
    assert_eq!(welcome.quota.as_ref(), Some(&QuotaView { cooldown_ms: 0, ..shown.clone() }));
    let user = user_of(&app, "ada").await;
    let db = app.store.baseline(user, now_ms()).await.expect("db");
    assert_eq!(shown.windows.iter().map(|w| w.used).collect::<Vec<_>>(), db.used.to_vec());
    let (_, fourth) = imagine_to_the_end(&mut tab, thread.id, "3").await;
    assert!(fourth.notice().is_some_and(|n| n.starts_with("You have used 4 of 5 hourly images")), "{fourth:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_attempts_from_many_sockets_admit_exactly_one() {
    let redis = crate::gate::redis_url();
    let prefix = crate::gate::prefix();
    let app = spawn_app_with(test_db().await, move |s| {
        s.redis_url = Some(redis);
        s.redis_prefix = prefix;
        s.images.render_pace = Duration::from_secs(30);
        s.quotas.policies.free = Limits { max_running: 1, ..roomy().free };
    })
    .await;
    let cookie = app.signup("ada").await;
    let sockets = 20;
    let mut tabs = Vec::new();
    for i in 0..sockets {
        let mut tab = app.connect(&cookie).await;
        let thread = tab.create_thread(&format!("t{i}")).await;
        tabs.push((tab, thread.id));
    }
    let attempts = tabs.into_iter().enumerate().map(|(i, (mut tab, thread))| {
        tokio::spawn(async move {
            for n in 0..1000 / sockets {
                tab.say(thread, &format!("s{i}-{n}"), "/imagine a crowded lighthouse").await;
            }
            tab
        })
    });
    let tabs: Vec<Client> = futures::future::join_all(attempts).await.into_iter().map(|t| t.expect("task")).collect();
    let user = user_of(&app, "ada").await;
    // Every attempt is stored, then answered: wait until all 1,000 are.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let threads = app.store.threads(user).await.expect("db");
        let messages: i64 = threads.iter().map(|t| t.last_seq).sum();
        if messages >= 2000 || tokio::time::Instant::now() > deadline {
            assert_eq!(messages, 2000, "each attempt has its message and its answer");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.store.baseline(user, now_ms()).await.expect("db").used, [1, 1, 1], "exactly one job started");
    drop(tabs);
}
