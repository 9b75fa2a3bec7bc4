//! Sign-up, log-in, log-out, and sessions that outlive the process.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{spawn_app, spawn_app_on, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_up_signs_in_and_a_taken_name_is_refused() {
    let app = spawn_app().await;
    let cookie = app.signup("Ada").await;
    let (_, home) = app.get_page("/", Some(&cookie)).await;
    assert!(home.contains("ada") && home.contains("Log out"), "home shows the signed-in user");

    let (status, location, _) =
        app.post_form("/auth/signup", &[("username", "ada"), ("password", PASSWORD)], None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/signup?error=taken&username=ada"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sign_up_input_is_explained() {
    let app = spawn_app().await;
    let (_, location, _) = app.post_form("/auth/signup", &[("username", "x"), ("password", PASSWORD)], None).await;
    assert_eq!(location.as_deref(), Some("/signup?error=username&username=x"));
    let (_, location, _) = app.post_form("/auth/signup", &[("username", "ada"), ("password", "short")], None).await;
    assert_eq!(location.as_deref(), Some("/signup?error=password&username=ada"));
    let (_, page) = app.get_page("/signup?error=password&username=ada", None).await;
    assert!(page.contains("Passwords need 8 to 128 characters."), "the page explains the refusal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_checks_the_password() {
    let app = spawn_app().await;
    app.signup("ada").await;
    let (_, location, cookie) =
        app.post_form("/auth/login", &[("username", "ada"), ("password", "wrong password")], None).await;
    assert_eq!(location.as_deref(), Some("/login?error=credentials&username=ada"));
    assert!(cookie.is_none(), "no session for a wrong password");
    let (_, location, _) = app.post_form("/auth/login", &[("username", "nobody"), ("password", PASSWORD)], None).await;
    assert_eq!(location.as_deref(), Some("/login?error=credentials&username=nobody"), "same answer for unknown names");

    let (_, location, cookie) =
        app.post_form("/auth/login", &[("username", "ADA"), ("password", PASSWORD)], None).await;
    assert_eq!(location.as_deref(), Some("/"));
    let cookie = cookie.expect("session cookie");
    assert!(app.try_connect(Some(&cookie), Some(&app.origin())).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_out_ends_the_session() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let (status, location, _) = app.post_form("/auth/logout", &[], Some(&cookie)).await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    assert_eq!(app.try_connect(Some(&cookie), Some(&app.origin())).await.err().map(|s| s.as_u16()), Some(401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_is_http_only_and_same_site_lax() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let res = client
        .post(app.url("/auth/signup"))
        .form(&[("username", "ada"), ("password", PASSWORD)])
        .send()
        .await
        .expect("sent");
    let set_cookie = res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_data_survive_a_restart() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t-1").await;
    drop(tab);
    let db = app.stop().await;

    let app = spawn_app_on(db).await;
    let (_, welcome) = app.try_connect(Some(&cookie), Some(&app.origin())).await.expect("still signed in");
    assert_eq!(welcome.user.username, "ada");
    assert_eq!(welcome.threads.iter().map(|t| t.id).collect::<Vec<_>>(), vec![thread.id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_when_the_database_does() {
    let app = spawn_app().await;
    let (status, body) = app.get_page("/healthz", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
}

/// C6: a thousand wrong passwords at once are answered at once, nearly all 429 with
/// `Retry-After`, without taking the CPU from everyone else; other clients still sign in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bad_logins_is_answered_429_while_the_server_stays_responsive() {
    let app = crate::helpers::spawn_app_with(crate::helpers::test_db().await, |s| {
        s.throttle = server::throttle::ThrottleSettings::default();
        s.client_ip_header = Some("x-forwarded-for".into());
    })
    .await;
    app.signup("ada").await;
    app.signup("bob").await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let attempt = |i: usize| {
        let (client, url) = (client.clone(), app.url("/auth/login"));
        async move {
            let form = [("username", "ada".to_string()), ("password", format!("wrong {i}"))];
            let res =
                client.post(url).header("x-forwarded-for", "203.0.113.7").form(&form).send().await.expect("answered");
            (res.status(), res.headers().get("retry-after").is_some())
        }
    };
    let started = std::time::Instant::now();
    let flood = tokio::spawn(futures::future::join_all((0..1_000).map(attempt)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let health = std::time::Instant::now();
    let up = reqwest::get(app.url("/healthz")).await.expect("healthz").status();
    let health = health.elapsed();
    let answers = flood.await.expect("flood");
    let took = started.elapsed();

    let limited = answers.iter().filter(|(s, retry)| *s == StatusCode::TOO_MANY_REQUESTS && *retry).count();
    let refused = answers.iter().filter(|(s, _)| *s == StatusCode::SEE_OTHER).count();
    println!("1,000 bad logins: {limited} × 429, {refused} checked, all answered in {took:?}; /healthz {health:?}");
    assert_eq!(limited + refused, 1_000, "every attempt answered, none failed");
    assert!(refused <= 30, "at most the per-address budget reached Argon2: {refused}");
    assert_eq!(up, StatusCode::OK);
    assert!(health < Duration::from_secs(1), "/healthz stayed fast: {health:?}");
    assert!(took < Duration::from_secs(30), "nothing hung: {took:?}");

    // Another client, another account: not affected.
    let form = [("username", "bob"), ("password", crate::helpers::PASSWORD)];
    let res = client
        .post(app.url("/auth/login"))
        .header("x-forwarded-for", "198.51.100.2")
        .form(&form)
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(res.headers().get("set-cookie").is_some(), "signed in");
}
