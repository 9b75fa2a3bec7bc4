//! A loopback AUTOMATIC1111 that behaves like the real one where Easel can tell: one global
//! state and one queue lock, `txt2img`/`img2img` that block while `steps` sampling steps are
//! simulated, the task-scoped `/internal/progress` (live previews with an incrementing id,
//! none repeated for an echoed id), the engine-wide `/sdapi/v1/progress`, a global
//! `/sdapi/v1/interrupt` after which the running job returns early with its image, and a
//! job that keeps running when its client hangs up. Failures are scripted per request;
//! a missing API (`--api` off) and a server without `/internal/progress` are modes.
//!
//! This file is the API the tests use (`FakeA1111`, `Config`, `Reply`, `Run`, `png`) and the
//! state both halves share; `routes` answers the HTTP requests and `engine` runs the jobs.

mod engine;
mod routes;

use std::collections::VecDeque;
use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use engine::EngineState;

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

impl FakeA1111 {
    pub async fn start() -> Self {
        Self::start_with(Config::default()).await
    }

    pub async fn start_with(config: Config) -> Self {
        let shared = Arc::new(Shared { png: png(64, 0), ..Shared::default() });
        *lock(&shared.script) = config.script.iter().copied().collect();
        let app = routes::router(&config, shared.clone());
        *lock(&shared.config) = Some(config);
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
