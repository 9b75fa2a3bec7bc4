//! A loopback ComfyUI that speaks its documented protocol, scripted per prompt.
//!
//! `GET /ws?clientId=…` (status first, a `feature_flags` answer, previews as binary type 4
//! once metadata was asked for, type 1 otherwise; a reused id drops the older socket),
//! `POST /prompt` (validated: a graph, `client_id`, a canonical UUID `prompt_id`), one
//! worker that runs queued prompts in order (execution_start, executing per node, progress
//! and progress_state per step, previews, executed, execution_success, then the history a
//! moment *after* success, as the real server does), `GET /history/{id}` (`{}` until done),
//! `GET /view`, `GET /queue`, `POST /queue {"delete"}`, `POST /interrupt`, and the newer
//! `GET /api/jobs/{id}` and `POST /api/jobs/{id}/cancel` (switchable off, as on older
//! servers). Every route is also served under `/api`. It records what clients asked for
//! (prompts, cancels and the route used, bare interrupts) for the tests to check.
//!
//! Faults on request ([`Options`], [`Reply`]): a prompt whose end event is lost on the way
//! (a stalled socket), a `status` broadcast at a steady pace (a busy engine), an
//! `/interrupt` that ignores its `prompt_id` (servers before ComfyUI PR #9607), a
//! `POST /prompt` slow to queue or to answer.
//!
//! `examples/fake_comfyui.rs` serves it on a fixed port for the browser tests.

use std::collections::{HashMap, VecDeque};
use std::io::Cursor;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
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
        let routes = || {
            Router::new()
                .route("/ws", get(socket))
                .route("/prompt", post(submit))
                .route("/history/{id}", get(history))
                .route("/view", get(view))
                .route("/queue", get(queue).post(queue_delete))
                .route("/interrupt", post(interrupt))
        };
        // Not ComfyUI's: what the browser test reads to see that Cancel reached the engine.
        let records = Router::new().route("/__fake/records", get(records));
        let jobs = Router::new().route("/jobs/{id}", get(job)).route("/jobs/{id}/cancel", post(job_cancel));
        let app = routes()
            .nest("/api", routes().merge(jobs))
            .merge(records)
            .layer(axum::middleware::from_fn_with_state(shared.clone(), unless_vanished))
            .with_state(shared.clone());
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("fake serves") });
        tokio::spawn(worker(shared.clone()));
        if let Some(every) = options.status_every {
            let shared = shared.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    broadcast_status(&shared);
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

    /// The image every prompt saves.
    pub fn png(&self) -> &[u8] {
        &self.shared.png
    }

    /// The engine goes away for good: sockets closed, every request answered 503.
    pub fn vanish(&self) {
        self.shared.vanished.store(true, Ordering::SeqCst);
        let sockets: Vec<String> = lock(&self.shared.sockets).keys().cloned().collect();
        for client in sockets {
            drop_socket(&self.shared, &client);
        }
    }
}

async fn unless_vanished(
    State(shared): State<Arc<Shared>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if shared.vanished.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "gone").into_response();
    }
    next.run(request).await
}

fn send(shared: &Shared, client_id: &str, kind: &str, data: Value) {
    if let Some(sock) = lock(&shared.sockets).get(client_id) {
        let _ = sock.tx.send(Message::Text(json!({ "type": kind, "data": data }).to_string().into()));
    }
}

fn broadcast(shared: &Shared, kind: &str, data: Value) {
    let text = json!({ "type": kind, "data": data }).to_string();
    for sock in lock(&shared.sockets).values() {
        let _ = sock.tx.send(Message::Text(text.clone().into()));
    }
}

fn queue_remaining(shared: &Shared) -> usize {
    let q = lock(&shared.queue);
    q.pending.len() + usize::from(q.running.is_some())
}

fn status_data(shared: &Shared, sid: Option<&str>) -> Value {
    let mut data = json!({ "status": { "exec_info": { "queue_remaining": queue_remaining(shared) } } });
    if let Some(sid) = sid {
        data["sid"] = sid.into();
    }
    data
}

fn broadcast_status(shared: &Shared) {
    broadcast(shared, "status", status_data(shared, None));
}

/// A preview for one client: type 4 with metadata if it asked for it, type 1 otherwise.
fn send_preview(shared: &Shared, client_id: &str, prompt_id: &str, image: &[u8]) {
    let sockets = lock(&shared.sockets);
    let Some(sock) = sockets.get(client_id) else { return };
    let frame = if sock.metadata.load(Ordering::SeqCst) {
        let meta = json!({ "node_id": "3", "prompt_id": prompt_id, "display_node_id": "3", "parent_node_id": null, "real_node_id": "3", "image_type": "image/png" }).to_string();
        let mut frame = 4u32.to_be_bytes().to_vec();
        frame.extend((meta.len() as u32).to_be_bytes());
        frame.extend(meta.as_bytes());
        frame.extend(image);
        frame
    } else {
        let mut frame = 1u32.to_be_bytes().to_vec();
        frame.extend(2u32.to_be_bytes());
        frame.extend(image);
        frame
    };
    let _ = sock.tx.send(Message::Binary(frame.into()));
}

/// Closes a client's socket, as a network blip would.
fn drop_socket(shared: &Shared, client_id: &str) {
    if let Some(sock) = lock(&shared.sockets).remove(client_id) {
        let _ = sock.tx.send(Message::Close(None));
    }
}

async fn socket(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let client_id = query.get("clientId").cloned().unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    if lock(&shared.refused).contains(&client_id) {
        return (StatusCode::SERVICE_UNAVAILABLE, "refused for the test").into_response();
    }
    // Counted at the handshake: the client may be done before the session task runs.
    let serial = shared.connections.fetch_add(1, Ordering::SeqCst);
    upgrade.on_upgrade(move |ws| session(shared, client_id, serial, ws))
}

async fn session(shared: Arc<Shared>, client_id: String, serial: usize, ws: WebSocket) {
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    let metadata = Arc::new(AtomicBool::new(false));
    // A reused id drops the older socket, as the real server does.
    if let Some(old) =
        lock(&shared.sockets).insert(client_id.clone(), Sock { tx: tx.clone(), metadata: metadata.clone(), serial })
    {
        let _ = old.tx.send(Message::Close(None));
    }
    let writer = tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            let close = matches!(message, Message::Close(_));
            if sink.send(message).await.is_err() || close {
                break;
            }
        }
    });
    let _ = tx.send(Message::Text(
        json!({ "type": "status", "data": status_data(&shared, Some(&client_id)) }).to_string().into(),
    ));
    // On a reconnect, only the node executing now is said again.
    let running = lock(&shared.queue)
        .running
        .as_ref()
        .filter(|r| r.client_id == client_id)
        .map(|r| (r.prompt_id.clone(), r.node.clone()));
    if let Some((prompt_id, node)) = running {
        send(&shared, &client_id, "executing", json!({ "node": node, "display_node": node, "prompt_id": prompt_id }));
    }
    let mut first = true;
    while let Some(Ok(message)) = stream.next().await {
        let Message::Text(text) = message else { continue };
        let Ok(value) = serde_json::from_str::<Value>(&text) else { continue };
        if first {
            lock(&shared.first_frames).push(value.clone());
            first = false;
        }
        if value["type"] == "feature_flags" {
            let wants = value["data"]["supports_preview_metadata"].as_bool() == Some(true);
            metadata.store(wants, Ordering::SeqCst);
            let answer = json!({ "type": "feature_flags", "data": { "supports_preview_metadata": true, "max_upload_size": 104857600 } });
            let _ = tx.send(Message::Text(answer.to_string().into()));
        }
    }
    {
        let mut sockets = lock(&shared.sockets);
        if sockets.get(&client_id).is_some_and(|s| s.serial == serial) {
            sockets.remove(&client_id);
        }
    }
    writer.abort();
}

fn is_canonical_uuid(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok_and(|u| u.hyphenated().to_string() == id)
}

fn rejected(kind: &str, message: &str) -> Response {
    let error =
        json!({ "error": { "type": kind, "message": message, "details": "", "extra_info": {} }, "node_errors": {} });
    (StatusCode::BAD_REQUEST, Json(error)).into_response()
}

async fn submit(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else { return rejected("invalid_json", "Invalid JSON") };
    let graph_ok = body["prompt"]
        .as_object()
        .is_some_and(|g| !g.is_empty() && g.values().all(|n| n["class_type"].is_string() && n["inputs"].is_object()));
    if !graph_ok {
        return rejected("no_prompt", "No prompt provided");
    }
    let Some(client_id) = body["client_id"].as_str().map(str::to_string) else {
        return rejected("invalid_prompt", "client_id is required by this fake");
    };
    let prompt_id = match body["prompt_id"].as_str() {
        Some(id) if is_canonical_uuid(id) => id.to_string(),
        _ => return rejected("invalid_prompt_id", "prompt_id must be a canonical lowercase UUID"),
    };
    lock(&shared.prompts).push(body.clone());
    let reply = lock(&shared.script).pop_front();
    let run = match reply {
        Some(Reply::Run(run)) => run,
        None => lock(&shared.default_run).clone().unwrap_or_else(|| Run::steps(4)),
        Some(Reply::NodeErrors) => {
            let errors = json!({
                "error": { "type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation", "details": "", "extra_info": {} },
                "node_errors": { "4": { "errors": [{ "type": "value_not_in_list", "message": "Value not in list", "details": "ckpt_name: 'sd_xl_base_1.0.safetensors' not in ['v1-5-pruned-emaonly.safetensors']", "extra_info": {} }], "dependent_outputs": ["9"], "class_type": "CheckpointLoaderSimple" } }
            });
            return (StatusCode::BAD_REQUEST, Json(errors)).into_response();
        }
        Some(Reply::Garbage) => {
            return ([(header::CONTENT_TYPE, "text/html")], "<html>502 Bad Gateway</html>").into_response()
        }
        Some(Reply::NoPromptId) => return Json(json!({ "number": 1, "node_errors": {} })).into_response(),
        Some(Reply::Status(code)) => {
            return (StatusCode::from_u16(code).expect("status"), "scripted failure").into_response();
        }
        Some(Reply::Slow { queue_after, answer_after, run }) => {
            // In a task of its own: a client that gives up does not stop it.
            let task = tokio::spawn(async move {
                tokio::time::sleep(queue_after).await;
                let number = enqueue(&shared, &prompt_id, client_id, run);
                tokio::time::sleep(answer_after).await;
                Json(json!({ "prompt_id": prompt_id, "number": number, "node_errors": {} })).into_response()
            });
            return task.await.expect("the slow submit");
        }
    };
    let number = enqueue(&shared, &prompt_id, client_id, run);
    Json(json!({ "prompt_id": prompt_id, "number": number, "node_errors": {} })).into_response()
}

/// Puts a prompt at the back of the queue; its number.
fn enqueue(shared: &Shared, prompt_id: &str, client_id: String, run: Run) -> u64 {
    let number = {
        let mut q = lock(&shared.queue);
        q.number += 1;
        let number = q.number;
        q.pending.push_back(Pending { prompt_id: prompt_id.to_string(), client_id, number, run });
        number
    };
    lock(&shared.jobs)
        .insert(prompt_id.to_string(), json!({ "id": prompt_id, "status": "pending", "create_time": now_ms() }));
    broadcast_status(shared);
    shared.work.notify_one();
    number
}

/// Runs queued prompts one at a time, as ComfyUI's prompt worker does.
async fn worker(shared: Arc<Shared>) {
    loop {
        let next = {
            let mut q = lock(&shared.queue);
            let next = q.pending.pop_front();
            if let Some(p) = &next {
                q.running = Some(Running {
                    prompt_id: p.prompt_id.clone(),
                    client_id: p.client_id.clone(),
                    number: p.number,
                    node: String::new(),
                    stop: CancellationToken::new(),
                });
            }
            next
        };
        let Some(pending) = next else {
            shared.work.notified().await;
            continue;
        };
        execute(&shared, &pending).await;
        lock(&shared.queue).running = None;
        lock(&shared.refused).retain(|c| c != &pending.client_id);
        broadcast_status(&shared);
    }
}

fn set_job(shared: &Shared, id: &str, status: &str, extra: Value) {
    let mut job = json!({ "id": id, "status": status, "create_time": now_ms() });
    if let (Some(job), Some(extra)) = (job.as_object_mut(), extra.as_object()) {
        job.extend(extra.clone());
    }
    lock(&shared.jobs).insert(id.to_string(), job);
}

fn executing(shared: &Shared, p: &Pending, node: &str) {
    if let Some(running) = lock(&shared.queue).running.as_mut() {
        running.node = node.to_string();
    }
    send(shared, &p.client_id, "executing", json!({ "node": node, "display_node": node, "prompt_id": p.prompt_id }));
}

fn history_entry(p: &Pending, status: &str, messages: Value, outputs: Value) -> Value {
    json!({
        "prompt": [p.number, p.prompt_id, {}, { "client_id": p.client_id }, ["9"]],
        "outputs": outputs,
        "status": { "status_str": status, "completed": status == "success", "messages": messages },
        "meta": {}
    })
}

async fn execute(shared: &Arc<Shared>, p: &Pending) {
    let id = p.prompt_id.as_str();
    let stop = lock(&shared.queue).running.as_ref().map(|r| r.stop.clone()).unwrap_or_default();
    set_job(shared, id, "in_progress", json!({ "execution_start_time": now_ms() }));
    send(shared, &p.client_id, "execution_start", json!({ "prompt_id": id, "timestamp": now_ms() }));
    send(shared, &p.client_id, "execution_cached", json!({ "nodes": [], "prompt_id": id, "timestamp": now_ms() }));
    for node in ["4", "6", "7", "5", "3"] {
        executing(shared, p, node);
    }
    let run = &p.run;
    for step in 1..=run.steps {
        tokio::select! {
            _ = tokio::time::sleep(run.step_time) => {}
            _ = stop.cancelled() => {
                let data = json!({ "prompt_id": id, "node_id": "3", "node_type": "KSampler", "executed": ["4", "5", "6", "7"], "timestamp": now_ms() });
                broadcast(shared, "execution_interrupted", data.clone());
                lock(&shared.interrupted).push(id.to_string());
                let entry = history_entry(p, "error", json!([["execution_interrupted", data]]), json!({}));
                lock(&shared.history).insert(id.to_string(), entry);
                set_job(shared, id, "cancelled", json!({}));
                return;
            }
        }
        if run.fail_at == Some(step) {
            let data = json!({
                "prompt_id": id, "node_id": "3", "node_type": "KSampler", "executed": ["4", "5", "6", "7"],
                "exception_message": "Allocation on device 0 would exceed allowed memory. (out of memory)\n",
                "exception_type": "torch.OutOfMemoryError", "traceback": ["  File \"execution.py\", line 1\n"],
                "current_inputs": {}, "current_outputs": {}, "timestamp": now_ms()
            });
            send(shared, &p.client_id, "execution_error", data.clone());
            let entry = history_entry(p, "error", json!([["execution_error", data.clone()]]), json!({}));
            lock(&shared.history).insert(id.to_string(), entry);
            set_job(shared, id, "failed", json!({ "execution_error": data }));
            return;
        }
        let state = json!({ "value": f64::from(step), "max": f64::from(run.steps), "state": "running", "node_id": "3", "prompt_id": id, "display_node_id": "3", "parent_node_id": null, "real_node_id": "3" });
        send(shared, &p.client_id, "progress_state", json!({ "prompt_id": id, "nodes": { "3": state } }));
        send(
            shared,
            &p.client_id,
            "progress",
            json!({ "value": step, "max": run.steps, "prompt_id": id, "node": "3" }),
        );
        if run.preview_every > 0 && step % run.preview_every == 0 {
            send_preview(shared, &p.client_id, id, &png(64, (step * 8 % 255) as u8));
        }
        if run.drop_socket_at == Some(step) {
            lock(&shared.refused).push(p.client_id.clone());
            drop_socket(shared, &p.client_id);
        }
    }
    executing(shared, p, "8");
    executing(shared, p, "9");
    let filename = {
        let mut files = lock(&shared.files);
        let name = format!("easel_{:05}_.png", files.len() + 1);
        files.push(name.clone());
        name
    };
    let images = json!([{ "filename": filename, "subfolder": "", "type": "output" }]);
    send(
        shared,
        &p.client_id,
        "executed",
        json!({ "node": "9", "display_node": "9", "output": { "images": images }, "prompt_id": id }),
    );
    if !shared.lose_end_of.contains(&p.number) {
        send(shared, &p.client_id, "execution_success", json!({ "prompt_id": id, "timestamp": now_ms() }));
        send(shared, &p.client_id, "executing", json!({ "node": null, "prompt_id": id }));
    }
    // The real worker stores the history only after the executor returned.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let messages = json!([["execution_start", { "prompt_id": id }], ["execution_success", { "prompt_id": id }]]);
    let entry = history_entry(p, "success", messages, json!({ "9": { "images": images } }));
    lock(&shared.history).insert(id.to_string(), entry);
    set_job(shared, id, "completed", json!({ "outputs": { "9": { "images": images } } }));
}

async fn history(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Json<Value> {
    match lock(&shared.history).get(&id) {
        Some(entry) => Json(json!({ id: entry })),
        None => Json(json!({})),
    }
}

async fn view(State(shared): State<Arc<Shared>>, Query(query): Query<HashMap<String, String>>) -> Response {
    let known = query.get("filename").is_some_and(|f| lock(&shared.files).contains(f));
    if !known || query.get("type").map(String::as_str) != Some("output") {
        return (StatusCode::NOT_FOUND, "404: Not Found").into_response();
    }
    ([(header::CONTENT_TYPE, "image/png")], shared.png.clone()).into_response()
}

async fn queue(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let q = lock(&shared.queue);
    let item = |number: u64, id: &str, client: &str| json!([number, id, {}, { "client_id": client }, ["9"]]);
    let running: Vec<Value> = q.running.iter().map(|r| item(r.number, &r.prompt_id, &r.client_id)).collect();
    let pending: Vec<Value> = q.pending.iter().map(|p| item(p.number, &p.prompt_id, &p.client_id)).collect();
    Json(json!({ "queue_running": running, "queue_pending": pending }))
}

fn record(shared: &Shared, route: CancelRoute, prompt_id: &str) {
    lock(&shared.cancels).push(CancelRecord { route, prompt_id: prompt_id.to_string(), at: Instant::now() });
}

/// Takes a waiting prompt off the queue; whether it was there.
fn dequeue(shared: &Shared, id: &str) -> bool {
    let mut q = lock(&shared.queue);
    let before = q.pending.len();
    q.pending.retain(|p| p.prompt_id != id);
    before != q.pending.len()
}

/// Interrupts the running prompt if it is `id` (any prompt when `None`).
fn interrupt_running(shared: &Shared, id: Option<&str>) -> bool {
    let q = lock(&shared.queue);
    match &q.running {
        Some(r) if id.is_none_or(|id| id == r.prompt_id) => {
            r.stop.cancel();
            true
        }
        _ => false,
    }
}

async fn queue_delete(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> StatusCode {
    for id in body["delete"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        record(&shared, CancelRoute::QueueDelete, id);
        if dequeue(&shared, id) {
            lock(&shared.jobs).remove(id);
        }
    }
    broadcast_status(&shared);
    StatusCode::OK
}

async fn interrupt(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> StatusCode {
    let prompt_id =
        serde_json::from_slice::<Value>(&body).ok().and_then(|b| b["prompt_id"].as_str().map(str::to_string));
    match prompt_id {
        Some(id) => {
            record(&shared, CancelRoute::Interrupt, &id);
            interrupt_running(&shared, (!shared.global_interrupt).then_some(id.as_str()));
        }
        None => {
            shared.bare_interrupts.fetch_add(1, Ordering::SeqCst);
            interrupt_running(&shared, None);
        }
    }
    StatusCode::OK
}

fn no_jobs_api() -> Response {
    (StatusCode::NOT_FOUND, "404: Not Found").into_response()
}

async fn job(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    if !shared.jobs_api.load(Ordering::SeqCst) {
        return no_jobs_api();
    }
    match lock(&shared.jobs).get(&id) {
        Some(job) => Json(job.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({ "error": "Job not found" }))).into_response(),
    }
}

async fn job_cancel(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    if !shared.jobs_api.load(Ordering::SeqCst) {
        return no_jobs_api();
    }
    record(&shared, CancelRoute::Jobs, &id);
    let cancelled = if dequeue(&shared, &id) {
        set_job(&shared, &id, "cancelled", json!({}));
        broadcast_status(&shared);
        true
    } else {
        interrupt_running(&shared, Some(&id))
    };
    Json(json!({ "cancelled": cancelled })).into_response()
}

/// `GET /__fake/records`: `{prompts, cancels: [prompt ids], cancel_routes, bare_interrupts}`.
async fn records(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let cancels = lock(&shared.cancels).clone();
    Json(json!({
        "prompts": lock(&shared.prompts).len(),
        "cancels": cancels.iter().map(|c| c.prompt_id.clone()).collect::<Vec<_>>(),
        "cancel_routes": cancels.iter().map(|c| format!("{:?}", c.route)).collect::<Vec<_>>(),
        "bare_interrupts": shared.bare_interrupts.load(Ordering::SeqCst),
    }))
}
