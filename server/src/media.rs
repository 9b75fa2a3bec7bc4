//! Image bytes over HTTP: stored images at `/images/{id}/{variant}` (immutable, cached for a
//! year, with an ETag) and a running job's newest preview at `/jobs/{id}/preview` (never
//! cached). Both only for their owner: anyone else gets the same 404 as a missing image.

use app::protocol::{ImageId, JobId, Variant};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth::MaybeUser;
use crate::state::AppState;

pub(crate) fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

pub async fn image(
    State(state): State<AppState>,
    user: MaybeUser,
    Path((id, variant)): Path<(i64, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(user) = user.0 else { return not_found() };
    let Some(variant) = Variant::parse(&variant) else { return not_found() };
    let found = match state.chat.store.image_variant(user.id, ImageId(id), variant).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "image could not be read");
            return (StatusCode::INTERNAL_SERVER_ERROR, "image unavailable").into_response();
        }
    };
    let Some(found) = found else { return not_found() };
    variant_response(found, variant, &headers, "private, max-age=31536000, immutable")
}

/// A stored variant with its ETag, answering a matching `If-None-Match` with 304.
pub(crate) fn variant_response(
    found: crate::store::VariantBytes,
    variant: Variant,
    headers: &HeaderMap,
    cache: &'static str,
) -> Response {
    let etag = format!("\"{}-{variant}\"", found.sha256);
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag), (header::CACHE_CONTROL, cache.to_string())])
            .into_response();
    }
    let mime = HeaderValue::from_str(&found.mime).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::ETAG, HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static(""))),
        ],
        [(header::CACHE_CONTROL, cache)],
        found.bytes,
    )
        .into_response()
}

pub async fn preview(State(state): State<AppState>, user: MaybeUser, Path(id): Path<i64>) -> Response {
    let Some(user) = user.0 else { return not_found() };
    match state.chat.jobs.preview(user.id, JobId(id)).await {
        // Engines send JPEG previews (ComfyUI, A1111), the others PNG.
        Some(bytes) => {
            let mime = match image::guess_format(&bytes) {
                Ok(image::ImageFormat::Jpeg) => "image/jpeg",
                Ok(image::ImageFormat::WebP) => "image/webp",
                _ => "image/png",
            };
            ([(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "no-store")], bytes.as_ref().clone())
                .into_response()
        }
        None => not_found(),
    }
}
