//! The seam through which server functions reach the server's storage without this crate
//! depending on it: the server provides a [`Viewer`] and a [`SharedPageData`] as context on
//! every page render and server-function call.

use std::sync::Arc;

use futures::future::BoxFuture;
use leptos::prelude::*;

use crate::admin::AdminOverview;
use crate::gallery::{GalleryPage, GalleryQuery, ImageDetail, SharedView};
use crate::protocol::{ImageId, Preferences, ThreadHistory, ThreadId, ThreadSummary, Tier, UserId, UserInfo};

/// Where the current request was sent (`https://easel.example`), for absolute links a page
/// gives to others (a share page's OpenGraph image).
#[derive(Debug, Clone, Default)]
pub struct RequestOrigin(pub String);

pub(crate) fn request_origin() -> String {
    use_context::<RequestOrigin>().map(|o| o.0).unwrap_or_default()
}

/// Who is making the current request (`None`: not signed in).
#[derive(Debug, Clone, Default)]
pub struct Viewer(pub Option<UserInfo>);

/// Read access the pages need, implemented by the server over its store.
pub trait PageData: Send + Sync + 'static {
    fn threads(&self, user: UserId) -> BoxFuture<'static, Result<Vec<ThreadSummary>, String>>;
    fn thread(&self, user: UserId, id: ThreadId) -> BoxFuture<'static, Result<Option<ThreadHistory>, String>>;
    /// The admin page's numbers; `None` when `viewer` is not an admin.
    fn admin_overview(
        &self,
        viewer: UserInfo,
        include_exempt: bool,
    ) -> BoxFuture<'static, Result<Option<AdminOverview>, String>>;
    /// A page of the user's images.
    fn gallery(&self, user: UserId, query: GalleryQuery) -> BoxFuture<'static, Result<GalleryPage, String>>;
    /// One of the user's images with its job, lineage and links; `None` when not theirs.
    fn image_detail(&self, user: UserId, image: ImageId) -> BoxFuture<'static, Result<Option<ImageDetail>, String>>;
    /// What a live share link shows (no sign-in needed); `None` when unknown or revoked.
    fn shared(&self, token: String) -> BoxFuture<'static, Result<Option<SharedView>, String>>;
    /// The user's defaults for the composer's row.
    fn preferences(&self, user: UserId) -> BoxFuture<'static, Result<Preferences, String>>;
    /// Changes `user`'s plan; `false` when `viewer` is not an admin or there is no such user.
    fn set_plan(
        &self,
        viewer: UserInfo,
        user: UserId,
        tier: Tier,
        test_account: bool,
    ) -> BoxFuture<'static, Result<bool, String>>;
}

pub type SharedPageData = Arc<dyn PageData>;

pub(crate) fn viewer() -> Option<UserInfo> {
    use_context::<Viewer>().and_then(|v| v.0)
}

pub(crate) fn page_data() -> Result<SharedPageData, ServerFnError> {
    use_context::<SharedPageData>().ok_or_else(|| ServerFnError::new("page data was not provided"))
}
