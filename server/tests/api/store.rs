//! The repository against the configured database (run with SQLite and with PostgreSQL).

use app::protocol::*;
use server::store::{NewMessage, Store};

use crate::helpers::test_db;

async fn store_with_user() -> (Store, UserId, crate::helpers::TestDb) {
    let db = test_db().await;
    let store = Store::connect(&db.url).await.expect("store");
    let user = store.create_user("ada", "hash").await.expect("insert").expect("new user");
    (store, user.id, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usernames_are_unique() {
    let (store, _, _db) = store_with_user().await;
    assert!(store.create_user("ada", "other").await.expect("query").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_get_contiguous_sequence_numbers() {
    let (store, user, _db) = store_with_user().await;
    let (thread, _) = store.create_thread(user, &ClientId("t".into()), "T").await.expect("thread");
    let ids: Vec<ClientId> = (0..20).map(|i| ClientId(format!("c-{i}"))).collect();
    let sends = ids.iter().map(|id| {
        let store = store.clone();
        async move {
            let new = NewMessage { user, thread: thread.id, client_id: Some(id), role: Role::User, text: "hi" };
            store.add_message(new).await
        }
    });
    let results = futures::future::join_all(sends).await;
    let mut seqs: Vec<Seq> = results.into_iter().map(|r| r.expect("stored").expect("thread exists").0.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
    let history = store.history(user, thread.id, Some(15)).await.expect("query").expect("thread");
    assert_eq!(history.messages.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![16, 17, 18, 19, 20]);
    assert_eq!(history.thread.last_seq, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_store_one_message() {
    let (store, user, _db) = store_with_user().await;
    let (thread, _) = store.create_thread(user, &ClientId("t".into()), "T").await.expect("thread");
    let id = ClientId("same".into());
    let sends = (0..8).map(|_| {
        let store = store.clone();
        let id = id.clone();
        async move {
            let new = NewMessage { user, thread: thread.id, client_id: Some(&id), role: Role::User, text: "once" };
            store.add_message(new).await.expect("stored").expect("thread exists")
        }
    });
    let results = futures::future::join_all(sends).await;
    assert_eq!(results.iter().filter(|(_, is_new)| *is_new).count(), 1);
    assert!(results.iter().all(|(m, _)| m.seq == 1));
    assert_eq!(store.message_count(thread.id).await.expect("count"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_are_scoped_to_their_owner() {
    let (store, ada, _db) = store_with_user().await;
    let bob = store.create_user("bob", "hash").await.expect("insert").expect("new").id;
    let (thread, _) = store.create_thread(ada, &ClientId("t".into()), "Mine").await.expect("thread");
    assert!(store.thread(bob, thread.id).await.expect("query").is_none());
    assert!(store.history(bob, thread.id, None).await.expect("query").is_none());
    assert!(store.rename_thread(bob, thread.id, "Ours").await.expect("query").is_none());
    assert!(!store.delete_thread(bob, thread.id).await.expect("query"));
    let new = NewMessage { user: bob, thread: thread.id, client_id: None, role: Role::User, text: "hi" };
    assert!(store.add_message(new).await.expect("query").is_none());
    assert!(store.threads(bob).await.expect("query").is_empty());
    assert_eq!(store.threads(ada).await.expect("query").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_thread_deletes_its_messages() {
    let (store, user, _db) = store_with_user().await;
    let (thread, _) = store.create_thread(user, &ClientId("t".into()), "T").await.expect("thread");
    let new = NewMessage { user, thread: thread.id, client_id: None, role: Role::Assistant, text: "hello" };
    let (m, _) = store.add_message(new).await.expect("query").expect("stored");
    assert_eq!(m.role, Role::Assistant);
    assert!(store.delete_thread(user, thread.id).await.expect("query"));
    assert_eq!(store.message_count(thread.id).await.expect("count"), 0);
    assert!(store.threads(user).await.expect("query").is_empty());
}

/// A retried job's message says it is queued again as soon as the job is, as the update every
/// tab gets for the retry says: a reload in between reads the same thing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_job_s_message_says_it_is_queued_again() {
    use server::store::{JobEnding, JobRun, NewJob};
    let (store, user, _db) = store_with_user().await;
    let (thread, _) = store.create_thread(user, &ClientId("t".into()), "T").await.expect("thread");
    let params = JobParams::of_shape(AspectRatio::default());
    let new = NewJob {
        prompt: "a fox",
        enhanced_prompt: "a fox",
        subject: "fox",
        provider: ProviderKind::Builtin,
        model: "scene-v1",
        counted_at: 1,
        exempt: false,
        refines: None,
        params: &params,
    };
    let message = store.create_job(user, thread.id, new).await.expect("db").expect("thread exists");
    let job = message.job.expect("a job").id;
    let failed = JobEnding::Failed {
        kind: FailureKind::ServerError,
        message: "Busy.".into(),
        retryable: true,
        cost_micros: None,
    };
    assert!(store.finish_job(JobRun::first(job), &failed).await.expect("db"));
    store.set_job_message_text(job, "Busy.").await.expect("db");

    let run = store.restart_job(user, job, 2).await.expect("db").expect("restarted");
    assert_eq!(run.attempt, 2);
    let stored = store.history(user, thread.id, None).await.expect("db").expect("thread");
    let (view, _) = store.job(user, job).await.expect("db").expect("the job");
    assert_eq!(stored.messages[0].text, "Queued: your fox scene is next…");
    assert_eq!(stored.messages[0].text, view.message_text(), "what the retry's update makes every tab say");
    assert!(store.restart_job(user, job, 3).await.expect("db").is_none(), "a running job is not restarted");
}
