//! Server functions that give a page its first data, so it renders on the server (readable
//! with JavaScript off) and hydrates without a round trip. Live updates then come over the
//! socket; these are only the starting point.

use leptos::prelude::*;

use crate::protocol::{ThreadHistory, ThreadId, ThreadSummary, UserInfo};

/// The signed-in user, or `None` for a visitor.
#[server]
pub async fn current_user() -> Result<Option<UserInfo>, ServerFnError> {
    Ok(crate::ssr::viewer())
}

/// The signed-in user's threads, newest first; empty for a visitor.
#[server]
pub async fn list_threads() -> Result<Vec<ThreadSummary>, ServerFnError> {
    let Some(user) = crate::ssr::viewer() else {
        return Ok(Vec::new());
    };
    crate::ssr::page_data()?.threads(user.id).await.map_err(ServerFnError::new)
}

/// One thread with all its messages, or `None` when it does not exist or is someone else's.
#[server]
pub async fn load_thread(id: ThreadId) -> Result<Option<ThreadHistory>, ServerFnError> {
    let Some(user) = crate::ssr::viewer() else {
        return Ok(None);
    };
    crate::ssr::page_data()?.thread(user.id, id).await.map_err(ServerFnError::new)
}
