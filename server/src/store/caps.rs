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

    /// Counts one more message of `user` on `day` (days since 1970), unless `cap` were
    /// passed: `false` then. One statement, so two sends at once cannot both take the last.
    pub async fn count_message(&self, user: UserId, day: i64, cap: i64) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "UPDATE users SET messages_today = CASE WHEN messages_day = $1 THEN messages_today + 1 ELSE 1 END, \
             messages_day = $1 WHERE id = $2 AND (messages_day <> $1 OR messages_today < $3) RETURNING id",
        )
        .bind(day)
        .bind(user.0)
        .bind(cap)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
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
