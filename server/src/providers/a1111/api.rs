//! The HTTP calls to one engine: generate, the two progress routes and interrupt, each with
//! the configured credentials, and failures turned into [`ProviderError`]s.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::RequestBuilder;

use super::errors;
use super::wire::{EngineProgress, GenerationBody, GenerationResponse, TaskProgress, TaskProgressBody};
use super::A1111Settings;
use crate::providers::body::{self, Budget};
use crate::providers::ProviderError;

/// A progress or interrupt call slower than this is skipped (the engine answers them from
/// another thread, but a busy Python process can be slow).
const SMALL_CALL_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) struct Api {
    http: reqwest::Client,
    base: String,
    auth: Option<(String, String)>,
    /// Deadline of the blocking generation request: a little past the job's own, which
    /// normally ends it first (through the runner's cancel).
    generate_timeout: Duration,
    /// "Start it with --api" is worth saying once, not on every job.
    told_api_missing: AtomicBool,
}

impl Api {
    pub(super) fn new(settings: &A1111Settings) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("AUTOMATIC1111 HTTP client: {e}"))?;
        Ok(Self {
            http,
            base: settings.base_url.clone(),
            auth: settings.auth.clone(),
            generate_timeout: settings.timeout + Duration::from_secs(30),
            told_api_missing: AtomicBool::new(false),
        })
    }

    fn with_auth(&self, req: RequestBuilder) -> RequestBuilder {
        match &self.auth {
            Some((user, pass)) => req.basic_auth(user, Some(pass)),
            None => req,
        }
    }

    fn network(&self, e: reqwest::Error) -> ProviderError {
        if e.is_timeout() {
            ProviderError::Timeout
        } else if e.is_connect() {
            ProviderError::Network(format!("AUTOMATIC1111 at {} is not reachable", self.base))
        } else {
            ProviderError::Network(format!("AUTOMATIC1111 at {}: {}", self.base, e.without_url()))
        }
    }

    /// `POST txt2img|img2img`, which answers when the image is done.
    pub(super) async fn generate(&self, body: &GenerationBody<'_>) -> Result<(Vec<u8>, Option<u64>), ProviderError> {
        let url = format!("{}{}", self.base, body.endpoint());
        let req = self.with_auth(self.http.post(url).timeout(self.generate_timeout).json(body));
        let res = req.send().await.map_err(|e| self.network(e))?;
        let status = res.status();
        if !status.is_success() {
            let bytes = body::read_prefix(res, Budget::Error).await;
            let error = errors::error_from(status.as_u16(), &bytes, &self.base);
            if matches!(&error, ProviderError::Rejected(m) if *m == errors::api_missing(&self.base))
                && !self.told_api_missing.swap(true, Ordering::Relaxed)
            {
                tracing::error!(url = %self.base, "AUTOMATIC1111 answers 404 on /sdapi/v1: its API is off; start it with --api");
            }
            return Err(error);
        }
        let bytes = body::read(res, Budget::ImagesJson, |e| self.network(e)).await?;
        let answer: GenerationResponse = serde_json::from_slice(&bytes)
            .map_err(|e| ProviderError::BadResponse(format!("not the JSON of a generation: {e}")))?;
        answer.into_image()
    }

    /// `POST /internal/progress` for our task; `None` when the engine has no such route
    /// (forks and compatible servers), so the caller falls back to the engine-wide one.
    pub(super) async fn task_progress(
        &self,
        id_task: &str,
        id_live_preview: i64,
    ) -> Result<Option<TaskProgress>, ProviderError> {
        let body = TaskProgressBody { id_task, id_live_preview, live_preview: true };
        let req = self.http.post(format!("{}/internal/progress", self.base)).timeout(SMALL_CALL_TIMEOUT).json(&body);
        let res = self.with_auth(req).send().await.map_err(|e| self.network(e))?;
        if matches!(res.status().as_u16(), 404 | 405) {
            return Ok(None);
        }
        if !res.status().is_success() {
            return Err(ProviderError::Server { status: res.status().as_u16() });
        }
        let bytes = body::read(res, Budget::Small, |e| self.network(e)).await?;
        serde_json::from_slice(&bytes).map(Some).map_err(|e| ProviderError::BadResponse(e.to_string()))
    }

    /// `GET /sdapi/v1/progress`: the engine's counters, and its current image if asked.
    pub(super) async fn engine_progress(&self, with_image: bool) -> Result<EngineProgress, ProviderError> {
        let url = format!("{}/sdapi/v1/progress?skip_current_image={}", self.base, !with_image);
        let res =
            self.with_auth(self.http.get(url).timeout(SMALL_CALL_TIMEOUT)).send().await.map_err(|e| self.network(e))?;
        if !res.status().is_success() {
            return Err(ProviderError::Server { status: res.status().as_u16() });
        }
        let bytes = body::read(res, Budget::Small, |e| self.network(e)).await?;
        serde_json::from_slice(&bytes).map_err(|e| ProviderError::BadResponse(e.to_string()))
    }

    /// `POST /sdapi/v1/interrupt`: stops whatever the engine is running (only ever ours,
    /// see [`super::gate`]).
    pub(super) async fn interrupt(&self) -> Result<(), ProviderError> {
        let req = self.http.post(format!("{}/sdapi/v1/interrupt", self.base)).timeout(SMALL_CALL_TIMEOUT);
        let res = self.with_auth(req).send().await.map_err(|e| self.network(e))?;
        if !res.status().is_success() {
            return Err(ProviderError::Server { status: res.status().as_u16() });
        }
        Ok(())
    }
}
