//! The shutdown's side of jobs (see `Application::run_until`): no new job starts, running
//! ones get the grace period, the rest are stopped and each runner closes its own job as
//! interrupted.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Jobs;

impl Jobs {
    /// The shutdown: no new job starts; running ones get `grace` to finish; those still running
    /// then are stopped and closed as interrupted (Retry offered, the reservation returned when
    /// the provider was not called yet), each with its final state written and announced.
    pub async fn drain(&self, grace: Duration) {
        self.closing.store(true, Ordering::SeqCst);
        let running = self.slots.held_here();
        if running > 0 {
            tracing::info!(jobs = running, grace_secs = grace.as_secs(), "letting running jobs finish");
        }
        let until = tokio::time::Instant::now() + grace;
        while self.slots.held_here() > 0 && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let stopped = self.slots.cancel_all();
        if stopped > 0 {
            tracing::warn!(jobs = stopped, "stopping jobs still running after the grace period");
        }
        // Each runner closes its own job and announces it (after its slot is released, so the
        // slots alone do not say it is done); a provider that ignores its cancel is not waited
        // for long.
        self.runners.close();
        if tokio::time::timeout(Duration::from_secs(10), self.runners.wait()).await.is_err() {
            tracing::warn!(jobs = self.runners.len(), "jobs still not closed at exit; the next start closes them");
        }
    }

    /// Set once the shutdown has begun (sweeps stop then).
    pub fn closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }
}
