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
    #[serde(default)]
    email: String,
}

/// What the form says, or why not: an unknown shape or an address that is not one is
/// refused; an empty quality is "the engine's default", an empty address "no email".
pub fn parse(form: &SettingsForm) -> Result<Preferences, &'static str> {
    let aspect = AspectRatio::parse(&form.aspect).ok_or("invalid")?;
    let quality = match form.quality.trim() {
        "" => None,
        q => Some(Quality::parse(q).ok_or("invalid")?),
    };
    let email = match form.email.trim() {
        "" => None,
        e if crate::email::valid_address(e) => Some(e.to_string()),
        _ => return Err("email"),
    };
    Ok(Preferences { aspect, quality, email })
}

pub async fn save(State(state): State<AppState>, user: MaybeUser, Form(form): Form<SettingsForm>) -> Response {
    let Some(user) = user.0 else { return Redirect::to("/login").into_response() };
    let preferences = match parse(&form) {
        Ok(p) => p,
        Err(code) => return Redirect::to(&format!("/settings?error={code}")).into_response(),
    };
    let chat = &state.chat;
    if let Err(e) = chat.store.set_preferences(user.id, &preferences).await {
        tracing::error!(error = %e, "preferences could not be saved");
        return Redirect::to("/settings?error=unavailable").into_response();
    }
    chat.hub.publish(user.id, ServerMsg::Choices(chat.jobs.choices(preferences)));
    Redirect::to("/settings?done=1").into_response()
}
