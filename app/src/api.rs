//! Server functions that give a page its first data, so it renders on the server (readable
//! with JavaScript off) and hydrates without a round trip. Live updates then come over the
//! socket; these are only the starting point.

use leptos::prelude::*;

use crate::admin::AdminOverview;
use crate::gallery::{GalleryPage, GalleryQuery, ImageDetail, SharedView};
use crate::protocol::{ImageId, Preferences, ThreadHistory, ThreadId, ThreadSummary, UserInfo};

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

/// The signed-in user's defaults for the composer's row; `None` for a visitor.
#[server]
pub async fn load_preferences() -> Result<Option<Preferences>, ServerFnError> {
    let Some(user) = crate::ssr::viewer() else {
        return Ok(None);
    };
    crate::ssr::page_data()?.preferences(user.id).await.map(Some).map_err(ServerFnError::new)
}

/// A page of the signed-in user's images; `None` for a visitor.
#[server]
pub async fn load_gallery(query: GalleryQuery) -> Result<Option<GalleryPage>, ServerFnError> {
    let Some(user) = crate::ssr::viewer() else {
        return Ok(None);
    };
    crate::ssr::page_data()?.gallery(user.id, query).await.map(Some).map_err(ServerFnError::new)
}

/// One of the signed-in user's images; `None` when it is not theirs (or for a visitor).
#[server]
pub async fn load_image(id: ImageId) -> Result<Option<ImageDetail>, ServerFnError> {
    let Some(user) = crate::ssr::viewer() else {
        return Ok(None);
    };
    let detail = crate::ssr::page_data()?.image_detail(user.id, id).await.map_err(ServerFnError::new)?;
    Ok(detail.map(|d| crate::gallery::ImageDetail { origin: crate::ssr::request_origin(), ..d }))
}

/// What a share link shows; anyone may ask.
#[server]
pub async fn load_share(token: String) -> Result<Option<SharedView>, ServerFnError> {
    let shared = crate::ssr::page_data()?.shared(token).await.map_err(ServerFnError::new)?;
    Ok(shared.map(|s| SharedView { origin: crate::ssr::request_origin(), ..s }))
}

/// The admin page's numbers; `None` for anyone who is not an admin.
#[server]
pub async fn load_admin_overview(include_exempt: bool) -> Result<Option<AdminOverview>, ServerFnError> {
    let Some(user) = crate::ssr::viewer() else {
        return Ok(None);
    };
    crate::ssr::page_data()?.admin_overview(user, include_exempt).await.map_err(ServerFnError::new)
}

/// Sets a user's tier and test-account mark (admins only). Posted by a plain form, so it
/// works before hydration too.
#[server(endpoint = "update_plan")]
pub async fn update_plan(user_id: i64, tier: String, test_account: Option<String>) -> Result<(), ServerFnError> {
    use crate::protocol::{Tier, UserId};
    let Some(viewer) = crate::ssr::viewer() else {
        return Err(ServerFnError::new("Please log in again."));
    };
    let tier = Tier::parse(&tier).ok_or_else(|| ServerFnError::new("Unknown tier."))?;
    let test_account = test_account.is_some_and(|v| !v.is_empty() && v != "false");
    let changed = crate::ssr::page_data()?
        .set_plan(viewer, UserId(user_id), tier, test_account)
        .await
        .map_err(ServerFnError::new)?;
    if changed {
        Ok(())
    } else {
        Err(ServerFnError::new("Only admins can change plans, and only of existing users."))
    }
}
