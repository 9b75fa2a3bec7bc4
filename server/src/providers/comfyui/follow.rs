//! Following one accepted prompt to its end: the events that came before the engine
//! accepted it, its place in the queue, then the socket's frames, until `execution_success`,
//! an error, an interruption or a lost prompt.
//!
//! Kept apart from submitting and fetching the result because this is the loop that must
//! never wait forever: it asks the engine how the prompt stands ([`super::api::Api::standing`])
//! when the socket reconnects or says nothing about this prompt for `quiet_poll`, fails the
//! job when the socket stays down past `unreachable_grace`, and stops the prompt on the engine
//! when the job is cancelled.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::frames::Frame;
use super::job::{End, JobGuard, Seen, Tracker, CANCEL_WAIT};
use super::ComfyUi;
use crate::providers::{ProviderError, ProviderEvent};

/// How long the queue position is waited for after submitting (events wait meanwhile).
const QUEUE_WAIT: Duration = Duration::from_secs(2);

impl ComfyUi {
    /// Asks the engine to stop this prompt, waiting at most [`CANCEL_WAIT`].
    async fn stop_on_engine(&self, guard: &mut JobGuard) {
        guard.settled = true;
        let id = &guard.prompt_id;
        match tokio::time::timeout(CANCEL_WAIT, self.api.cancel(id)).await {
            Ok(Ok(route)) => tracing::info!(prompt_id = %id, ?route, "ComfyUI prompt cancelled"),
            Ok(Err(e)) => tracing::warn!(prompt_id = %id, error = %e, "ComfyUI prompt could not be cancelled"),
            Err(_) => tracing::warn!(prompt_id = %id, "ComfyUI did not answer the cancel in time"),
        }
    }

    /// Passes on what one frame means for the job; the end, if it is one.
    async fn on_frame(
        &self,
        prompt_id: &str,
        tracker: &mut Tracker,
        frame: Frame,
        events: &mpsc::Sender<ProviderEvent>,
    ) -> Option<End> {
        if let Frame::Failed { message, exception_type, node_type, node_id, .. } = &frame {
            tracing::warn!(%prompt_id, %message, %exception_type, %node_type, %node_id, "ComfyUI reported an execution error");
        }
        emit(tracker.see(frame), events).await
    }

    /// Where the accepted prompt stands in the queue (`GET /queue`), if the engine says soon.
    async fn ahead(&self, prompt_id: &str) -> Option<u32> {
        match tokio::time::timeout(QUEUE_WAIT, self.api.queue()).await {
            Ok(Ok(queue)) => queue.ahead_of(prompt_id),
            Ok(Err(e)) => {
                tracing::debug!(%prompt_id, error = %e, "ComfyUI queue not read");
                None
            }
            Err(_) => None,
        }
    }

    /// Follows the prompt's events until it ends: first `early` (what came before the
    /// engine accepted it, `status` left out), then its place in the queue, then the socket.
    pub(super) async fn follow(
        &self,
        guard: &mut JobGuard,
        mut frames: mpsc::UnboundedReceiver<Frame>,
        early: Vec<Frame>,
        mut connects: u64,
        events: &mpsc::Sender<ProviderEvent>,
        cancel: &CancellationToken,
    ) -> Result<(End, Tracker), ProviderError> {
        // Where it stands now; later `status` frames only move it forward.
        let ahead = tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                self.stop_on_engine(guard).await;
                return Err(ProviderError::Cancelled);
            }
            ahead = self.ahead(&guard.prompt_id) => ahead,
        };
        let mut tracker = Tracker::default();
        for frame in early {
            if let Some(end) = self.on_frame(&guard.prompt_id, &mut tracker, frame, events).await {
                return Ok((end, tracker));
            }
        }
        emit(tracker.submitted(ahead), events).await;
        let mut state = self.link.watch();
        // The socket may have dropped since we saw it up: look at it once at the start.
        state.mark_changed();
        let mut down_since = None;
        // One deadline for the whole job, pushed back only by news of this prompt: `status`
        // frames reach every job on each queue change, and on a busy engine they would
        // otherwise keep a job whose end was lost from ever asking.
        let quiet_poll = self.settings.quiet_poll;
        let quiet = tokio::time::sleep(quiet_poll);
        tokio::pin!(quiet);
        loop {
            let grace = async {
                match down_since {
                    Some(since) => tokio::time::sleep_until(since + self.settings.unreachable_grace).await,
                    None => std::future::pending().await,
                }
            };
            // Whether to ask the engine how the prompt stands, and whether the socket has
            // been down past the grace (then an unanswered question ends the job).
            let (mut ask, mut past_grace) = (false, false);
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    self.stop_on_engine(guard).await;
                    return Err(ProviderError::Cancelled);
                }
                frame = frames.recv() => {
                    let Some(frame) = frame else { return Err(self.unreachable(None)) };
                    if frame.prompt_id() == Some(guard.prompt_id.as_str()) {
                        quiet.as_mut().reset(tokio::time::Instant::now() + quiet_poll);
                    }
                    if let Some(end) = self.on_frame(&guard.prompt_id, &mut tracker, frame, events).await {
                        return Ok((end, tracker));
                    }
                }
                changed = state.changed() => {
                    if changed.is_err() {
                        return Err(self.unreachable(None));
                    }
                    let now = *state.borrow_and_update();
                    if !now.up {
                        down_since.get_or_insert(now.down_since);
                    } else {
                        down_since = None;
                        // Events sent while we were away are gone: ask how the prompt stands.
                        ask = now.connects != connects;
                        connects = now.connects;
                    }
                }
                _ = grace => (ask, past_grace) = (true, true),
                () = &mut quiet => ask = true,
            }
            if !ask {
                continue;
            }
            quiet.as_mut().reset(tokio::time::Instant::now() + quiet_poll);
            let standing = tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    self.stop_on_engine(guard).await;
                    return Err(ProviderError::Cancelled);
                }
                standing = self.api.standing(&guard.prompt_id) => standing,
            };
            match standing {
                Ok(standing) => {
                    tracing::debug!(prompt_id = %guard.prompt_id, ?standing, "ComfyUI prompt reconciled");
                    if let Some(end) = End::from_standing(standing) {
                        return Ok((end, tracker));
                    }
                    // The socket is down but the engine answers: give it another grace.
                    if past_grace {
                        down_since = Some(tokio::time::Instant::now());
                    }
                }
                Err(e) if past_grace => {
                    tracing::warn!(prompt_id = %guard.prompt_id, error = %e, "ComfyUI unreachable past the grace");
                    return Err(ProviderError::Network(format!(
                        "lost ComfyUI at {} for over {}s",
                        self.settings.base_url,
                        self.settings.unreachable_grace.as_secs()
                    )));
                }
                // Still away: the grace or the runner's deadline decides.
                Err(e) => tracing::debug!(prompt_id = %guard.prompt_id, error = %e, "ComfyUI prompt not reconciled"),
            }
        }
    }
}

/// Passes one [`Seen`] on to the runner; the end, if it is one.
async fn emit(seen: Seen, events: &mpsc::Sender<ProviderEvent>) -> Option<End> {
    match seen {
        Seen::Event(ProviderEvent::Preview { png }) => {
            // A preview may be dropped when the runner lags; a step may not.
            let _ = events.try_send(ProviderEvent::Preview { png });
            None
        }
        Seen::Event(event) => {
            let _ = events.send(event).await;
            None
        }
        Seen::End(end) => Some(end),
        Seen::Nothing => None,
    }
}
