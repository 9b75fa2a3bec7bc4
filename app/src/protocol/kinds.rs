//! The vocabularies a job is described in, shared by the wire, the store and the UI: which
//! engine made it, why it failed, which stored copy of its image. Each is an enum with one
//! spelling, written and read in one place.

use serde::{Deserialize, Serialize};

/// Which kind of engine made (or makes) a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Builtin,
    OpenAi,
    ComfyUi,
    Automatic1111,
}

impl ProviderKind {
    const ALL: [Self; 4] = [Self::Builtin, Self::OpenAi, Self::ComfyUi, Self::Automatic1111];

    /// The name an administrator writes in `EASEL_PROVIDERS` / `EASEL_DEFAULT_PROVIDER`, and
    /// what a job row stores.
    pub fn id(self) -> &'static str {
        match self {
            Self::Builtin => "builtin",
            Self::OpenAi => "openai",
            Self::ComfyUi => "comfyui",
            Self::Automatic1111 => "a1111",
        }
    }

    /// What a person reads ("Made by ComfyUI").
    pub fn name(self) -> &'static str {
        match self {
            Self::Builtin => "built-in renderer",
            Self::OpenAi => "OpenAI",
            Self::ComfyUi => "ComfyUI",
            Self::Automatic1111 => "AUTOMATIC1111",
        }
    }

    /// An id, a common alias, or a name (rows written before ids were stored hold names).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|k| {
            k.id() == s
                || k.name().to_ascii_lowercase() == s
                || matches!((k, s.as_str()), (Self::Automatic1111, "forge") | (Self::Builtin, "built-in"))
        })
    }
}

/// Why a job failed, as a stable code: stored with the job, sent to the tab, and read by
/// settlement (whether the provider probably billed it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    ContentPolicy,
    RateLimited,
    QuotaExhausted,
    Unauthorized,
    ModelUnavailable,
    ServerError,
    Network,
    EngineError,
    EngineRejected,
    /// Our deadline passed while the provider worked.
    Timeout,
    NoImage,
    BadResponse,
    /// The provider sent an image that could not be decoded.
    BadImage,
    /// Something failed on our side (the database, a panic).
    #[default]
    Internal,
    /// The server stopped while the job ran.
    Interrupted,
}

impl FailureKind {
    const ALL: [Self; 15] = [
        Self::ContentPolicy,
        Self::RateLimited,
        Self::QuotaExhausted,
        Self::Unauthorized,
        Self::ModelUnavailable,
        Self::ServerError,
        Self::Network,
        Self::EngineError,
        Self::EngineRejected,
        Self::Timeout,
        Self::NoImage,
        Self::BadResponse,
        Self::BadImage,
        Self::Internal,
        Self::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ContentPolicy => "content_policy",
            Self::RateLimited => "rate_limited",
            Self::QuotaExhausted => "quota_exhausted",
            Self::Unauthorized => "unauthorized",
            Self::ModelUnavailable => "model_unavailable",
            Self::ServerError => "server_error",
            Self::Network => "network",
            Self::EngineError => "engine_error",
            Self::EngineRejected => "engine_rejected",
            Self::Timeout => "timeout",
            Self::NoImage => "no_image",
            Self::BadResponse => "bad_response",
            Self::BadImage => "bad_image",
            Self::Internal => "internal",
            Self::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether a provider that was called has probably billed a job that failed this way: it
    /// was making the image (our deadline, our side failing) or made it (an image we could
    /// not decode). The others are refusals and errors providers do not charge for.
    pub fn billed_when_called(self) -> bool {
        matches!(self, Self::Timeout | Self::BadImage | Self::Internal | Self::Interrupted)
    }
}

/// Which stored copy of an image: the provider's original (PNG) or a WebP this many pixels
/// wide. Written as `full` or the width, in URLs and in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    Full,
    Width(u32),
}

impl Variant {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "full" => Some(Self::Full),
            // Digits only: "+512" or " 512" name no variant.
            w if !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) => w.parse().ok().map(Self::Width),
            _ => None,
        }
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full => f.write_str("full"),
            Self::Width(w) => write!(f, "{w}"),
        }
    }
}

/// What an image row holds: one an engine made, a picture a user sent, or a mask (the area of
/// a picture to change, painted in the browser). Masks are never listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageKind {
    #[default]
    Generated,
    Upload,
    Mask,
}

impl ImageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generated => "generated",
            Self::Upload => "upload",
            Self::Mask => "mask",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Generated, Self::Upload, Self::Mask].into_iter().find(|k| k.as_str() == s)
    }
}
