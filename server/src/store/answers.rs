//! Who answers a user's message, exactly once, even when the request that stored it failed
//! or its process died before answering (see the migration `…_message_answers.sql`).

use app::protocol::{ChatMessage, MessageId, UserId};
use sqlx::Row;

use super::messages::{message_from_row, MESSAGE_COLUMNS};
use super::{now_ms, Store, StoreError};

impl Store {
    /// The message has been answered (or needs no answer).
    pub async fn mark_answered(&self, id: MessageId) -> Result<(), StoreError> {
        sqlx::query("UPDATE messages SET answered_at = $1 WHERE id = $2 AND answered_at IS NULL")
            .bind(now_ms())
            .bind(id.0)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Gives up answering now (the answer failed): a resend or the sweep answers it.
    pub async fn release_answer(&self, id: MessageId) -> Result<(), StoreError> {
        sqlx::query("UPDATE messages SET reply_claimed_at = NULL WHERE id = $1 AND answered_at IS NULL")
            .bind(id.0)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Takes over answering `id` when nobody is: unanswered, and its claim released or older
    /// than `stale_before`. `true` when this caller now answers it.
    pub async fn claim_answer(&self, id: MessageId, stale_before: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE messages SET reply_claimed_at = $1 WHERE id = $2 AND answered_at IS NULL \
             AND (reply_claimed_at IS NULL OR reply_claimed_at < $3)",
        )
        .bind(now_ms())
        .bind(id.0)
        .bind(stale_before)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Claims, in one statement, the users' messages since `since` that nobody is answering
    /// (claim released or older than `stale_before`), oldest first, at most `limit`; a message
    /// another instance claims at the same moment goes to one of them only.
    pub async fn claim_forgotten(
        &self,
        since: i64,
        stale_before: i64,
        limit: i64,
    ) -> Result<Vec<(UserId, ChatMessage)>, StoreError> {
        let sql = format!(
            "UPDATE messages SET reply_claimed_at = $1 WHERE answered_at IS NULL \
             AND (reply_claimed_at IS NULL OR reply_claimed_at < $3) AND id IN \
             (SELECT id FROM messages WHERE answered_at IS NULL AND created_at >= $2 \
              AND (reply_claimed_at IS NULL OR reply_claimed_at < $3) ORDER BY created_at LIMIT $4) \
             RETURNING {MESSAGE_COLUMNS}, user_id"
        );
        let rows =
            sqlx::query(&sql).bind(now_ms()).bind(since).bind(stale_before).bind(limit).fetch_all(self.pool()).await?;
        let mut claimed: Vec<(UserId, ChatMessage)> = rows
            .iter()
            .map(|r| Ok((UserId(r.try_get("user_id")?), message_from_row(r)?)))
            .collect::<Result<_, sqlx::Error>>()?;
        // RETURNING keeps no order: oldest first, as they were sent.
        claimed.sort_by_key(|(_, m)| m.created_at);
        Ok(claimed)
    }

    /// Messages too old to answer now are given up on (a late answer would confuse more than
    /// help); returns how many.
    pub async fn give_up_answers(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("UPDATE messages SET answered_at = $1 WHERE answered_at IS NULL AND created_at < $2")
            .bind(now_ms())
            .bind(before)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
