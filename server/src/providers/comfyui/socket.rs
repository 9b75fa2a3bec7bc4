//! The one long-lived WebSocket to ComfyUI, and the routing of its events to jobs.
//!
//! ComfyUI sends a prompt's events only to the socket whose `clientId` submitted it, so the
//! provider keeps one socket for its lifetime, reconnecting with backoff whenever it drops,
//! and submits every prompt under that id. A job registers its prompt id here *before* it
//! posts the prompt, so no event is lost between the answer and the first read. Events go to
//! a job by `prompt_id`; a preview without metadata (type 1) goes to the prompt that is
//! executing; `status` (queue length) goes to every job.
//!
//! The socket's state is published on a watch channel: jobs wait on it before submitting,
//! reconcile over HTTP when the connection count changes (events sent while we were away are
//! gone), and give up when it stays down too long. Events after a reconnect resume because
//! the same `clientId` is used again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::frames::{self, Frame};
use super::settings::ComfyUiSettings;

/// How often we ping the engine, and how long a silent socket is trusted.
const PING_EVERY: Duration = Duration::from_secs(20);
const SILENT_FOR: Duration = Duration::from_secs(65);

/// The socket as jobs see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    pub up: bool,
    /// How many times the socket has connected: a change means events may have been missed.
    pub connects: u64,
    /// When it went down (or when we started, before the first connect).
    pub down_since: Instant,
}

/// Shared between the socket task and the jobs.
pub struct Link {
    jobs: Mutex<HashMap<String, mpsc::UnboundedSender<Frame>>>,
    state: watch::Sender<State>,
    /// Rung by a job waiting for the socket, so a long backoff does not make it wait.
    wake: Notify,
    last_error: Mutex<Option<String>>,
}

impl Link {
    pub fn new() -> Self {
        let state = State { up: false, connects: 0, down_since: Instant::now() };
        Self {
            jobs: Mutex::new(HashMap::new()),
            state: watch::Sender::new(state),
            wake: Notify::new(),
            last_error: Mutex::new(None),
        }
    }

    pub fn register(&self, prompt_id: &str) -> mpsc::UnboundedReceiver<Frame> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock_jobs().insert(prompt_id.to_string(), tx);
        rx
    }

    pub fn unregister(&self, prompt_id: &str) {
        self.lock_jobs().remove(prompt_id);
    }

    /// Moves a registration to the id the server queued the prompt under.
    pub fn rekey(&self, from: &str, to: &str) {
        let mut jobs = self.lock_jobs();
        if let Some(tx) = jobs.remove(from) {
            jobs.insert(to.to_string(), tx);
        }
    }

    pub fn watch(&self) -> watch::Receiver<State> {
        self.state.subscribe()
    }

    /// Waits until the socket is up, at most `wait`; the connect count, or the last error.
    pub async fn wait_up(&self, wait: Duration) -> Result<u64, Option<String>> {
        let mut state = self.watch();
        if !state.borrow().up {
            self.wake.notify_one();
        }
        let up =
            tokio::time::timeout(wait, state.wait_for(|s| s.up)).await.ok().and_then(|r| r.ok()).map(|s| s.connects);
        up.ok_or_else(|| self.last_error.lock().ok().and_then(|e| e.clone()))
    }

    fn lock_jobs(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::UnboundedSender<Frame>>> {
        // A panic while holding this lock cannot leave the map half-changed.
        self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn deliver(&self, route: Route) {
        let jobs = self.lock_jobs();
        match route {
            Route::To(id, frame) => {
                if let Some(tx) = jobs.get(&id) {
                    let _ = tx.send(frame); // the job ended meanwhile: nothing waits for it
                }
            }
            Route::All(frame) => {
                for tx in jobs.values() {
                    let _ = tx.send(frame.clone());
                }
            }
            Route::Nowhere => {}
        }
    }

    fn set_up(&self, up: bool) {
        self.state.send_modify(|s| {
            if up {
                s.connects += 1;
            } else if s.up {
                s.down_since = Instant::now();
            }
            s.up = up;
        });
    }
}

/// Where a frame goes.
#[derive(Debug, PartialEq)]
pub enum Route {
    To(String, Frame),
    All(Frame),
    Nowhere,
}

/// Tracks which prompt is executing, for previews that do not say.
#[derive(Debug, Default)]
pub struct Router {
    running: Option<String>,
}

impl Router {
    pub fn route(&mut self, frame: Frame) -> Route {
        match &frame {
            Frame::Status { .. } => return Route::All(frame),
            Frame::Ignored => return Route::Nowhere,
            Frame::Preview { prompt_id: None, image } => {
                return match &self.running {
                    Some(id) => {
                        Route::To(id.clone(), Frame::Preview { prompt_id: Some(id.clone()), image: image.clone() })
                    }
                    None => Route::Nowhere,
                };
            }
            Frame::Started { prompt_id } | Frame::Executing { prompt_id, node: Some(_) } => {
                self.running = Some(prompt_id.clone());
            }
            Frame::Executing { prompt_id, node: None }
            | Frame::Success { prompt_id }
            | Frame::Failed { prompt_id, .. }
            | Frame::Interrupted { prompt_id } => {
                if self.running.as_ref() == Some(prompt_id) {
                    self.running = None;
                }
            }
            Frame::Progress { .. } | Frame::Executed { .. } | Frame::Preview { .. } => {}
        }
        match frame.prompt_id() {
            Some(id) => Route::To(id.to_string(), frame),
            None => Route::Nowhere,
        }
    }
}

/// `ws://host/ws?clientId=…` (or `wss://` for https), with `token` for Comfy Cloud.
pub fn socket_url(settings: &ComfyUiSettings, client_id: &str) -> Result<String, String> {
    let mut url = reqwest::Url::parse(&settings.base_url).map_err(|e| format!("COMFYUI_URL: {e}"))?;
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    url.set_scheme(scheme).map_err(|()| format!("COMFYUI_URL: cannot make a {scheme} address of it"))?;
    let path = format!("{}/ws", url.path().trim_end_matches('/'));
    url.set_path(&path);
    url.query_pairs_mut().clear().append_pair("clientId", client_id);
    if let Some(key) = &settings.api_key {
        url.query_pairs_mut().append_pair("token", key);
    }
    Ok(url.into())
}

/// Keeps the socket open until `stop`, reconnecting with backoff.
pub async fn run(link: Arc<Link>, settings: ComfyUiSettings, url: String, stop: CancellationToken) {
    let mut backoff = settings.reconnect_min;
    let mut failures = 0u32;
    loop {
        let connected = tokio::select! {
            _ = stop.cancelled() => return,
            c = connect(&url, &settings) => c,
        };
        match connected {
            Ok(socket) => {
                if let Ok(mut e) = link.last_error.lock() {
                    *e = None;
                }
                tracing::info!(base = %settings.base_url, "ComfyUI socket connected");
                link.set_up(true);
                backoff = settings.reconnect_min;
                failures = 0;
                let why = read(&link, socket, &stop).await;
                link.set_up(false);
                if stop.is_cancelled() {
                    return;
                }
                tracing::warn!(base = %settings.base_url, reason = %why, "ComfyUI socket lost; reconnecting");
            }
            Err(e) => {
                failures += 1;
                // Said once per outage, then quietly retried.
                if failures == 1 {
                    tracing::warn!(base = %settings.base_url, error = %e, "ComfyUI is not reachable; retrying");
                } else {
                    tracing::debug!(base = %settings.base_url, error = %e, "ComfyUI still not reachable");
                }
                if let Ok(mut last) = link.last_error.lock() {
                    *last = Some(e);
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
            _ = link.wake.notified() => {}
        }
        backoff = (backoff * 2).min(settings.reconnect_max);
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str, settings: &ComfyUiSettings) -> Result<Socket, String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    if let Some(key) = &settings.api_key {
        let mut value = HeaderValue::from_str(key).map_err(|_| "COMFYUI_API_KEY is not a valid header value")?;
        value.set_sensitive(true);
        request.headers_mut().insert("x-api-key", value);
    }
    let (mut socket, _) = tokio::time::timeout(settings.connect_wait, tokio_tungstenite::connect_async(request))
        .await
        .map_err(|_| "the socket handshake timed out".to_string())?
        // The error names the address (with the token for Comfy Cloud): say only what failed.
        .map_err(|e| e.to_string())?;
    // First frame: ask for previews that name their prompt (binary type 4).
    let flags = serde_json::json!({ "type": "feature_flags", "data": { "supports_preview_metadata": true } });
    socket.send(Message::text(flags.to_string())).await.map_err(|e| e.to_string())?;
    Ok(socket)
}

/// Reads until the socket ends; returns why.
async fn read(link: &Link, socket: Socket, stop: &CancellationToken) -> String {
    let (mut sink, mut stream) = socket.split();
    let mut router = Router::default();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut heard = Instant::now();
    loop {
        let message = tokio::select! {
            _ = stop.cancelled() => {
                let _ = sink.send(Message::Close(None)).await;
                return "stopped".into();
            }
            _ = ping.tick() => {
                if heard.elapsed() > SILENT_FOR {
                    return format!("silent for {}s", heard.elapsed().as_secs());
                }
                if let Err(e) = sink.send(Message::Ping(Default::default())).await {
                    return e.to_string();
                }
                continue;
            }
            m = stream.next() => m,
        };
        heard = Instant::now();
        let parsed = match message {
            None => return "closed".into(),
            Some(Err(e)) => return e.to_string(),
            Some(Ok(Message::Close(frame))) => return format!("closed by the engine ({frame:?})"),
            Some(Ok(Message::Text(text))) => frames::parse_text(&text),
            Some(Ok(Message::Binary(bytes))) => frames::parse_binary(&bytes),
            Some(Ok(_)) => continue,
        };
        match parsed {
            Ok(frame) => link.deliver(router.route(frame)),
            Err(e) => tracing::warn!(error = %e, "unreadable ComfyUI frame skipped"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(id: &str, frame: Frame) -> Route {
        Route::To(id.into(), frame)
    }

    #[test]
    fn previews_without_metadata_go_to_the_running_prompt() {
        let mut r = Router::default();
        let orphan = Frame::Preview { prompt_id: None, image: vec![1] };
        assert_eq!(r.route(orphan.clone()), Route::Nowhere, "nothing runs yet");
        r.route(Frame::Started { prompt_id: "a".into() });
        assert_eq!(r.route(orphan.clone()), to("a", Frame::Preview { prompt_id: Some("a".into()), image: vec![1] }));
        r.route(Frame::Executing { prompt_id: "b".into(), node: Some("3".into()) });
        assert!(matches!(r.route(orphan.clone()), Route::To(id, _) if id == "b"));
        r.route(Frame::Success { prompt_id: "b".into() });
        assert_eq!(r.route(orphan), Route::Nowhere);
    }

    #[test]
    fn previews_with_metadata_go_where_they_say() {
        let mut r = Router::default();
        r.route(Frame::Started { prompt_id: "a".into() });
        let named = Frame::Preview { prompt_id: Some("b".into()), image: vec![2] };
        assert_eq!(r.route(named.clone()), to("b", named));
    }

    #[test]
    fn status_goes_to_everyone_and_unknown_frames_nowhere() {
        let mut r = Router::default();
        let status = Frame::Status { queue_remaining: Some(2) };
        assert_eq!(r.route(status.clone()), Route::All(status));
        assert_eq!(r.route(Frame::Ignored), Route::Nowhere);
    }

    #[test]
    fn the_socket_address_follows_the_base() {
        let mut s = ComfyUiSettings::new("http://127.0.0.1:8188");
        assert_eq!(socket_url(&s, "c1").as_deref(), Ok("ws://127.0.0.1:8188/ws?clientId=c1"));
        s.base_url = "https://cloud.example/comfy/".into();
        s.api_key = Some("k&y".into());
        assert_eq!(socket_url(&s, "c1").as_deref(), Ok("wss://cloud.example/comfy/ws?clientId=c1&token=k%26y"));
    }
}
