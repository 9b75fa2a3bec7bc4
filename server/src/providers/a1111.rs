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
//! request is dropped: A1111 ignores a disconnect, koboldcpp stops on it. Failures are not
//! retried here: a local engine that failed says why, and the user may retry.

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

    /// Keeps the engine ours, in the background, until the cancelled task is off it.
    fn settle(&self, turn: Turn, task_id: String) {
        let api = self.api.clone();
        let interval = self.settings.poll_interval;
        tokio::spawn(async move {
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
                    tracing::warn!(task = %task_id, "a cancelled AUTOMATIC1111 task is still on the engine; moving on");
                    return;
                }
                tokio::time::sleep(interval).await;
            }
        });
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

    fn name(&self) -> &'static str {
        "AUTOMATIC1111"
    }

    fn model(&self) -> String {
        self.settings.checkpoint.clone().unwrap_or_else(|| "a1111".into())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { edit: true, mask: false, seed: true, batch: false, steps: true, previews: true, cancel: true }
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
        let turn = self.gate.join();
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
            () = turn.wait(told) => {}
        }

        let task_id = format!("task(easel-{})", uuid::Uuid::new_v4().simple());
        let body = GenerationBody::new(&self.settings, request, &task_id);
        match self.run(&body, &task_id, &events, &cancel).await {
            Some(Ok((png, seed))) => Ok(GeneratedImage {
                png,
                revised_prompt: None,
                provider: self.name(),
                model: self.model(),
                usage: None,
                seed,
            }),
            // The request gave up, the engine may not have: stop it there too.
            Some(Err(ProviderError::Timeout)) => {
                self.settle(turn, task_id);
                Err(ProviderError::Timeout)
            }
            Some(Err(e)) => Err(e),
            None => {
                self.settle(turn, task_id);
                Err(ProviderError::Cancelled)
            }
        }
    }
}
