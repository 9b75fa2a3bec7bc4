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
