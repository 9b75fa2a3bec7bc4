//! The WebSocket endpoint: one socket per tab.
//!
//! The upgrade is where trust is decided: the `Origin` must be the page's own host or a
//! configured origin (a page on another site must not ride on the user's cookie), and the
//! session cookie must name a user. Buffers and the frame limit are set explicitly so an
//! idle socket costs kilobytes, not axum's default 128 KiB of read buffer.

mod session;

use std::sync::atomic::{AtomicU64, Ordering};

use app::protocol::MAX_FRAME_BYTES;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tracing::Instrument;

use crate::auth::{session_tag, signed_in_at, ClientAddress, MaybeUser};
use crate::state::AppState;

pub use session::{run_session, SessionCtx};

/// Preallocated per socket for as long as it stays open; a tab's frames are a few hundred
/// bytes, and a larger one grows the buffer. 2 KiB rather than 8 put an idle socket at the
/// Node `ws` peer's memory (docs/benchmarks.md).
const READ_BUFFER_BYTES: usize = 2 * 1024;
const WRITE_BUFFER_BYTES: usize = 8 * 1024;
/// Backpressure: a tab that stops reading is dropped once this much is queued for it.
const MAX_WRITE_BUFFER_BYTES: usize = 1024 * 1024;

pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    user: MaybeUser,
    session: tower_sessions::Session,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if !origin_allowed(origin, host, &state.settings.allowed_origins) {
        tracing::warn!(?origin, ?host, "websocket refused: origin not allowed");
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    let Some(user) = user.0 else {
        return (StatusCode::UNAUTHORIZED, "sign in first").into_response();
    };
    // Sockets per user and per address (D2): each holds memory and a task for as long as
    // it stays open.
    let place = match state.throttle.open_socket(user.id, address) {
        Ok(place) => place,
        Err(refused) => {
            tracing::warn!(user = %user.id, %address, ?refused, "websocket refused: too many open");
            return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "30")], refused.sentence()).into_response();
        }
    };
    let ctx = SessionCtx {
        chat: state.chat.clone(),
        user,
        session: session_tag(&session),
        signed_in_at: signed_in_at(&session).await,
        ws: state.settings.ws,
        throttle: state.throttle.clone(),
    };
    ws.read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| {
            let (sink, stream) = socket.split();
            // Every line a socket logs carries its user and its own number.
            let span =
                tracing::info_span!("socket", user = %ctx.user.id, socket = SOCKETS.fetch_add(1, Ordering::Relaxed));
            async move {
                run_session(ctx, sink, stream).await;
                drop(place);
            }
            .instrument(span)
        })
}

/// Sockets opened since the start, numbering each one's log lines.
static SOCKETS: AtomicU64 = AtomicU64::new(1);

/// Same-host pages are always allowed (that is how a browser opens our own socket);
/// any other origin only when configured. A request without `Origin` is not a browser
/// page of ours and is refused.
pub fn origin_allowed(origin: Option<&str>, host: Option<&str>, allowed: &[String]) -> bool {
    let Some(origin) = origin.map(|o| o.trim_end_matches('/')) else {
        return false;
    };
    let same_host = host.is_some_and(|h| origin == format!("http://{h}") || origin == format!("https://{h}"));
    same_host || allowed.iter().any(|a| a == origin)
}

#[cfg(test)]
mod tests {
    use super::origin_allowed;

    #[test]
    fn the_page_s_own_host_is_allowed() {
        assert!(origin_allowed(Some("http://127.0.0.1:3000"), Some("127.0.0.1:3000"), &[]));
        assert!(origin_allowed(Some("https://chat.example"), Some("chat.example"), &[]));
    }

    #[test]
    fn foreign_and_missing_origins_are_refused() {
        assert!(!origin_allowed(Some("http://evil.example"), Some("127.0.0.1:3000"), &[]));
        assert!(!origin_allowed(None, Some("127.0.0.1:3000"), &[]));
        assert!(!origin_allowed(Some("http://127.0.0.1:3000.evil.example"), Some("127.0.0.1:3000"), &[]));
    }

    #[test]
    fn configured_origins_are_allowed() {
        let allowed = vec!["https://chat.example".to_string()];
        assert!(origin_allowed(Some("https://chat.example"), Some("10.0.0.5:3000"), &allowed));
        assert!(!origin_allowed(Some("https://other.example"), Some("10.0.0.5:3000"), &allowed));
    }
}
