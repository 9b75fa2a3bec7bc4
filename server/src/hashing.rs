//! Argon2 on threads of its own, not on tokio's blocking pool.
//!
//! Each hash takes 19 MiB (Argon2id's memory cost in `password-auth`). glibc's allocator keeps
//! freed memory in the heaps of the arena of the thread that used it, and the blocking pool's
//! threads come and go over many arenas: 200 sign-ups, four at a time, left 649 MiB resident
//! for good; on a fixed set of threads, as many as the hashing permits in `throttle`, 382 MiB,
//! and with each of them keeping its Argon2 memory (`passwords`), 59 MiB (`docs/benchmarks.md`).
//! It also keeps hashing off the threads the image work runs on.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

type Work = Box<dyn FnOnce() + Send>;

/// Runs `work` on a hashing thread; `None` if the threads could not be started or `work`
/// panicked.
pub async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Work = Box::new(move || {
        let _ = tx.send(work());
    });
    queue()?.send(job).ok()?;
    rx.await.ok()
}

/// The queue the threads take work from, started on first use.
fn queue() -> Option<&'static mpsc::Sender<Work>> {
    static QUEUE: OnceLock<Option<mpsc::Sender<Work>>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Work>();
            let rx = Arc::new(Mutex::new(rx));
            let mut started = 0;
            for i in 0..crate::throttle::hashing_permits() {
                let rx = rx.clone();
                let spawned = std::thread::Builder::new().name(format!("easel-hash-{i}")).spawn(move || loop {
                    // The lock is held only while waiting for the next job, not while hashing.
                    let next = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match next {
                        // A panicking job loses its answer (the caller sees `None`), not the thread.
                        Ok(job) => drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))),
                        Err(_) => return,
                    }
                });
                if spawned.is_ok() {
                    started += 1;
                }
            }
            (started > 0).then_some(tx)
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn work_runs_on_a_hashing_thread_and_its_result_comes_back() {
        let name = super::run(|| std::thread::current().name().map(str::to_string)).await;
        assert!(name.flatten().is_some_and(|n| n.starts_with("easel-hash-")));
    }

    #[tokio::test]
    async fn a_panicking_job_leaves_the_threads_working() {
        let permits = crate::throttle::hashing_permits();
        for _ in 0..permits {
            assert_eq!(super::run(|| -> u8 { panic!("a hash that panics") }).await, None);
        }
        assert_eq!(super::run(|| 7).await, Some(7));
    }
}
