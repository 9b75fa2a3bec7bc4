//! A loopback ComfyUI that speaks its documented protocol, scripted per prompt.
//!
//! `GET /ws?clientId=…` (status first, a `feature_flags` answer, previews as binary type 4
//! once metadata was asked for, type 1 otherwise; a reused id drops the older socket),
//! `POST /prompt` (validated: a graph, `client_id`, a canonical UUID `prompt_id`), one
//! worker that runs queued prompts in order (execution_start, executing per node, progress
//! and progress_state per step, previews, executed, execution_success, then the history a
//! moment *after* success, as the real server does), `GET /history/{id}` (`{}` until done),
//! `GET /view`, `POST /upload/image` (checked against each graph's image loaders), `GET /queue`, `POST /queue {"delete"}`, `POST /interrupt`, and the newer
//! `GET /api/jobs/{id}` and `POST /api/jobs/{id}/cancel` (switchable off, as on older
//! servers). Every route is also served under `/api`. It records what clients asked for
//! (prompts, cancels and the route used, bare interrupts) for the tests to check.
//!
//! Faults on request ([`Options`], [`Reply`]): a prompt whose end event is lost on the way
//! (a stalled socket), a `status` broadcast at a steady pace (a busy engine), an
//! `/interrupt` that ignores its `prompt_id` (servers before ComfyUI PR #9607), a
//! `POST /prompt` slow to queue or to answer.
//!
//! The parts: the shared state and the public handle here, the WebSocket side in
//! [`socket`], the HTTP routes in [`routes`], the queue and the prompt worker in [`worker`].
//!
//! `examples/fake_comfyui.rs` serves it on a fixed port for the browser tests; it includes
//! this file by `#[path]`, which is why the submodules name their files by `#[path]` too.

// Relative to this file's directory, so they resolve the same when the example includes
// this file by `#[path]` as when the test crate declares it.
#[path = "fake_comfyui/inputs.rs"]
mod inputs;
#[path = "fake_comfyui/routes.rs"]
mod routes;
#[path = "fake_comfyui/socket.rs"]
mod socket;
#[path = "fake_comfyui/worker.rs"]
mod worker;

use std::collections::{HashMap, VecDeque};
use std::io::Cursor;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::ws::Message;
use serde_json::Value;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

/// How one prompt runs.
#[derive(Clone, Debug)]
pub struct Run {
    pub steps: u32,
    pub step_time: Duration,
    /// A preview every this many steps (0: none).
    pub preview_every: u32,
    /// Fails with `execution_error` at this step.
    pub fail_at: Option<u32>,
    /// Closes the client's socket after this step and refuses it back until the prompt ended,
    /// so the client only learns the outcome by asking.
    pub drop_socket_at: Option<u32>,
}

impl Run {
    pub fn steps(steps: u32) -> Self {
        Run { steps, step_time: Duration::from_millis(10), preview_every: 2, fail_at: None, drop_socket_at: None }
    }

    pub fn slow(steps: u32, step_time: Duration) -> Self {
        Run { step_time, ..Run::steps(steps) }
    }
}

/// The answer to one `POST /prompt`.
#[derive(Clone, Debug)]
pub enum Reply {
    Run(Run),
    /// 400 with `error` and `node_errors`: the checkpoint is not installed.
    NodeErrors,
    /// 200 with an HTML body.
    Garbage,
    /// 200 JSON without `prompt_id`.
    NoPromptId,
    /// This status with a plain-text body.
    Status(u16),
    /// Queues `run` after `queue_after`, then answers after `answer_after` more, whether or
    /// not the client still waits (as aiohttp, which finishes a handler whose client left).
    Slow {
        queue_after: Duration,
        answer_after: Duration,
        run: Run,
    },
}

/// Which route a cancel came by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelRoute {
    /// `POST /api/jobs/{id}/cancel`
    Jobs,
    /// `POST /queue {"delete": [id]}`
    QueueDelete,
    /// `POST /interrupt {"prompt_id": id}`
    Interrupt,
}

#[derive(Clone, Debug)]
pub struct CancelRecord {
    pub route: CancelRoute,
    pub prompt_id: String,
    pub at: Instant,
}

pub struct Options {
    /// Replies in order; after them, `default_run`.
    pub script: Vec<Reply>,
    pub default_run: Run,
    /// Whether `/api/jobs/…` exists (servers before late 2025 lack it).
    pub jobs_api: bool,
    /// Queue numbers (1 for the first prompt accepted) whose end events (`execution_success`
    /// and the `executing` null after it) are lost on the way; the history is kept as usual.
    pub lose_end_of: Vec<u64>,
    /// A `status` to every socket at this pace, as a busy engine's queue changes send.
    pub status_every: Option<Duration>,
    /// `/interrupt` ignores its body and stops whatever runs, as before ComfyUI PR #9607.
    pub global_interrupt: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            script: Vec::new(),
            default_run: Run::steps(4),
            jobs_api: true,
            lose_end_of: Vec::new(),
            status_every: None,
            global_interrupt: false,
        }
    }
}

struct Sock {
    tx: mpsc::UnboundedSender<Message>,
    metadata: Arc<AtomicBool>,
    serial: usize,
}

struct Pending {
    prompt_id: String,
    client_id: String,
    number: u64,
    run: Run,
}

/// The prompt executing now.
struct Running {
    prompt_id: String,
    client_id: String,
    number: u64,
    node: String,
    stop: CancellationToken,
}

#[derive(Default)]
struct Queue {
    pending: VecDeque<Pending>,
    running: Option<Running>,
    number: u64,
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
    default_run: Mutex<Option<Run>>,
    jobs_api: AtomicBool,
    lose_end_of: Vec<u64>,
    global_interrupt: bool,
    vanished: AtomicBool,
    sockets: Mutex<HashMap<String, Sock>>,
    /// Client ids whose sockets are refused until the running prompt ends.
    refused: Mutex<Vec<String>>,
    connections: AtomicUsize,
    first_frames: Mutex<Vec<Value>>,
    prompts: Mutex<Vec<Value>>,
    cancels: Mutex<Vec<CancelRecord>>,
    bare_interrupts: AtomicUsize,
    interrupted: Mutex<Vec<String>>,
    queue: Mutex<Queue>,
    /// Job status for `/api/jobs/{id}`: pending, in_progress, completed, failed, cancelled.
    jobs: Mutex<HashMap<String, Value>>,
    history: Mutex<HashMap<String, Value>>,
    files: Mutex<Vec<String>>,
    /// The input folder: `subfolder/name` → bytes, as `POST /upload/image` stored them.
    inputs: Mutex<HashMap<String, Vec<u8>>>,
    work: Notify,
    png: Vec<u8>,
}

#[derive(Clone)]
pub struct FakeComfyUi {
    pub base_url: String,
    shared: Arc<Shared>,
}

/// A gradient PNG; `tint` varies it (previews differ step to step).
pub fn png(side: u32, tint: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(side, side, |x, y| image::Rgb([(x * 3 % 255) as u8, (y * 5 % 255) as u8, tint]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("encode png");
    out.into_inner()
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().expect("fake lock")
}

impl FakeComfyUi {
    pub async fn start(script: Vec<Reply>) -> Self {
        Self::start_with(Options { script, ..Options::default() }).await
    }

    pub async fn start_with(options: Options) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::serve(listener, options)
    }

    /// Serves on `listener` until the process ends.
    pub fn serve(listener: tokio::net::TcpListener, options: Options) -> Self {
        let shared = Arc::new(Shared {
            script: Mutex::new(options.script.into()),
            default_run: Mutex::new(Some(options.default_run)),
            jobs_api: AtomicBool::new(options.jobs_api),
            lose_end_of: options.lose_end_of,
            global_interrupt: options.global_interrupt,
            png: png(512, 120),
            ..Shared::default()
        });
        let app = routes::router(shared.clone());
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("fake serves") });
        tokio::spawn(worker::worker(shared.clone()));
        if let Some(every) = options.status_every {
            let shared = shared.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    socket::broadcast_status(&shared);
                }
            });
        }
        Self { base_url, shared }
    }

    /// Bodies of the prompts accepted, in order.
    pub fn prompts(&self) -> Vec<Value> {
        lock(&self.shared.prompts).clone()
    }

    pub fn cancels(&self) -> Vec<CancelRecord> {
        lock(&self.shared.cancels).clone()
    }

    /// `POST /interrupt` without a prompt id: a global kill no client of ours should send.
    pub fn bare_interrupts(&self) -> usize {
        self.shared.bare_interrupts.load(Ordering::SeqCst)
    }

    /// Prompts that were stopped while running.
    pub fn interrupted(&self) -> Vec<String> {
        lock(&self.shared.interrupted).clone()
    }

    /// The `/api/jobs` status of a prompt: pending, in_progress, completed, failed or
    /// cancelled (`None`: never queued, or taken off the queue by `POST /queue`).
    pub fn job_status(&self, prompt_id: &str) -> Option<String> {
        lock(&self.shared.jobs).get(prompt_id).and_then(|j| j["status"].as_str()).map(str::to_string)
    }

    /// The first text frame of each socket.
    pub fn first_frames(&self) -> Vec<Value> {
        lock(&self.shared.first_frames).clone()
    }

    /// Sockets opened so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// The input folder's files (`subfolder/name` → bytes), as uploaded.
    pub fn inputs(&self) -> HashMap<String, Vec<u8>> {
        lock(&self.shared.inputs).clone()
    }

    /// The image every prompt saves.
    pub fn png(&self) -> &[u8] {
        &self.shared.png
    }

    /// The engine goes away for good: sockets closed, every request answered 503.
    pub fn vanish(&self) {
        self.shared.vanished.store(true, Ordering::SeqCst);
        let sockets: Vec<String> = lock(&self.shared.sockets).keys().cloned().collect();
        for client in sockets {
            socket::drop_socket(&self.shared, &client);
        }
    }
}
