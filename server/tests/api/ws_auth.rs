//! Who may open a socket, and what a socket refuses.

use std::time::Duration;

use app::protocol::*;
use futures::StreamExt;
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{spawn_app, spawn_app_with, test_db};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_origin_is_refused() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let refused = app.try_connect(Some(&cookie), Some("http://evil.example")).await;
    assert_eq!(refused.err(), Some(StatusCode::FORBIDDEN));
    let no_origin = app.try_connect(Some(&cookie), None).await;
    assert_eq!(no_origin.err(), Some(StatusCode::FORBIDDEN));
    assert!(app.try_connect(Some(&cookie), Some("http://allowed.example")).await.is_ok(), "configured origin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_forged_cookie_is_refused() {
    let app = spawn_app().await;
    let origin = app.origin();
    assert_eq!(app.try_connect(None, Some(&origin)).await.err(), Some(StatusCode::UNAUTHORIZED));
    let forged = "easel_session=AAAAAAAAAAAAAAAAAAAAAA";
    assert_eq!(app.try_connect(Some(forged), Some(&origin)).await.err(), Some(StatusCode::UNAUTHORIZED));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_closes_with_1009() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    tab.send_raw(Message::text("x".repeat(MAX_FRAME_BYTES + 1))).await;
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(10), tab.socket.next()).await.expect("closed in time") {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.map(|f| f.code), Some(CloseCode::Size));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_frame_gets_a_typed_error_and_the_session_goes_on() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    for bad in [r#"{"type":"launch"}"#, "not json", r#"{"type":"send","thread_id":"x"}"#] {
        tab.send_raw(Message::text(bad)).await;
        match tab.recv().await {
            ServerMsg::Error(e) => assert_eq!(e.code, ErrorCode::BadFrame, "{bad}"),
            other => panic!("expected bad_frame for {bad}, got {other:?}"),
        }
    }
    tab.send_raw(Message::binary(vec![1, 2, 3])).await;
    assert!(matches!(tab.recv().await, ServerMsg::Error(ProtocolError { code: ErrorCode::BadFrame, .. })));
    let thread = tab.create_thread("still-alive").await;
    assert_eq!(thread.title, "New chat");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_messages_are_refused_with_their_client_id() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    for (id, text) in [("empty", "   "), ("long", &"y".repeat(MAX_MESSAGE_CHARS + 1))] {
        tab.say(thread.id, id, text).await;
        match tab.recv().await {
            ServerMsg::Error(e) => assert_eq!((e.code, e.client_id), (ErrorCode::Invalid, Some(ClientId(id.into())))),
            other => panic!("expected invalid, got {other:?}"),
        }
    }
    assert_eq!(app.store.message_count(thread.id).await.expect("count"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_is_dropped_and_a_live_one_is_kept() {
    let app = spawn_app_with(test_db().await, |s| {
        s.ws.ping_every = Duration::from_millis(100);
        s.ws.idle_timeout = Duration::from_millis(400);
    })
    .await;
    let cookie = app.signup("ada").await;
    let mut silent = app.connect(&cookie).await;
    let mut live = app.connect(&cookie).await;

    // `live` reads (so its client answers pings); `silent` reads nothing, so it never pongs.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    while let Ok(frame) = tokio::time::timeout_at(deadline, live.socket.next()).await {
        assert!(matches!(frame, Some(Ok(Message::Ping(_)))), "only pings while idle, got {frame:?}");
    }
    let thread = live.create_thread("still-here").await;
    assert_eq!(thread.title, "New chat", "the answering socket is kept");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let ended = loop {
        match tokio::time::timeout_at(deadline, silent.socket.next()).await {
            Err(_) => break false,
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => break true,
            Ok(Some(Ok(_))) => continue,
        }
    };
    assert!(ended, "the silent socket was dropped");
}
