//! The seam through which server functions reach the server's storage without this crate
//! depending on it: the server provides a [`Viewer`] and a [`SharedPageData`] as context on
//! every page render and server-function call.

use std::sync::Arc;

use futures::future::BoxFuture;
use leptos::prelude::*;

use crate::protocol::{ThreadHistory, ThreadId, ThreadSummary, UserId, UserInfo};

/// Who is making the current request (`None`: not signed in).
#[derive(Debug, Clone, Default)]
pub struct Viewer(pub Option<UserInfo>);

/// Read access the pages need, implemented by the server over its store.
pub trait PageData: Send + Sync + 'static {
    fn threads(&self, user: UserId) -> BoxFuture<'static, Result<Vec<ThreadSummary>, String>>;
    fn thread(&self, user: UserId, id: ThreadId) -> BoxFuture<'static, Result<Option<ThreadHistory>, String>>;
}

pub type SharedPageData = Arc<dyn PageData>;

pub(crate) fn viewer() -> Option<UserInfo> {
    use_context::<Viewer>().and_then(|v| v.0)
}

pub(crate) fn page_data() -> Result<SharedPageData, ServerFnError> {
    use_context::<SharedPageData>().ok_or_else(|| ServerFnError::new("page data was not provided"))
}
