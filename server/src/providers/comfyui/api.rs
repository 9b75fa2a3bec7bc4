//! ComfyUI's HTTP routes, each a method returning a typed answer or a [`ProviderError`].
//!
//! `POST /prompt` submits, `GET /history/{id}` (`{}` until the prompt finished) and
//! `GET /view` give the result, `POST /upload/image` puts an edit's pictures in its input folder, `GET /api/jobs/{id}` (newer servers) and `GET /queue` say how a
//! prompt stands after a reconnect. Cancelling prefers `POST /api/jobs/{id}/cancel`, which
//! touches only that job; servers without it get `POST /queue {"delete"}` then
//! `POST /interrupt {"prompt_id"}`, the latter only when `GET /queue` says that prompt is the one
//! running: servers before the prompt-scoped interrupt read it as a bare `/interrupt`, which
//! stops whatever runs, someone else's job included.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::frames::ImageRef;
use super::queue::Queue;
use super::settings::ComfyUiSettings;
use crate::providers::body::{self, Budget};
use crate::providers::ProviderError;

pub struct Api {
    http: reqwest::Client,
    base: String,
    timeout: Duration,
}

/// Which way a cancel reached the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelRoute {
    Jobs,
    /// Taken off the queue; it was not running, so no `/interrupt` was sent.
    Queue,
    QueueAndInterrupt,
}

/// How a prompt stands, from `/api/jobs/{id}` or `/history` and `/queue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    Waiting,
    Completed,
    Failed(String),
    Cancelled,
    /// Neither queued, running nor in the history: the engine restarted or forgot it.
    Lost,
}

/// `POST /upload/image`'s answer: where the file landed.
#[derive(Deserialize)]
struct Uploaded {
    name: String,
    #[serde(default)]
    subfolder: String,
}

#[derive(Deserialize)]
struct Submitted {
    prompt_id: Option<String>,
}

#[derive(Deserialize, Default)]
struct Rejected {
    #[serde(default)]
    error: Value,
    #[serde(default)]
    node_errors: Value,
}

#[derive(Deserialize)]
struct Job {
    status: String,
    #[serde(default)]
    execution_error: Value,
}

/// The message of a reqwest error with its causes ("connection refused" sits in the chain),
/// without the URL reqwest appends (it may carry credentials; I2).
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The engine's words for a rejected prompt: the error, then the first node's complaint.
pub fn rejection_message(body: &Value) -> Option<String> {
    let rejected: Rejected = serde_json::from_value(body.clone()).unwrap_or_default();
    let error = match &rejected.error {
        Value::String(s) => s.clone(),
        e => e.get("message").and_then(Value::as_str).unwrap_or_default().to_string(),
    };
    let node = rejected.node_errors.as_object().and_then(|nodes| {
        nodes.iter().find_map(|(id, n)| {
            let first = n.get("errors")?.as_array()?.first()?;
            let class = n.get("class_type").and_then(Value::as_str).unwrap_or("node");
            let message = first.get("message").and_then(Value::as_str).unwrap_or_default();
            let details = first.get("details").and_then(Value::as_str).unwrap_or_default();
            Some(format!("{class} {id}: {message}{}{details}", if details.is_empty() { "" } else { ": " }))
        })
    });
    match (error.is_empty(), node) {
        (true, None) => None,
        (false, None) => Some(error),
        (true, Some(node)) => Some(node),
        (false, Some(node)) => Some(format!("{error} ({node})")),
    }
}

impl Api {
    pub fn new(settings: &ComfyUiSettings) -> Result<Self, String> {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(key) = &settings.api_key {
            let mut value = reqwest::header::HeaderValue::from_str(key)
                .map_err(|_| "COMFYUI_API_KEY is not a valid header value")?;
            value.set_sensitive(true);
            headers.insert("x-api-key", value);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .default_headers(headers)
            .build()
            .map_err(|e| format!("the ComfyUI HTTP client could not be built: {e}"))?;
        Ok(Self { http, base: settings.base_url.clone(), timeout: settings.request_timeout })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn network(&self, e: reqwest::Error) -> ProviderError {
        if e.is_timeout() {
            ProviderError::Timeout
        } else if e.is_connect() {
            ProviderError::Network(format!("ComfyUI at {} is not reachable: {}", self.base, describe(&e)))
        } else {
            ProviderError::Network(describe(&e))
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Response, ProviderError> {
        req.timeout(self.timeout).send().await.map_err(|e| self.network(e))
    }

    /// An error for a status that is neither success nor a route's own answer.
    fn status_error(&self, status: StatusCode, what: &str) -> ProviderError {
        match status.as_u16() {
            401 | 403 => ProviderError::Unauthorized,
            s if s >= 500 => ProviderError::Server { status: s },
            s => ProviderError::BadResponse(format!("ComfyUI at {} answered {s} to {what}", self.base)),
        }
    }

    async fn json(&self, res: Response, what: &str) -> Result<Value, ProviderError> {
        let bytes = body::read(res, Budget::Small, |e| self.network(e)).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ProviderError::BadResponse(format!("{what} did not answer JSON: {e}")))
    }

    /// `POST /prompt`. A 400 is the engine refusing the graph (a missing model, a bad
    /// input): its message becomes a rejection (not retried) and every node error is logged. Answers
    /// the id the prompt was queued under (ours, except on servers too old to take one).
    pub async fn submit(&self, body: &Value) -> Result<String, ProviderError> {
        let res = self.send(self.http.post(self.url("/prompt")).json(body)).await?;
        let status = res.status();
        if status == StatusCode::BAD_REQUEST {
            let body = self.json(res, "POST /prompt").await?;
            let message = rejection_message(&body).unwrap_or_else(|| "the prompt was refused".into());
            let node_errors = body.get("node_errors").map(Value::to_string).unwrap_or_default();
            tracing::warn!(%node_errors, %message, "ComfyUI refused the workflow");
            return Err(ProviderError::Rejected(message));
        }
        if !status.is_success() {
            return Err(self.status_error(status, "POST /prompt"));
        }
        let answer: Submitted = serde_json::from_value(self.json(res, "POST /prompt").await?)
            .map_err(|e| ProviderError::BadResponse(format!("POST /prompt: {e}")))?;
        answer.prompt_id.ok_or_else(|| ProviderError::BadResponse("POST /prompt answered without a prompt_id".into()))
    }

    /// `POST /upload/image`: a PNG into the input folder's `subfolder`, replacing a file of
    /// that name. Answers the name a `LoadImage` reads it by (`subfolder/name`).
    pub async fn upload(&self, subfolder: &str, name: &str, png: Vec<u8>) -> Result<String, ProviderError> {
        let part = reqwest::multipart::Part::bytes(png)
            .file_name(name.to_string())
            .mime_str("image/png")
            .map_err(|e| ProviderError::BadResponse(e.to_string()))?;
        let form = reqwest::multipart::Form::new()
            .part("image", part)
            .text("type", "input")
            .text("subfolder", subfolder.to_string())
            .text("overwrite", "true");
        let res = self.send(self.http.post(self.url("/upload/image")).multipart(form)).await?;
        match res.status() {
            s if s.is_success() => {}
            StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ProviderError::Rejected("the engine refused the picture as too large".into()))
            }
            s => return Err(self.status_error(s, "POST /upload/image")),
        }
        let up: Uploaded = serde_json::from_value(self.json(res, "POST /upload/image").await?)
            .map_err(|e| ProviderError::BadResponse(format!("POST /upload/image: {e}")))?;
        Ok(if up.subfolder.is_empty() { up.name } else { format!("{}/{}", up.subfolder, up.name) })
    }

    /// `GET /history/{id}`: the entry once the prompt finished, `None` before (`{}`).
    pub async fn history(&self, id: &str) -> Result<Option<Value>, ProviderError> {
        let res = self.send(self.http.get(self.url(&format!("/history/{id}")))).await?;
        if !res.status().is_success() {
            return Err(self.status_error(res.status(), "GET /history"));
        }
        let mut body = self.json(res, "GET /history").await?;
        Ok(body.get_mut(id).map(Value::take))
    }

    /// `GET /view`: the bytes of a saved image.
    pub async fn view(&self, image: &ImageRef) -> Result<Vec<u8>, ProviderError> {
        let mut url = reqwest::Url::parse(&self.url("/view")).map_err(|e| ProviderError::BadResponse(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("filename", &image.filename)
            .append_pair("subfolder", &image.subfolder)
            .append_pair("type", &image.kind);
        let res = self.send(self.http.get(url)).await?;
        if res.status() == StatusCode::NOT_FOUND {
            return Err(ProviderError::NoImage);
        }
        if !res.status().is_success() {
            return Err(self.status_error(res.status(), "GET /view"));
        }
        let bytes = body::read(res, Budget::Image, |e| self.network(e)).await?;
        if bytes.is_empty() {
            return Err(ProviderError::NoImage);
        }
        Ok(bytes)
    }

    /// Stops this prompt only, whether queued or running.
    pub async fn cancel(&self, id: &str) -> Result<CancelRoute, ProviderError> {
        let res = self.send(self.http.post(self.url(&format!("/api/jobs/{id}/cancel"))).json(&json!({}))).await?;
        match res.status() {
            s if s.is_success() => return Ok(CancelRoute::Jobs),
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {}
            s => return Err(self.status_error(s, "POST /api/jobs/{id}/cancel")),
        }
        // An older server: take it off the queue if it waits, interrupt it if it runs. Servers
        // before the prompt-scoped interrupt (ComfyUI PR #9607) ignore the body and stop
        // whatever runs, so `/interrupt` goes out only when the queue says ours is running.
        let res = self.send(self.http.post(self.url("/queue")).json(&json!({ "delete": [id] }))).await?;
        if !res.status().is_success() {
            return Err(self.status_error(res.status(), "POST /queue"));
        }
        if !self.queue().await?.running(id) {
            return Ok(CancelRoute::Queue);
        }
        let res = self.send(self.http.post(self.url("/interrupt")).json(&json!({ "prompt_id": id }))).await?;
        if !res.status().is_success() {
            return Err(self.status_error(res.status(), "POST /interrupt"));
        }
        Ok(CancelRoute::QueueAndInterrupt)
    }

    /// How the prompt stands: `/api/jobs/{id}` where the server has it, else the history
    /// and the queue.
    pub async fn standing(&self, id: &str) -> Result<Standing, ProviderError> {
        let res = self.send(self.http.get(self.url(&format!("/api/jobs/{id}")))).await?;
        if res.status().is_success() {
            let job: Job = serde_json::from_value(self.json(res, "GET /api/jobs").await?)
                .map_err(|e| ProviderError::BadResponse(format!("GET /api/jobs: {e}")))?;
            return Ok(match job.status.as_str() {
                "completed" => Standing::Completed,
                "failed" => Standing::Failed(error_text(&job.execution_error)),
                "cancelled" => Standing::Cancelled,
                _ => Standing::Waiting,
            });
        }
        if !matches!(res.status(), StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED) {
            return Err(self.status_error(res.status(), "GET /api/jobs/{id}"));
        }
        if let Some(entry) = self.history(id).await? {
            return Ok(finished(&entry));
        }
        if self.queued(id).await? {
            return Ok(Standing::Waiting);
        }
        // It may have finished between the two reads.
        Ok(self.history(id).await?.map_or(Standing::Lost, |entry| finished(&entry)))
    }

    /// Whether the prompt is running or waiting (`GET /queue`).
    async fn queued(&self, id: &str) -> Result<bool, ProviderError> {
        let queue = self.queue().await?;
        Ok(queue.running(id) || queue.pending(id))
    }

    /// `GET /queue`.
    pub async fn queue(&self) -> Result<Queue, ProviderError> {
        let res = self.send(self.http.get(self.url("/queue"))).await?;
        if !res.status().is_success() {
            return Err(self.status_error(res.status(), "GET /queue"));
        }
        Ok(Queue::new(self.json(res, "GET /queue").await?))
    }
}

/// A history entry's outcome: `status.status_str` is `success` or `error`; an error's
/// message sits among `status.messages` as `["execution_error", {…}]`.
fn finished(entry: &Value) -> Standing {
    let status = &entry["status"];
    if status["status_str"].as_str() != Some("error") {
        return Standing::Completed;
    }
    let messages = status["messages"].as_array().map(Vec::as_slice).unwrap_or_default();
    let event = |name: &str| messages.iter().find(|m| m.get(0).and_then(Value::as_str) == Some(name));
    match (event("execution_error"), event("execution_interrupted")) {
        (Some(error), _) => Standing::Failed(error_text(&error[1])),
        (None, Some(_)) => Standing::Cancelled,
        (None, None) => Standing::Failed(String::new()),
    }
}

fn error_text(error: &Value) -> String {
    match error {
        Value::String(s) => s.clone(),
        e => e.get("exception_message").and_then(Value::as_str).unwrap_or_default().trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejection_names_the_error_and_the_first_node() {
        let body = json!({
            "error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation", "details": "", "extra_info": {}},
            "node_errors": {"4": {"errors": [{"type": "value_not_in_list", "message": "Value not in list", "details": "ckpt_name: 'x.safetensors' not in []", "extra_info": {}}], "dependent_outputs": ["9"], "class_type": "CheckpointLoaderSimple"}}
        });
        assert_eq!(
            rejection_message(&body).as_deref(),
            Some("Prompt outputs failed validation (CheckpointLoaderSimple 4: Value not in list: ckpt_name: 'x.safetensors' not in [])")
        );
        assert_eq!(rejection_message(&json!({"error": "no prompt"})).as_deref(), Some("no prompt"));
        assert_eq!(rejection_message(&json!({})), None);
    }

    #[test]
    fn history_entries_say_how_a_prompt_ended() {
        assert_eq!(finished(&json!({"status": {"status_str": "success", "completed": true}})), Standing::Completed);
        let failed = json!({"status": {"status_str": "error", "messages": [["execution_start", {}], ["execution_error", {"exception_message": "out of memory"}]]}});
        assert_eq!(finished(&failed), Standing::Failed("out of memory".into()));
        let interrupted = json!({"status": {"status_str": "error", "messages": [["execution_interrupted", {}]]}});
        assert_eq!(finished(&interrupted), Standing::Cancelled);
    }
}
