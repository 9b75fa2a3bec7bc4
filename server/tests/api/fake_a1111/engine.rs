//! The simulated engine: `shared.state` and its task lists, and one job at a time under the
//! queue lock, stepping, making live previews and stopping early when interrupted.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use super::{lock, png, Reply, Run, Shared};

/// `shared.state` and the task lists of `modules/progress.py`.
#[derive(Debug, Default)]
pub(super) struct EngineState {
    pub(super) current_task: Option<String>,
    pub(super) pending: Vec<String>,
    pub(super) finished: Vec<String>,
    pub(super) job_count: i64,
    pub(super) job_no: i64,
    pub(super) sampling_step: i64,
    pub(super) sampling_steps: i64,
    pub(super) id_live_preview: i64,
    pub(super) current_image: Option<Vec<u8>>,
    pub(super) interrupted: bool,
}

/// One job under the queue lock, as `modules/call_queue.py` and `shared.state` run it;
/// returns the step it stopped at.
pub(super) async fn run(shared: Arc<Shared>, body: Value, reply: Reply, received: Instant) -> i64 {
    let config = shared.config();
    let task = body["force_task_id"].as_str().map_or_else(|| format!("task({})", uuid::Uuid::new_v4()), str::to_string);
    let steps = body["steps"].as_i64().unwrap_or(20);
    lock(&shared.state).pending.push(task.clone());
    let _queue = shared.queue_lock.lock().await;
    let started = Instant::now();
    {
        let mut s = lock(&shared.state);
        s.pending.retain(|t| *t != task);
        s.current_task = Some(task.clone());
        // state.begin()
        s.job_count = 1;
        s.job_no = 0;
        s.sampling_step = 0;
        s.sampling_steps = steps;
        s.id_live_preview = 0;
        s.current_image = None;
        s.interrupted = false;
    }
    let fail_at = if reply == Reply::OutOfMemory { 2 } else { steps };
    let mut done = 0;
    for step in 1..=fail_at {
        tokio::time::sleep(config.step).await;
        let mut s = lock(&shared.state);
        if s.interrupted {
            break;
        }
        s.sampling_step = step;
        done = step;
        if step % i64::from(config.preview_every.max(1)) == 0 {
            s.current_image = Some(png(16, step as u8));
            s.id_live_preview += 1;
        }
    }
    if !lock(&shared.state).interrupted {
        // Decoding the latent (VAE) after the last step: the last step count stays visible.
        tokio::time::sleep(config.step).await;
    }
    let interrupted = {
        // state.end(): the counters go idle, sampling_step is left as it was.
        let mut s = lock(&shared.state);
        s.current_task = None;
        s.finished.push(task.clone());
        s.job_count = 0;
        s.interrupted
    };
    lock(&shared.runs).push(Run { task, received, started, ended: Instant::now(), interrupted });
    done
}
