//! One prompt's life on the engine: the frames it receives turned into provider events
//! ([`Tracker`], pure), and the guard that makes sure a prompt we stop waiting for is
//! stopped on the engine too ([`JobGuard`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::api::{Api, Standing};
use super::frames::{Frame, ImageRef};
use super::socket::Link;
use crate::providers::{ProviderError, ProviderEvent};

/// How a prompt ended, from its events or from asking the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Success,
    Failed {
        message: String,
    },
    Interrupted,
    /// The engine no longer knows the prompt (restarted).
    Lost,
}

impl End {
    /// `None` while the prompt is still queued or running.
    pub fn from_standing(standing: Standing) -> Option<Self> {
        match standing {
            Standing::Waiting => None,
            Standing::Completed => Some(Self::Success),
            Standing::Failed(message) => Some(Self::Failed { message }),
            Standing::Cancelled => Some(Self::Interrupted),
            Standing::Lost => Some(Self::Lost),
        }
    }
}

/// What one frame means for the job.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Event(ProviderEvent),
    End(End),
    Nothing,
}

/// A prompt's progress as its frames tell it.
#[derive(Debug, Default)]
pub struct Tracker {
    /// `POST /prompt` answered: before that a `status` may count the queue without our
    /// prompt, and would pin the position too low (it only moves forward).
    submitted: bool,
    started: bool,
    position: Option<u32>,
    last_step: Option<(u32, u32)>,
    /// Once `progress_state` arrived, plain `progress` is ignored: with several samplers or
    /// progress-reporting nodes the state names the node that really runs.
    has_state: bool,
    /// Images the workflow's nodes reported saving, in case `/history` lags.
    pub images: Vec<ImageRef>,
}

impl Tracker {
    /// The engine accepted the prompt; `ahead` is how many prompts `GET /queue` said run or
    /// wait before it, when it asked. From now on `status` frames count.
    pub fn submitted(&mut self, ahead: Option<u32>) -> Seen {
        self.submitted = true;
        match ahead {
            Some(position) => self.place(position),
            None => Seen::Nothing,
        }
    }

    /// A queue position, which only moves forward until the prompt starts.
    fn place(&mut self, position: u32) -> Seen {
        if self.started || self.position.is_some_and(|p| p <= position) {
            return Seen::Nothing;
        }
        self.position = Some(position);
        Seen::Event(ProviderEvent::Queued { position: Some(position) })
    }

    pub fn see(&mut self, frame: Frame) -> Seen {
        match frame {
            // `queue_remaining` counts every prompt queued or running, ours included (and
            // those behind it: hence an upper bound, never a step back).
            Frame::Status { queue_remaining: Some(n) } if self.submitted => self.place(n.saturating_sub(1)),
            Frame::Started { .. } | Frame::Executing { node: Some(_), .. } if !self.started => {
                self.started = true;
                Seen::Event(ProviderEvent::Generating)
            }
            Frame::Progress { value, max, from_state, .. } => {
                self.started = true;
                self.has_state |= from_state;
                if (self.has_state && !from_state) || max == 0 || value > max || self.last_step == Some((value, max)) {
                    return Seen::Nothing;
                }
                self.last_step = Some((value, max));
                Seen::Event(ProviderEvent::Step { step: value, total: max })
            }
            Frame::Preview { image, .. } if !image.is_empty() => Seen::Event(ProviderEvent::Preview { png: image }),
            Frame::Executed { images, .. } => {
                self.images.extend(images);
                Seen::Nothing
            }
            Frame::Success { .. } => Seen::End(End::Success),
            Frame::Failed { message, .. } => Seen::End(End::Failed { message }),
            Frame::Interrupted { .. } => Seen::End(End::Interrupted),
            _ => Seen::Nothing,
        }
    }
}

/// Unregisters the prompt when the job ends, and, if it ends without the engine having
/// finished it (the runner's deadline dropped us, or a cancel raced), cancels it there.
pub struct JobGuard {
    pub link: Arc<Link>,
    pub api: Arc<Api>,
    pub prompt_id: String,
    /// The POST went out: the engine may hold the prompt.
    pub submitted: bool,
    /// The engine finished it, or was already told to stop.
    pub settled: bool,
    /// The `POST /prompt` still in flight, in a task of its own so that a cancel or a drop
    /// meanwhile does not cut it short: the cancel goes out once it is answered, and so
    /// cannot overtake it on the way to the engine.
    pub in_flight: Option<JoinHandle<Result<String, ProviderError>>>,
}

/// Cancel must reach the engine within a second; a slower answer is not waited for.
pub const CANCEL_WAIT: Duration = Duration::from_secs(2);

impl Drop for JobGuard {
    fn drop(&mut self) {
        self.link.unregister(&self.prompt_id);
        if !self.submitted || self.settled {
            return;
        }
        let (api, mut id, in_flight) = (self.api.clone(), self.prompt_id.clone(), self.in_flight.take());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Some(submit) = in_flight {
                    match submit.await {
                        // An old server may have queued it under an id of its own.
                        Ok(Ok(queued)) => id = queued,
                        // The engine refused it: nothing to stop.
                        Ok(Err(ProviderError::Rejected(_))) => return,
                        // Perhaps queued: one cancel is harmless if not.
                        Ok(Err(_)) | Err(_) => {}
                    }
                }
                match tokio::time::timeout(CANCEL_WAIT, api.cancel(&id)).await {
                    Ok(Ok(route)) => tracing::info!(prompt_id = %id, ?route, "abandoned ComfyUI prompt cancelled"),
                    Ok(Err(e)) => tracing::warn!(prompt_id = %id, error = %e, "abandoned ComfyUI prompt not cancelled"),
                    Err(_) => tracing::warn!(prompt_id = %id, "abandoned ComfyUI prompt: cancel timed out"),
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(value: u32, max: u32, from_state: bool) -> Frame {
        Frame::Progress { prompt_id: "p".into(), value, max, from_state }
    }

    #[test]
    fn queue_position_only_moves_forward_until_the_prompt_starts() {
        let mut t = Tracker::default();
        let status = |n| Frame::Status { queue_remaining: Some(n) };
        assert_eq!(t.submitted(None), Seen::Nothing);
        assert_eq!(t.see(status(3)), Seen::Event(ProviderEvent::Queued { position: Some(2) }));
        assert_eq!(t.see(status(4)), Seen::Nothing, "a prompt queued behind ours does not push it back");
        assert_eq!(t.see(status(1)), Seen::Event(ProviderEvent::Queued { position: Some(0) }));
        assert_eq!(t.see(Frame::Started { prompt_id: "p".into() }), Seen::Event(ProviderEvent::Generating));
        assert_eq!(t.see(status(1)), Seen::Nothing);
        assert_eq!(t.see(Frame::Executing { prompt_id: "p".into(), node: Some("3".into()) }), Seen::Nothing);
    }

    #[test]
    fn status_before_the_prompt_was_accepted_is_ignored() {
        let mut t = Tracker::default();
        // One other prompt runs; ours is not queued yet: this would say "next" (0).
        assert_eq!(t.see(Frame::Status { queue_remaining: Some(1) }), Seen::Nothing);
        assert_eq!(t.submitted(Some(1)), Seen::Event(ProviderEvent::Queued { position: Some(1) }));
        assert_eq!(t.see(Frame::Status { queue_remaining: Some(3) }), Seen::Nothing);
        assert_eq!(
            t.see(Frame::Status { queue_remaining: Some(1) }),
            Seen::Event(ProviderEvent::Queued { position: Some(0) })
        );
        let mut started = Tracker::default();
        assert_eq!(started.see(Frame::Started { prompt_id: "p".into() }), Seen::Event(ProviderEvent::Generating));
        assert_eq!(started.submitted(Some(2)), Seen::Nothing, "it runs already");
    }

    #[test]
    fn steps_are_reported_once_each_and_state_wins_over_plain_progress() {
        let mut t = Tracker::default();
        assert_eq!(t.see(progress(1, 10, false)), Seen::Event(ProviderEvent::Step { step: 1, total: 10 }));
        assert_eq!(t.see(progress(1, 10, false)), Seen::Nothing);
        assert_eq!(t.see(progress(2, 10, true)), Seen::Event(ProviderEvent::Step { step: 2, total: 10 }));
        assert_eq!(t.see(progress(2, 10, false)), Seen::Nothing);
        assert_eq!(t.see(progress(5, 7, false)), Seen::Nothing, "another node's plain progress");
        assert_eq!(t.see(progress(3, 10, true)), Seen::Event(ProviderEvent::Step { step: 3, total: 10 }));
        assert_eq!(t.see(progress(11, 10, true)), Seen::Nothing);
    }

    #[test]
    fn endings_and_saved_images() {
        let mut t = Tracker::default();
        let image = ImageRef { filename: "a.png".into(), subfolder: String::new(), kind: "output".into() };
        assert_eq!(t.see(Frame::Executed { prompt_id: "p".into(), images: vec![image.clone()] }), Seen::Nothing);
        assert_eq!(t.images, vec![image]);
        assert_eq!(t.see(Frame::Success { prompt_id: "p".into() }), Seen::End(End::Success));
        let failed = Frame::Failed {
            prompt_id: "p".into(),
            message: "oom".into(),
            exception_type: String::new(),
            node_type: String::new(),
            node_id: String::new(),
        };
        assert_eq!(t.see(failed), Seen::End(End::Failed { message: "oom".into() }));
        assert_eq!(t.see(Frame::Interrupted { prompt_id: "p".into() }), Seen::End(End::Interrupted));
    }
}
