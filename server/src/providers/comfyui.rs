//! The ComfyUI provider: a configured API-format workflow, patched per request and run on a
//! ComfyUI server (or Comfy Cloud), with real sampler steps and previews.
//!
//! The protocol is "connect first, then submit": one WebSocket per provider
//! ([`socket`]) carries every prompt's events; a job registers its prompt id (one we make),
//! posts the patched graph to `/prompt` under the socket's `clientId`, follows its events to
//! the end ([`follow`], turning them into [`ProviderEvent`]s with [`job::Tracker`]) and, on
//! `execution_success`, reads the saved image's name from `/history/{id}` and its bytes from
//! `/view`.
//!
//! Invariants:
//! - An edit runs the edit workflow ([`edit`]) on pictures uploaded first, under names made of
//!   the prompt id (so a retry never reads another job's picture).
//! - The seed is random unless one was asked for: ComfyUI answers an identical graph from its
//!   cache in no time, with the same image.
//! - `preview_method` is sent with every prompt; the server's default is no previews.
//! - Cancelling (or the runner dropping us at its deadline) stops this prompt on the engine,
//!   never a bare global `/interrupt` ([`api::Api::cancel`]).
//! - A prompt the engine may hold is stopped there if we stop waiting for it, even when the
//!   `POST /prompt` had not been answered yet (cancelled meanwhile, or timed out): the guard
//!   cancels it once the POST settled ([`job::JobGuard`]).
//! - No job waits forever: a socket that reconnects makes every job ask the engine how its
//!   prompt stands, and so does `quiet_poll` without a frame about *this* prompt (the
//!   `status` frames every socket gets on each queue change do not count), and a socket
//!   down past the grace fails the job.

mod api;
mod edit;
mod follow;
mod frames;
mod job;
mod queue;
mod settings;
mod socket;
mod workflow;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};
use uuid::Uuid;

use super::{
    steps_for, Capabilities, GeneratedImage, ImageProvider, ImageRequest, ProviderError, ProviderEvent, ProviderKind,
    DIFFUSION_QUALITIES,
};
use api::Api;
use edit::EditGraph;
use frames::Frame;
use job::{End, JobGuard};
pub use settings::{ComfyUiSettings, InputRef, NodeMap, DEFAULT_CHECKPOINT};
use socket::Link;

/// How long `/history` may lag behind `execution_success`.
const HISTORY_TRIES: u32 = 10;
const HISTORY_PAUSE: Duration = Duration::from_millis(200);

pub struct ComfyUi {
    settings: ComfyUiSettings,
    model: String,
    client_id: String,
    api: Arc<Api>,
    link: Arc<Link>,
    /// Stops the socket task when the provider goes.
    _socket: DropGuard,
}

impl ComfyUi {
    /// Checks the settings and starts the socket (inside a Tokio runtime).
    pub fn new(settings: ComfyUiSettings) -> Result<Self, String> {
        settings.validate()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| "ComfyUI must start inside the runtime")?;
        let client_id = Uuid::new_v4().to_string();
        let api = Arc::new(Api::new(&settings)?);
        let url = socket::socket_url(&settings, &client_id)?;
        let link = Arc::new(Link::new());
        let stop = CancellationToken::new();
        runtime.spawn(socket::run(link.clone(), settings.clone(), url, stop.clone()));
        Ok(Self { model: settings.model(), settings, client_id, api, link, _socket: stop.drop_guard() })
    }

    fn unreachable(&self, why: Option<String>) -> ProviderError {
        let base = &self.settings.base_url;
        ProviderError::Network(match why {
            Some(why) => format!("ComfyUI at {base} is not reachable: {why}"),
            None => format!("ComfyUI at {base} is not reachable"),
        })
    }

    /// The saved image's bytes: named by `/history` (which can lag `execution_success` a
    /// little) or by the `executed` events.
    async fn result(&self, prompt_id: &str, reported: Vec<frames::ImageRef>) -> Result<Vec<u8>, ProviderError> {
        let tries = if reported.is_empty() { HISTORY_TRIES } else { 2 };
        let mut picked = None;
        for attempt in 0..tries {
            if let Some(entry) = self.api.history(prompt_id).await? {
                picked = workflow::pick_image(&entry["outputs"]);
                break;
            }
            if attempt + 1 < tries {
                tokio::time::sleep(HISTORY_PAUSE).await;
            }
        }
        let image = picked.or_else(|| workflow::pick(reported)).ok_or(ProviderError::NoImage)?;
        self.api.view(&image).await
    }

    /// The edit graph when the request changes a picture and this engine edits, else the main one.
    fn graph_for(&self, request: &ImageRequest) -> (&serde_json::Value, &NodeMap, Option<&EditGraph>) {
        match (&request.source, &self.settings.edit) {
            (Some(_), Some(edit)) => (&edit.workflow, &edit.nodes, Some(edit)),
            _ => (&self.settings.workflow, &self.settings.nodes, None),
        }
    }

    /// Uploads the picture (and the mask file, when the graph reads one) for this prompt:
    /// the names its `LoadImage`/`LoadImageMask` read.
    async fn upload(
        &self,
        request: &ImageRequest,
        edit: &EditGraph,
        prompt_id: &str,
    ) -> Result<(String, Option<String>), ProviderError> {
        let Some(source) = request.source.clone() else { return Err(ProviderError::NoImage) };
        let (mask, form) = (request.mask.clone(), edit.mask_form());
        let (width, height) = (request.width, request.height);
        // Decoding and resizing a picture is CPU work: off the runtime's threads.
        let files = tokio::task::spawn_blocking(move || {
            edit::prepare(&source, mask.as_deref().map(Vec::as_slice), width, height, form)
        })
        .await
        .map_err(|e| ProviderError::BadResponse(format!("preparing the picture: {e}")))??;
        let picture = self.api.upload(edit::UPLOAD_FOLDER, &format!("easel-{prompt_id}.png"), files.picture).await?;
        let mask = match files.mask {
            Some(png) => Some(self.api.upload(edit::UPLOAD_FOLDER, &format!("easel-{prompt_id}-mask.png"), png).await?),
            None => None,
        };
        Ok((picture, mask))
    }

    async fn run(
        &self,
        request: &ImageRequest,
        events: &mpsc::Sender<ProviderEvent>,
        cancel: &CancellationToken,
        guard: &mut JobGuard,
        seed: u64,
    ) -> Result<Vec<u8>, ProviderError> {
        // Registered before anything is sent, so no event of this prompt is missed.
        let mut frames = self.link.register(&guard.prompt_id);
        let connects = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(ProviderError::Cancelled),
            up = self.link.wait_up(self.settings.connect_wait) => up.map_err(|why| self.unreachable(why))?,
        };
        let (graph, nodes, edit) = self.graph_for(request);
        let uploaded = match edit {
            Some(edit) => tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(ProviderError::Cancelled),
                names = self.upload(request, edit, &guard.prompt_id) => Some(names?),
            },
            None => None,
        };
        // Quality is a step count: the configured one (or the graph's own) is "medium".
        let configured = self.settings.steps.or_else(|| workflow::steps_in(graph, nodes));
        let steps = match request.quality {
            Some(_) => configured.map(|n| steps_for(n, request.quality)),
            None => self.settings.steps,
        };
        let patch = workflow::Patch {
            prompt: &request.prompt,
            seed,
            width: request.width,
            height: request.height,
            steps,
            image: uploaded.as_ref().map(|(picture, _)| picture.as_str()),
            mask: uploaded.as_ref().and_then(|(_, mask)| mask.as_deref()),
        };
        let body = json!({
            "prompt": workflow::patch(graph, nodes, &patch),
            "client_id": self.client_id,
            "prompt_id": guard.prompt_id,
            "extra_data": { "preview_method": self.settings.preview_method },
            "front": false,
        });
        // From here the engine may hold the prompt: a cancel or a drop must reach it. The POST
        // runs in a task of its own, so that a cancel meanwhile neither cuts it short nor
        // overtakes it: the guard cancels once it is answered.
        guard.submitted = true;
        let api = self.api.clone();
        let in_flight = guard.in_flight.insert(tokio::spawn(async move { api.submit(&body).await }));
        let queued = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(ProviderError::Cancelled),
            joined = in_flight => joined.unwrap_or_else(|e| Err(ProviderError::BadResponse(format!("POST /prompt: {e}")))),
        };
        guard.in_flight = None;
        let queued = match queued {
            Ok(queued) => queued,
            // The POST may have reached the engine: the guard cancels the prompt (harmless if not).
            Err(e @ (ProviderError::Timeout | ProviderError::Network(_))) => return Err(e),
            Err(e) => {
                guard.settled = true;
                return Err(e);
            }
        };
        if queued != guard.prompt_id {
            tracing::warn!(ours = %guard.prompt_id, theirs = %queued, "ComfyUI ignored our prompt id (an old server?)");
            self.link.rekey(&guard.prompt_id, &queued);
            guard.prompt_id = queued;
        }
        // A `status` read before the answer may count the queue without our prompt: drop those.
        let mut early = Vec::new();
        while let Ok(frame) = frames.try_recv() {
            if !matches!(frame, Frame::Status { .. }) {
                early.push(frame);
            }
        }
        let _ = events.send(ProviderEvent::Queued { position: None }).await;
        let (end, tracker) = self.follow(guard, frames, early, connects, events, cancel).await?;
        guard.settled = true;
        match end {
            End::Success => {}
            End::Failed { message } if message.is_empty() => {
                return Err(ProviderError::Engine("the workflow failed".into()));
            }
            End::Failed { message } => return Err(ProviderError::Engine(message)),
            End::Interrupted => return Err(ProviderError::Engine("the prompt was interrupted on the engine".into())),
            End::Lost => return Err(ProviderError::Engine("the engine lost the prompt (was it restarted?)".into())),
        }
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(ProviderError::Cancelled),
            bytes = self.result(&guard.prompt_id, tracker.images) => bytes,
        }
    }
}

/// A seed below 2^53: what ComfyUI's own front end can show and send back.
fn random_seed() -> u64 {
    (Uuid::new_v4().as_u128() as u64) & ((1 << 53) - 1)
}

#[async_trait]
impl ImageProvider for ComfyUi {
    fn kind(&self) -> ProviderKind {
        ProviderKind::ComfyUi
    }

    fn model(&self) -> String {
        self.model.clone()
    }

    fn capabilities(&self) -> Capabilities {
        let edit = self.settings.edit.as_ref();
        Capabilities {
            edit: edit.is_some(),
            mask: edit.is_some_and(EditGraph::takes_mask),
            // Quality is a step count (see `providers::steps_for`).
            qualities: if self.settings.nodes.steps.is_some() { DIFFUSION_QUALITIES } else { &[] },
            seed: self.settings.nodes.seed.is_some(),
            steps: true,
            previews: self.settings.preview_method != "none",
            cancel: true,
            custom_sizes: true,
            ..Capabilities::default()
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
        let seed = request.seed.unwrap_or_else(random_seed);
        let mut guard = JobGuard {
            link: self.link.clone(),
            api: self.api.clone(),
            prompt_id: Uuid::new_v4().to_string(),
            submitted: false,
            settled: false,
            in_flight: None,
        };
        let png = self.run(request, &events, &cancel, &mut guard, seed).await?;
        Ok(GeneratedImage {
            images: vec![png],
            revised_prompt: None,
            provider: self.name(),
            model: self.model.clone(),
            usage: None,
            seed: self.graph_for(request).1.seed.is_some().then_some(seed),
            steps: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_seeds_fit_in_53_bits_and_differ() {
        let seeds: Vec<u64> = (0..100).map(|_| random_seed()).collect();
        assert!(seeds.iter().all(|s| *s < 1 << 53));
        assert_ne!(seeds[0], seeds[1]);
    }
}
