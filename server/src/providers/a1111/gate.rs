//! One Easel job at a time on an engine, in arrival order, with each waiter told how many
//! jobs are ahead of it.
//!
//! AUTOMATIC1111's progress (`/sdapi/v1/progress`) and interrupt are engine-wide, not per
//! request: two of our jobs running at once could not tell whose step count they read, and
//! cancelling one would stop the other. So the provider holds a [`Turn`] for as long as a
//! job may be on the engine (including the clean-up after a cancel). A waiter that gives up
//! (its future dropped) leaves the line at once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

#[derive(Debug, Default)]
pub(super) struct EngineGate {
    /// Tickets in arrival order; the first holds the engine.
    line: Mutex<VecDeque<u64>>,
    next: AtomicU64,
    changed: Notify,
}

/// The right to use the engine, or a place in line for it; leaving it (drop) lets the
/// next one on.
#[derive(Debug)]
pub(super) struct Turn {
    gate: Arc<EngineGate>,
    ticket: u64,
}

impl EngineGate {
    fn line(&self) -> MutexGuard<'_, VecDeque<u64>> {
        // A panic while holding this lock leaves the line itself consistent.
        self.line.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Joins the line; the [`Turn`] is first in it when [`Turn::ahead`] says 0.
    pub(super) fn join(self: &Arc<Self>) -> Turn {
        let ticket = self.next.fetch_add(1, Ordering::Relaxed);
        self.line().push_back(ticket);
        Turn { gate: self.clone(), ticket }
    }

    /// How many jobs wait or run on this engine.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.line().len()
    }
}

impl Turn {
    /// Jobs ahead of this one (the running one included).
    pub(super) fn ahead(&self) -> u32 {
        let line = self.gate.line();
        let at = line.iter().position(|t| *t == self.ticket).unwrap_or(0);
        u32::try_from(at).unwrap_or(u32::MAX)
    }

    /// Waits until this turn holds the engine, calling `told` with the number of jobs ahead
    /// each time it changes (before the first wait too).
    pub(super) async fn wait<F, Fut>(&self, mut told: F)
    where
        F: FnMut(u32) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let mut last = None;
        loop {
            // Registered before reading the line, so a change in between is not missed.
            let changed = self.gate.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let ahead = self.ahead();
            if ahead == 0 {
                return;
            }
            if last != Some(ahead) {
                last = Some(ahead);
                told(ahead).await;
            }
            changed.await;
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.gate.line().retain(|t| *t != self.ticket);
        self.gate.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn turns_are_taken_in_order_and_waiters_hear_their_place() {
        let gate = Arc::new(EngineGate::default());
        let first = gate.join();
        let second = gate.join();
        let third = gate.join();
        assert_eq!((first.ahead(), second.ahead(), third.ahead()), (0, 1, 2));

        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let waiter = tokio::spawn(async move {
            third
                .wait(|n| {
                    let _ = tx.send(n);
                    async {}
                })
                .await;
            third
        });
        assert_eq!(rx.recv().await, Some(2));
        drop(second);
        assert_eq!(rx.recv().await, Some(1));
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(1), waiter).await.expect("its turn").expect("ran");
        assert_eq!(third.ahead(), 0);
        drop(third);
        assert_eq!(gate.len(), 0);
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_leaves_the_line() {
        let gate = Arc::new(EngineGate::default());
        let first = gate.join();
        let quitter = gate.join();
        let wait = tokio::time::timeout(Duration::from_millis(20), quitter.wait(|_| async {})).await;
        assert!(wait.is_err(), "still waiting");
        drop(quitter);
        let last = gate.join();
        assert_eq!(last.ahead(), 1);
        drop(first);
        assert_eq!(last.ahead(), 0);
    }
}
