//! The OpenAI Images API client (`POST {base}/images/generations`), and through
//! `OPENAI_BASE_URL` any server that speaks it.
//!
//! It handles both answers a server may give: JSON (`data[0].b64_json` or a `url`, which is
//! downloaded at once because it expires) and, when partial images were asked for, a
//! server-sent event stream (`image_generation.partial_image`, `image_generation.completed`).
//! Servers that ignore `stream` and answer JSON work the same. Failures become typed
//! [`ProviderError`]s; rate limits are waited out and 5xx/network errors retried with backoff,
//! at most twice each; content-policy blocks and exhausted quotas are never retried.
//! Every await races the cancellation token: cancelling drops the HTTP request.
//!
//! A request that carries a source image (a refinement) goes to `POST {base}/images/edits`
//! as multipart form data with the image; the answer is the same JSON.
//!
//! The model is checked against [`catalogue`]: a retired or unknown model is said at
//! start-up ([`OpenAiImages::check_model`] asks `GET {base}/models` when the server answers
//! it) and, if the provider answers 404 `model_not_found`, fails the job with a sentence for
//! the administrator, logged once per model and never retried. A request for a retired model
//! is still sent: compatible servers (LocalAI) reuse old OpenAI names for their own models.
//! Models the catalogue knows take custom sizes, so the request's shape is kept; the
//! deadline grows with size and quality (4K at high quality takes minutes).

mod model_check;
mod request;
mod wire;

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use reqwest::StatusCode;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::body::{self, Budget, StreamBudget};
use super::catalogue::{self, Lookup, Quality};
pub use super::download::AllowedHosts;
use super::download::Downloader;
use super::pricing::Usage;
use super::{
    Capabilities, GeneratedImage, ImageProvider, ImageRequest, ProviderError, ProviderEvent, ProviderKind,
    MAX_IMAGES_PER_REQUEST,
};
pub use model_check::ModelCheck;
use wire::{ErrorBody, ImagesResponse, SseParser, StreamEvent};

/// How many times a retryable failure is tried again.
const MAX_RETRIES: u32 = 2;
/// Longest `retry-after` we wait inside one job; longer ones fail as rate-limited.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct OpenAiSettings {
    /// Sent as a bearer token; never logged (see the `Debug` impl).
    pub api_key: String,
    /// e.g. `https://api.openai.com/v1`, or a compatible server's.
    pub base_url: String,
    pub model: String,
    pub size: String,
    pub quality: Option<String>,
    /// Previews to ask for (0–3); 0 asks for plain JSON.
    pub partial_images: u8,
    /// Deadline of a medium-quality 1024×1024 image; larger sizes and higher qualities get
    /// proportionally more (see [`OpenAiImages::deadline`]).
    pub request_timeout: Duration,
    /// Hosts an image link may reach over http or at a private address, besides the
    /// server's own origin (see [`download`](super::download)).
    pub image_url_hosts: AllowedHosts,
}

impl std::fmt::Debug for OpenAiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiSettings")
            .field("api_key", &if self.api_key.is_empty() { "(none)" } else { "(set)" })
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("size", &self.size)
            .field("quality", &self.quality)
            .field("partial_images", &self.partial_images)
            .finish()
    }
}

pub struct OpenAiImages {
    http: reqwest::Client,
    downloads: Downloader,
    settings: OpenAiSettings,
    /// Models already reported missing, so the administrator reads it once, not per job.
    reported: Mutex<HashSet<String>>,
}

impl OpenAiImages {
    pub fn new(settings: OpenAiSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(10)).build()?;
        let downloads = Downloader::new(settings.image_url_hosts.clone().with_origin_of(&settings.base_url))?;
        Ok(Self { http, downloads, settings, reported: Mutex::default() })
    }

    async fn attempt(
        &self,
        request: &ImageRequest,
        events: &mpsc::Sender<ProviderEvent>,
    ) -> Result<GeneratedImage, ProviderError> {
        let base = self.settings.base_url.trim_end_matches('/');
        let timeout = self.deadline(request);
        let mut req = match request.source.as_deref().filter(|_| self.edits()) {
            Some(source) => self
                .http
                .post(format!("{base}/images/edits"))
                .timeout(timeout)
                .multipart(self.edit_form(request, source)?),
            None => self.http.post(format!("{base}/images/generations")).timeout(timeout).json(&self.body(request)),
        };
        if !self.settings.api_key.is_empty() {
            req = req.bearer_auth(&self.settings.api_key);
        }
        let mut res = req.send().await.map_err(network)?;
        if !res.status().is_success() {
            return Err(error_from(res, &self.settings.model).await);
        }
        // Sent once the provider accepted the request: from here the image is being made.
        let _ = events.send(ProviderEvent::Generating).await;
        let is_stream = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !is_stream {
            let bytes = body::read(res, Budget::ImagesJson, network).await?;
            let body: ImagesResponse =
                serde_json::from_slice(&bytes).map_err(|e| ProviderError::BadResponse(e.to_string()))?;
            return self.finish(body).await;
        }
        let mut parser = SseParser::default();
        let mut budget = StreamBudget::new();
        while let Some(chunk) = res.chunk().await.map_err(network)? {
            let parsed = parser.push(&chunk);
            budget.take(chunk.len(), parser.pending())?;
            for event in parsed {
                match StreamEvent::parse(&event)? {
                    Some(StreamEvent::Partial { b64_json }) => {
                        let png = decode(&b64_json)?;
                        let _ = events.send(ProviderEvent::Preview { png }).await;
                    }
                    Some(StreamEvent::Completed { b64_json, revised_prompt, usage }) => {
                        return Ok(self.image(vec![decode(&b64_json)?], revised_prompt, usage));
                    }
                    Some(StreamEvent::Failed { error }) => {
                        return Err(error.into_provider_error(StatusCode::OK, None, &self.settings.model))
                    }
                    None => {}
                }
            }
        }
        Err(ProviderError::NoImage)
    }

    async fn finish(&self, body: ImagesResponse) -> Result<GeneratedImage, ProviderError> {
        let usage = body.usage;
        let revised_prompt = body.data.first().and_then(|d| d.revised_prompt.clone());
        let mut images = Vec::new();
        // No more than were asked for: a server sending more does not fill our storage.
        for item in body.data.into_iter().take(usize::from(MAX_IMAGES_PER_REQUEST)) {
            match (item.b64_json, item.url) {
                (Some(b64), _) => images.push(decode(&b64)?),
                // Provider URLs expire within the hour: fetch now, store the bytes.
                (None, Some(url)) => images.push(self.downloads.image(&url, self.settings.request_timeout).await?),
                (None, None) => {}
            }
        }
        if images.is_empty() {
            return Err(ProviderError::NoImage);
        }
        Ok(self.image(images, revised_prompt, usage))
    }

    fn image(&self, images: Vec<Vec<u8>>, revised_prompt: Option<String>, usage: Option<Usage>) -> GeneratedImage {
        GeneratedImage {
            images,
            revised_prompt,
            provider: self.name(),
            model: self.settings.model.clone(),
            usage,
            seed: None,
            steps: None,
        }
    }
}

fn network(e: reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout
    } else {
        // Without the URL: a proxy's or compatible server's may carry a key (I2).
        ProviderError::Network(e.without_url().to_string())
    }
}

fn decode(b64: &str) -> Result<Vec<u8>, ProviderError> {
    base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|e| ProviderError::BadResponse(e.to_string()))
}

/// `retry-after-ms` (OpenAI's, precise) or `retry-after` (seconds).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    // `inf`, `NaN` or a year would panic `Duration` or hold the job: finite and clamped only.
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .map(|v| v.clamp(0.0, 86_400_000.0))
    };
    header("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0))
        .or_else(|| header("retry-after").map(|s| Duration::from_secs_f64(s.max(0.0))))
}

async fn error_from(res: reqwest::Response, model: &str) -> ProviderError {
    let status = res.status();
    let wait = retry_after(res.headers());
    let body = body::read_prefix(res, Budget::Error).await;
    let error = serde_json::from_slice::<ErrorBody>(&body).map(|b| b.error).unwrap_or_default();
    error.into_provider_error(status, wait, model)
}

#[async_trait]
impl ImageProvider for OpenAiImages {
    fn kind(&self) -> ProviderKind {
        ProviderKind::OpenAi
    }

    fn model(&self) -> String {
        self.settings.model.clone()
    }

    fn capabilities(&self) -> Capabilities {
        let gpt = !self.is_dalle();
        Capabilities {
            edit: self.edits(),
            mask: self.edits(),
            // `image[]` takes up to 16 pictures on the GPT image models.
            references: gpt,
            seed: false,
            batch: true,
            qualities: self.known().map_or(&[], |m| m.qualities()),
            custom_sizes: self.known().is_some(),
            steps: false,
            previews: gpt && self.settings.partial_images > 0,
            cancel: false,
        }
    }

    /// The configured time for a medium 1024² image, scaled by quality (high ×1.5, xhigh ×2,
    /// max ×2.5) and by the square root of the area in megapixels: a 4K image at high
    /// quality gets several minutes.
    fn deadline(&self, request: &ImageRequest) -> Duration {
        let quality = match self.quality(request) {
            Some(Quality::High) => 1.5,
            Some(Quality::XHigh) => 2.0,
            Some(Quality::Max) => 2.5,
            _ => 1.0,
        };
        let (w, h) = catalogue::parse_size(&self.size_for(request)).ok().flatten().unwrap_or((1024, 1024));
        let megapixels = f64::from(w) * f64::from(h) / 1_048_576.0;
        self.settings.request_timeout.mul_f64(quality * megapixels.sqrt().max(1.0))
    }

    async fn generate(
        &self,
        request: &ImageRequest,
        events: mpsc::Sender<ProviderEvent>,
        cancel: CancellationToken,
    ) -> Result<GeneratedImage, ProviderError> {
        let mut retries = 0;
        loop {
            let result = tokio::select! {
                _ = cancel.cancelled() => return Err(ProviderError::Cancelled),
                r = self.attempt(request, &events) => r,
            };
            if let Err(e) = &result {
                self.report(e);
            }
            let wait = match &result {
                Err(ProviderError::RateLimited { retry_after }) => retry_after.unwrap_or(Duration::from_secs(1)),
                Err(ProviderError::Server { .. } | ProviderError::Network(_)) => Duration::from_millis(500 << retries),
                _ => return result,
            };
            if retries >= MAX_RETRIES || wait > MAX_RETRY_WAIT {
                return result;
            }
            retries += 1;
            if let Err(e) = &result {
                let _ = events.send(ProviderEvent::Retrying(e.clone())).await;
            }
            tracing::info!(retry = retries, wait_ms = wait.as_millis() as u64, error = ?result.as_ref().err(), "retrying the image request");
            tokio::select! {
                _ = cancel.cancelled() => return Err(ProviderError::Cancelled),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(name: &'static str, value: &'static str) -> Option<Duration> {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(name, reqwest::header::HeaderValue::from_static(value));
        retry_after(&headers)
    }

    /// E4: `Duration::from_secs_f64` panics on these; a hostile provider may send them.
    #[test]
    fn retry_after_takes_only_finite_clamped_waits() {
        for hostile in ["inf", "-inf", "NaN", "1e308", "-5"] {
            let secs = wait("retry-after", hostile);
            assert!(secs.is_none_or(|d| d <= Duration::from_secs(86_400_000)), "{hostile}: {secs:?}");
            let ms = wait("retry-after-ms", hostile);
            assert!(ms.is_none_or(|d| d <= Duration::from_secs(86_400)), "{hostile}: {ms:?}");
        }
        assert_eq!(wait("retry-after", "2.5"), Some(Duration::from_millis(2_500)));
        assert_eq!(wait("retry-after-ms", "120"), Some(Duration::from_millis(120)));
        assert_eq!(wait("retry-after", "soon"), None);
    }

    /// I2: reqwest's errors end with the URL, which may carry a key; none reaches our errors.
    #[tokio::test]
    async fn a_network_error_does_not_carry_the_url() {
        let err = reqwest::get("http://127.0.0.1:1/v1/images?api-key=sk-secret").await.expect_err("nothing listens");
        assert!(err.to_string().contains("sk-secret"), "reqwest's own text has it: {err}");
        let ours = network(err).to_string();
        assert!(!ours.contains("sk-secret"), "{ours}");
    }
}
