//! The store as the pages' [`PageData`]: what server functions read to render a page.

use app::protocol::{ThreadHistory, ThreadId, ThreadSummary, UserId};
use app::ssr::PageData;
use futures::future::BoxFuture;
use futures::FutureExt;

use crate::store::Store;

pub struct StorePageData(pub Store);

impl PageData for StorePageData {
    fn threads(&self, user: UserId) -> BoxFuture<'static, Result<Vec<ThreadSummary>, String>> {
        let store = self.0.clone();
        async move { store.threads(user).await.map_err(log_and_hide) }.boxed()
    }

    fn thread(&self, user: UserId, id: ThreadId) -> BoxFuture<'static, Result<Option<ThreadHistory>, String>> {
        let store = self.0.clone();
        async move { store.history(user, id, None).await.map_err(log_and_hide) }.boxed()
    }
}

fn log_and_hide(e: crate::store::StoreError) -> String {
    tracing::error!(error = %e, "page data could not be read");
    "The page could not be loaded. Please try again.".to_string()
}
