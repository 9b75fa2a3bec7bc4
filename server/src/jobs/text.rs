//! What the user reads about a provider's trouble: while it is retried, and when it failed.

use crate::providers::ProviderError;

/// What the status line says while the provider retries.
pub(super) fn retrying(e: &ProviderError) -> &'static str {
    match e {
        ProviderError::RateLimited { .. } => "Too many requests, please wait a moment…",
        ProviderError::Network(_) | ProviderError::Timeout => "Connection lost, retrying…",
        _ => "The image service had a problem, retrying…",
    }
}

/// What the user reads for each provider failure.
pub fn friendly(e: &ProviderError) -> String {
    match e {
        ProviderError::Cancelled => "Generation cancelled.",
        ProviderError::ContentPolicy => "The provider declined this prompt; try rephrasing it.",
        ProviderError::RateLimited { .. } => "Too many requests, please wait a moment and try again.",
        ProviderError::QuotaExhausted | ProviderError::Unauthorized => "Image generation is unavailable right now.",
        ProviderError::ModelUnavailable { model, retired_on: Some(date) } => {
            return format!(
                "The image model {model} was retired by the provider on {date}; the administrator must set \
                 OPENAI_IMAGE_MODEL to a current model."
            )
        }
        ProviderError::ModelUnavailable { model, retired_on: None } => {
            return format!(
                "The image model {model} is not offered by the provider; the administrator must set \
                 OPENAI_IMAGE_MODEL to a model it offers."
            )
        }
        ProviderError::Engine(_) => "The image engine could not finish this image. Please try again.",
        ProviderError::Rejected(_) => {
            "The image engine refused this request as it is set up; the administrator must check its settings."
        }
        ProviderError::Timeout => "Generation is taking longer than expected. Please try again.",
        ProviderError::Network(_) => "The image service could not be reached. Please try again.",
        ProviderError::Server { .. } | ProviderError::NoImage | ProviderError::BadResponse(_) => {
            "Generation failed, please try again."
        }
    }
    .to_string()
}
