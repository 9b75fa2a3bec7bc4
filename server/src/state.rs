//! The one state every handler shares. Cheap to clone: every field is a handle.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use leptos_axum::AxumRouteListing;

use crate::chat::Chat;
use crate::config::Settings;
use crate::throttle::Throttle;

#[derive(Clone)]
pub struct AppState {
    /// Storage and fan-out, with the operations that use both.
    pub chat: Chat,
    /// Everything read from the environment at start-up.
    pub settings: Arc<Settings>,
    /// The Leptos routes, for rendering pages with our own context.
    pub routes: Arc<Vec<AxumRouteListing>>,
    /// Login and sign-up rates, and the password hashers' turns.
    pub throttle: Throttle,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.settings.leptos.clone()
    }
}
