//! Cross-site request forgery (review rows B2, B3): a state-changing request from a page of
//! another site is refused before any handler runs. Browsers say where a request comes from:
//! `Origin` on every POST and `Sec-Fetch-Site` in current ones. A request with neither is
//! not a browser's (a script, a test, curl), so it cannot ride on anyone's cookie and passes.
//! Same-host pages and `EASEL_ALLOWED_ORIGINS` pass, as for the WebSocket.

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;
use crate::ws::origin_allowed;

pub async fn refuse_cross_site(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let origin = text(header::ORIGIN.as_str());
    let cross_site = text("sec-fetch-site") == Some("cross-site");
    let foreign =
        origin.is_some() && !origin_allowed(origin, text(header::HOST.as_str()), &state.settings.allowed_origins);
    if cross_site || foreign {
        tracing::warn!(?origin, path = %request.uri().path(), "cross-site request refused");
        return (StatusCode::FORBIDDEN, "This request came from another site and was refused.").into_response();
    }
    next.run(request).await
}
