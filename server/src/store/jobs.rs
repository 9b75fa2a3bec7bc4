//! Image jobs: a job row per request, created with the assistant message that shows it, and
//! moved through its stages by the runner. The message's text follows the job's state so a
//! transcript read without scripts still says what happened.

use std::collections::HashMap;

use app::protocol::*;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::messages::insert_in_tx;
use super::JobEnding;
use super::{now_ms, Store, StoreError};

/// What a new job is asked to make.
pub struct NewJob<'a> {
    pub prompt: &'a str,
    pub enhanced_prompt: &'a str,
    pub subject: &'a str,
    pub provider: ProviderKind,
    pub model: &'a str,
    /// When its quota reservation was taken (Unix ms).
    pub counted_at: i64,
    /// Made by an admin or a test account: left out of spend totals by default.
    pub exempt: bool,
    /// The job whose image this one refines.
    pub refines: Option<JobId>,
    /// What the row asked for, resolved (shape, quality, count, seed).
    pub params: &'a JobParams,
}

/// One attempt of a job: what its runner owns. Retry starts the next attempt, and the row
/// is written only for the attempt it is at, while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobRun {
    pub id: JobId,
    pub attempt: i64,
}

impl JobRun {
    /// A new job's first attempt.
    pub fn first(id: JobId) -> Self {
        Self { id, attempt: 1 }
    }
}

/// Where a job lives: who owns it and which message shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobPlace {
    pub user: UserId,
    pub thread: ThreadId,
    pub message: MessageId,
}

const JOB_COLUMNS: &str = "j.id, j.status, j.stage, j.prompt, j.enhanced_prompt, j.revised_prompt, j.subject, \
     j.provider, j.model, j.error_message, j.error_kind, j.retryable, j.user_id, j.thread_id, j.message_id, j.refines_job_id, \
     j.counted_at, j.params, j.cost_usd_micros";

/// What a job stopped by a restart tells its user.
const INTERRUPTED_TEXT: &str = "Generation was interrupted by a server restart. Please try again.";

/// The message showing a job says what the job is doing; `$1` text, `$2` job id.
const SET_JOB_MESSAGE_TEXT: &str =
    "UPDATE messages SET body = $1 WHERE id = (SELECT message_id FROM jobs WHERE id = $2)";

fn job_from_row(row: &AnyRow) -> Result<(JobView, JobPlace), sqlx::Error> {
    let status: String = row.try_get("status")?;
    let stage: String = row.try_get("stage")?;
    let status = JobStatus::parse(&status).unwrap_or(JobStatus::Failed);
    let error = row
        .try_get::<Option<String>, _>("error_message")?
        .map(|message| {
            let kind = row.try_get::<Option<String>, _>("error_kind")?.and_then(|k| FailureKind::parse(&k));
            let retryable = row.try_get::<i64, _>("retryable")? != 0;
            Ok::<_, sqlx::Error>(JobError { message, retryable, kind: kind.unwrap_or_default() })
        })
        .transpose()?;
    // A row written by a later version may hold fields this one does not know: read what it can.
    let params = row.try_get::<Option<String>, _>("params")?.and_then(|p| serde_json::from_str(&p).ok());
    let view = JobView {
        id: JobId(row.try_get("id")?),
        status,
        stage: JobStage::parse(&stage).unwrap_or(JobStage::Queued),
        prompt: row.try_get("prompt")?,
        enhanced_prompt: row.try_get("enhanced_prompt")?,
        revised_prompt: row.try_get("revised_prompt")?,
        subject: row.try_get("subject")?,
        provider: {
            let stored: String = row.try_get("provider")?;
            ProviderKind::parse(&stored)
                .ok_or_else(|| sqlx::Error::Decode(format!("unknown provider {stored:?} on a job").into()))?
        },
        model: row.try_get("model")?,
        error,
        images: Vec::new(),
        params,
        // What it cost shows once it has ended; a running attempt's cost is not known yet.
        cost_micros: match status {
            JobStatus::Running => None,
            _ => row.try_get::<Option<i64>, _>("cost_usd_micros")?,
        },
        refines: row.try_get::<Option<i64>, _>("refines_job_id")?.map(JobId),
        // A running job's reservation is taken when it (re)starts, so it dates the run.
        started_at: match status {
            JobStatus::Running => row.try_get::<Option<i64>, _>("counted_at")?,
            _ => None,
        },
    };
    let place = JobPlace {
        user: UserId(row.try_get("user_id")?),
        thread: ThreadId(row.try_get("thread_id")?),
        message: MessageId(row.try_get("message_id")?),
    };
    Ok((view, place))
}

impl Store {
    /// Appends the assistant message that shows a new job, and the job, in one transaction.
    pub async fn create_job(
        &self,
        user: UserId,
        thread: ThreadId,
        new: NewJob<'_>,
    ) -> Result<Option<ChatMessage>, StoreError> {
        let now = now_ms();
        let text = JobStage::Queued.describe(new.subject);
        let mut tx = self.pool().begin().await?;
        let Some(mut message) = insert_in_tx(&mut tx, user, thread, None, Role::Assistant, &text, now).await? else {
            return Ok(None);
        };
        let row = sqlx::query(
            "INSERT INTO jobs (user_id, thread_id, message_id, status, stage, prompt, enhanced_prompt, subject, \
             provider, model, retryable, created_at, updated_at, counted_at, exempt, refines_job_id, params, image_count) \
             VALUES ($1, $2, $3, 'running', 'queued', $4, $5, $6, $7, $8, 0, $9, $9, $10, $11, $12, $13, $14) RETURNING id",
        )
        .bind(user.0)
        .bind(thread.0)
        .bind(message.id.0)
        .bind(new.prompt)
        .bind(new.enhanced_prompt)
        .bind(new.subject)
        .bind(new.provider.id())
        .bind(new.model)
        .bind(now)
        .bind(new.counted_at)
        .bind(i64::from(new.exempt))
        .bind(new.refines.map(|j| j.0))
        .bind(serde_json::to_string(new.params).map_err(|e| sqlx::Error::Encode(Box::new(e)))?)
        .bind(i64::from(new.params.count.max(1)))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        message.job = Some(JobView {
            id: JobId(row.try_get("id")?),
            status: JobStatus::Running,
            stage: JobStage::Queued,
            prompt: new.prompt.into(),
            enhanced_prompt: new.enhanced_prompt.into(),
            revised_prompt: None,
            subject: new.subject.into(),
            provider: new.provider,
            model: new.model.into(),
            error: None,
            images: Vec::new(),
            params: Some(new.params.clone()),
            cost_micros: None,
            refines: new.refines,
            started_at: Some(new.counted_at),
        });
        Ok(Some(message))
    }

    /// A job with its place, if `user` owns it.
    pub async fn job(&self, user: UserId, id: JobId) -> Result<Option<(JobView, JobPlace)>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs j WHERE j.id = $1 AND j.user_id = $2");
        let row = sqlx::query(&sql).bind(id.0).bind(user.0).fetch_optional(self.pool()).await?;
        let Some(row) = row else { return Ok(None) };
        let (mut view, place) = job_from_row(&row)?;
        view.images = self.images_of_job(id).await?;
        Ok(Some((view, place)))
    }

    /// The jobs of a thread shown by messages `messages.0..=messages.1`, by message (one page
    /// of history: a long thread's other jobs are not read).
    pub async fn jobs_of_thread(
        &self,
        thread: ThreadId,
        messages: (MessageId, MessageId),
    ) -> Result<HashMap<MessageId, JobView>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs j WHERE j.thread_id = $1 AND j.message_id BETWEEN $2 AND $3");
        let rows =
            sqlx::query(&sql).bind(thread.0).bind(messages.0 .0).bind(messages.1 .0).fetch_all(self.pool()).await?;
        // One query for every job's images, not one per job: this runs on each history load.
        let mut images = self.images_in_thread(thread, messages).await?;
        let mut jobs = HashMap::new();
        for row in &rows {
            let (mut view, place) = job_from_row(row)?;
            view.images = images.remove(&view.id).unwrap_or_default();
            jobs.insert(place.message, view);
        }
        Ok(jobs)
    }

    /// Moves a running attempt to `stage`; `false` (nothing written) when the row is no longer
    /// at that attempt or no longer running.
    pub async fn set_job_stage(&self, run: JobRun, stage: JobStage, text: &str) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE jobs SET stage = $1, updated_at = $2 WHERE id = $3 AND attempt = $4 AND status = 'running'",
        )
        .bind(stage.as_str())
        .bind(now)
        .bind(run.id.0)
        .bind(run.attempt)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            sqlx::query(SET_JOB_MESSAGE_TEXT).bind(text).bind(run.id.0).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records how a running attempt ended; `false` (nothing written) when the row is no longer
    /// at that attempt or no longer running: a job ends once. A cost adds to what earlier
    /// attempts cost (each billed attempt was paid for).
    pub async fn finish_job(&self, run: JobRun, ending: &JobEnding) -> Result<bool, StoreError> {
        let now = now_ms();
        let (status, stage, image, revised, error, retryable, kind) = match ending {
            JobEnding::Complete { images, revised_prompt, .. } => {
                let stage = Some(JobStage::Complete.as_str());
                let first = images.first().map(|i| i.0);
                (JobStatus::Complete, stage, first, revised_prompt.as_deref(), None, false, None)
            }
            JobEnding::Failed { kind, message, retryable, .. } => {
                (JobStatus::Failed, None, None, None, Some(message.as_str()), *retryable, Some(kind.as_str()))
            }
            JobEnding::Cancelled { .. } => (JobStatus::Cancelled, None, None, None, None, false, None),
            JobEnding::Interrupted { .. } => (
                JobStatus::Interrupted,
                None,
                None,
                None,
                Some(INTERRUPTED_TEXT),
                true,
                Some(FailureKind::Interrupted.as_str()),
            ),
        };
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE jobs SET status = $1, stage = COALESCE($2, stage), image_id = $3, \
             revised_prompt = $4, error_message = $5, retryable = $6, updated_at = $7, \
             cost_usd_micros = CASE WHEN $9 < 0 THEN cost_usd_micros ELSE COALESCE(cost_usd_micros, 0) + $9 END, \
             error_kind = $10 WHERE id = $8 AND attempt = $11 AND status = 'running'",
        )
        .bind(status.as_str())
        .bind(stage)
        .bind(image)
        .bind(revised)
        .bind(error)
        .bind(i64::from(retryable))
        .bind(now)
        .bind(run.id.0)
        // -1: no cost (a typed value, where a NULL would leave PostgreSQL guessing its type).
        .bind(ending.cost_micros().unwrap_or(-1))
        .bind(kind)
        .bind(run.attempt)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        // The images become the job's only with its ending: a stale runner's stay unattached.
        if let JobEnding::Complete { images, params, .. } = ending {
            for (ordinal, image) in images.iter().enumerate() {
                sqlx::query("UPDATE images SET job_id = $1, ordinal = $2 WHERE id = $3")
                    .bind(run.id.0)
                    .bind(ordinal as i64)
                    .bind(image.0)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(params) = params {
                let json = serde_json::to_string(params).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                sqlx::query("UPDATE jobs SET params = $1 WHERE id = $2")
                    .bind(json)
                    .bind(run.id.0)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// What a job cost in micro-dollars (`None`: not charged or unknown).
    pub async fn job_cost(&self, id: JobId) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT cost_usd_micros FROM jobs WHERE id = $1")
            .bind(id.0)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get::<Option<i64>, _>("cost_usd_micros")).transpose()?.flatten())
    }

    /// The stable failure code of a job, if it failed.
    pub async fn job_error_kind(&self, id: JobId) -> Result<Option<FailureKind>, StoreError> {
        let row =
            sqlx::query("SELECT error_kind FROM jobs WHERE id = $1").bind(id.0).fetch_optional(self.pool()).await?;
        let kind = row.map(|r| r.try_get::<Option<String>, _>("error_kind")).transpose()?.flatten();
        Ok(kind.and_then(|k| FailureKind::parse(&k)))
    }

    /// Starts the next attempt of an ended job; what earlier attempts cost stays recorded.
    /// Its message says it is queued again in the same transaction, as the `JobUpdated` that
    /// announces the retry makes every tab say.
    pub async fn restart_job(&self, user: UserId, id: JobId, counted_at: i64) -> Result<Option<JobRun>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "UPDATE jobs SET status = 'running', stage = 'queued', error_message = NULL, error_kind = NULL, retryable = 0, \
             image_id = NULL, updated_at = $1, counted_at = $4, attempt = attempt + 1 \
             WHERE id = $2 AND user_id = $3 AND status IN ('failed', 'interrupted', 'cancelled') \
             RETURNING attempt, subject",
        )
        .bind(now_ms())
        .bind(id.0)
        .bind(user.0)
        .bind(counted_at)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let (attempt, subject): (i64, String) = (row.try_get("attempt")?, row.try_get("subject")?);
        let text = JobStage::Queued.describe(&subject);
        sqlx::query(SET_JOB_MESSAGE_TEXT).bind(text).bind(id.0).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Some(JobRun { id, attempt }))
    }

    /// When `user`'s job was counted against the windows (`None`: not counted, or no such job).
    pub async fn job_counted_at(&self, user: UserId, id: JobId) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT counted_at FROM jobs WHERE id = $1 AND user_id = $2")
            .bind(id.0)
            .bind(user.0)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get::<Option<i64>, _>("counted_at")).transpose()?.flatten())
    }

    /// Jobs a dead process left running can never finish: those not touched since `before_ms`
    /// are marked interrupted (retryable). Returns each one's owner, id and the stage it had
    /// reached (past `initializing`, the provider was called).
    pub async fn interrupt_running_jobs(&self, before_ms: i64) -> Result<Vec<(UserId, JobId, JobStage)>, StoreError> {
        let rows = sqlx::query(
            "UPDATE jobs SET status = $4, error_message = $1, error_kind = $5, retryable = 1, \
             updated_at = $2 WHERE status = 'running' AND updated_at < $3 RETURNING user_id, id, stage",
        )
        .bind(INTERRUPTED_TEXT)
        .bind(now_ms())
        .bind(before_ms)
        .bind(JobStatus::Interrupted.as_str())
        .bind(FailureKind::Interrupted.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let stage = JobStage::parse(&r.try_get::<String, _>("stage")?).unwrap_or(JobStage::Queued);
                Ok((UserId(r.try_get::<i64, _>("user_id")?), JobId(r.try_get::<i64, _>("id")?), stage))
            })
            .collect()
    }

    /// Adds what an ended attempt probably cost (a job closed by the sweep).
    pub async fn add_job_cost(&self, id: JobId, micros: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE jobs SET cost_usd_micros = COALESCE(cost_usd_micros, 0) + $1 WHERE id = $2")
            .bind(micros)
            .bind(id.0)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A running job's heartbeat: its process is alive (see `interrupt_running_jobs`).
    pub async fn touch_job(&self, run: JobRun) -> Result<(), StoreError> {
        sqlx::query("UPDATE jobs SET updated_at = $1 WHERE id = $2 AND attempt = $3 AND status = 'running'")
            .bind(now_ms())
            .bind(run.id.0)
            .bind(run.attempt)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Rewrites the text of the message that shows a job.
    pub async fn set_job_message_text(&self, id: JobId, text: &str) -> Result<(), StoreError> {
        sqlx::query(SET_JOB_MESSAGE_TEXT).bind(text).bind(id.0).execute(self.pool()).await?;
        Ok(())
    }
}
