//! Live sync between the sockets of one user, and what a reconnecting tab catches up on.

use std::time::Duration;

use app::protocol::*;

use crate::helpers::{spawn_app, Client, TestApp};

/// A signed-in user with two open tabs and one thread that both tabs know about.
async fn two_tabs_and_a_thread(app: &TestApp) -> (String, Client, Client, ThreadSummary) {
    let cookie = app.signup("ada").await;
    let mut tab1 = app.connect(&cookie).await;
    let mut tab2 = app.connect(&cookie).await;
    let thread = tab1.create_thread("t-1").await;
    match tab2.recv().await {
        ServerMsg::ThreadCreated(c) => assert_eq!(c.thread, thread, "tab 2 learns of the new thread"),
        other => panic!("tab 2 expected the new thread, got {other:?}"),
    }
    (cookie, tab1, tab2, thread)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sockets_of_one_user_both_see_a_message() {
    let app = spawn_app().await;
    let (_, mut tab1, mut tab2, thread) = two_tabs_and_a_thread(&app).await;

    tab1.say(thread.id, "m-1", "hello from tab one").await;
    for tab in [&mut tab1, &mut tab2] {
        let m = tab.next_message().await;
        assert_eq!((m.seq, m.text.as_str(), m.role), (1, "hello from tab one", Role::User));
        assert_eq!(m.client_id, Some(ClientId("m-1".into())));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_socket_sees_nothing() {
    let app = spawn_app().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let mut ada_tab = app.connect(&ada).await;
    let mut bob_tab = app.connect(&bob).await;

    let thread = ada_tab.create_thread("t-1").await;
    ada_tab.say(thread.id, "m-1", "secret plans").await;
    ada_tab.next_message().await;
    assert!(matches!(ada_tab.recv().await, ServerMsg::ThreadRenamed(_)), "the first message names the thread");
    assert_eq!(ada_tab.next_message().await.role, Role::Assistant, "and is answered");
    assert!(bob_tab.is_quiet_for(Duration::from_millis(500)).await, "bob got one of ada's events");

    // Asking for it by id gets the same answer as a thread that does not exist.
    bob_tab.send(ClientMsg::OpenThread(OpenThread { thread_id: thread.id, after_seq: None })).await;
    match bob_tab.recv().await {
        ServerMsg::Error(e) => assert_eq!(e.code, ErrorCode::NotFound),
        other => panic!("expected not_found, got {other:?}"),
    }
    bob_tab.say(thread.id, "b-1", "let me in").await;
    match bob_tab.recv().await {
        ServerMsg::Error(e) => assert_eq!((e.code, e.client_id), (ErrorCode::NotFound, Some(ClientId("b-1".into())))),
        other => panic!("expected not_found, got {other:?}"),
    }
    for (id, title) in [(thread.id, "mine now")] {
        bob_tab.send(ClientMsg::RenameThread(RenameThread { thread_id: id, title: title.into() })).await;
        assert!(matches!(bob_tab.recv().await, ServerMsg::Error(ProtocolError { code: ErrorCode::NotFound, .. })));
        bob_tab.send(ClientMsg::DeleteThread(DeleteThread { thread_id: id })).await;
        assert!(matches!(bob_tab.recv().await, ServerMsg::Error(ProtocolError { code: ErrorCode::NotFound, .. })));
    }
    // Ada's message and the assistant's answer to it; nothing of bob's.
    assert_eq!(app.store.message_count(thread.id).await.expect("count"), 2);
    assert!(ada_tab.is_quiet_for(Duration::from_millis(300)).await, "bob's attempts changed nothing of ada's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_with_the_same_client_id_stores_one_row() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t-1").await;

    tab.say(thread.id, "same-id", "only once").await;
    let first = tab.next_message().await;
    let answer = tab.next_message().await;
    assert_eq!(answer.role, Role::Assistant);
    tab.say(thread.id, "same-id", "only once").await;
    let again = tab.next_message().await;
    assert_eq!(first, again, "the resend is answered with the stored message");
    assert_eq!(app.store.message_count(thread.id).await.expect("count"), 2, "one row, one answer");

    // The same holds for creating threads.
    let twice = tab.create_thread("t-1").await;
    assert_eq!(twice.id, thread.id);
    assert_eq!(app.store.threads(first_user(&app, &cookie).await).await.expect("threads").len(), 1);
}

async fn first_user(app: &TestApp, cookie: &str) -> UserId {
    let (_, welcome) = app.try_connect(Some(cookie), Some(&app.origin())).await.expect("connects");
    welcome.user.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_after_missed_events_receives_them() {
    let app = spawn_app().await;
    let (cookie, mut tab1, mut tab2, thread) = two_tabs_and_a_thread(&app).await;
    tab1.say(thread.id, "m-1", "one").await;
    tab1.next_message().await;
    tab1.next_message().await; // the assistant's answer (said once, so not after "two" and "three")
    tab2.next_message().await;
    let seen = tab2.next_message().await.seq;

    drop(tab2); // the tab loses its connection…
    for (i, text) in ["two", "three"].iter().enumerate() {
        tab1.say(thread.id, &format!("m-{}", i + 2), text).await;
        tab1.next_message().await;
    }
    tab1.send(ClientMsg::RenameThread(RenameThread { thread_id: thread.id, title: "Counting".into() })).await;
    while !matches!(tab1.recv().await, ServerMsg::ThreadRenamed(r) if r.title == "Counting") {}

    // …and comes back: the snapshot has the rename, the history has what it missed.
    let (socket, welcome) = app.try_connect(Some(&cookie), Some(&app.origin())).await.expect("reconnects");
    let summary = welcome.threads.iter().find(|t| t.id == thread.id).expect("thread listed");
    assert_eq!(summary.last_seq, 4);
    let mut tab2 = Client { socket };
    tab2.send(ClientMsg::OpenThread(OpenThread { thread_id: thread.id, after_seq: Some(seen) })).await;
    loop {
        match tab2.recv().await {
            ServerMsg::ThreadHistory(h) => {
                let texts: Vec<&str> = h.messages.iter().map(|m| m.text.as_str()).collect();
                assert_eq!(texts, ["two", "three"]);
                assert_eq!(h.thread.title, "Counting");
                break;
            }
            ServerMsg::ThreadRenamed(_) => continue,
            other => panic!("expected the history, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renames_and_deletes_reach_every_tab() {
    let app = spawn_app().await;
    let (cookie, mut tab1, mut tab2, thread) = two_tabs_and_a_thread(&app).await;

    tab1.send(ClientMsg::RenameThread(RenameThread { thread_id: thread.id, title: "  Trip   ideas ".into() })).await;
    for tab in [&mut tab1, &mut tab2] {
        match tab.recv().await {
            ServerMsg::ThreadRenamed(r) => assert_eq!(r.title, "Trip ideas"),
            other => panic!("expected thread_renamed, got {other:?}"),
        }
    }
    tab2.send(ClientMsg::DeleteThread(DeleteThread { thread_id: thread.id })).await;
    for tab in [&mut tab1, &mut tab2] {
        assert_eq!(tab.recv().await, ServerMsg::ThreadDeleted(ThreadDeleted { thread_id: thread.id }));
    }
    let (_, welcome) = app.try_connect(Some(&cookie), Some(&app.origin())).await.expect("connects");
    assert!(welcome.threads.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_message_names_an_untitled_thread() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t-1").await;
    assert_eq!(thread.title, "New chat");
    tab.say(thread.id, "m-1", "Plan a weekend in Lisbon").await;
    tab.next_message().await;
    match tab.recv().await {
        ServerMsg::ThreadRenamed(r) => assert_eq!(r.title, "Plan a weekend in Lisbon"),
        other => panic!("expected the thread to be named, got {other:?}"),
    }
}
