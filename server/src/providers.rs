//! Image providers behind one trait, so the job runner drives any of them the same way.
//!
//! A provider knows nothing of sockets, the hub or the database: it takes a request, a
//! channel for progress events and a cancellation token, and returns PNG bytes or a typed
//! error. Cancelling the token must stop the work (drop the HTTP request, stop painting)
//! and return [`ProviderError::Cancelled`] promptly.
//!
//! This is the first slice of the image-generation issue: the seam and the built-in
//! renderer. The OpenAI-compatible client and the job runner build on it.

pub mod builtin;
pub mod openai;
pub mod pricing;
pub mod sse;

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRequest {
    /// The prompt sent to the provider (after enhancement).
    pub prompt: String,
    pub width: u32,
    pub height: u32,
    /// For a refinement, the image it changes (PNG), given to providers that can edit.
    pub source: Option<std::sync::Arc<Vec<u8>>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedImage {
    /// The finished image, PNG encoded.
    pub png: Vec<u8>,
    /// The prompt the provider says it used, when it rewrites prompts.
    pub revised_prompt: Option<String>,
    /// Which provider and model made it, shown with the image.
    pub provider: &'static str,
    pub model: String,
    /// Token usage, when the provider reports it (priced by [`pricing`]).
    pub usage: Option<pricing::Usage>,
}

/// What a provider reports while it works.
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderEvent {
    /// The provider has started producing the image.
    Generating,
    /// A partial image (small PNG), shown as a preview and never stored.
    Preview { png: Vec<u8> },
    /// The last attempt failed in a way worth retrying; the provider tries again.
    Retrying(ProviderError),
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
    #[error("provider error (HTTP {status})")]
    Server { status: u16 },
    #[error("network error: {0}")]
    Network(String),
    #[error("the provider took too long")]
    Timeout,
    #[error("the provider answered without an image")]
    NoImage,
    #[error("unreadable provider response: {0}")]
    BadResponse(String),
}

impl ProviderError {
    /// A stable code for logs, the job row and the admin view.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Cancelled => "cancelled",
            Self::ContentPolicy => "content_policy",
            Self::RateLimited { .. } => "rate_limited",
            Self::QuotaExhausted => "quota_exhausted",
            Self::Unauthorized => "unauthorized",
            Self::Server { .. } => "server_error",
            Self::Network(_) => "network",
            Self::Timeout => "timeout",
            Self::NoImage => "no_image",
            Self::BadResponse(_) => "bad_response",
        }
    }

    /// Whether trying the same request again may succeed.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Server { .. } | Self::Network(_) | Self::Timeout | Self::NoImage
        )
    }
}

#[async_trait]
pub trait ImageProvider: Send + Sync + 'static {
    /// Whether the provider can change a given image (an edits endpoint); a refinement then
    /// sends it the last image instead of generating from the prompt alone.
    fn edits(&self) -> bool {
        false
    }

    /// Short name shown with the image ("built-in renderer", "OpenAI").
    fn name(&self) -> &'static str;

    async fn generate(
        &self,
        request: &ImageRequest,
        events: mpsc::Sender<ProviderEvent>,
        cancel: CancellationToken,
    ) -> Result<GeneratedImage, ProviderError>;
}
