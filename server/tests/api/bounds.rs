//! Bounds on what one user can make the server do (D2, D3).

use app::protocol::*;

use crate::helpers::{finished_job, spawn_app};

fn assistant_text(m: &ServerMsg) -> Option<String> {
    match m {
        ServerMsg::MessageAdded(a) if a.message.role == Role::Assistant && a.message.job.is_none() => {
            Some(a.message.text.clone())
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_past_the_providers_limit_is_refused_in_words_and_so_is_a_refinement_chain() {
    let app = spawn_app().await;
    let words = "a lighthouse on a cliff with gulls ".repeat(120); // 4,200 characters
    let (mut tab, thread) = app.new_user_says("ada", &format!("/imagine {words}")).await;
    let said = tab.read_until(|m| assistant_text(m).is_some()).await.iter().find_map(assistant_text);
    assert!(
        said.as_deref().is_some_and(|t| t.starts_with("That description is too long for the image model")),
        "{said:?}"
    );

    // A short image, then a change that would take the chain past the bound.
    tab.say(thread.id, "2", "/imagine a lighthouse").await;
    let job = tab.read_until(|m| finished_job(m).is_some()).await.last().and_then(finished_job).expect("job");
    assert_eq!(job.status, JobStatus::Complete);
    let change = "brighter and with more gulls over the waves ".repeat(95); // 4,180 characters
    tab.say(thread.id, "3", &format!("make it {change}")).await;
    let said = tab.read_until(|m| assistant_text(m).is_some()).await.iter().find_map(assistant_text);
    assert!(said.as_deref().is_some_and(|t| t.starts_with("That description is too long")), "{said:?}");
    let jobs = app.store.history(app.user_id("ada").await, thread.id, None).await.expect("db").expect("thread");
    assert_eq!(jobs.messages.iter().filter(|m| m.job.is_some()).count(), 1, "no job was made of either");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_sending_too_fast_is_refused_per_message_and_nothing_is_lost() {
    let app = crate::helpers::spawn_app_with(crate::helpers::test_db().await, |s| {
        s.throttle.frames_per_second = 2; // six at once, then two a second
    })
    .await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await; // one frame
    for i in 0..12 {
        tab.say(thread.id, &format!("m-{i}"), &format!("hello {i}")).await;
    }
    // Each message is either stored (echoed) or refused with its own client id: never dropped.
    let (mut stored, mut refused) = (Vec::new(), Vec::new());
    while stored.len() + refused.len() < 12 {
        match tab.recv().await {
            ServerMsg::MessageAdded(a) if a.message.role == Role::User => {
                stored.push(a.message.client_id.map(|c| c.0).unwrap_or_default())
            }
            ServerMsg::Error(e) if e.code == ErrorCode::RateLimited => {
                assert!(e.message.starts_with("You are sending too fast; wait "), "{}", e.message);
                refused.push(e.client_id.map(|c| c.0).expect("the refused message's id"));
            }
            _ => {}
        }
    }
    // The burst is six frames (the thread took one); a slow machine may earn one more.
    assert!((5..=7).contains(&stored.len()), "{stored:?}");
    assert_eq!(stored.len() + refused.len(), 12);
    let user = app.user_id("ada").await;
    let history = app.store.history(user, thread.id, None).await.expect("db").expect("thread");
    assert_eq!(
        history.messages.iter().filter(|m| m.role == Role::User).count(),
        stored.len(),
        "refused ones were not stored"
    );
    // A refused message sent again after the wait goes through.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    tab.say(thread.id, &refused[0], "hello again").await;
    let echoed = tab.read_until(|m| matches!(m, ServerMsg::MessageAdded(a) if a.message.role == Role::User)).await;
    assert!(!echoed.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_past_the_per_user_limit_are_refused_429_and_a_closed_one_frees_its_place() {
    let app = crate::helpers::spawn_app_with(crate::helpers::test_db().await, |s| {
        s.throttle.sockets_per_user = 2;
    })
    .await;
    let cookie = app.signup("ada").await;
    let first = app.connect(&cookie).await;
    let _second = app.connect(&cookie).await;
    let refused = app.try_connect(Some(&cookie), Some(&app.origin())).await.err();
    assert_eq!(refused.map(|s| s.as_u16()), Some(429));
    let bob = app.signup("bob").await;
    assert!(app.try_connect(Some(&bob), Some(&app.origin())).await.is_ok(), "another user is not affected");
    drop(first);
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(s) = app.try_connect(Some(&cookie), Some(&app.origin())).await {
            reopened = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(reopened.is_some(), "the closed socket's place was given back");
}

async fn refusal_of(tab: &mut crate::helpers::Client) -> ProtocolError {
    let frames = tab.read_until(|m| matches!(m, ServerMsg::Error(_))).await;
    match frames.last() {
        Some(ServerMsg::Error(e)) => e.clone(),
        other => panic!("an error, not {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caps_on_threads_messages_and_storage_are_said_in_words() {
    let app = crate::helpers::spawn_app_with(crate::helpers::test_db().await, |s| {
        s.caps.threads = 2;
        s.caps.messages_per_thread = 4;
        s.caps.messages_per_day = 4;
        s.caps.storage_bytes = 1; // the first image fills it
    })
    .await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let first = tab.create_thread("a").await;
    let second = tab.create_thread("b").await;
    tab.send(ClientMsg::CreateThread(CreateThread { client_id: ClientId("c".into()), title: None })).await;
    let e = refusal_of(&mut tab).await;
    assert_eq!(e.message, "You have 2 threads, the most one account keeps; delete some to start a new one.");
    assert_eq!(e.client_id, Some(ClientId("c".into())));

    // An image, then storage is full: the refusal is the assistant's message.
    tab.say(first.id, "m1", "/imagine a lighthouse").await;
    let job = tab.read_until(|m| finished_job(m).is_some()).await.last().and_then(finished_job).expect("job");
    assert_eq!(job.status, JobStatus::Complete);
    tab.say(first.id, "m2", "/imagine a harbour").await;
    let said = tab.read_until(|m| assistant_text(m).is_some()).await.iter().find_map(assistant_text);
    assert_eq!(
        said.as_deref(),
        Some("Your images take 1 MB, the most one account keeps; delete a thread to make room for new ones.")
    );
    // The thread holds four messages now: full.
    tab.say(first.id, "m3", "hello").await;
    let e = refusal_of(&mut tab).await;
    assert_eq!(e.message, "This thread is full (4 messages); start a new one to go on.");
    assert_eq!(e.client_id, Some(ClientId("m3".into())));

    // Two messages were sent today; two more may be, then the day is spent.
    for id in ["x1", "x2"] {
        tab.say(second.id, id, "hello").await;
        let mine = Some(ClientId(id.into()));
        tab.read_until(|m| matches!(m, ServerMsg::MessageAdded(a) if a.message.client_id == mine)).await;
    }
    tab.say(second.id, "x3", "hello").await;
    let e = refusal_of(&mut tab).await;
    assert!(e.message.starts_with("You have sent 4 messages today, the most one account may"), "{}", e.message);

    // A resend of a stored message is still answered (a tab reconnecting resends its outbox).
    tab.say(second.id, "x2", "hello").await;
    let mine = Some(ClientId("x2".into()));
    let echo = tab.read_until(|m| matches!(m, ServerMsg::MessageAdded(a) if a.message.client_id == mine)).await;
    assert!(!echo.iter().any(|m| matches!(m, ServerMsg::Error(_))), "{echo:?}");

    // Deleting threads does not give the day back.
    tab.send(ClientMsg::DeleteThread(DeleteThread { thread_id: second.id })).await;
    tab.read_until(|m| matches!(m, ServerMsg::ThreadDeleted(_))).await;
    let third = tab.create_thread("d").await;
    tab.say(third.id, "y1", "hello").await;
    let e = refusal_of(&mut tab).await;
    assert!(e.message.starts_with("You have sent 4 messages today"), "{}", e.message);
}
