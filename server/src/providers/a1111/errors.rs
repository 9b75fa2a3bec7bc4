//! What a failed generation request means, from A1111's error bodies: its exception
//! handler's `{"error", "detail", "body", "errors"}`, or FastAPI's `{"detail"}` (a string, or
//! a list of validation problems). A missing route (`--api` off) is told apart from A1111's
//! own 404s (an unknown sampler), which say what was not found.

use serde::Deserialize;

use crate::providers::ProviderError;

/// The `{"error", "detail", "errors"}` body of A1111's exception handler, or FastAPI's
/// plain `{"detail"}` (a string, or a list of validation problems).
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    detail: Option<serde_json::Value>,
    #[serde(default)]
    errors: Option<String>,
}

impl ErrorBody {
    fn detail(&self) -> Option<String> {
        match self.detail.as_ref()? {
            serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            serde_json::Value::Array(problems) if !problems.is_empty() => Some(
                problems
                    .iter()
                    .map(|p| {
                        let place = p["loc"].as_array().map(|l| {
                            l.iter()
                                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                                .collect::<Vec<_>>()
                                .join(".")
                        });
                        let msg = p["msg"].as_str().unwrap_or("invalid");
                        match place {
                            Some(place) => format!("{place}: {msg}"),
                            None => msg.to_string(),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

/// What went wrong, from a generation request's failed status and body.
pub(super) fn error_from(status: u16, body: &[u8], base_url: &str) -> ProviderError {
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    let detail = parsed.as_ref().and_then(ErrorBody::detail);
    match status {
        401 | 403 => ProviderError::Unauthorized,
        // FastAPI's own 404 (no such route) says "Not Found"; A1111's own ones say what.
        404 if detail.as_deref().is_none_or(|d| d == "Not Found") => ProviderError::Rejected(api_missing(base_url)),
        404 | 422 => ProviderError::Rejected(format!(
            "the engine refused the request: {}",
            detail.unwrap_or_else(|| format!("HTTP {status}"))
        )),
        _ => match parsed {
            Some(ErrorBody { error: Some(error), errors, .. }) => {
                let words = errors.filter(|e| !e.trim().is_empty()).or(detail);
                ProviderError::Engine(match words {
                    Some(words) => format!("{error}: {words}"),
                    None => error,
                })
            }
            _ if status >= 500 => ProviderError::Server { status },
            _ => ProviderError::BadResponse(format!("HTTP {status}: {}", detail.unwrap_or_default())),
        },
    }
}

/// The sentence for an engine that was started without its API.
pub(super) fn api_missing(base_url: &str) -> String {
    format!("AUTOMATIC1111 at {base_url} has no API (/sdapi/v1): start it with --api")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_typed_by_status_and_body() {
        let base = "http://sd:7860";
        let missing = error_from(404, br#"{"detail":"Not Found"}"#, base);
        assert!(
            matches!(&missing, ProviderError::Rejected(m) if m.contains("--api") && m.contains(base)),
            "{missing:?}"
        );
        let sampler = error_from(404, br#"{"error":"HTTPException","detail":"Sampler not found","errors":""}"#, base);
        assert!(matches!(&sampler, ProviderError::Rejected(m) if m.contains("Sampler not found")), "{sampler:?}");
        assert_eq!(
            error_from(401, br#"{"detail":"Incorrect username or password"}"#, base),
            ProviderError::Unauthorized
        );
        let invalid = error_from(
            422,
            br#"{"detail":[{"loc":["body","steps"],"msg":"value is not a valid integer","type":"x"}]}"#,
            base,
        );
        assert!(
            matches!(&invalid, ProviderError::Rejected(m) if m.contains("body.steps: value is not a valid integer")),
            "{invalid:?}"
        );
        let oom = error_from(
            500,
            br#"{"error":"OutOfMemoryError","detail":"","body":"","errors":"CUDA out of memory"}"#,
            base,
        );
        assert_eq!(oom, ProviderError::Engine("OutOfMemoryError: CUDA out of memory".into()));
        assert_eq!(error_from(502, b"<html>bad gateway</html>", base), ProviderError::Server { status: 502 });
    }

    proptest::proptest! {
        /// Whatever an engine (or a proxy in front of it) answers, it becomes one of our errors.
        #[test]
        fn any_error_body_becomes_an_error(status in 100u16..600, body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = error_from(status, &body, "http://127.0.0.1:7860");
        }
    }
}
