//! Jobs whose process died: found by their stopped heartbeat and marked interrupted, so the
//! user gets Retry instead of a job that never ends.

use app::protocol::JobStage;

use super::Jobs;
use crate::limits::WindowIds;
use crate::store::StoreError;

impl Jobs {
    /// Jobs a dead process left running are marked interrupted, with Retry offered, and every
    /// tab of their users is told. Alone (no shared gate), every running job at start-up is
    /// such a job. Shared with other instances, only jobs whose heartbeat stopped are: the
    /// others run elsewhere. The reservation stays counted: the provider may have billed.
    pub async fn recover(&self, shared: bool) -> Result<u64, StoreError> {
        let before = if shared { crate::store::now_ms() - self.stale_after_ms() } else { i64::MAX };
        let closed = self.store.interrupt_running_jobs(before).await?;
        if !closed.is_empty() {
            tracing::warn!(jobs = closed.len(), "marked jobs left running by a dead process as interrupted");
        }
        for &(user, id, stage) in &closed {
            // Past initializing the provider was called and probably billed it: its cost is
            // recorded.
            let called = stage > JobStage::Initializing;
            if let Some((view, _)) = if called { self.store.job(user, id).await? } else { None } {
                let micros = self.billed_micros(&view);
                self.store.add_job_cost(id, micros).await?;
                self.charge(user, WindowIds::at(crate::store::now_ms()).month, micros).await?;
            }
            if let Some(ended) = self.ended(user, id).await? {
                self.hub.publish(user, ended);
            }
        }
        Ok(closed.len() as u64)
    }

    /// A running job touches its row (and renews its slot) every third of a lease; a lease of
    /// silence (three missed beats) and a second means its process is gone and its slot has
    /// expired too, so the job is closed as interrupted once the user may start another (its
    /// Retry is not refused), and no later than one sweep after that.
    pub fn stale_after_ms(&self) -> i64 {
        i64::try_from(self.slots.lease().as_millis()).map_or(i64::MAX / 4, |lease| lease + 1_000)
    }
}
