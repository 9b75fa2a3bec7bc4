//! `POST /settings`: a user's defaults for the composer's row (shape and quality). A plain
//! form, so it works before hydration; every open tab gets the new defaults at once.

use app::protocol::{AspectRatio, Preferences, Quality, ServerMsg};
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use crate::auth::MaybeUser;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct SettingsForm {
    aspect: String,
    #[serde(default)]
    quality: String,
}

/// What the form says, or why not: an unknown shape is refused, an empty quality is "the
/// engine's default".
pub fn parse(form: &SettingsForm) -> Option<Preferences> {
    let aspect = AspectRatio::parse(&form.aspect)?;
    let quality = match form.quality.trim() {
        "" => None,
        q => Some(Quality::parse(q)?),
    };
    Some(Preferences { aspect, quality })
}

pub async fn save(State(state): State<AppState>, user: MaybeUser, Form(form): Form<SettingsForm>) -> Response {
    let Some(user) = user.0 else { return Redirect::to("/login").into_response() };
    let Some(preferences) = parse(&form) else { return Redirect::to("/settings?error=invalid").into_response() };
    let chat = &state.chat;
    if let Err(e) = chat.store.set_preferences(user.id, &preferences).await {
        tracing::error!(error = %e, "preferences could not be saved");
        return Redirect::to("/settings?error=unavailable").into_response();
    }
    chat.hub.publish(user.id, ServerMsg::Choices(chat.jobs.choices(preferences)));
    Redirect::to("/settings?done=1").into_response()
}
