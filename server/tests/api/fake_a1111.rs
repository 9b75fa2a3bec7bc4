//! A loopback AUTOMATIC1111 that behaves like the real one where Easel can tell: one global
//! state and one queue lock, `txt2img`/`img2img` that block while `steps` sampling steps are
//! simulated, the task-scoped `/internal/progress` (live previews with an incrementing id,
//! none repeated for an echoed id), the engine-wide `/sdapi/v1/progress`, a global
//! `/sdapi/v1/interrupt` after which the running job returns early with its image, and a
//! job that keeps running when its client hangs up. Failures are scripted per request;
//! a missing API (`--api` off) and a server without `/internal/progress` are modes.

use std::collections::VecDeque;
use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

/// What one generation request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// The image, after the steps.
    Image,
    /// `{"images": []}` after the steps.
    NoImages,
    /// A1111's exception handler after a few steps: 500 `{"error", "detail", "body", "errors"}`.
    OutOfMemory,
    /// FastAPI's validation error, at once.
    Unprocessable,
    /// 200 with a body that is not JSON.
    Garbage,
    /// The connection breaks after a few steps (a proxy or the network gave up) while the
    /// job goes on running on the engine.
    HangUp,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// How long one sampling step takes.
    pub step: Duration,
    /// A live preview every this many steps.
    pub preview_every: u32,
    /// `false`: started without `--api`, every `/sdapi/v1` route is FastAPI's 404.
    pub api: bool,
    /// `false`: a compatible server without `/internal/progress`.
    pub internal_progress: bool,
    /// `--api-auth user:pass`.
    pub auth: Option<(&'static str, &'static str)>,
    /// The seed answered when the request asks for a random one (-1).
    pub seed: u64,
    pub script: Vec<Reply>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            step: Duration::from_millis(40),
            preview_every: 2,
            api: true,
            internal_progress: true,
            auth: None,
            seed: 1234,
            script: Vec::new(),
        }
    }
}

/// `shared.state` and the task lists of `modules/progress.py`.
#[derive(Debug, Default)]
struct EngineState {
    current_task: Option<String>,
    pending: Vec<String>,
    finished: Vec<String>,
    job_count: i64,
    job_no: i64,
    sampling_step: i64,
    sampling_steps: i64,
    id_live_preview: i64,
    current_image: Option<Vec<u8>>,
    interrupted: bool,
}

#[derive(Debug, Clone)]
pub struct Run {
    pub task: String,
    /// When its generation request arrived (before it waited for the queue lock).
    pub received: Instant,
    pub started: Instant,
    pub ended: Instant,
    pub interrupted: bool,
}

#[derive(Default)]
struct Shared {
    config: Mutex<Option<Config>>,
    script: Mutex<VecDeque<Reply>>,
    state: Mutex<EngineState>,
    queue_lock: tokio::sync::Mutex<()>,
    requests: Mutex<Vec<(String, Value)>>,
    polls: Mutex<Vec<(String, i64)>>,
    previews_sent: Mutex<Vec<(String, i64)>>,
    interrupts: Mutex<Vec<Instant>>,
    runs: Mutex<Vec<Run>>,
    png: Vec<u8>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().expect("fake lock")
}

impl Shared {
    fn config(&self) -> Config {
        lock(&self.config).clone().expect("configured")
    }
}

#[derive(Clone)]
pub struct FakeA1111 {
    pub base_url: String,
    shared: Arc<Shared>,
}

/// A small PNG, different for each `seed` (previews differ from one another and from the result).
pub fn png(side: u32, seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(side, side, |x, y| {
        image::Rgb([(x * 7 % 255) as u8 ^ seed, (y * 3 % 255) as u8, seed.wrapping_mul(29)])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("encode png");
    out.into_inner()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl FakeA1111 {
    pub async fn start() -> Self {
        Self::start_with(Config::default()).await
    }

    pub async fn start_with(config: Config) -> Self {
        let shared = Arc::new(Shared { png: png(64, 0), ..Shared::default() });
        *lock(&shared.script) = config.script.iter().copied().collect();
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
        *lock(&shared.config) = Some(config);
        let app = app
            .fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({ "detail": "Not Found" }))) })
            .layer(axum::middleware::from_fn_with_state(shared.clone(), basic_auth))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("fake serves") });
        Self { base_url, shared }
    }

    /// Generation requests: (path, body).
    pub fn requests(&self) -> Vec<(String, Value)> {
        lock(&self.shared.requests).clone()
    }

    /// `/internal/progress` polls: (id_task, id_live_preview sent).
    pub fn polls(&self) -> Vec<(String, i64)> {
        lock(&self.shared.polls).clone()
    }

    /// Live previews answered: (id_task, id_live_preview).
    pub fn previews_sent(&self) -> Vec<(String, i64)> {
        lock(&self.shared.previews_sent).clone()
    }

    pub fn interrupts(&self) -> Vec<Instant> {
        lock(&self.shared.interrupts).clone()
    }

    /// Finished runs, in order.
    pub fn runs(&self) -> Vec<Run> {
        lock(&self.shared.runs).clone()
    }

    pub fn png(&self) -> &[u8] {
        &self.shared.png
    }

    /// Waits until `done` holds of the fake (polling), for at most `wait`.
    pub async fn until(&self, wait: Duration, done: impl Fn(&Self) -> bool) -> bool {
        let deadline = Instant::now() + wait;
        while !done(self) {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }
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

/// One job under the queue lock, as `modules/call_queue.py` and `shared.state` run it;
/// returns the step it stopped at.
async fn run(shared: Arc<Shared>, body: Value, reply: Reply, received: Instant) -> i64 {
    let config = shared.config();
    let task = body["force_task_id"].as_str().map_or_else(|| format!("task({})", uuid::Uuid::new_v4()), str::to_string);
    let steps = body["steps"].as_i64().unwrap_or(20);
    lock(&shared.state).pending.push(task.clone());
    let _queue = shared.queue_lock.lock().await;
    let started = Instant::now();
    {
        let mut s = lock(&shared.state);
        s.pending.retain(|t| *t != task);
        s.current_task = Some(task.clone());
        // state.begin()
        s.job_count = 1;
        s.job_no = 0;
        s.sampling_step = 0;
        s.sampling_steps = steps;
        s.id_live_preview = 0;
        s.current_image = None;
        s.interrupted = false;
    }
    let fail_at = if reply == Reply::OutOfMemory { 2 } else { steps };
    let mut done = 0;
    for step in 1..=fail_at {
        tokio::time::sleep(config.step).await;
        let mut s = lock(&shared.state);
        if s.interrupted {
            break;
        }
        s.sampling_step = step;
        done = step;
        if step % i64::from(config.preview_every.max(1)) == 0 {
            s.current_image = Some(png(16, step as u8));
            s.id_live_preview += 1;
        }
    }
    if !lock(&shared.state).interrupted {
        // Decoding the latent (VAE) after the last step: the last step count stays visible.
        tokio::time::sleep(config.step).await;
    }
    let interrupted = {
        // state.end(): the counters go idle, sampling_step is left as it was.
        let mut s = lock(&shared.state);
        s.current_task = None;
        s.finished.push(task.clone());
        s.job_count = 0;
        s.interrupted
    };
    lock(&shared.runs).push(Run { task, received, started, ended: Instant::now(), interrupted });
    done
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
