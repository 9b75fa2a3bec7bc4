//! Threads: every query is scoped by `user_id`, so another user's thread is simply absent.

use app::protocol::{ClientId, JobId, ThreadId, ThreadSummary, UserId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{is_unique_violation, now_ms, Store, StoreError};

const SUMMARY_COLUMNS: &str = "id, title, last_seq, updated_at";

pub(super) fn summary_from_row(row: &AnyRow) -> Result<ThreadSummary, sqlx::Error> {
    Ok(ThreadSummary {
        id: ThreadId(row.try_get("id")?),
        title: row.try_get("title")?,
        last_seq: row.try_get("last_seq")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// The user's threads, most recently active first.
    pub async fn threads(&self, user: UserId) -> Result<Vec<ThreadSummary>, StoreError> {
        let sql = format!("SELECT {SUMMARY_COLUMNS} FROM threads WHERE user_id = $1 ORDER BY updated_at DESC, id DESC");
        let rows = sqlx::query(&sql).bind(user.0).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(summary_from_row).collect::<Result<_, _>>()?)
    }

    pub async fn thread(&self, user: UserId, id: ThreadId) -> Result<Option<ThreadSummary>, StoreError> {
        let sql = format!("SELECT {SUMMARY_COLUMNS} FROM threads WHERE id = $1 AND user_id = $2");
        let row = sqlx::query(&sql).bind(id.0).bind(user.0).fetch_optional(self.pool()).await?;
        Ok(row.as_ref().map(summary_from_row).transpose()?)
    }

    /// Creates a thread once per client id: the second call returns the first thread and
    /// `false`, so a resent request never makes two.
    pub async fn create_thread(
        &self,
        user: UserId,
        client_id: &ClientId,
        title: &str,
    ) -> Result<(ThreadSummary, bool), StoreError> {
        if let Some(existing) = self.thread_by_client_id(user, client_id).await? {
            return Ok((existing, false));
        }
        self.create_new_thread(user, client_id, title).await
    }

    /// [`Store::create_thread`] for a caller that already looked the client id up: a request
    /// that raced it in still finds the stored thread.
    pub async fn create_new_thread(
        &self,
        user: UserId,
        client_id: &ClientId,
        title: &str,
    ) -> Result<(ThreadSummary, bool), StoreError> {
        let now = now_ms();
        let sql = format!(
            "INSERT INTO threads (user_id, client_id, title, last_seq, created_at, updated_at) \
             VALUES ($1, $2, $3, 0, $4, $4) RETURNING {SUMMARY_COLUMNS}"
        );
        let inserted =
            sqlx::query(&sql).bind(user.0).bind(&client_id.0).bind(title).bind(now).fetch_one(self.pool()).await;
        match inserted {
            Ok(row) => Ok((summary_from_row(&row)?, true)),
            // Two identical requests raced; the other one won.
            Err(e) if is_unique_violation(&e) => match self.thread_by_client_id(user, client_id).await? {
                Some(existing) => Ok((existing, false)),
                None => Err(e.into()),
            },
            Err(e) => Err(e.into()),
        }
    }

    pub async fn thread_by_client_id(
        &self,
        user: UserId,
        client_id: &ClientId,
    ) -> Result<Option<ThreadSummary>, StoreError> {
        let sql = format!("SELECT {SUMMARY_COLUMNS} FROM threads WHERE user_id = $1 AND client_id = $2");
        let row = sqlx::query(&sql).bind(user.0).bind(&client_id.0).fetch_optional(self.pool()).await?;
        Ok(row.as_ref().map(summary_from_row).transpose()?)
    }

    /// Returns the new `updated_at`, or `None` when the thread is not the user's.
    pub async fn rename_thread(&self, user: UserId, id: ThreadId, title: &str) -> Result<Option<i64>, StoreError> {
        let now = now_ms();
        let done = sqlx::query("UPDATE threads SET title = $1, updated_at = $2 WHERE id = $3 AND user_id = $4")
            .bind(title)
            .bind(now)
            .bind(id.0)
            .bind(user.0)
            .execute(self.pool())
            .await?;
        Ok((done.rows_affected() == 1).then_some(now))
    }

    /// Deletes a thread with its messages, jobs and images (bytes included); `false` when it
    /// is not the user's. What its jobs counted and cost moves to `deleted_jobs` first, so
    /// spend and quotas stay true.
    pub async fn delete_thread(&self, user: UserId, id: ThreadId) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO deleted_jobs (id, user_id, counted_at, cost_usd_micros, exempt, image_count) \
             SELECT id, user_id, counted_at, cost_usd_micros, exempt, image_count FROM jobs \
             WHERE thread_id = $1 AND user_id = $2 AND (counted_at IS NOT NULL OR cost_usd_micros IS NOT NULL)",
        )
        .bind(id.0)
        .bind(user.0)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM images WHERE user_id = $2 AND (job_id IN (SELECT id FROM jobs WHERE thread_id = $1 AND user_id = $2) \
             OR id IN (SELECT image_id FROM jobs WHERE thread_id = $1 AND user_id = $2 AND image_id IS NOT NULL))",
        )
        .bind(id.0)
        .bind(user.0)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM messages WHERE thread_id = $1 AND user_id = $2")
            .bind(id.0)
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM threads WHERE id = $1 AND user_id = $2")
            .bind(id.0)
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// The jobs of `user`'s thread that are still running.
    pub async fn running_jobs_in_thread(&self, user: UserId, id: ThreadId) -> Result<Vec<JobId>, StoreError> {
        let rows = sqlx::query("SELECT id FROM jobs WHERE thread_id = $1 AND user_id = $2 AND status = 'running'")
            .bind(id.0)
            .bind(user.0)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok(JobId(r.try_get("id")?))).collect()
    }
}
