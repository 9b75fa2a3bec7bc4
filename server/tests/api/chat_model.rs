//! With a chat model configured (a loopback server speaking chat completions, streaming
//! SSE), ordinary messages are answered in text that grows in every tab as it streams.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::protocol::*;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use server::chat_model::ChatModelSettings;

use crate::helpers::{spawn_app_with, test_db};

#[derive(Clone, Default)]
struct Fake {
    requests: Arc<Mutex<Vec<serde_json::Value>>>,
    fail: bool,
}

/// Streams "Paris is the capital" in pieces, 30 ms apart, like a model writing.
async fn completions(State(fake): State<Fake>, Json(body): Json<serde_json::Value>) -> Response {
    fake.requests.lock().expect("lock").push(body.clone());
    if fake.fail {
        return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
    }
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let system = messages.first().and_then(|m| m["content"].as_str()).unwrap_or_default().to_string();
    let last = messages.last().and_then(|m| m["content"].as_str()).unwrap_or_default().to_string();
    // Asked to classify: a shark is a picture, anything else is not.
    let pieces: Vec<String> = if system.starts_with("Decide whether") {
        vec![if last.contains("shark") { "image: a shark in a bathtub".into() } else { "none".into() }]
    } else {
        ["Paris", " is", " the", " capital", "."].iter().map(|p| p.to_string()).collect()
    };
    let stream = async_stream(pieces);
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn async_stream(pieces: Vec<String>) -> impl futures::Stream<Item = Result<String, std::io::Error>> {
    futures::stream::unfold((pieces.into_iter(), false), |(mut it, done)| async move {
        if done {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
        match it.next() {
            Some(p) => {
                let chunk = serde_json::json!({ "choices": [{ "index": 0, "delta": { "content": p } }] });
                Some((Ok(format!("data: {chunk}\n\n")), (it, false)))
            }
            None => Some((Ok("data: [DONE]\n\n".to_string()), (it, true))),
        }
    })
}

async fn start_fake(fail: bool) -> (String, Fake) {
    let fake = Fake { fail, ..Fake::default() };
    let app = Router::new().route("/v1/chat/completions", post(completions)).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}/v1", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("fake serves") });
    (base, fake)
}

async fn app_with_model(base: String) -> crate::helpers::TestApp {
    spawn_app_with(test_db().await, move |s| {
        s.chat_model = Some(ChatModelSettings {
            api_key: "sk-test".into(),
            base_url: base,
            model: "fake-chat".into(),
            timeout: Duration::from_secs(10),
        });
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_replies_stream_to_every_tab_and_are_stored_whole() {
    let (base, fake) = start_fake(false).await;
    let app = app_with_model(base).await;
    let cookie = app.signup("ada").await;
    let mut tab1 = app.connect(&cookie).await;
    let mut tab2 = app.connect(&cookie).await;
    let thread = tab1.create_thread("t").await;
    tab2.recv().await;
    tab1.say(thread.id, "m-1", "what is the capital of France?").await;

    for tab in [&mut tab1, &mut tab2] {
        let frames = tab.read_until(|m| matches!(m, ServerMsg::MessageUpdated(_))).await;
        let deltas: Vec<&str> = frames
            .iter()
            .filter_map(|f| match f {
                ServerMsg::AssistantDelta(d) => Some(d.delta.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(deltas, ["Paris", " is", " the", " capital", "."], "token by token");
        let Some(ServerMsg::MessageUpdated(u)) = frames.last() else { panic!("update") };
        assert_eq!((u.message.role, u.message.text.as_str()), (Role::Assistant, "Paris is the capital."));
    }
    let sent = fake.requests.lock().expect("lock").clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["stream"], true);
    assert_eq!(sent[0]["model"], "fake-chat");
    let messages = sent[0]["messages"].as_array().cloned().unwrap_or_default();
    assert_eq!(messages.first().map(|m| m["role"].clone()), Some("system".into()));
    assert_eq!(messages.last().map(|m| m["content"].clone()), Some("what is the capital of France?".into()));

    // Image requests still go to the image provider, not the model.
    tab1.say(thread.id, "m-2", "draw me a red fox").await;
    tab1.read_until(|m| matches!(m, ServerMsg::JobUpdated(u) if u.job.status.is_finished())).await;
    assert_eq!(fake.requests.lock().expect("lock").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_fails_leaves_a_plain_sentence_not_an_empty_message() {
    let (base, _) = start_fake(true).await;
    let app = app_with_model(base).await;
    let (mut tab, _) = app.new_user_says("ada", "tell me a joke").await;
    let frames = tab.read_until(|m| matches!(m, ServerMsg::MessageUpdated(_))).await;
    let Some(ServerMsg::MessageUpdated(u)) = frames.last() else { panic!("update") };
    assert!(u.message.text.starts_with("I couldn't answer just now"), "{}", u.message.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_cut_off_by_a_restart_says_so_instead_of_staying_empty() {
    let app = crate::helpers::spawn_app().await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    let user = app.store.credentials("ada").await.expect("db").expect("ada").user.id;
    // What a process that died mid-stream leaves behind: an empty assistant message.
    let new = server::store::NewMessage { user, thread: thread.id, client_id: None, role: Role::Assistant, text: "" };
    app.store.add_message(new).await.expect("db");
    let db = app.stop().await;
    let app = crate::helpers::spawn_app_on(db).await;
    let history = app.store.history(user, thread.id, None).await.expect("db").expect("thread");
    assert_eq!(history.messages[0].text, "The answer was interrupted by a server restart.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_decides_what_the_rules_find_ambiguous() {
    let (base, fake) = start_fake(false).await;
    let app = app_with_model(base).await;
    // Neither the rules nor the classifier take this as a request; it talks about looks.
    let (mut tab, thread) =
        app.new_user_says("ada", "I keep wondering what a shark in a bathtub would look like").await;
    let frames = tab.read_until(|m| crate::helpers::finished_job(m).is_some()).await;
    let job = frames.last().and_then(crate::helpers::finished_job).expect("a job");
    assert_eq!((job.status, job.enhanced_prompt.as_str()), (JobStatus::Complete, "a shark in a bathtub"));
    assert_eq!(job.prompt, "I keep wondering what a shark in a bathtub would look like");

    // Talking about paintings is put to the model too; it says no, so it answers in text.
    tab.say(thread.id, "m-2", "which paintings are in the Louvre?").await;
    let frames = tab.read_until(|m| matches!(m, ServerMsg::MessageUpdated(_))).await;
    assert!(!frames.iter().any(|f| matches!(f, ServerMsg::JobUpdated(_))), "no image");
    let sent = fake.requests.lock().expect("lock").clone();
    let classified = sent
        .iter()
        .filter(|r| r["messages"][0]["content"].as_str().is_some_and(|c| c.starts_with("Decide whether")))
        .count();
    assert_eq!((sent.len(), classified), (3, 2), "two classifications, one text reply");
}
