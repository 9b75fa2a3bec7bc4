//! The HTTP side of the fake: `--api-auth`, `txt2img`/`img2img` (scripted replies, a
//! hang-up that leaves the job running), `/internal/progress`, `/sdapi/v1/progress` and
//! `/sdapi/v1/interrupt`, answered in A1111's shapes.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::engine::run;
use super::{lock, Config, Reply, Shared};

/// The app: A1111's routes as `config` has them (none of `/sdapi/v1` without `--api`),
/// FastAPI's 404 for the rest, behind `--api-auth`.
pub(super) fn router(config: &Config, shared: Arc<Shared>) -> Router {
    let mut app = Router::new();
    if config.api {
        app = app
            .route("/sdapi/v1/txt2img", post(txt2img))
            .route("/sdapi/v1/img2img", post(img2img))
            .route("/sdapi/v1/progress", get(engine_progress))
            .route("/sdapi/v1/interrupt", post(interrupt));
    }
    if config.internal_progress {
        app = app.route("/internal/progress", post(task_progress));
    }
    app.fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({ "detail": "Not Found" }))) })
        .layer(axum::middleware::from_fn_with_state(shared.clone(), basic_auth))
        .with_state(shared)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn basic_auth(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some((user, pass)) = shared.config().auth {
        let expected = format!("Basic {}", b64(format!("{user}:{pass}").as_bytes()));
        if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
            return (StatusCode::UNAUTHORIZED, Json(json!({ "detail": "Incorrect username or password" })))
                .into_response();
        }
    }
    next.run(req).await
}

async fn txt2img(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Response {
    generate(shared, "/sdapi/v1/txt2img", body).await
}

async fn img2img(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Response {
    generate(shared, "/sdapi/v1/img2img", body).await
}

async fn generate(shared: Arc<Shared>, path: &str, body: Value) -> Response {
    let received = Instant::now();
    lock(&shared.requests).push((path.to_string(), body.clone()));
    let reply = lock(&shared.script).pop_front().unwrap_or(Reply::Image);
    if reply == Reply::Unprocessable {
        let detail =
            json!([{ "loc": ["body", "steps"], "msg": "value is not a valid integer", "type": "type_error.integer" }]);
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({ "detail": detail }))).into_response();
    }
    // Like A1111, the job runs to its end even when the client hangs up.
    let job = tokio::spawn(run(shared.clone(), body.clone(), reply, received));
    if reply == Reply::HangUp {
        // The headers go out, then the body breaks off a few steps in; the job runs on.
        let step = shared.config().step;
        let broken = futures::stream::once(async move {
            tokio::time::sleep(step * 3).await;
            Err::<axum::body::Bytes, _>(std::io::Error::other("connection reset"))
        });
        return (StatusCode::OK, axum::body::Body::from_stream(broken)).into_response();
    }
    let interrupted_at_step = job.await.expect("fake job");
    let seed = body["seed"].as_i64().filter(|s| *s >= 0).map_or(shared.config().seed, |s| s as u64);
    let info =
        json!({ "prompt": body["prompt"], "seed": seed, "all_seeds": [seed], "steps": body["steps"] }).to_string();
    match reply {
        Reply::Image => Json(json!({ "images": [b64(&shared.png)], "parameters": body, "info": info })).into_response(),
        Reply::NoImages => Json(json!({ "images": [], "parameters": body, "info": info })).into_response(),
        Reply::Garbage => ([(header::CONTENT_TYPE, "application/json")], "<html>Internal").into_response(),
        Reply::OutOfMemory => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({
                "error": "OutOfMemoryError",
                "detail": "",
                "body": "",
                "errors": format!("CUDA out of memory at step {interrupted_at_step}"),
            })),
        )
            .into_response(),
        Reply::Unprocessable | Reply::HangUp => unreachable!("answered above"),
    }
}

#[derive(Deserialize)]
struct TaskProgressBody {
    id_task: String,
    #[serde(default = "minus_one")]
    id_live_preview: i64,
    #[serde(default = "yes")]
    live_preview: bool,
}

fn minus_one() -> i64 {
    -1
}

fn yes() -> bool {
    true
}

/// `modules/progress.py: progressapi`.
async fn task_progress(State(shared): State<Arc<Shared>>, Json(req): Json<TaskProgressBody>) -> Json<Value> {
    lock(&shared.polls).push((req.id_task.clone(), req.id_live_preview));
    let s = lock(&shared.state);
    let active = s.current_task.as_deref() == Some(req.id_task.as_str());
    let queued = s.pending.contains(&req.id_task);
    let completed = s.finished.contains(&req.id_task);
    if !active {
        let textinfo = match s.pending.iter().position(|t| *t == req.id_task) {
            Some(i) => format!("In queue: {}/{}", i + 1, s.pending.len()),
            None => "Waiting...".to_string(),
        };
        return Json(json!({
            "active": false, "queued": queued, "completed": completed, "progress": null, "eta": null,
            "live_preview": null, "id_live_preview": -1, "textinfo": textinfo,
        }));
    }
    let progress = if s.sampling_steps > 0 { s.sampling_step as f64 / s.sampling_steps as f64 } else { 0.0 };
    let mut live_preview = Value::Null;
    let mut id_live_preview = req.id_live_preview;
    if req.live_preview && s.id_live_preview != req.id_live_preview {
        if let Some(image) = &s.current_image {
            live_preview = format!("data:image/png;base64,{}", b64(image)).into();
            id_live_preview = s.id_live_preview;
            lock(&shared.previews_sent).push((req.id_task.clone(), id_live_preview));
        }
    }
    Json(json!({
        "active": true, "queued": false, "completed": false, "progress": progress, "eta": 1.0,
        "live_preview": live_preview, "id_live_preview": id_live_preview,
        "textinfo": format!("Sampling step {}/{}", s.sampling_step, s.sampling_steps),
    }))
}

#[derive(Deserialize)]
struct ProgressQuery {
    #[serde(default)]
    skip_current_image: bool,
}

/// `modules/api/api.py: progressapi`.
async fn engine_progress(State(shared): State<Arc<Shared>>, Query(q): Query<ProgressQuery>) -> Json<Value> {
    let s = lock(&shared.state);
    let state = json!({
        "skipped": false, "interrupted": s.interrupted, "stopping_generation": false, "job": "",
        "job_count": s.job_count, "job_timestamp": "20240101000000", "job_no": s.job_no,
        "sampling_step": s.sampling_step, "sampling_steps": s.sampling_steps,
    });
    if s.job_count == 0 {
        return Json(
            json!({ "progress": 0, "eta_relative": 0, "state": state, "current_image": null, "textinfo": null }),
        );
    }
    let progress = if s.sampling_steps > 0 { s.sampling_step as f64 / s.sampling_steps as f64 } else { 0.0 };
    let current_image = match (&s.current_image, q.skip_current_image) {
        (Some(image), false) => Value::from(b64(image)),
        _ => Value::Null,
    };
    Json(
        json!({ "progress": progress, "eta_relative": 1.0, "state": state, "current_image": current_image, "textinfo": null }),
    )
}

async fn interrupt(State(shared): State<Arc<Shared>>) -> Json<Value> {
    lock(&shared.interrupts).push(Instant::now());
    let mut s = lock(&shared.state);
    if s.job_count != 0 {
        s.interrupted = true;
    }
    Json(json!({}))
}
