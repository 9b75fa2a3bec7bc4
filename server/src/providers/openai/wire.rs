//! The OpenAI Images API's wire format: private to the client, tested on its own.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

use crate::providers::pricing::Usage;
pub use crate::providers::sse::{SseEvent, SseParser};
use crate::providers::ProviderError;

#[derive(Debug, Deserialize)]
pub struct ImagesResponse {
    #[serde(default)]
    pub data: Vec<ImageData>,
    pub usage: Option<Usage>,
}

/// `GET /models`: the ids the key may use.
#[derive(Debug, Deserialize)]
pub struct ModelList {
    #[serde(default)]
    pub data: Vec<ModelEntry>,
}

#[derive(Debug, Deserialize)]
pub struct ModelEntry {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub struct ImageData {
    pub b64_json: Option<String>,
    pub url: Option<String>,
    pub revised_prompt: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: ApiError,
}

#[derive(Debug, Default, Deserialize)]
pub struct ApiError {
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
}

impl ApiError {
    /// `model` is the model asked for: a 404 `model_not_found` names it.
    pub fn into_provider_error(self, status: StatusCode, retry_after: Option<Duration>, model: &str) -> ProviderError {
        let code = self.code.as_deref().or(self.kind.as_deref()).unwrap_or_default();
        match (status.as_u16(), code) {
            (_, "model_not_found") | (404, "invalid_model") => ProviderError::ModelUnavailable {
                model: model.to_string(),
                retired_on: crate::providers::catalogue::retired_on(model),
            },
            (_, "content_policy_violation" | "moderation_blocked") => ProviderError::ContentPolicy,
            (_, "insufficient_quota" | "billing_hard_limit_reached") => {
                tracing::error!(message = %self.message, "the image provider account is out of quota: an operator must act");
                ProviderError::QuotaExhausted
            }
            (429, _) => ProviderError::RateLimited { retry_after },
            (401 | 403, _) => {
                tracing::error!(message = %self.message, "the image provider refused our credentials");
                ProviderError::Unauthorized
            }
            (s, _) if s >= 500 => ProviderError::Server { status: s },
            (s, _) => ProviderError::BadResponse(format!("HTTP {s}: {}", self.message)),
        }
    }
}

/// The stream events the client acts on.
#[derive(Debug, PartialEq)]
pub enum StreamEvent {
    Partial { b64_json: String },
    Completed { b64_json: String, revised_prompt: Option<String>, usage: Option<Usage> },
    Failed { error: ApiError },
}

impl PartialEq for ApiError {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message && self.code == other.code && self.kind == other.kind
    }
}

#[derive(Deserialize)]
struct RawStreamEvent {
    #[serde(rename = "type")]
    kind: Option<String>,
    b64_json: Option<String>,
    revised_prompt: Option<String>,
    usage: Option<Usage>,
    error: Option<ApiError>,
}

impl StreamEvent {
    /// `Ok(None)` for events the client does not need (keep-alives, `[DONE]`, unknown types).
    pub fn parse(event: &SseEvent) -> Result<Option<Self>, ProviderError> {
        if event.data.trim().is_empty() || event.data.trim() == "[DONE]" {
            return Ok(None);
        }
        let raw: RawStreamEvent =
            serde_json::from_str(&event.data).map_err(|e| ProviderError::BadResponse(format!("stream event: {e}")))?;
        let kind = raw.kind.or_else(|| event.event.clone()).unwrap_or_default();
        if let Some(error) = raw.error {
            return Ok(Some(Self::Failed { error }));
        }
        Ok(match (kind.as_str(), raw.b64_json) {
            ("image_generation.partial_image", Some(b64_json)) => Some(Self::Partial { b64_json }),
            ("image_generation.completed", Some(b64_json)) => {
                Some(Self::Completed { b64_json, revised_prompt: raw.revised_prompt, usage: raw.usage })
            }
            ("image_generation.completed", None) => return Err(ProviderError::NoImage),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_events_are_recognised_by_type() {
        let partial =
            SseEvent { event: None, data: r#"{"type":"image_generation.partial_image","b64_json":"AA=="}"#.into() };
        assert_eq!(StreamEvent::parse(&partial), Ok(Some(StreamEvent::Partial { b64_json: "AA==".into() })));
        let done = SseEvent { event: Some("image_generation.completed".into()), data: r#"{"b64_json":"AQ=="}"#.into() };
        assert_eq!(
            StreamEvent::parse(&done),
            Ok(Some(StreamEvent::Completed { b64_json: "AQ==".into(), revised_prompt: None, usage: None }))
        );
        assert_eq!(StreamEvent::parse(&SseEvent { event: None, data: "[DONE]".into() }), Ok(None));
        assert!(StreamEvent::parse(&SseEvent { event: None, data: "{broken".into() }).is_err());
    }

    #[test]
    fn errors_map_to_the_taxonomy() {
        let err = |code: &str| ApiError { message: "m".into(), kind: None, code: Some(code.into()) };
        let wait = Some(Duration::from_secs(2));
        assert_eq!(
            err("moderation_blocked").into_provider_error(StatusCode::BAD_REQUEST, None, "m"),
            ProviderError::ContentPolicy
        );
        assert_eq!(
            err("content_policy_violation").into_provider_error(StatusCode::BAD_REQUEST, None, "m"),
            ProviderError::ContentPolicy
        );
        assert_eq!(
            err("insufficient_quota").into_provider_error(StatusCode::TOO_MANY_REQUESTS, wait, "m"),
            ProviderError::QuotaExhausted
        );
        assert_eq!(
            err("rate_limit_exceeded").into_provider_error(StatusCode::TOO_MANY_REQUESTS, wait, "m"),
            ProviderError::RateLimited { retry_after: wait }
        );
        assert_eq!(
            ApiError::default().into_provider_error(StatusCode::UNAUTHORIZED, None, "m"),
            ProviderError::Unauthorized
        );
        assert_eq!(
            ApiError::default().into_provider_error(StatusCode::SERVICE_UNAVAILABLE, None, "m"),
            ProviderError::Server { status: 503 }
        );
        assert!(matches!(
            ApiError::default().into_provider_error(StatusCode::BAD_REQUEST, None, "m"),
            ProviderError::BadResponse(_)
        ));
        assert_eq!(
            err("model_not_found").into_provider_error(StatusCode::NOT_FOUND, None, "gpt-image-1"),
            ProviderError::ModelUnavailable { model: "gpt-image-1".into(), retired_on: Some("2026-10-23") }
        );
        assert_eq!(
            err("model_not_found").into_provider_error(StatusCode::NOT_FOUND, None, "my-sdxl"),
            ProviderError::ModelUnavailable { model: "my-sdxl".into(), retired_on: None }
        );
    }

    proptest::proptest! {
        /// Any event a server sends becomes an event, nothing, or an error: never a panic.
        #[test]
        fn any_stream_event_is_read_or_refused(event in proptest::option::of(".{0,30}"), data in ".{0,200}") {
            let _ = StreamEvent::parse(&SseEvent { event, data });
        }

        #[test]
        fn any_json_answer_or_error_body_is_read_or_refused(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = serde_json::from_slice::<ImagesResponse>(&body);
            let error = serde_json::from_slice::<ErrorBody>(&body).map(|b| b.error).unwrap_or_default();
            let _ = error.into_provider_error(StatusCode::BAD_REQUEST, None, "m");
        }
    }
}
