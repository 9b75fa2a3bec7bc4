//! A thousand jobs with faults at random: the provider (the OpenAI wire fake) answers, streams,
//! fails with each error it has, times out, sends garbage, no image, or a header that once
//! panicked the client (E4); the database refuses a write in the middle of some jobs; users cancel
//! some and retry others. Afterwards no job is left running, no slot is held, and for every
//! user the gate (Redis) counts and charges exactly what the database does: nothing leaked,
//! nothing charged twice.

use std::time::Duration;

use app::protocol::*;
use server::config::ProviderChoice;
use server::providers::openai::OpenAiSettings;
use sqlx::{Connection, Executor, Row};

use crate::fake_openai::{FakeOpenAi, Reply};
use crate::gate::{prefix, redis_url};
use crate::helpers::{finished_job, now_ms, spawn_app_with, test_db, Client, TestApp};

const USERS: usize = 40;
const JOBS_EACH: usize = 25;

/// A small deterministic generator (xorshift), so a failing run can be repeated.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % sides
    }
}

fn random_reply(dice: &mut Dice) -> Reply {
    match dice.roll(100) {
        0..=34 => Reply::B64 { revised: None },
        35..=44 => Reply::Url,
        45..=54 => Reply::Stream { partials: 1, gap: Duration::from_millis(20) },
        55..=64 => Reply::Error { status: 500, code: "server_error", retry_after_ms: None },
        65..=69 => Reply::Error { status: 429, code: "rate_limit_exceeded", retry_after_ms: Some(30) },
        70..=74 => Reply::Error { status: 400, code: "moderation_blocked", retry_after_ms: None },
        75..=79 => Reply::Error { status: 401, code: "invalid_api_key", retry_after_ms: None },
        80..=84 => Reply::NoImage,
        85..=89 => Reply::BrokenJson,
        90..=91 => Reply::RetryAfterInfinite,
        _ => Reply::Hang,
    }
}

/// Makes the database refuse, for one job in eleven, the write that moves it to processing.
async fn refuse_some_writes(app: &TestApp) {
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.expect("database");
    let sql = if app.db.url.starts_with("postgres") {
        "CREATE FUNCTION easel_storm() RETURNS trigger AS $$ BEGIN \
           IF NEW.stage = 'processing' AND NEW.id % 11 = 0 THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql; \
         CREATE TRIGGER storm BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION easel_storm();"
    } else {
        "CREATE TRIGGER storm BEFORE UPDATE OF stage ON jobs WHEN NEW.stage = 'processing' AND NEW.id % 11 = 0 \
         BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
    };
    conn.execute(sql).await.expect("trigger");
}

/// Reads until the job shown by the next assistant message has ended; cancels it first when
/// asked to. Returns its final view.
async fn run_one(tab: &mut Client, cancel: bool) -> JobView {
    let frames = tab.read_until(|m| matches!(m, ServerMsg::MessageAdded(a) if a.message.job.is_some())).await;
    let Some(ServerMsg::MessageAdded(added)) = frames.last() else { unreachable!() };
    let id = added.message.job.as_ref().map(|j| j.id).expect("a job");
    if cancel {
        tab.send(ClientMsg::CancelJob(CancelJob { job_id: id })).await;
    }
    wait_end(tab, id).await
}

async fn wait_end(tab: &mut Client, id: JobId) -> JobView {
    let frames = tab.read_until(|m| finished_job(m).is_some_and(|j| j.id == id)).await;
    frames.last().and_then(finished_job).expect("a final state")
}

/// One user asking for [`JOBS_EACH`] images, one after the other, as fast as they end.
async fn user_session((mut tab, thread): (Client, ThreadSummary), seed: u64) -> Vec<JobStatus> {
    let mut dice = Dice(seed);
    let mut ends = Vec::new();
    for k in 0..JOBS_EACH {
        tab.say(thread.id, &format!("m-{k}"), &format!("/imagine job {k}")).await;
        let job = run_one(&mut tab, dice.roll(8) == 0).await;
        ends.push(job.status);
        // Retry some of those that offer it: the retry must not count twice.
        if job.error.as_ref().is_some_and(|e| e.retryable) && dice.roll(3) == 0 {
            tab.send(ClientMsg::RetryJob(RetryJob { job_id: job.id })).await;
            ends.push(wait_end(&mut tab, job.id).await.status);
        }
    }
    ends
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_jobs_with_random_faults_leave_nothing_stuck_leaked_or_charged_twice() {
    let mut dice = Dice(0x5eed_cafe);
    let script: Vec<Reply> = (0..4_000).map(|_| random_reply(&mut dice)).collect();
    let fake = FakeOpenAi::start(script).await;
    let openai = OpenAiSettings {
        api_key: "sk-test".into(),
        base_url: fake.base_url.clone(),
        model: "gpt-image-2".into(),
        size: "1024x1024".into(),
        quality: Some("low".into()),
        partial_images: 1,
        request_timeout: Duration::from_secs(5),
        image_url_hosts: Default::default(),
    };
    let prefix = prefix();
    let app = spawn_app_with(test_db().await, move |s| {
        s.images = std::mem::take(&mut s.images).with_provider(ProviderChoice::OpenAi(openai));
        s.images.job_timeout = Some(Duration::from_secs(1));
        s.redis_url = Some(redis_url());
        s.redis_prefix = prefix;
    })
    .await;
    refuse_some_writes(&app).await;

    // Accounts first (sign-up hashes passwords: forty at once would starve the jobs).
    let mut users = Vec::new();
    for n in 0..USERS {
        let cookie = app.signup(&format!("user{n}")).await;
        let mut tab = app.connect(&cookie).await;
        let thread = tab.create_thread("t").await;
        users.push((tab, thread));
    }
    let sessions = users.into_iter().enumerate().map(|(n, user)| user_session(user, 1 + n as u64 * 7919));
    let ends: Vec<JobStatus> = futures::future::join_all(sessions).await.into_iter().flatten().collect();
    let count = |s: JobStatus| ends.iter().filter(|e| **e == s).count();
    println!(
        "fault storm: {} job runs: {} complete, {} failed, {} cancelled, {} interrupted",
        ends.len(),
        count(JobStatus::Complete),
        count(JobStatus::Failed),
        count(JobStatus::Cancelled),
        count(JobStatus::Interrupted)
    );
    assert!(ends.len() >= USERS * JOBS_EACH);
    assert!(count(JobStatus::Complete) > 100 && count(JobStatus::Failed) > 100, "the faults were varied");

    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.expect("database");
    let running: i64 = conn
        .fetch_one("SELECT COUNT(*) AS n FROM jobs WHERE status = 'running'")
        .await
        .expect("count")
        .try_get("n")
        .expect("n");
    assert_eq!(running, 0, "no job left running");

    for n in 0..USERS {
        let name = format!("user{n}");
        let user = app.user_id(&name).await;
        // A fresh tab reads the gate's own counts.
        let (_, welcome) = app.try_connect(Some(&app.signin(&name).await), Some(&app.origin())).await.expect("tab");
        let gate = welcome.quota.expect("the gate answers");
        let db = app.store.baseline(user, now_ms()).await.expect("db");
        let counted: Vec<u32> = gate.windows.iter().map(|w| w.used).collect();
        assert_eq!(counted, db.used.to_vec(), "{name}: the gate counts what the database counts");
        assert_eq!(gate.spent_micros, db.spent_micros, "{name}: charged once, as recorded");
        assert_eq!(gate.running, 0, "{name}: no slot held");
    }
}
