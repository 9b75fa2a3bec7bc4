//! Sessions that end (C2): a new password ends every other session and closes their
//! sockets at once; "sign out everywhere" ends them all; a socket whose session ended
//! without it hearing (another instance without Redis, say) closes at its next check.

use std::time::Duration;

use app::protocol::SIGNED_OUT;
use tokio_tungstenite::tungstenite::http::StatusCode;

use crate::helpers::{spawn_app, PASSWORD};
use crate::ws_auth::close_code_within;

const NEW_PASSWORD: &str = "a much better passphrase";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_password_ends_every_session_and_this_one_goes_on_under_a_new_id() {
    let app = spawn_app().await;
    let here = app.signup("ada").await;
    let elsewhere = app.signin("ada").await;
    let mut tab = app.connect(&here).await;
    let mut stolen = app.connect(&elsewhere).await;

    // The wrong current password changes nothing.
    let wrong = [("current", "not my password"), ("new", NEW_PASSWORD)];
    let (status, location, _) = app.post_form("/auth/password", &wrong, Some(&here)).await;
    assert_eq!((status.as_u16(), location.as_deref()), (303, Some("/account?error=current")));
    assert!(app.try_connect(Some(&elsewhere), Some(&app.origin())).await.is_ok(), "still signed in");

    let form = [("current", PASSWORD), ("new", NEW_PASSWORD)];
    let (status, location, renewed) = app.post_form("/auth/password", &form, Some(&here)).await;
    assert_eq!((status.as_u16(), location.as_deref()), (303, Some("/account?done=password")));
    let renewed = renewed.expect("this browser signs in again under a new session id");
    assert_ne!(renewed, here);
    // Every socket of every earlier session closes: the other device's as signed out, this
    // session's with "restart" (the tab reconnects under the new id; a thief's copy of the
    // old cookie is refused then).
    assert_eq!(close_code_within(&mut stolen, Duration::from_secs(1)).await, Some(SIGNED_OUT));
    assert_eq!(close_code_within(&mut tab, Duration::from_secs(1)).await, Some(1012));
    for old in [&elsewhere, &here] {
        assert_eq!(app.try_connect(Some(old), Some(&app.origin())).await.err(), Some(StatusCode::UNAUTHORIZED));
    }

    // The renewed session goes on, past the sockets' next check too.
    let mut again = app.connect(&renewed).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(again.create_thread("still-here").await.title, "New chat", "the new session works");
    let (_, page) = app.get_page("/account?done=password", Some(&renewed)).await;
    assert!(page.contains("Password changed. Your other devices were signed out."), "{page}");
    assert!(page.contains("Sign out everywhere") && page.contains(r#"action="/auth/password""#));

    // The old password no longer signs in; the new one does.
    let (_, location, _) = app.post_form("/auth/login", &[("username", "ada"), ("password", PASSWORD)], None).await;
    assert!(location.is_some_and(|l| l.starts_with("/login?error=credentials")));
    let (_, location, _) = app.post_form("/auth/login", &[("username", "ada"), ("password", NEW_PASSWORD)], None).await;
    assert_eq!(location.as_deref(), Some("/"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_everywhere_ends_every_session_and_closes_every_tab() {
    let app = spawn_app().await;
    let here = app.signup("ada").await;
    let elsewhere = app.signin("ada").await;
    let bob = app.signup("bob").await;
    let mut tabs = [app.connect(&here).await, app.connect(&here).await, app.connect(&elsewhere).await];
    let mut bobs = app.connect(&bob).await;

    let (status, location, _) = app.post_form("/auth/logout-everywhere", &[], Some(&here)).await;
    assert_eq!((status.as_u16(), location.as_deref()), (303, Some("/")));
    for tab in &mut tabs {
        assert_eq!(close_code_within(tab, Duration::from_secs(1)).await, Some(SIGNED_OUT));
    }
    for cookie in [&here, &elsewhere] {
        assert_eq!(app.try_connect(Some(cookie), Some(&app.origin())).await.err(), Some(StatusCode::UNAUTHORIZED));
    }
    assert_eq!(bobs.create_thread("mine").await.title, "New chat", "another user is untouched");
    // Signing in again works.
    let again = app.signin("ada").await;
    assert!(app.try_connect(Some(&again), Some(&app.origin())).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_whose_session_ended_unheard_closes_at_its_next_check() {
    let app = spawn_app().await; // sockets check every 2 s in the test settings
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let user = app.user_id("ada").await;
    // What another instance did with no relay between them: only the database knows.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    app.store.end_sessions_before(user, now + 1).await.expect("db");
    assert_eq!(close_code_within(&mut tab, Duration::from_secs(4)).await, Some(SIGNED_OUT));
}
