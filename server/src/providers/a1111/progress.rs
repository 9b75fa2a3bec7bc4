//! Progress of our one job while its blocking generation request is open.
//!
//! A1111 says where a task stands at `POST /internal/progress` (by the `force_task_id` we
//! gave it): queued, active, completed, and a live preview newer than the id we echo back.
//! Exact sampler steps only exist engine-wide (`GET /sdapi/v1/progress`), so they are read
//! only while `/internal/progress` says our task is the active one. Servers without
//! `/internal/progress` (some forks, koboldcpp) get the engine-wide route alone, with its
//! `current_image` as the preview: attributed to us because we hold the engine (see
//! [`super::gate`]). [`Tracker`] turns answers into events, each said once.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use tokio::sync::mpsc;

use super::api::Api;
use super::wire::{self, EngineProgress, EngineState, TaskProgress};
use crate::providers::{ProviderError, ProviderEvent};

/// What has been reported so far, so each change is reported once.
#[derive(Debug)]
pub(super) struct Tracker {
    generating: bool,
    queued: Option<Option<u32>>,
    /// The last live preview's id (`-1`: none yet), echoed to the engine.
    preview_id: i64,
    /// The last fallback preview, by hash (the engine-wide route has no preview ids).
    image_hash: Option<u64>,
    step: Option<(u32, u32)>,
}

impl Default for Tracker {
    fn default() -> Self {
        Self { generating: false, queued: None, preview_id: -1, image_hash: None, step: None }
    }
}

impl Tracker {
    pub(super) fn preview_id(&self) -> i64 {
        self.preview_id
    }

    /// From our task's `/internal/progress`.
    pub(super) fn task(&mut self, p: TaskProgress) -> Vec<ProviderEvent> {
        let mut out = Vec::new();
        if p.active && !p.completed {
            out.extend(self.generating());
            if let (Some(data), Some(id)) = (p.live_preview.as_deref(), p.id_live_preview) {
                if id != self.preview_id {
                    self.preview_id = id;
                    out.extend(preview(data));
                }
            }
        } else if p.queued && !self.generating {
            let position = p.queue_position();
            if self.queued != Some(position) {
                self.queued = Some(position);
                out.push(ProviderEvent::Queued { position });
            }
        }
        out
    }

    /// Sampler steps from the engine-wide state, read while our task is active.
    pub(super) fn steps(&mut self, state: &EngineState) -> Option<ProviderEvent> {
        let (step, total) = state.steps()?;
        let backwards = self.step.is_some_and(|(s, t)| t == total && step <= s);
        if step == 0 || backwards || self.step == Some((step, total)) {
            return None;
        }
        self.step = Some((step, total));
        Some(ProviderEvent::Step { step, total })
    }

    /// The engine-wide route alone (no `/internal/progress`).
    pub(super) fn engine(&mut self, p: EngineProgress) -> Vec<ProviderEvent> {
        if !p.state.busy() {
            return Vec::new();
        }
        let mut out: Vec<ProviderEvent> = self.generating().into_iter().collect();
        out.extend(self.steps(&p.state));
        if let Some(data) = p.current_image.as_deref().filter(|d| !d.is_empty()) {
            let mut hasher = DefaultHasher::new();
            data.hash(&mut hasher);
            let hash = hasher.finish();
            if self.image_hash != Some(hash) {
                self.image_hash = Some(hash);
                out.extend(preview(data));
            }
        }
        out
    }

    fn generating(&mut self) -> Option<ProviderEvent> {
        (!std::mem::replace(&mut self.generating, true)).then_some(ProviderEvent::Generating)
    }
}

fn preview(data: &str) -> Option<ProviderEvent> {
    match wire::decode_image(data) {
        Ok(png) => Some(ProviderEvent::Preview { png }),
        Err(e) => {
            tracing::debug!(error = %e, "unreadable AUTOMATIC1111 preview skipped");
            None
        }
    }
}

/// Polls every `interval` until dropped (when the generation request answers), sending what
/// changed. A failed poll is skipped: progress is a courtesy, the result is what counts.
pub(super) async fn watch(
    api: &Api,
    task_id: &str,
    interval: Duration,
    events: &mpsc::Sender<ProviderEvent>,
) -> std::convert::Infallible {
    let mut tracker = Tracker::default();
    let mut per_task = true;
    loop {
        let found = match poll(api, task_id, &mut tracker, &mut per_task).await {
            Ok(found) => found,
            // No progress route at all (sd.cpp's server): the request is the job.
            Err(ProviderError::Server { status: 404 }) if !per_task => {
                tracing::info!("this AUTOMATIC1111-compatible engine reports no progress");
                if let Some(generating) = tracker.generating() {
                    events.send(generating).await.ok();
                }
                return std::future::pending().await;
            }
            Err(e) => {
                tracing::debug!(error = %e, "AUTOMATIC1111 progress poll failed");
                Vec::new()
            }
        };
        for event in found {
            // The runner reads until our result; a closed channel means it stopped listening.
            if events.send(event).await.is_err() {
                return std::future::pending().await;
            }
        }
        tokio::time::sleep(interval).await;
    }
}

async fn poll(
    api: &Api,
    task_id: &str,
    tracker: &mut Tracker,
    per_task: &mut bool,
) -> Result<Vec<ProviderEvent>, ProviderError> {
    if *per_task {
        match api.task_progress(task_id, tracker.preview_id()).await? {
            Some(p) => {
                let ours = p.active && !p.completed;
                let mut found = tracker.task(p);
                if ours {
                    let engine = api.engine_progress(false).await?;
                    found.extend(tracker.steps(&engine.state));
                }
                return Ok(found);
            }
            None => {
                *per_task = false;
                tracing::info!(
                    "this AUTOMATIC1111-compatible engine has no /internal/progress; using /sdapi/v1/progress"
                );
            }
        }
    }
    Ok(tracker.engine(api.engine_progress(true).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active(preview: Option<(&str, i64)>) -> TaskProgress {
        TaskProgress {
            active: true,
            live_preview: preview.map(|p| p.0.to_string()),
            id_live_preview: Some(preview.map_or(-1, |p| p.1)),
            ..TaskProgress::default()
        }
    }

    fn state(step: i64, steps: i64) -> EngineState {
        EngineState { job_count: 1, job_no: 0, sampling_step: step, sampling_steps: steps }
    }

    #[test]
    fn queued_then_generating_are_each_said_once() {
        let mut t = Tracker::default();
        let queued = TaskProgress { queued: true, textinfo: Some("In queue: 1/1".into()), ..TaskProgress::default() };
        assert_eq!(t.task(queued.clone()), vec![ProviderEvent::Queued { position: Some(1) }]);
        assert_eq!(t.task(queued), vec![]);
        assert_eq!(t.task(active(None)), vec![ProviderEvent::Generating]);
        assert_eq!(t.task(active(None)), vec![]);
        assert_eq!(t.task(TaskProgress { completed: true, ..TaskProgress::default() }), vec![]);
    }

    #[test]
    fn a_preview_is_sent_once_per_id_and_the_id_is_echoed() {
        let mut t = Tracker::default();
        assert_eq!(t.preview_id(), -1);
        let events = t.task(active(Some(("data:image/png;base64,AQID", 1))));
        assert_eq!(events, vec![ProviderEvent::Generating, ProviderEvent::Preview { png: vec![1, 2, 3] }]);
        assert_eq!(t.preview_id(), 1);
        assert_eq!(t.task(active(Some(("data:image/png;base64,AQID", 1)))), vec![]);
        assert_eq!(
            t.task(active(Some(("data:image/png;base64,BAUG", 2)))),
            vec![ProviderEvent::Preview { png: vec![4, 5, 6] }]
        );
    }

    #[test]
    fn steps_only_rise() {
        let mut t = Tracker::default();
        assert_eq!(t.steps(&state(0, 30)), None, "nothing sampled yet");
        assert_eq!(t.steps(&state(3, 30)), Some(ProviderEvent::Step { step: 3, total: 30 }));
        assert_eq!(t.steps(&state(3, 30)), None);
        assert_eq!(t.steps(&state(2, 30)), None);
        assert_eq!(t.steps(&state(4, 30)), Some(ProviderEvent::Step { step: 4, total: 30 }));
        assert_eq!(t.steps(&EngineState { job_count: 0, ..state(30, 30) }), None, "an idle engine's stale counts");
    }

    #[test]
    fn the_engine_wide_route_alone_gives_generating_steps_and_new_images() {
        let mut t = Tracker::default();
        let p = |step, image: Option<&str>| EngineProgress {
            state: state(step, 10),
            current_image: image.map(str::to_string),
        };
        assert_eq!(t.engine(EngineProgress::default()), vec![], "idle");
        assert_eq!(
            t.engine(p(2, Some("AQID"))),
            vec![
                ProviderEvent::Generating,
                ProviderEvent::Step { step: 2, total: 10 },
                ProviderEvent::Preview { png: vec![1, 2, 3] }
            ]
        );
        assert_eq!(t.engine(p(3, Some("AQID"))), vec![ProviderEvent::Step { step: 3, total: 10 }]);
    }
}
