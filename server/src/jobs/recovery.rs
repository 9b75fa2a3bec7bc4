//! Jobs whose process died: found by their stopped heartbeat and marked interrupted, so the
//! user gets Retry instead of a job that never ends.

use super::Jobs;
use crate::store::StoreError;

impl Jobs {
    /// Jobs a dead process left running are marked interrupted, with Retry offered. Alone
    /// (no shared gate), every running job at start-up is such a job. Shared with other
    /// instances, only jobs whose heartbeat stopped are: the others run elsewhere.
    pub async fn recover(&self, shared: bool) -> Result<u64, StoreError> {
        let before = if shared { crate::store::now_ms() - self.stale_after_ms() } else { i64::MAX };
        let n = self.store.interrupt_running_jobs(before).await?;
        if n > 0 {
            tracing::warn!(jobs = n, "marked jobs left running by a dead process as interrupted");
        }
        Ok(n)
    }

    /// A running job touches its row every third of a lease; three leases of silence mean its
    /// process is gone.
    pub fn stale_after_ms(&self) -> i64 {
        i64::try_from(self.slots.lease().as_millis()).unwrap_or(i64::MAX / 4) * 3
    }
}
