//! The newest preview of each running job, kept in Redis for two minutes so that any instance
//! can serve `/jobs/{id}/preview` for a job running on another.

use app::protocol::JobId;

use super::Relay;

/// How long a preview stays in Redis after its last update.
const PREVIEW_TTL_MS: u64 = 120_000;

impl Relay {
    fn preview_key(&self, job: JobId) -> String {
        format!("{}:preview:{job}", self.prefix)
    }

    pub async fn store_preview(&self, job: JobId, png: &[u8]) {
        let mut conn = self.conn.clone();
        let stored: Result<(), _> = redis::cmd("SET")
            .arg(self.preview_key(job))
            .arg(png)
            .arg("PX")
            .arg(PREVIEW_TTL_MS)
            .query_async(&mut conn)
            .await;
        if let Err(e) = stored {
            tracing::warn!(%job, error = %e, "preview could not be shared through Redis");
        }
    }

    pub async fn preview(&self, job: JobId) -> Option<Vec<u8>> {
        let mut conn = self.conn.clone();
        redis::cmd("GET").arg(self.preview_key(job)).query_async::<Option<Vec<u8>>>(&mut conn).await.ok().flatten()
    }
}
