//! Image providers behind one trait, so the job runner drives any of them the same way.
//!
//! A provider knows nothing of sockets, the hub or the database: it takes a request, a
//! channel for progress events and a cancellation token, and returns the image bytes or a
//! typed error. Cancelling the token must stop the work where the engine allows it (drop the
//! HTTP request, ask the engine to cancel that job, stop painting) and return
//! [`ProviderError::Cancelled`] promptly.
//!
//! Each provider says what it can do ([`Capabilities`]) so the runner (and later the
//! composer) offer only that, and how long a request may take ([`ImageProvider::deadline`]):
//! a 4K image at high quality or a CPU-bound local engine needs minutes, a preview-sized
//! image from the built-in renderer seconds. Several providers can be configured at once
//! ([`registry::Providers`]); the administrator names which are offered and the default.

pub mod a1111;
pub mod body;
pub mod builtin;
pub mod catalogue;
pub mod comfyui;
pub mod download;
pub mod openai;
pub mod pricing;
pub mod registry;
pub mod sse;

use std::sync::Arc;
use std::time::Duration;

use app::protocol::{FailureKind, MAX_IMAGES_PER_REQUEST};
pub use app::protocol::{ProviderKind, Quality};
use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The longest any one generation may run, whatever is configured: past this a job is
/// failed with Retry offered rather than left looking alive forever.
pub const MAX_DEADLINE: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRequest {
    /// The prompt sent to the provider (after enhancement).
    pub prompt: String,
    pub width: u32,
    pub height: u32,
    /// For a refinement, the image it changes (PNG), given to providers that can edit.
    pub source: Option<Arc<Vec<u8>>>,
    /// A seed asked for; `None` lets the provider pick a random one (an engine that caches
    /// identical graphs would otherwise answer a retry with the same image in no time).
    pub seed: Option<u64>,
    /// The care asked for (OpenAI's `quality`, a diffusion engine's steps); `None` leaves the
    /// configured one.
    pub quality: Option<Quality>,
    /// Images to make in this one request (1 to 4); an engine that makes them in a batch
    /// reports progress once for all.
    pub count: u8,
    /// The area of `source` to change: a grey PNG of its size, white where painted (each
    /// provider turns it into its own form).
    pub mask: Option<Arc<Vec<u8>>>,
    /// More pictures to draw on, sent with `source` (PNG).
    pub references: Vec<Arc<Vec<u8>>>,
}

impl ImageRequest {
    /// One image of `prompt` at this size, nothing else asked (tools and tests).
    pub fn new(prompt: impl Into<String>, width: u32, height: u32) -> Self {
        Self {
            prompt: prompt.into(),
            width,
            height,
            source: None,
            seed: None,
            quality: None,
            count: 1,
            mask: None,
            references: Vec::new(),
        }
    }

    /// The count, within 1..=[`MAX_IMAGES_PER_REQUEST`].
    pub fn images(&self) -> u8 {
        self.count.clamp(1, MAX_IMAGES_PER_REQUEST)
    }
}

/// The qualities a diffusion engine offers: each a number of sampler steps ([`steps_for`]).
pub const DIFFUSION_QUALITIES: &[Quality] = &[Quality::Low, Quality::Medium, Quality::High];

/// The sampler steps for the quality asked: the configured count is "medium"; low takes 60 %
/// of it (at least 8), high 160 % (at most 150).
pub fn steps_for(configured: u32, quality: Option<Quality>) -> u32 {
    match quality {
        Some(Quality::Low) => (configured * 6 / 10).max(8).min(configured.max(1)),
        Some(Quality::High | Quality::XHigh | Quality::Max) => (configured * 16 / 10).clamp(configured, 150),
        _ => configured,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedImage {
    /// The finished images, in the engine's order (PNG, or whatever the engine saved: JPEG,
    /// WebP); never empty.
    pub images: Vec<Vec<u8>>,
    /// The prompt the provider says it used, when it rewrites prompts.
    pub revised_prompt: Option<String>,
    /// Which provider and model made it, shown with the image.
    pub provider: &'static str,
    pub model: String,
    /// Token usage, when the provider reports it (priced by [`pricing`]).
    pub usage: Option<pricing::Usage>,
    /// The seed the engine used, when it says.
    pub seed: Option<u64>,
    /// Sampler steps it ran, when it counts them (filled from its progress when it does not
    /// say itself).
    pub steps: Option<u32>,
}

/// What a provider reports while it works.
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderEvent {
    /// Accepted and waiting in the engine's queue; `position` 0 means next, when the engine
    /// says where the job stands.
    Queued { position: Option<u32> },
    /// The provider has started producing the image.
    Generating,
    /// The sampler finished step `step` of `total` (engines that count steps).
    Step { step: u32, total: u32 },
    /// A partial image (PNG or JPEG), shown as a preview and never stored.
    Preview { png: Vec<u8> },
    /// The last attempt failed in a way worth retrying; the provider tries again.
    Retrying(ProviderError),
}

/// What a provider can do, so nothing is offered that it would ignore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Changes a given image (a refinement sends the last image).
    pub edit: bool,
    /// Takes a mask of the area to change.
    pub mask: bool,
    /// Takes more pictures than the one it changes (references).
    pub references: bool,
    /// Takes a seed (so "again with the same seed" is meaningful).
    pub seed: bool,
    /// Makes several images per request.
    pub batch: bool,
    /// Qualities it takes (empty: one, its own).
    pub qualities: &'static [Quality],
    /// Takes any size (within its rules), not only the classic three shapes.
    pub custom_sizes: bool,
    /// Reports real sampler steps.
    pub steps: bool,
    /// Sends previews while it works.
    pub previews: bool,
    /// Cancel stops the work on the engine, not only our wait for it.
    pub cancel: bool,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    #[error("cancelled")]
    Cancelled,
    #[error("the provider declined this prompt")]
    ContentPolicy,
    #[error("rate limited")]
    RateLimited { retry_after: Option<Duration> },
    #[error("the provider account has no quota left")]
    QuotaExhausted,
    #[error("the provider refused our credentials")]
    Unauthorized,
    /// The configured model does not exist there (a 404 `model_not_found`), or was retired
    /// (`retired_on` from the catalogue): a configuration error, never retried or charged.
    #[error("the image model {model} is not available")]
    ModelUnavailable { model: String, retired_on: Option<&'static str> },
    #[error("provider error (HTTP {status})")]
    Server { status: u16 },
    #[error("network error: {0}")]
    Network(String),
    /// The engine refused the request as configured (a workflow naming a missing model, an
    /// API that is off, a sampler it lacks): the administrator's to fix, not worth a retry.
    #[error("the engine refused the request: {0}")]
    Rejected(String),
    /// A local engine ran the job and reported a failure of its own (out of memory, a node
    /// that raised): its words are logged, the user gets a sentence.
    #[error("the engine failed: {0}")]
    Engine(String),
    #[error("the provider took too long")]
    Timeout,
    #[error("the provider answered without an image")]
    NoImage,
    #[error("unreadable provider response: {0}")]
    BadResponse(String),
}

impl ProviderError {
    /// A stable code for logs, the job row and the admin view.
    pub fn kind(&self) -> FailureKind {
        match self {
            // Never recorded as a failure: the runner ends a cancelled job as cancelled.
            Self::Cancelled => FailureKind::Interrupted,
            Self::ContentPolicy => FailureKind::ContentPolicy,
            Self::RateLimited { .. } => FailureKind::RateLimited,
            Self::QuotaExhausted => FailureKind::QuotaExhausted,
            Self::Unauthorized => FailureKind::Unauthorized,
            Self::ModelUnavailable { .. } => FailureKind::ModelUnavailable,
            Self::Server { .. } => FailureKind::ServerError,
            Self::Network(_) => FailureKind::Network,
            Self::Engine(_) => FailureKind::EngineError,
            Self::Rejected(_) => FailureKind::EngineRejected,
            Self::Timeout => FailureKind::Timeout,
            Self::NoImage => FailureKind::NoImage,
            Self::BadResponse(_) => FailureKind::BadResponse,
        }
    }

    /// Whether trying the same request again may succeed.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::Server { .. }
                | Self::Network(_)
                | Self::Engine(_)
                | Self::Timeout
                | Self::NoImage
        )
    }
}

#[async_trait]
pub trait ImageProvider: Send + Sync + 'static {
    fn kind(&self) -> ProviderKind;

    /// Short name shown with the image ("built-in renderer", "OpenAI", "ComfyUI").
    fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The model (or workflow) it uses, recorded with each job and priced by it.
    fn model(&self) -> String;

    fn capabilities(&self) -> Capabilities;

    /// How long this request may take before the job gives up (capped at [`MAX_DEADLINE`]
    /// by the runner).
    fn deadline(&self, request: &ImageRequest) -> Duration;

    async fn generate(
        &self,
        request: &ImageRequest,
        events: mpsc::Sender<ProviderEvent>,
        cancel: CancellationToken,
    ) -> Result<GeneratedImage, ProviderError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_sets_the_steps() {
        assert_eq!(
            (steps_for(25, Some(Quality::Low)), steps_for(25, None), steps_for(25, Some(Quality::High))),
            (15, 25, 40)
        );
        assert_eq!(steps_for(10, Some(Quality::Low)), 8);
        assert_eq!(steps_for(120, Some(Quality::High)), 150);
    }
}
