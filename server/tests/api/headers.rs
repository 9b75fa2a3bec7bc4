//! Security headers as a browser receives them (J1, K5, C3): the page's policy names the
//! nonce its inline scripts carry and no other inline script may run; nothing may frame
//! us or sniff a type; images stay private and signing out clears the cache; a cookie set
//! over HTTPS is `Secure` though the operator never said so.

use crate::helpers::{spawn_app, PASSWORD};

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_allows_only_its_own_nonce_and_every_response_is_locked_down() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let res = client().get(app.url("/")).header("cookie", &cookie).send().await.expect("page");
    let headers = res.headers().clone();
    let html = res.text().await.expect("body");
    let policy = headers.get("content-security-policy").and_then(|v| v.to_str().ok()).expect("a policy").to_string();
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the policy names a nonce")
        .to_string();
    assert!(nonce.len() >= 16, "a real nonce: {nonce}");
    let scripts = html.matches("<script").count();
    assert!(scripts > 0, "the page hydrates from an inline script");
    assert_eq!(html.matches(&format!("nonce=\"{nonce}\"")).count(), scripts, "every inline script carries it: {html}");
    assert!(policy.contains("frame-ancestors 'none'") && policy.contains("object-src 'none'"));
    assert!(!policy.contains("script-src 'self' 'unsafe-inline'"));
    // Another render, another nonce.
    let again = client().get(app.url("/")).header("cookie", &cookie).send().await.expect("page");
    let policy2 = again.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(!policy2.contains(&nonce), "a nonce is used once");

    for path in ["/", "/healthz", "/login", "/images/1/full", "/pkg/does-not-exist.js"] {
        let res = client().get(app.url(path)).header("cookie", &cookie).send().await.expect("response");
        let h = res.headers();
        let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(get("x-frame-options"), "DENY", "{path}");
        assert_eq!(get("referrer-policy"), "same-origin", "{path}");
        assert!(get("content-security-policy").contains("frame-ancestors 'none'"), "{path}");
        assert!(get("strict-transport-security").is_empty(), "{path}: no HSTS over plain http");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_set_over_https_is_secure_and_signing_out_clears_the_cache() {
    let app = spawn_app().await;
    let form = [("username", "ada"), ("password", PASSWORD)];
    let plain = client().post(app.url("/auth/signup")).form(&form).send().await.expect("sign-up");
    let cookie = plain.headers().get("set-cookie").and_then(|v| v.to_str().ok()).expect("cookie").to_string();
    assert!(!cookie.contains("Secure"), "plain http on loopback: {cookie}");

    // The same server behind a TLS proxy, or reached at an https origin.
    let res = client()
        .post(app.url("/auth/login"))
        .header("x-forwarded-proto", "https")
        .form(&form)
        .send()
        .await
        .expect("login");
    let cookie = res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).expect("cookie").to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(res.headers().get("strict-transport-security").is_some(), "HSTS over https");

    let session = cookie.split(';').next().expect("pair").to_string();
    let out = client().post(app.url("/auth/logout")).header("cookie", &session).send().await.expect("logout");
    assert_eq!(out.headers().get("clear-site-data").and_then(|v| v.to_str().ok()), Some("\"cache\""));
}
