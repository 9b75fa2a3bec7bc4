//! The server's [`PageData`]: what server functions read to render a page, over the store,
//! with the admin's operations checked against the admin right in the database.

use std::sync::Arc;

use app::admin::AdminOverview;
use app::gallery::{GalleryPage, GalleryQuery, ImageDetail, SharedView};
use app::protocol::{ImageId, Preferences, ThreadHistory, ThreadId, ThreadSummary, Tier, UserId, UserInfo};
use app::ssr::PageData;
use futures::future::BoxFuture;
use futures::FutureExt;

use crate::admin;
use crate::config::QuotaSettings;
use crate::jobs::Jobs;
use crate::store::{Store, StoreError};

pub struct StorePageData {
    pub store: Store,
    pub jobs: Jobs,
    pub quotas: Arc<QuotaSettings>,
}

impl PageData for StorePageData {
    fn threads(&self, user: UserId) -> BoxFuture<'static, Result<Vec<ThreadSummary>, String>> {
        let store = self.store.clone();
        async move { store.threads(user).await.map_err(log_and_hide) }.boxed()
    }

    fn thread(&self, user: UserId, id: ThreadId) -> BoxFuture<'static, Result<Option<ThreadHistory>, String>> {
        let store = self.store.clone();
        async move { store.history(user, id, None).await.map_err(log_and_hide) }.boxed()
    }

    fn admin_overview(
        &self,
        viewer: UserInfo,
        include_exempt: bool,
    ) -> BoxFuture<'static, Result<Option<AdminOverview>, String>> {
        let (store, jobs, quotas) = (self.store.clone(), self.jobs.clone(), self.quotas.clone());
        async move {
            if !admin::is_admin(&store, &viewer).await.map_err(log_and_hide)? {
                return Ok(None);
            }
            admin::overview(&store, &jobs, &quotas, include_exempt).await.map(Some).map_err(log_and_hide)
        }
        .boxed()
    }

    fn gallery(&self, user: UserId, query: GalleryQuery) -> BoxFuture<'static, Result<GalleryPage, String>> {
        let store = self.store.clone();
        async move { store.gallery(user, &query).await.map_err(log_and_hide) }.boxed()
    }

    fn image_detail(&self, user: UserId, image: ImageId) -> BoxFuture<'static, Result<Option<ImageDetail>, String>> {
        let store = self.store.clone();
        async move { image_detail(&store, user, image).await.map_err(log_and_hide) }.boxed()
    }

    fn shared(&self, token: String) -> BoxFuture<'static, Result<Option<SharedView>, String>> {
        let store = self.store.clone();
        async move {
            if token.len() > 128 {
                return Ok(None);
            }
            store.shared(&token).await.map_err(log_and_hide)
        }
        .boxed()
    }

    fn preferences(&self, user: UserId) -> BoxFuture<'static, Result<Preferences, String>> {
        let store = self.store.clone();
        async move { store.preferences(user).await.map_err(log_and_hide) }.boxed()
    }

    fn set_plan(
        &self,
        viewer: UserInfo,
        user: UserId,
        tier: Tier,
        test_account: bool,
    ) -> BoxFuture<'static, Result<bool, String>> {
        let (store, jobs) = (self.store.clone(), self.jobs.clone());
        async move {
            if !admin::is_admin(&store, &viewer).await.map_err(log_and_hide)? {
                tracing::warn!(viewer = %viewer.username, "a non-admin tried to change a plan");
                return Ok(false);
            }
            admin::set_plan(&store, &jobs, user, tier, test_account).await.map_err(log_and_hide)
        }
        .boxed()
    }
}

/// `user`'s image with the job that made it, its thread, lineage and live links.
async fn image_detail(store: &Store, user: UserId, image: ImageId) -> Result<Option<ImageDetail>, StoreError> {
    let Some(Some(job)) = store.job_of_image(user, image).await? else { return Ok(None) };
    let Some((view, place)) = store.job(user, job).await? else { return Ok(None) };
    let Some(info) = view.images.iter().find(|i| i.id == image).cloned() else { return Ok(None) };
    let thread_title = store.thread(user, place.thread).await?.map(|t| t.title).unwrap_or_default();
    let lineage = store.lineage(user, job).await?;
    let shares = store.shares_of_image(user, image).await?;
    let origin = String::new();
    Ok(Some(ImageDetail { image: info, job: view, thread: place.thread, thread_title, lineage, shares, origin }))
}

fn log_and_hide(e: crate::store::StoreError) -> String {
    tracing::error!(error = %e, "page data could not be read");
    "The page could not be loaded. Please try again.".to_string()
}
