//! A loopback stand-in for a chat completions server (`POST /v1/chat/completions`,
//! `stream: true`), speaking the documented SSE format: text in `delta.content` pieces, tool
//! calls in `delta.tool_calls` pieces (id and name first, the JSON arguments split across
//! chunks), the token count in a last chunk with no choices when `stream_options.include_usage`
//! is asked for, then `data: [DONE]`. What it answers depends on the last user message:
//! - with tools offered, "shark" calls `generate_image` and "darker" calls `edit_last_image`
//!   (every call at index 0, after a piece of white space as some models send);
//! - "draw a shark" calls `generate_image` even when no tools were offered (a misbehaving
//!   server);
//! - "hang" sends headers and then nothing; "cut" sends two pieces and closes the stream;
//! - anything else is answered "Paris is the capital." in five pieces, 30 ms apart.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

/// Tokens the fake reports for every reply.
pub const PROMPT_TOKENS: u64 = 40;
pub const COMPLETION_TOKENS: u64 = 10;

#[derive(Clone, Default)]
pub struct FakeChat {
    pub requests: Arc<Mutex<Vec<serde_json::Value>>>,
    /// Every request fails with HTTP 500.
    pub fail: bool,
    /// Replies being streamed now, and the most there ever were at once.
    pub streaming: Arc<AtomicUsize>,
    pub most_at_once: Arc<AtomicUsize>,
}

/// Counts a reply as streaming until its body is dropped.
struct Streaming(Arc<AtomicUsize>);

impl Drop for Streaming {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl FakeChat {
    pub fn sent(&self) -> Vec<serde_json::Value> {
        self.requests.lock().expect("lock").clone()
    }
}

fn content(piece: &str) -> serde_json::Value {
    serde_json::json!({ "object": "chat.completion.chunk", "choices": [{ "index": 0, "delta": { "content": piece }, "finish_reason": null }] })
}

/// A tool call split the way servers split them: name first, arguments in three pieces.
fn tool_call(id: &str, name: &str, arguments: &str) -> Vec<serde_json::Value> {
    let chars: Vec<char> = arguments.chars().collect();
    let third = chars.len() / 3;
    let pieces: Vec<String> =
        [&chars[..third], &chars[third..2 * third], &chars[2 * third..]].iter().map(|p| p.iter().collect()).collect();
    let mut chunks = vec![content("\n\n")];
    chunks.push(serde_json::json!({ "choices": [{ "index": 0, "delta": { "role": "assistant", "content": null,
        "tool_calls": [{ "index": 0, "id": id, "type": "function", "function": { "name": name, "arguments": "" } }] } }] }));
    for piece in pieces {
        chunks.push(serde_json::json!({ "choices": [{ "index": 0, "delta": {
            "tool_calls": [{ "index": 0, "function": { "arguments": piece } }] } }] }));
    }
    chunks.push(serde_json::json!({ "choices": [{ "index": 0, "delta": {}, "finish_reason": "tool_calls" }] }));
    chunks
}

async fn completions(State(fake): State<FakeChat>, Json(body): Json<serde_json::Value>) -> Response {
    fake.requests.lock().expect("lock").push(body.clone());
    if fake.fail {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({"error": {"message": "down"}})))
            .into_response();
    }
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let last = messages.last().and_then(|m| m["content"].as_str()).unwrap_or_default().to_string();
    let with_tools = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    let last_image = messages
        .iter()
        .rev()
        .filter_map(|m| m["content"].as_str())
        .find_map(|c| c.strip_prefix("[image: ").and_then(|c| c.strip_suffix(']')))
        .map(str::to_string);
    let mut chunks = if last.contains("hang") {
        let never = futures::stream::pending::<Result<String, std::io::Error>>();
        return sse(Body::from_stream(never));
    } else if last.contains("cut") {
        let pieces = ["The answer", " begins"].map(|p| Ok::<_, std::io::Error>(format!("data: {}\n\n", content(p))));
        return sse(Body::from_stream(futures::stream::iter(pieces)));
    } else if last.contains("draw a shark") || (with_tools && last.contains("shark")) {
        let args = serde_json::json!({ "prompt": "a shark in a bathtub", "size": "landscape" }).to_string();
        tool_call("call_a1", "generate_image", &args)
    } else if with_tools && last.contains("darker") {
        let prompt = format!("{}, darker", last_image.unwrap_or_default());
        tool_call("call_b2", "edit_last_image", &serde_json::json!({ "prompt": prompt }).to_string())
    } else {
        let mut text: Vec<serde_json::Value> =
            ["Paris", " is", " the", " capital", "."].iter().map(|p| content(p)).collect();
        text.push(serde_json::json!({ "choices": [{ "index": 0, "delta": {}, "finish_reason": "stop" }] }));
        text
    };
    if body["stream_options"]["include_usage"] == true {
        chunks.push(serde_json::json!({ "choices": [], "usage": {
            "prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS } }));
    }
    let now = fake.streaming.fetch_add(1, Ordering::SeqCst) + 1;
    fake.most_at_once.fetch_max(now, Ordering::SeqCst);
    let counted = Streaming(fake.streaming.clone());
    let stream = futures::stream::unfold((chunks.into_iter(), false, counted), |(mut it, done, counted)| async move {
        if done {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
        match it.next() {
            Some(chunk) => Some((Ok::<_, std::io::Error>(format!("data: {chunk}\n\n")), (it, false, counted))),
            None => Some((Ok("data: [DONE]\n\n".to_string()), (it, true, counted))),
        }
    });
    sse(Body::from_stream(stream))
}

fn sse(body: Body) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Starts the fake; its base URL ends in `/v1`.
pub async fn start(fail: bool) -> (String, FakeChat) {
    let fake = FakeChat { fail, ..FakeChat::default() };
    let app = Router::new().route("/v1/chat/completions", post(completions)).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}/v1", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("fake serves") });
    (base, fake)
}
