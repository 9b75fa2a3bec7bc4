//! Server-rendered pages: what a browser without JavaScript (or before hydration) gets.

use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_page_renders_its_messages_for_its_owner_only() {
    let app = spawn_app().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let mut tab = app.connect(&ada).await;
    let thread = tab.create_thread("t").await;
    tab.say(thread.id, "m-1", "a lighthouse at <dusk>").await;
    tab.next_message().await;

    let path = format!("/threads/{}", thread.id);
    let (status, page) = app.get_page(&path, Some(&ada)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("a lighthouse at &lt;dusk&gt;"), "the message is in the HTML, escaped");
    assert!(page.contains(r#"role="log""#));

    let (_, page) = app.get_page(&path, Some(&bob)).await;
    assert!(!page.contains("lighthouse"), "another user sees nothing of it");
    assert!(page.contains("does not exist, or it is not yours"));
    let (_, page) = app.get_page(&path, None).await;
    assert!(!page.contains("lighthouse"), "a visitor sees nothing of it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forms_work_without_javascript() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let (status, location, _) = app.post_form("/threads", &[], Some(&cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = location.expect("redirect to the new thread");
    assert!(location.starts_with("/threads/"), "{location}");

    let (status, back, _) =
        app.post_form(&format!("{location}/messages"), &[("text", "typed without js")], Some(&cookie)).await;
    assert_eq!((status, back.as_deref()), (StatusCode::SEE_OTHER, Some(location.as_str())));
    let (_, page) = app.get_page(&location, Some(&cookie)).await;
    assert!(page.contains("typed without js"));
    let (_, home) = app.get_page("/", Some(&cookie)).await;
    assert!(home.contains("typed without js"), "the thread is named after its first message in the list");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitors_get_the_landing_page_and_cannot_post() {
    let app = spawn_app().await;
    let (_, home) = app.get_page("/", None).await;
    assert!(home.contains(r#"href="/signup""#) && home.contains(r#"href="/login""#));
    let (_, location, _) = app.post_form("/threads", &[], None).await;
    assert_eq!(location.as_deref(), Some("/login"));
}

/// Starting an app lists its routes by rendering it with resource loading switched off
/// process-wide; a page whose resource first ran meanwhile never finished (CI saw page bodies
/// time out when tests started apps side by side). Another instance starting in the same
/// process must not stall the pages this one is serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_finish_while_another_instance_starts_in_the_same_process() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    let app = spawn_app().await;
    let ada = app.signup("ada").await;
    let stop = Arc::new(AtomicBool::new(false));
    let starting = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                drop(server::http::route_list());
                // Not a busy loop: once listed, the call is free and would only take a core.
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let mut stalled = Vec::new();
    for i in 0..150 {
        let res = client.get(app.url("/")).header("cookie", &ada).send().await;
        let body = match res {
            Ok(res) => res.text().await,
            Err(e) => Err(e),
        };
        match body {
            Ok(page) => assert!(page.contains("No threads yet."), "{page}"),
            Err(e) => stalled.push(format!("request {i}: {e}")),
        }
        if stalled.len() >= 3 {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    starting.join().expect("the listing thread");
    assert!(stalled.is_empty(), "pages stalled: {stalled:?}");
}
