//! A loopback server that speaks the OpenAI Images API's wire format, scripted per request:
//! JSON with b64 or a URL, event streams with partial images, each error the API returns,
//! slowness, and a record of whether the client hung up (how a cancel is seen from outside).
//! Like the real API today, it lists its models at `GET /v1/models`, answers a retired
//! model (gpt-image-1, dall-e-3…) with 404 `model_not_found`, and refuses sizes the 2.x
//! models do not take with 400 `invalid_value`.

use std::collections::VecDeque;
use std::io::Cursor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

// The example binary includes this file by `#[path]`: the submodule names its file the same
// way, so it resolves from either.
#[path = "fake_openai/replies.rs"]
mod replies;
#[path = "fake_openai/rules.rs"]
mod rules;

use replies::answer;
use rules::{refusal, Asked};

#[derive(Clone)]
pub enum Reply {
    B64 {
        revised: Option<&'static str>,
    },
    Url,
    Stream {
        partials: usize,
        gap: Duration,
    },
    Error {
        status: u16,
        code: &'static str,
        retry_after_ms: Option<u64>,
    },
    NoImage,
    BrokenJson,
    /// 429 with `retry-after: inf`: a header a careless parser panics on.
    RetryAfterInfinite,
    /// Accepts the request and never answers.
    Hang,
    /// A hostile server: `bytes` of JSON (one endless `b64_json`), sent as fast as read.
    HugeJson {
        bytes: u64,
    },
    /// A hostile stream: one event whose `data:` never ends.
    EndlessEvent {
        bytes: u64,
    },
    /// A hostile stream: small events of an unknown type, `bytes` of them in all.
    EndlessEvents {
        bytes: u64,
    },
    /// A `url` answer pointing wherever the test says.
    UrlTo(String),
    /// These bytes as the image (a decompression bomb, say).
    Image(Arc<Vec<u8>>),
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<(Instant, Value)>>,
    hung_up: AtomicBool,
    png: Vec<u8>,
    base: Mutex<String>,
    /// Whether `GET /v1/models` answers (compatible servers often lack it).
    no_model_list: AtomicBool,
    /// Models served besides OpenAI's own, as a compatible server names its models.
    extra_models: Mutex<Vec<String>>,
    /// Bytes of hostile bodies the client read (sent into the socket).
    hostile_sent: std::sync::atomic::AtomicU64,
    /// The answer once the script has run out (plain JSON unless set).
    default_reply: Mutex<Option<Reply>>,
}

/// The models this fake serves, as the real API lists them today.
pub const SERVED_MODELS: [&str; 6] = [
    "gpt-image-2",
    "gpt-image-2-2026-04-21",
    "gpt-image-2.5-flare",
    "gpt-image-2.5-sunburst",
    "gpt-image-2.6-flare",
    "gpt-image-2.6-sunburst",
];

#[derive(Clone)]
pub struct FakeOpenAi {
    pub base_url: String,
    shared: Arc<Shared>,
}

pub fn png(side: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(side, side, |x, y| image::Rgb([(x * 3 % 255) as u8, (y * 5 % 255) as u8, 120]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("encode png");
    out.into_inner()
}

impl FakeOpenAi {
    pub async fn start(script: Vec<Reply>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::serve(listener, script)
    }

    /// Serves on `listener` (the browser tests' fixed port). `GET /__fake/requests` lists what
    /// it was asked, for tests that cannot call [`Self::requests`].
    pub fn serve(listener: tokio::net::TcpListener, script: Vec<Reply>) -> Self {
        let shared = Arc::new(Shared { script: Mutex::new(script.into()), png: png(512), ..Shared::default() });
        let app = Router::new()
            .route("/v1/images/generations", post(generate))
            .route("/v1/images/edits", post(edits))
            .route("/v1/models", get(models))
            .route("/files/{name}", get(file))
            .route("/redirect", get(redirect))
            .route("/__fake/requests", get(recorded))
            .with_state(shared.clone());
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        *shared.base.lock().expect("lock") = base.clone();
        tokio::spawn(async move { axum::serve(listener, app).await.expect("fake serves") });
        Self { base_url: format!("{base}/v1"), shared }
    }

    /// What every request gets once the script has run out: the load test's slow engine
    /// (`examples/fake_openai.rs`; no test here needs it).
    #[allow(dead_code)]
    pub fn reply_by_default(&self, reply: Reply) {
        *self.shared.default_reply.lock().expect("lock") = Some(reply);
    }

    pub fn requests(&self) -> Vec<Value> {
        self.shared.requests.lock().expect("lock").iter().map(|(_, v)| v.clone()).collect()
    }

    /// Time between the first and the last request.
    pub fn span(&self) -> Duration {
        let r = self.shared.requests.lock().expect("lock");
        match (r.first(), r.last()) {
            (Some(a), Some(b)) => b.0 - a.0,
            _ => Duration::ZERO,
        }
    }

    /// Serves `model` too, as a compatible server (LocalAI) serves its own under any name.
    pub fn also_serve(&self, model: &str) {
        self.shared.extra_models.lock().expect("lock").push(model.to_string());
    }

    /// From now on `GET /v1/models` answers 404, as many compatible servers do.
    pub fn hide_model_list(&self) {
        self.shared.no_model_list.store(true, Ordering::SeqCst);
    }

    pub fn client_hung_up(&self) -> bool {
        self.shared.hung_up.load(Ordering::SeqCst)
    }

    pub fn png(&self) -> &[u8] {
        &self.shared.png
    }

    /// Adds `reply` to the end of the script.
    pub fn then(&self, reply: Reply) {
        self.shared.script.lock().expect("lock").push_back(reply);
    }

    /// The fake's own address (scheme, host and port), for links to itself.
    pub fn origin(&self) -> String {
        self.shared.base.lock().expect("lock").clone()
    }

    /// How much of its hostile bodies the fake got to send.
    pub fn hostile_bytes_sent(&self) -> u64 {
        self.shared.hostile_sent.load(Ordering::SeqCst)
    }
}

/// `GET /redirect?to=…`: a 302 there, as a CDN in front of a compatible server may answer.
async fn redirect(
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, q.get("to").cloned().unwrap_or_default())]).into_response()
}

async fn recorded(State(shared): State<Arc<Shared>>) -> Json<Vec<Value>> {
    Json(shared.requests.lock().expect("lock").iter().map(|(_, v)| v.clone()).collect())
}

async fn file(State(shared): State<Arc<Shared>>, Path(_name): Path<String>) -> Response {
    ([(header::CONTENT_TYPE, "image/png")], shared.png.clone()).into_response()
}

async fn models(State(shared): State<Arc<Shared>>) -> Response {
    if shared.no_model_list.load(Ordering::SeqCst) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let extra = shared.extra_models.lock().expect("lock").clone();
    let ids = SERVED_MODELS.iter().map(|m| m.to_string()).chain(extra);
    let data: Vec<Value> = ids.map(|id| json!({ "id": id, "object": "model", "owned_by": "system" })).collect();
    Json(json!({ "object": "list", "data": data })).into_response()
}

async fn generate(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Response {
    shared.requests.lock().expect("lock").push((Instant::now(), body.clone()));
    if let Some(refused) = refusal(&shared, body["model"].as_str().unwrap_or_default(), body["size"].as_str()) {
        return refused;
    }
    answer(shared, Asked::of(&body))
}

/// `POST /images/edits` (multipart): recorded with its fields, `image` (whether the form
/// carried this fake's own PNG), `image_sha256` and `mask_transparent` (the share of the mask
/// that may change).
async fn edits(State(shared): State<Arc<Shared>>, form: Result<Multipart, MultipartRejection>) -> Response {
    let Ok(mut form) = form else {
        let record = json!({ "endpoint": "edits", "multipart": false });
        shared.requests.lock().expect("lock").push((Instant::now(), record));
        return (StatusCode::BAD_REQUEST, "expected multipart/form-data").into_response();
    };
    let mut fields = serde_json::Map::new();
    let (mut image, mut image_sha256, mut mask_clear, mut images) = (false, None, None, Vec::new());
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or_default().to_string();
        let Ok(bytes) = field.bytes().await else { break };
        match name.as_str() {
            "image" | "image[]" => {
                // The first picture is the one changed; every one is listed.
                if images.is_empty() {
                    image = bytes.as_ref() == shared.png.as_slice();
                    image_sha256 = Some(sha256_hex(&bytes));
                }
                images.push(Value::String(sha256_hex(&bytes)));
            }
            // The share of the mask that is transparent: where the image may change.
            "mask" => mask_clear = rules::transparent_share(&bytes),
            _ => {
                fields.insert(name, Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    let field = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_string);
    let (model, size) = (field("model").unwrap_or_default(), field("size"));
    let record = json!({
        "endpoint": "edits", "multipart": true, "prompt": field("prompt"), "image": image,
        "image_sha256": image_sha256, "images": images, "mask_transparent": mask_clear, "model": model, "size": size,
        "n": field("n"), "quality": field("quality"),
    });
    shared.requests.lock().expect("lock").push((Instant::now(), record.clone()));
    if let Some(refused) = refusal(&shared, &model, size.as_deref()) {
        return refused;
    }
    answer(shared, Asked::of(&record))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
