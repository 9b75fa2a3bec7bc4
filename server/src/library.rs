//! The library's forms and public links: delete an image (its bytes go, its cost stays in
//! the ledger; every tab sees the job without it), share an image or a thread's images
//! behind an unguessable token, revoke it, and serve a shared image to anyone holding a live
//! token. The pages themselves are Leptos routes (`/gallery`, `/gallery/{id}`, `/s/{token}`).

use app::protocol::{ImageId, JobUpdated, ServerMsg, ThreadId, Variant};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use crate::auth::MaybeUser;
use crate::media::{not_found, variant_response};
use crate::state::AppState;
use crate::store::{ShareTarget, StoreError};

fn unavailable(e: StoreError) -> Response {
    tracing::error!(error = %e, "the library could not be reached");
    (StatusCode::SERVICE_UNAVAILABLE, "Please try again in a moment.").into_response()
}

/// `POST /images/{id}/delete`.
pub async fn delete_image(State(state): State<AppState>, user: MaybeUser, Path(id): Path<i64>) -> Response {
    let Some(user) = user.0 else { return Redirect::to("/login").into_response() };
    let store = &state.chat.store;
    let job = match store.delete_image(user.id, ImageId(id)).await {
        Ok(Some(job)) => job,
        Ok(None) => return not_found(),
        Err(e) => return unavailable(e),
    };
    // Every tab shows the job without the image.
    if let Some(job) = job {
        match store.job(user.id, job).await {
            Ok(Some((view, place))) => {
                let updated = JobUpdated { thread_id: place.thread, message_id: place.message, job: view };
                state.chat.hub.publish(user.id, ServerMsg::JobUpdated(updated));
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "a deleted image's job could not be read back"),
        }
    }
    tracing::info!(user = %user.id, image = id, "image deleted");
    Redirect::to("/gallery?deleted=1").into_response()
}

/// `POST /images/{id}/share`: a new link, shown on the image's page.
pub async fn share_image(State(state): State<AppState>, user: MaybeUser, Path(id): Path<i64>) -> Response {
    let Some(user) = user.0 else { return Redirect::to("/login").into_response() };
    match state.chat.store.create_share(user.id, ShareTarget::Image(ImageId(id))).await {
        Ok(Some(_)) => Redirect::to(&format!("/gallery/{id}#share")).into_response(),
        Ok(None) => not_found(),
        Err(e) => unavailable(e),
    }
}

/// `POST /threads/{id}/share`: a link to every image of the thread; opens it.
pub async fn share_thread(State(state): State<AppState>, user: MaybeUser, Path(id): Path<i64>) -> Response {
    let Some(user) = user.0 else { return Redirect::to("/login").into_response() };
    match state.chat.store.create_share(user.id, ShareTarget::Thread(ThreadId(id))).await {
        Ok(Some(token)) => Redirect::to(&format!("/s/{token}")).into_response(),
        Ok(None) => not_found(),
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
pub struct RevokeForm {
    /// The image page to go back to.
    #[serde(default)]
    image: Option<i64>,
}

/// `POST /shares/{token}/revoke`: the link stops working at once.
pub async fn revoke_share(
    State(state): State<AppState>,
    user: MaybeUser,
    Path(token): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Response {
    let Some(user) = user.0 else { return Redirect::to("/login").into_response() };
    if let Err(e) = state.chat.store.revoke_share(user.id, &token).await {
        return unavailable(e);
    }
    match form.image {
        Some(image) => Redirect::to(&format!("/gallery/{image}")).into_response(),
        None => Redirect::to("/gallery").into_response(),
    }
}

/// `GET /s/{token}/images/{id}/{variant}`: anyone with a live link. Revalidated on every use
/// (`no-cache` with an ETag), so a revoked link stops showing the image at once.
pub async fn shared_image(
    State(state): State<AppState>,
    Path((token, id, variant)): Path<(String, i64, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(variant) = Variant::parse(&variant) else { return not_found() };
    if token.len() > 128 {
        return not_found();
    }
    match state.chat.store.shared_variant(&token, ImageId(id), variant).await {
        Ok(Some(found)) => variant_response(found, variant, &headers, "no-cache"),
        Ok(None) => not_found(),
        Err(e) => unavailable(e),
    }
}
