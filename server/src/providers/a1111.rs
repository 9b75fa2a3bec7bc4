//! AUTOMATIC1111 / Forge, and servers with the same `/sdapi/v1` API (sd.cpp's server,
//! koboldcpp), driven through the blocking `POST /sdapi/v1/txt2img` (`img2img` for a
//! refinement, with the last image as `init_images`).
//!
//! The engine has one global state: one job runs, its progress and `interrupt` are
//! engine-wide. So each provider runs one Easel job at a time (`gate`), telling the others
//! how many jobs are ahead. While the generation request is open its progress is polled
//! (`progress`) by the task id we force on it, and exact steps are read only while that
//! task is the active one, so nobody sees another's progress.
//!
//! Cancelling answers [`ProviderError::Cancelled`] at once and leaves a clean-up behind that
//! keeps the engine ours until our task is off it: it interrupts the task if it runs (or
//! once it starts, if the engine had it queued), never a task that is not ours. The open
//! request is dropped: A1111 ignores a disconnect, koboldcpp stops on it. The same clean-up
//! follows a job that ends any other way while its task may still be on the engine: the
//! request timed out or lost its connection, or the job runner dropped `generate` unpolled
//! at its deadline ([`EngineHold`] does it on drop). Failures are not retried here: a local
//! engine that failed says why, and the user may retry.

mod api;
mod errors;
mod gate;
mod progress;
mod settings;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use settings::A1111Settings;

use super::{Capabilities, GeneratedImage, ImageProvider, ImageRequest, ProviderError, ProviderEvent, ProviderKind};
use api::Api;
use gate::{EngineGate, Turn};
use wire::GenerationBody;

/// How long a cancelled task may keep the engine while we wait for it to stop (a task still
/// queued behind someone else's long job is interrupted when it starts, within this).
const SETTLE_MAX: Duration = Duration::from_secs(60);
/// Polls in a row that must not find a cancelled task before we decide it never reached
/// the engine.
const UNSEEN_POLLS: u32 = 3;

/// One AUTOMATIC1111-compatible engine.
pub struct Automatic1111 {
    settings: A1111Settings,
    api: Arc<Api>,
    gate: Arc<EngineGate>,
}

impl Automatic1111 {
    pub fn new(settings: A1111Settings) -> Result<Self, String> {
        if settings.base_url.is_empty() {
            return Err("AUTOMATIC1111 needs a base URL (A1111_URL)".into());
        }
        let api = Arc::new(Api::new(&settings)?);
        Ok(Self { settings, api, gate: Arc::new(EngineGate::default()) })
    }

    /// Runs one task on the engine (our turn held); `None` when cancelled.
    async fn run(
        &self,
        body: &GenerationBody<'_>,
        task_id: &str,
        events: &mpsc::Sender<ProviderEvent>,
        cancel: &CancellationToken,
    ) -> Option<Result<(Vec<u8>, Option<u64>), ProviderError>> {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => None,
            result = self.api.generate(body) => Some(result),
            never = progress::watch(&self.api, task_id, self.settings.poll_interval, events) => match never {},
        }
    }
}

/// One job's hold on the engine: its [`Turn`], and once its task may have been sent, the
/// task's id. Unless the job ended with the engine known to be done with the task
/// ([`EngineHold::done`]), dropping it (a return, or `generate` dropped unpolled) leaves
/// [`settle`] behind, holding the turn.
struct EngineHold {
    api: Arc<Api>,
    interval: Duration,
    turn: Option<Turn>,
    task_id: Option<String>,
}

impl EngineHold {
    fn new(api: Arc<Api>, interval: Duration, turn: Turn) -> Self {
        Self { api, interval, turn: Some(turn), task_id: None }
    }

    /// Waits until the engine is ours (see [`Turn::wait`]).
    async fn wait<F, Fut>(&self, told: F)
    where
        F: FnMut(u32) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        // The turn is only taken out when the hold is dropped.
        if let Some(turn) = &self.turn {
            turn.wait(told).await;
        }
    }

    /// From now on the engine may hold this task.
    fn sent(&mut self, task_id: &str) {
        self.task_id = Some(task_id.to_string());
    }

    /// The engine answered the request, so the task is off it: the turn may go at once.
    fn done(mut self) {
        self.task_id = None;
    }
}

impl Drop for EngineHold {
    fn drop(&mut self) {
        let (Some(turn), Some(task_id)) = (self.turn.take(), self.task_id.take()) else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(settle(self.api.clone(), self.interval, turn, task_id));
            }
            Err(_) => tracing::warn!(task = %task_id, "no runtime to stop an abandoned AUTOMATIC1111 task"),
        }
    }
}

/// Keeps the engine ours (`turn`) until the abandoned task is off it, interrupting it once it
/// runs; for at most [`SETTLE_MAX`].
async fn settle(api: Arc<Api>, interval: Duration, turn: Turn, task_id: String) {
    let _turn = turn;
    let until = Instant::now() + SETTLE_MAX;
    let (mut interrupted, mut unseen) = (false, 0);
    loop {
        match task_state(&api, &task_id).await {
            TaskState::Running if !interrupted => {
                interrupted = true;
                match api.interrupt().await {
                    Ok(()) => tracing::info!(task = %task_id, "AUTOMATIC1111 task interrupted"),
                    Err(e) => tracing::warn!(task = %task_id, error = %e, "AUTOMATIC1111 interrupt failed"),
                }
            }
            TaskState::Running | TaskState::Queued => unseen = 0,
            TaskState::Unseen if unseen + 1 < UNSEEN_POLLS => unseen += 1,
            TaskState::Unseen | TaskState::Done => return,
        }
        if Instant::now() >= until {
            tracing::warn!(task = %task_id, "an abandoned AUTOMATIC1111 task is still on the engine; moving on");
            return;
        }
        tokio::time::sleep(interval).await;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaskState {
    /// On the engine now (for servers without per-task progress: the engine is busy).
    Running,
    Queued,
    /// Not (yet) known to the engine.
    Unseen,
    Done,
}

async fn task_state(api: &Api, task_id: &str) -> TaskState {
    match api.task_progress(task_id, -1).await {
        Ok(Some(p)) if p.completed => TaskState::Done,
        Ok(Some(p)) if p.active => TaskState::Running,
        Ok(Some(p)) if p.queued => TaskState::Queued,
        Ok(Some(_)) => TaskState::Unseen,
        Ok(None) => match api.engine_progress(false).await {
            Ok(p) if p.state.busy() => TaskState::Running,
            _ => TaskState::Done,
        },
        // An engine we cannot ask has nothing we could stop.
        Err(_) => TaskState::Done,
    }
}

#[async_trait]
impl ImageProvider for Automatic1111 {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Automatic1111
    }

    fn model(&self) -> String {
        self.settings.checkpoint.clone().unwrap_or_else(|| "a1111".into())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            edit: true,
            mask: true,
            references: false,
            seed: true,
            batch: false,
            // Quality sets the sampler steps (see `super::steps_for`).
            qualities: super::DIFFUSION_QUALITIES,
            custom_sizes: true,
            steps: true,
            previews: true,
            cancel: true,
        }
    }

    fn deadline(&self, _request: &ImageRequest) -> Duration {
        self.settings.timeout
    }

    async fn generate(
        &self,
        request: &ImageRequest,
        events: mpsc::Sender<ProviderEvent>,
        cancel: CancellationToken,
    ) -> Result<GeneratedImage, ProviderError> {
        // Dropped anywhere below (the runner drops us at its deadline), it cleans up.
        let mut hold = EngineHold::new(self.api.clone(), self.settings.poll_interval, self.gate.join());
        let told = |ahead| {
            let events = events.clone();
            // Best effort: the position is a courtesy, the turn comes regardless.
            async move {
                events.send(ProviderEvent::Queued { position: Some(ahead) }).await.ok();
            }
        };
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(ProviderError::Cancelled),
            () = hold.wait(told) => {}
        }

        let task_id = format!("task(easel-{})", uuid::Uuid::new_v4().simple());
        let body = GenerationBody::new(&self.settings, request, &task_id);
        hold.sent(&task_id);
        match self.run(&body, &task_id, &events, &cancel).await {
            Some(Ok((png, seed))) => {
                hold.done();
                Ok(GeneratedImage {
                    images: vec![png],
                    revised_prompt: None,
                    provider: self.name(),
                    model: self.model(),
                    usage: None,
                    seed,
                    steps: Some(super::steps_for(self.settings.steps, request.quality)),
                })
            }
            // The request gave up (or its connection broke), the engine may not have: `hold`
            // stops the task there too.
            Some(Err(e @ (ProviderError::Timeout | ProviderError::Network(_)))) => Err(e),
            // The engine answered: it is done with the task.
            Some(Err(e)) => {
                hold.done();
                Err(e)
            }
            // Cancelled: `hold` stops the task on the engine.
            None => Err(ProviderError::Cancelled),
        }
    }
}
