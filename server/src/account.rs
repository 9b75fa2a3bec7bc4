//! What a signed-in user does to their account (C2): change the password, which ends every
//! other session (this one signs in again under a new id), and "sign out everywhere", which
//! ends all of them. Either way the ended
//! sessions' sockets close at once on every instance (through the hub and the relay), and a
//! socket the message missed finds out at its next revalidation (`ws::session`).

use app::auth_form::{check_new_password, AuthProblem, MAX_PASSWORD_CHARS};
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tower_sessions::Session;

use crate::auth::{self, session_tag, ClientAddress, MaybeUser};
use crate::hub::Ended;
use crate::state::AppState;
use crate::store::now_ms;

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
}

fn back(problem: AuthProblem) -> Response {
    Redirect::to(&format!("/account?error={}", problem.code())).into_response()
}

/// `POST /auth/password`: the current password, then the new one; other sessions end.
pub async fn change_password(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    user: MaybeUser,
    session: Session,
    Form(form): Form<PasswordForm>,
) -> Response {
    let Some(user) = user.0 else { return Redirect::to("/login").into_response() };
    // Guessing the current password here is guessing a login: the same limits apply.
    let rate = (address, state.throttle.login(address, &user.username).await);
    let _turn = match auth::admit(&state.throttle, rate, "Too many attempts.").await {
        Ok(turn) => turn,
        Err(refused) => return refused,
    };
    if let Err(problem) = check_new_password(&form.new) {
        return back(problem);
    }
    if form.current.chars().count() > MAX_PASSWORD_CHARS {
        return back(AuthProblem::WrongPassword);
    }
    let store = &state.chat.store;
    let hash = match store.credentials(&user.username).await {
        Ok(Some(c)) => c.password_hash,
        Ok(None) => return Redirect::to("/login").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "password change: lookup failed");
            return back(AuthProblem::Unavailable);
        }
    };
    if !auth::verify(form.current, Some(hash)).await {
        return back(AuthProblem::WrongPassword);
    }
    let Ok(new_hash) = auth::hash(form.new).await else { return back(AuthProblem::Unavailable) };
    // Every session signed in until now ends, even one of this very millisecond; this one
    // signs in again under a new id (a thief holding its old cookie is out too).
    let now = now_ms() + 1;
    if let Err(e) = store.set_password(user.id, &new_hash, now).await {
        tracing::error!(error = %e, "password change failed");
        return back(AuthProblem::Unavailable);
    }
    let renewed = session_tag(&session);
    if auth::sign_in_at(&session, user.id, now).await.is_err() {
        return back(AuthProblem::Unavailable);
    }
    state.chat.hub.end_session(user.id, Ended::AllBefore { before_ms: now, renewed });
    tracing::info!(user = %user.id, "password changed; other sessions ended");
    Redirect::to("/account?done=password").into_response()
}

/// `POST /auth/logout-everywhere`: every session of the account ends, this one too.
pub async fn logout_everywhere(State(state): State<AppState>, user: MaybeUser, session: Session) -> Response {
    let Some(user) = user.0 else { return Redirect::to("/").into_response() };
    // Past every session signed in until now, even one signed in this very millisecond.
    let before_ms = now_ms() + 1;
    if let Err(e) = state.chat.store.end_sessions_before(user.id, before_ms).await {
        tracing::error!(error = %e, "sign out everywhere failed");
        return back(AuthProblem::Unavailable);
    }
    if let Err(e) = session.flush().await {
        tracing::warn!(error = %e, "session could not be removed");
    }
    state.chat.hub.end_session(user.id, Ended::AllBefore { before_ms, renewed: None });
    tracing::info!(user = %user.id, "signed out everywhere");
    let mut res = Redirect::to("/").into_response();
    res.headers_mut().insert("clear-site-data", HeaderValue::from_static("\"cache\""));
    res
}
