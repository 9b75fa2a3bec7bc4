//! B2, B3: a page of another site cannot sign a browser in (login CSRF), sign it up, or act
//! for a signed-in user; the app's own pages and non-browser clients can.

use reqwest::StatusCode;

use crate::helpers::{spawn_app, PASSWORD};

async fn post(url: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> (StatusCode, bool) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let mut req = client.post(url).form(form);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await.expect("request");
    (res.status(), res.headers().contains_key("set-cookie"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_posted_from_another_site_are_refused() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let account = [("username", "ada"), ("password", PASSWORD)];
    let evil = [("origin", "http://evil.example")];

    assert_eq!(post(&app.url("/auth/login"), &account, &evil).await, (StatusCode::FORBIDDEN, false), "login CSRF");
    let newcomer = [("username", "bob"), ("password", PASSWORD)];
    let fetch_cross = [("sec-fetch-site", "cross-site")];
    assert_eq!(post(&app.url("/auth/signup"), &newcomer, &fetch_cross).await.0, StatusCode::FORBIDDEN, "sign-up CSRF");
    let sibling = [("cookie", cookie.as_str()), ("origin", "http://other.localhost")];
    assert_eq!(post(&app.url("/threads"), &[], &sibling).await.0, StatusCode::FORBIDDEN, "a same-site sibling");
    let null = [("cookie", cookie.as_str()), ("origin", "null")];
    assert_eq!(post(&app.url("/auth/logout"), &[], &null).await.0, StatusCode::FORBIDDEN, "an opaque origin");

    // The app's own pages, a configured origin and non-browser clients pass.
    let own = app.origin();
    assert_eq!(
        post(&app.url("/auth/login"), &account, &[("origin", own.as_str())]).await,
        (StatusCode::SEE_OTHER, true)
    );
    let allowed =
        [("cookie", cookie.as_str()), ("origin", "http://allowed.example"), ("sec-fetch-site", "same-origin")];
    assert_eq!(post(&app.url("/threads"), &[], &allowed).await.0, StatusCode::SEE_OTHER);
    assert_eq!(post(&app.url("/auth/login"), &account, &[]).await.0, StatusCode::SEE_OTHER);
}
