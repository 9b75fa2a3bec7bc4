//! Messages: appended with the next sequence number of their thread, once per client id.
//!
//! The sequence number is taken by `UPDATE threads SET last_seq = last_seq + 1 … RETURNING`
//! inside the insert's transaction: the row lock (PostgreSQL) or the single writer (SQLite)
//! serialises concurrent sends to a thread, so numbers have no gaps and no repeats. On SQLite
//! a message on its own is one statement instead (`INSERT … SELECT last_seq + 1`, with a
//! trigger advancing the thread): each statement is a hand-off to sqlx's worker thread, and
//! those hand-offs, not SQLite, were most of the cost (`benches/inserts.rs`).

use app::protocol::{
    ChatMessage, ClientId, JobId, JobStatus, MessageId, Role, Seq, ThreadHistory, ThreadId, UserId, HISTORY_PAGE,
};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::threads::summary_from_row;
use super::{is_unique_violation, now_ms, DbKind, Store, StoreError};

pub(super) const MESSAGE_COLUMNS: &str = "id, thread_id, seq, client_id, role, body, created_at";
/// What both ways of appending a message write, in their order.
const INSERT_COLUMNS: &str =
    "thread_id, user_id, seq, client_id, role, body, created_at, reply_claimed_at, answered_at";

/// A message as the assistant reads it (see `Store::recent_messages`).
pub struct RecentMessage {
    pub role: Role,
    pub text: String,
    pub job: Option<RecentJob>,
}

/// The job a message shows: enough to know whether it made a picture, and of what.
pub struct RecentJob {
    pub id: JobId,
    pub status: JobStatus,
    /// The prompt the provider was sent.
    pub prompt: String,
}

/// A message to append.
pub struct NewMessage<'a> {
    pub user: UserId,
    pub thread: ThreadId,
    pub client_id: Option<&'a ClientId>,
    pub role: Role,
    pub text: &'a str,
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

pub(super) fn message_from_row(row: &AnyRow) -> Result<ChatMessage, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(ChatMessage {
        id: MessageId(row.try_get("id")?),
        thread_id: ThreadId(row.try_get("thread_id")?),
        seq: row.try_get("seq")?,
        client_id: row.try_get::<Option<String>, _>("client_id")?.map(ClientId),
        role: if role == "assistant" { Role::Assistant } else { Role::User },
        text: row.try_get("body")?,
        created_at: row.try_get("created_at")?,
        job: None,
    })
}

/// Appends a message inside `tx`, taking the thread's next sequence number; `None` when the
/// thread is not `user`'s.
pub(super) async fn insert_in_tx(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user: UserId,
    thread: ThreadId,
    client_id: Option<&ClientId>,
    role: Role,
    text: &str,
    now: i64,
) -> Result<Option<ChatMessage>, StoreError> {
    let seq_row = sqlx::query(
        "UPDATE threads SET last_seq = last_seq + 1, updated_at = $1 WHERE id = $2 AND user_id = $3 RETURNING last_seq",
    )
    .bind(now)
    .bind(thread.0)
    .bind(user.0)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(seq_row) = seq_row else {
        return Ok(None);
    };
    let seq: Seq = seq_row.try_get("last_seq")?;
    let sql = format!(
        "INSERT INTO messages ({INSERT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {MESSAGE_COLUMNS}"
    );
    let (claimed, answered) = claim(role, now);
    let row = sqlx::query(&sql)
        .bind(thread.0)
        .bind(user.0)
        .bind(seq)
        .bind(client_id.map(|c| c.0.clone()))
        .bind(role_name(role))
        .bind(text)
        .bind(now)
        .bind(claimed)
        .bind(answered)
        .fetch_one(&mut **tx)
        .await?;
    Ok(Some(message_from_row(&row)?))
}

/// Appends a message in one statement (SQLite: the `messages_advance_thread` trigger moves
/// the thread's `last_seq`); `None` when the thread is not `new.user`'s.
async fn insert_alone(store: &Store, new: &NewMessage<'_>, now: i64) -> Result<Option<ChatMessage>, StoreError> {
    let sql = format!(
        "INSERT INTO messages ({INSERT_COLUMNS}) \
         SELECT id, user_id, last_seq + 1, $1, $2, $3, $4, $5, $6 FROM threads WHERE id = $7 AND user_id = $8 \
         RETURNING {MESSAGE_COLUMNS}"
    );
    let (claimed, answered) = claim(new.role, now);
    let row = sqlx::query(&sql)
        .bind(new.client_id.map(|c| c.0.clone()))
        .bind(role_name(new.role))
        .bind(new.text)
        .bind(now)
        .bind(claimed)
        .bind(answered)
        .bind(new.thread.0)
        .bind(new.user.0)
        // Every row read, so the statement runs to its end: an autocommit statement left
        // unfinished after its first row holds SQLite's write lock until it is reset.
        .fetch_all(store.pool())
        .await?;
    Ok(row.first().map(message_from_row).transpose()?)
}

/// A user's message is claimed by the request storing it, which answers it; the assistant's
/// need no answer: `(reply_claimed_at, answered_at)`.
fn claim(role: Role, now: i64) -> (Option<i64>, Option<i64>) {
    match role {
        Role::User => (Some(now), None),
        Role::Assistant => (None, Some(now)),
    }
}

impl Store {
    /// Appends a message. Returns it and whether it is new (`false`: this client id was
    /// stored before and the stored message is returned); `None` when the thread is not the user's.
    pub async fn add_message(&self, new: NewMessage<'_>) -> Result<Option<(ChatMessage, bool)>, StoreError> {
        if let Some(existing) = self.message_by_client_id(new.user, new.client_id).await? {
            return Ok(Some((existing, false)));
        }
        self.add_new_message(new).await
    }

    /// [`Store::add_message`] for a caller that already looked the client id up: a request
    /// that raced it in still finds the stored message.
    pub async fn add_new_message(&self, new: NewMessage<'_>) -> Result<Option<(ChatMessage, bool)>, StoreError> {
        match self.insert_message(&new).await {
            Ok(inserted) => Ok(inserted.map(|m| (m, true))),
            Err(StoreError::Db(e)) if is_unique_violation(&e) => {
                Ok(self.message_by_client_id(new.user, new.client_id).await?.map(|m| (m, false)))
            }
            Err(e) => Err(e),
        }
    }

    async fn insert_message(&self, new: &NewMessage<'_>) -> Result<Option<ChatMessage>, StoreError> {
        if self.kind() == DbKind::Sqlite {
            let inserted = insert_alone(self, new, now_ms()).await?;
            if inserted.is_some() {
                crate::monitoring::message_stored(new.role);
            }
            return Ok(inserted);
        }
        let mut tx = self.pool().begin().await?;
        let inserted = insert_in_tx(&mut tx, new.user, new.thread, new.client_id, new.role, new.text, now_ms()).await?;
        if inserted.is_some() {
            tx.commit().await?;
            crate::monitoring::message_stored(new.role);
        }
        Ok(inserted)
    }

    pub async fn message_by_client_id(
        &self,
        user: UserId,
        client_id: Option<&ClientId>,
    ) -> Result<Option<ChatMessage>, StoreError> {
        let Some(client_id) = client_id else { return Ok(None) };
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE user_id = $1 AND client_id = $2");
        let row = sqlx::query(&sql).bind(user.0).bind(&client_id.0).fetch_optional(self.pool()).await?;
        Ok(row.as_ref().map(message_from_row).transpose()?)
    }

    /// A thread and its messages after `after_seq` (all when `None`), in order; `None` when
    /// the thread is not the user's. Read in one transaction so the summary and the messages agree.
    pub async fn history(
        &self,
        user: UserId,
        id: ThreadId,
        after_seq: Option<Seq>,
    ) -> Result<Option<ThreadHistory>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query("SELECT id, title, last_seq, updated_at FROM threads WHERE id = $1 AND user_id = $2")
            .bind(id.0)
            .bind(user.0)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let thread = summary_from_row(&row)?;
        // One more than a page says whether there is more than a page.
        let page = HISTORY_PAGE as i64 + 1;
        let after = match after_seq {
            Some(after) => {
                let sql = format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
                );
                let rows = sqlx::query(&sql).bind(id.0).bind(after).bind(page).fetch_all(&mut *tx).await?;
                // More than a page missed: the newest page replaces what the tab holds.
                (rows.len() <= HISTORY_PAGE).then_some((after, rows))
            }
            None => None,
        };
        let (after_seq, rows, has_older) = match after {
            Some((after, rows)) => (Some(after), rows, false),
            None => {
                let sql =
                    format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = $1 ORDER BY seq DESC LIMIT $2");
                let mut rows = sqlx::query(&sql).bind(id.0).bind(page).fetch_all(&mut *tx).await?;
                let has_older = rows.len() > HISTORY_PAGE;
                rows.truncate(HISTORY_PAGE);
                rows.reverse();
                (None, rows, has_older)
            }
        };
        tx.commit().await?;
        let messages = self.with_jobs(id, &rows).await?;
        Ok(Some(ThreadHistory { thread, after_seq, messages, has_older }))
    }

    /// The page of `user`'s thread before `before_seq`, oldest first, and whether there are
    /// earlier ones; `None` when the thread is not theirs.
    pub async fn older_messages(
        &self,
        user: UserId,
        id: ThreadId,
        before_seq: Seq,
    ) -> Result<Option<(Vec<ChatMessage>, bool)>, StoreError> {
        let owned = sqlx::query("SELECT id FROM threads WHERE id = $1 AND user_id = $2")
            .bind(id.0)
            .bind(user.0)
            .fetch_optional(self.pool())
            .await?;
        if owned.is_none() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
        );
        let mut rows =
            sqlx::query(&sql).bind(id.0).bind(before_seq).bind(HISTORY_PAGE as i64 + 1).fetch_all(self.pool()).await?;
        let has_older = rows.len() > HISTORY_PAGE;
        rows.truncate(HISTORY_PAGE);
        rows.reverse();
        Ok(Some((self.with_jobs(id, &rows).await?, has_older)))
    }

    /// Messages from rows, with the jobs their assistant messages show.
    async fn with_jobs(&self, thread: ThreadId, rows: &[AnyRow]) -> Result<Vec<ChatMessage>, StoreError> {
        let mut messages: Vec<ChatMessage> = rows.iter().map(message_from_row).collect::<Result<_, _>>()?;
        if messages.iter().any(|m| m.role == Role::Assistant) {
            let range = (messages[0].id, messages[messages.len() - 1].id);
            let mut jobs = self.jobs_of_thread(thread, range).await?;
            for m in &mut messages {
                m.job = jobs.remove(&m.id);
            }
        }
        Ok(messages)
    }

    /// Replaces the text of one of `user`'s messages (a streamed reply, once complete).
    pub async fn set_message_text(
        &self,
        user: UserId,
        id: MessageId,
        text: &str,
    ) -> Result<Option<ChatMessage>, StoreError> {
        let sql = format!("UPDATE messages SET body = $1 WHERE id = $2 AND user_id = $3 RETURNING {MESSAGE_COLUMNS}");
        let row = sqlx::query(&sql).bind(text).bind(id.0).bind(user.0).fetch_optional(self.pool()).await?;
        Ok(row.map(|r| message_from_row(&r)).transpose()?)
    }

    /// Assistant replies a dead process left empty (it was streaming them), created before
    /// `before_ms`, say so instead of staying blank. Returns how many there were.
    pub async fn close_unfinished_replies(&self, text: &str, before_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE messages SET body = $1 WHERE role = 'assistant' AND body = '' AND created_at < $2 \
             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.message_id = messages.id)",
        )
        .bind(text)
        .bind(before_ms)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// The messages of `user`'s thread with `after < seq < before`, oldest first, each with its
    /// job's id, status and sent prompt: what the assistant reads before answering. One query,
    /// without the images' variants that `history` also loads.
    pub async fn recent_messages(
        &self,
        user: UserId,
        thread: ThreadId,
        after: Seq,
        before: Seq,
    ) -> Result<Vec<RecentMessage>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.role, m.body, j.id AS job_id, j.status, j.enhanced_prompt FROM messages m \
             LEFT JOIN jobs j ON j.message_id = m.id \
             WHERE m.thread_id = $1 AND m.user_id = $2 AND m.seq > $3 AND m.seq < $4 ORDER BY m.seq",
        )
        .bind(thread.0)
        .bind(user.0)
        .bind(after)
        .bind(before)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role")?;
                let job = match r.try_get::<Option<i64>, _>("job_id")? {
                    Some(id) => {
                        let status: String = r.try_get("status")?;
                        Some(RecentJob {
                            id: JobId(id),
                            status: JobStatus::parse(&status).unwrap_or(JobStatus::Failed),
                            prompt: r.try_get("enhanced_prompt")?,
                        })
                    }
                    None => None,
                };
                Ok(RecentMessage {
                    role: if role == "assistant" { Role::Assistant } else { Role::User },
                    text: r.try_get("body")?,
                    job,
                })
            })
            .collect()
    }

    /// How many messages a thread holds; for tests and diagnostics.
    pub async fn message_count(&self, id: ThreadId) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM messages WHERE thread_id = $1")
            .bind(id.0)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }
}
