//! The seam through which server functions reach the server's storage without this crate
//! depending on it: the server provides a [`Viewer`] and a [`SharedPageData`] as context on
//! every page render and server-function call.

use std::sync::Arc;

use futures::future::BoxFuture;
use leptos::prelude::*;

use crate::admin::AdminOverview;
use crate::protocol::{ThreadHistory, ThreadId, ThreadSummary, Tier, UserId, UserInfo};

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
