//! The counts behind the per-user caps (D2), each served by an index.

use app::protocol::{ThreadId, UserId};
use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    pub async fn thread_count(&self, user: UserId) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM threads WHERE user_id = $1")
            .bind(user.0)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// How many messages the thread holds (its last sequence number); `None` if not `user`'s.
    pub async fn thread_length(&self, user: UserId, thread: ThreadId) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT last_seq FROM threads WHERE id = $1 AND user_id = $2")
            .bind(thread.0)
            .bind(user.0)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| Ok(r.try_get("last_seq")?)).transpose()
    }

    /// Messages `user` wrote since `since_ms`.
    pub async fn messages_sent_since(&self, user: UserId, since_ms: i64) -> Result<i64, StoreError> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM messages WHERE user_id = $1 AND created_at >= $2 AND role = 'user'")
                .bind(user.0)
                .bind(since_ms)
                .fetch_one(self.pool())
                .await?;
        Ok(row.try_get("n")?)
    }

    /// Bytes of images `user` keeps (every variant).
    pub async fn stored_bytes(&self, user: UserId) -> Result<i64, StoreError> {
        let row =
            sqlx::query("SELECT CAST(COALESCE(SUM(stored_bytes), 0) AS BIGINT) AS n FROM images WHERE user_id = $1")
                .bind(user.0)
                .fetch_one(self.pool())
                .await?;
        Ok(row.try_get("n")?)
    }
}
