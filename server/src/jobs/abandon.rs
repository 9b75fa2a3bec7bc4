//! The last resort when a job's runner could not finish: a store error mid-way or a panic in
//! its task. The job must not stay `running`, its reservation must not leak and every tab must
//! see it end, so: the reservation is returned unless the provider was called (then it was
//! probably billed: the place stays counted, in the gate as in the database) or settlement
//! already ran, or an earlier attempt was billed; the row is closed as failed with Retry (its
//! cost recorded when the provider was called), trying the database a few times; and the
//! final state is announced, from memory when the database cannot be read. A row the
//! database would not take is closed by the sweep (at start-up; with Redis, every 3.2 s).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use app::protocol::*;

use super::slots::Held;
use super::Jobs;
use crate::store::{JobEnding, JobRun};

/// What the user reads on a job closed this way.
const FAILED: &str = "Something went wrong on our side while making this image. Please try again.";

/// How far a runner got, for whoever has to close its job.
#[derive(Default)]
pub struct Outcome {
    called: AtomicBool,
    settled: AtomicBool,
}

impl Outcome {
    pub fn called(&self, called: bool) {
        self.called.store(called, Ordering::SeqCst);
    }

    pub fn settled(&self) {
        self.settled.store(true, Ordering::SeqCst);
    }
}

impl Jobs {
    pub(super) async fn abandon(
        &self,
        run: JobRun,
        held: &Held,
        (thread, message): (ThreadId, MessageId),
        job: &JobView,
        outcome: &Outcome,
    ) -> Option<ServerMsg> {
        let (called, settled) = (outcome.called.load(Ordering::SeqCst), outcome.settled.load(Ordering::SeqCst));
        // An earlier attempt the provider billed keeps the job's place (see `settle`); when the
        // database cannot say, the place is kept too (counting one too many, never too few).
        let earlier_billed = self.store.job_cost(run.id).await.map_or(true, |cost| cost.is_some());
        if !settled && !called && !earlier_billed {
            if let Err(e) = self.store.uncount_job(run).await {
                tracing::warn!(job = %run.id, error = %e, "an abandoned job could not be uncounted");
            }
            self.slots.refund(held).await;
        }
        // Settled means recorded (a job's ending is written before it is settled): only the
        // announcement is left to do.
        let recorded = if settled { Some(true) } else { self.close_failed(run, held, job, called).await };
        match recorded {
            // Another attempt owns the row now: it speaks for the job.
            Some(false) => return None,
            Some(true) => {}
            None => tracing::error!(job = %run.id, "an abandoned job stays running until the next sweep"),
        }
        let view = match self.store.job(held.user, run.id).await {
            Ok(Some((view, _))) if recorded.is_some() => view,
            _ => JobView {
                status: JobStatus::Failed,
                error: Some(JobError { message: FAILED.to_string(), retryable: true, kind: FailureKind::Internal }),
                ..job.clone()
            },
        };
        if let Err(e) = self.store.set_job_message_text(run.id, &view.message_text()).await {
            tracing::warn!(job = %run.id, error = %e, "an abandoned job's message could not be updated");
        }
        Some(ServerMsg::JobUpdated(JobUpdated { thread_id: thread, message_id: message, job: view }))
    }

    /// Writes the failure, trying the database a few times; `None` when it never answered.
    /// Called, the provider probably billed the job: its cost is recorded and charged.
    async fn close_failed(&self, run: JobRun, held: &Held, job: &JobView, called: bool) -> Option<bool> {
        let cost = called.then(|| self.billed_micros(job));
        let failed = JobEnding::Failed {
            kind: FailureKind::Internal,
            message: FAILED.to_string(),
            retryable: true,
            cost_micros: cost,
        };
        for wait in [0, 250, 1_000] {
            tokio::time::sleep(Duration::from_millis(wait)).await;
            match self.store.finish_job(run, &failed).await {
                Ok(true) => {
                    if let Some(micros) = cost {
                        if let Err(e) = self.charge(held.user, held.ids.month, micros).await {
                            tracing::warn!(job = %run.id, error = %e, "an abandoned job's cost could not be charged");
                        }
                    }
                    return Some(true);
                }
                Ok(false) => return Some(false),
                Err(e) => tracing::warn!(job = %run.id, error = %e, "an abandoned job could not be closed yet"),
            }
        }
        None
    }
}
