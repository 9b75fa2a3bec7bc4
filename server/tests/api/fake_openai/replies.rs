//! How each scripted [`Reply`] goes on the wire: JSON, event streams (paced, endless or
//! hostile), errors with their headers, and the watch that records a client hanging up.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::{json, Value};

use super::rules::Asked;
use super::{png, Reply, Shared};

pub(super) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Sets `hung_up` if dropped before the response body was sent to the end.
struct HangUpWatch {
    shared: Arc<Shared>,
    finished: bool,
}

impl HangUpWatch {
    fn finish(&mut self) {
        self.finished = true;
    }
}

impl Drop for HangUpWatch {
    fn drop(&mut self) {
        if !self.finished {
            self.shared.hung_up.store(true, Ordering::SeqCst);
        }
    }
}

/// `head`, then `fill` repeated in 1 MiB chunks up to `bytes` in all, counted as sent.
fn endless(shared: Arc<Shared>, head: String, fill: Vec<u8>, bytes: u64, content_type: &'static str) -> Response {
    // Whole repetitions of `fill`, so events stay whole across chunks.
    let size = ((1 << 20) / fill.len()).max(1) * fill.len();
    let chunk = axum::body::Bytes::from(fill.iter().copied().cycle().take(size).collect::<Vec<u8>>());
    let first = axum::body::Bytes::from(head);
    let stream = futures::stream::unfold((0u64, true), move |(sent, first_time)| {
        let (chunk, first, shared) = (chunk.clone(), first.clone(), shared.clone());
        async move {
            if sent >= bytes {
                return None;
            }
            let piece = if first_time { first } else { chunk };
            shared.hostile_sent.fetch_add(piece.len() as u64, Ordering::SeqCst);
            Some((Ok::<_, std::io::Error>(piece.clone()), (sent + piece.len() as u64, false)))
        }
    });
    ([(header::CONTENT_TYPE, content_type)], Body::from_stream(stream)).into_response()
}

pub(super) fn answer(shared: Arc<Shared>, asked: Asked) -> Response {
    let scripted = shared.script.lock().expect("lock").pop_front();
    let reply =
        scripted.or_else(|| shared.default_reply.lock().expect("lock").clone()).unwrap_or(Reply::B64 { revised: None });
    match reply {
        Reply::B64 { revised } => {
            let data: Vec<Value> =
                (0..asked.n).map(|_| json!({ "b64_json": b64(&shared.png), "revised_prompt": revised })).collect();
            let output = asked.output_tokens();
            Json(json!({ "created": 1, "data": data, "usage": { "input_tokens": 50, "output_tokens": output, "total_tokens": 50 + output } }))
                .into_response()
        }
        Reply::Url => {
            let url = format!("{}/files/image.png", shared.base.lock().expect("lock"));
            Json(json!({ "created": 1, "data": [{ "url": url }] })).into_response()
        }
        Reply::NoImage => Json(json!({ "created": 1, "data": [] })).into_response(),
        Reply::BrokenJson => ([(header::CONTENT_TYPE, "application/json")], "{\"data\": [").into_response(),
        Reply::RetryAfterInfinite => {
            let body =
                json!({ "error": { "message": "fake rate limit", "type": "requests", "code": "rate_limit_exceeded" } });
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "inf")], Json(body)).into_response()
        }
        Reply::Error { status, code, retry_after_ms } => {
            let mut res = (
                StatusCode::from_u16(status).expect("status"),
                Json(json!({ "error": { "message": format!("fake {code}"), "type": "invalid_request_error", "code": code } })),
            )
                .into_response();
            if let Some(ms) = retry_after_ms {
                res.headers_mut().insert("retry-after-ms", ms.to_string().parse().expect("header"));
            }
            res
        }
        Reply::Stream { partials, gap } => {
            let watch = HangUpWatch { shared: shared.clone(), finished: false };
            let events: Vec<String> = (0..partials)
                .map(|i| {
                    format!(
                        "event: image_generation.partial_image\ndata: {}\n\n",
                        json!({ "type": "image_generation.partial_image", "b64_json": b64(&png(32)), "partial_image_index": i })
                    )
                })
                .chain(std::iter::once(format!(
                    "event: image_generation.completed\ndata: {}\n\n",
                    json!({ "type": "image_generation.completed", "b64_json": b64(&shared.png), "usage": { "total_tokens": 10 } })
                )))
                .collect();
            let stream = futures::stream::unfold(
                (events.into_iter(), watch, true),
                move |(mut it, mut watch, first)| async move {
                    if !first {
                        tokio::time::sleep(gap).await;
                    }
                    match it.next() {
                        Some(chunk) => Some((Ok::<_, std::io::Error>(chunk), (it, watch, false))),
                        None => {
                            watch.finish();
                            None
                        }
                    }
                },
            );
            ([(header::CONTENT_TYPE, "text/event-stream")], Body::from_stream(stream)).into_response()
        }
        Reply::HugeJson { bytes } => endless(
            shared,
            "{\"created\":1,\"data\":[{\"b64_json\":\"".into(),
            b"AAAA".to_vec(),
            bytes,
            "application/json",
        ),
        Reply::EndlessEvent { bytes } => endless(
            shared,
            "event: image_generation.completed\ndata: {\"b64_json\":\"".into(),
            b"AAAA".to_vec(),
            bytes,
            "text/event-stream",
        ),
        Reply::EndlessEvents { bytes } => {
            let event =
                format!("event: keepalive\ndata: {{\"type\":\"keepalive\",\"pad\":\"{}\"}}\n\n", "x".repeat(1000));
            endless(shared, String::new(), event.into_bytes(), bytes, "text/event-stream")
        }
        Reply::UrlTo(url) => Json(json!({ "created": 1, "data": [{ "url": url }] })).into_response(),
        Reply::Image(bytes) => Json(json!({ "created": 1, "data": [{ "b64_json": b64(&bytes) }] })).into_response(),
        Reply::Hang => {
            let watch = HangUpWatch { shared: shared.clone(), finished: false };
            let stream = futures::stream::unfold(watch, |watch| async move {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Some((Ok::<_, std::io::Error>(String::new()), watch))
            });
            ([(header::CONTENT_TYPE, "text/event-stream")], Body::from_stream(stream)).into_response()
        }
    }
}
