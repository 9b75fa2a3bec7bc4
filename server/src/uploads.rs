//! `POST /uploads`: a picture the user attaches (the body is the file, as the browser sends a
//! `Blob`), or with `?kind=mask&for={image}` the area of one of their images to change.
//! Untrusted bytes: size-limited before they are read whole (`EASEL_UPLOAD_MB`), typed by
//! their content, decoded with limits and re-encoded without metadata (`picture`), counted in
//! the user's storage, owner-only like every image. The answer is JSON: the stored image, or
//! a sentence saying why not, and nothing is stored on a refusal.

pub mod picture;

use app::protocol::{ImageId, ImageInfo, ImageKind};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::auth::MaybeUser;
use crate::state::AppState;
use picture::PictureError;

#[derive(Deserialize)]
pub struct UploadQuery {
    #[serde(default)]
    kind: Option<String>,
    /// The image a mask is for.
    #[serde(default, rename = "for")]
    for_image: Option<i64>,
}

fn refuse(status: StatusCode, text: impl Into<String>) -> Response {
    (status, Json(json!({ "error": text.into() }))).into_response()
}

pub async fn upload(
    State(state): State<AppState>,
    user: MaybeUser,
    Query(query): Query<UploadQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(user) = user.0 else { return refuse(StatusCode::UNAUTHORIZED, "Please log in again.") };
    let limit = state.chat.caps.upload_bytes;
    let body = match body {
        Ok(body) if body.len() <= limit => body,
        Ok(_) | Err(BytesRejection::FailedToBufferBody(_)) => {
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, format!("Pictures may be at most {} MB.", limit >> 20))
        }
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e.body_text()),
    };
    if let Err(wait) = state.throttle.frame(user.id) {
        return refuse(StatusCode::TOO_MANY_REQUESTS, wait.sending_too_fast());
    }
    let store = &state.chat.store;
    let kind = match query.kind.as_deref() {
        None | Some("picture") => ImageKind::Upload,
        Some("mask") => ImageKind::Mask,
        Some(_) => return refuse(StatusCode::BAD_REQUEST, "Unknown kind of upload."),
    };
    // A mask is for one of the user's own images, at its size.
    let size = match (kind, query.for_image) {
        (ImageKind::Mask, Some(image)) => match store.image_kind(user.id, ImageId(image)).await {
            Ok(Some((ImageKind::Generated | ImageKind::Upload, w, h))) => Some((w, h)),
            Ok(_) => return refuse(StatusCode::NOT_FOUND, "That image is not available."),
            Err(e) => return unavailable(e),
        },
        (ImageKind::Mask, None) => return refuse(StatusCode::BAD_REQUEST, "A mask names the image it is for."),
        _ => None,
    };
    match store.stored_bytes(user.id).await {
        Ok(used) if used + body.len() as i64 > state.chat.caps.storage_bytes => {
            let mb = (state.chat.caps.storage_bytes + (1 << 20) - 1) >> 20;
            return refuse(
                StatusCode::INSUFFICIENT_STORAGE,
                format!("Your images take {mb} MB, the most one account keeps; delete some to make room."),
            );
        }
        Ok(_) => {}
        Err(e) => return unavailable(e),
    }
    let work = tokio::task::spawn_blocking(move || match size {
        Some(size) => picture::mask(&body, size),
        None => picture::picture(&body),
    });
    let prepared = match work.await {
        Ok(Ok(prepared)) => prepared,
        Ok(Err(e @ PictureError::NotAPicture)) => return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, e.to_string()),
        Ok(Err(e)) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        Err(e) => {
            tracing::error!(error = %e, "a picture could not be processed");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, "That picture could not be processed.");
        }
    };
    let size = (prepared.width, prepared.height);
    let id = match store.store_picture(user.id, kind, &prepared.sha256, size, &prepared.variants).await {
        Ok(id) => id,
        Err(e) => return unavailable(e),
    };
    let variants = prepared
        .variants
        .iter()
        .filter_map(|v| match v.name {
            app::protocol::Variant::Width(w) => Some(w),
            app::protocol::Variant::Full => None,
        })
        .collect();
    tracing::info!(user = %user.id, image = %id, kind = kind.as_str(), "picture stored");
    let image = ImageInfo { id, width: size.0, height: size.1, variants };
    (StatusCode::CREATED, Json(json!({ "image": image }))).into_response()
}

fn unavailable(e: crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "an upload could not be stored");
    refuse(StatusCode::SERVICE_UNAVAILABLE, "Pictures cannot be stored right now. Please try again soon.")
}
