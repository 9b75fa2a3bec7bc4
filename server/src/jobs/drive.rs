//! Driving one provider call: its events become progress in every tab (stages, steps,
//! queue position, previews, retries), within our own deadline, and the user is told once
//! when it is slow.

use std::sync::Arc;

use app::protocol::*;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::live::Live;
use super::slots::Held;
use super::text::retrying;
use super::Jobs;
use crate::providers::{GeneratedImage, ImageProvider, ImageRequest, ProviderError, ProviderEvent, MAX_DEADLINE};
use crate::store::{JobRun, StoreError};

impl Jobs {
    /// The moment a job started now must end by: the work decides it (4K at high quality or
    /// a CPU engine takes minutes), never past [`MAX_DEADLINE`].
    pub(super) fn ends_at(&self, provider: &dyn ImageProvider, request: &ImageRequest) -> Instant {
        // An engine without batches makes several images one after the other.
        let rounds = if provider.capabilities().batch { 1 } else { u32::from(request.images()) };
        Instant::now()
            + self.deadline.unwrap_or_else(|| provider.deadline(request)).saturating_mul(rounds).min(MAX_DEADLINE)
    }

    /// Makes every image the request asks for: in one call where the engine batches, else one
    /// call per image (seeds counting up from the one asked for). Images made before a later
    /// call fails are kept; a cancel or the deadline drops them all.
    pub(super) async fn generate_all(
        &self,
        run: JobRun,
        held: &Held,
        (thread, job): (ThreadId, &JobView),
        provider: Arc<dyn ImageProvider>,
        request: ImageRequest,
        ends_at: Instant,
    ) -> Result<Result<GeneratedImage, ProviderError>, StoreError> {
        let count = request.images();
        if count == 1 || provider.capabilities().batch {
            return self.generate(run, held, (thread, job), provider, request, ends_at).await;
        }
        let mut made: Option<GeneratedImage> = None;
        for i in 0..count {
            let one =
                ImageRequest { count: 1, seed: request.seed.map(|s| s.wrapping_add(u64::from(i))), ..request.clone() };
            match self.generate(run, held, (thread, job), provider.clone(), one, ends_at).await? {
                Ok(image) => {
                    made = Some(match made {
                        None => image,
                        Some(mut all) => {
                            all.images.extend(image.images);
                            all.usage = match (all.usage, image.usage) {
                                (Some(a), Some(b)) => Some(a.plus(b)),
                                (a, b) => a.or(b),
                            };
                            all
                        }
                    })
                }
                Err(e @ (ProviderError::Cancelled | ProviderError::Timeout)) => return Ok(Err(e)),
                Err(e) if made.is_some() => {
                    tracing::warn!(job = %job.id, error = %e, made = i, "a later image failed; keeping those made");
                    break;
                }
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(made.ok_or(ProviderError::NoImage))
    }

    /// Drives the provider, turning its events into progress, until `ends_at`.
    pub(super) async fn generate(
        &self,
        run: JobRun,
        held: &Held,
        (thread, job): (ThreadId, &JobView),
        provider: Arc<dyn ImageProvider>,
        request: ImageRequest,
        ends_at: Instant,
    ) -> Result<Result<GeneratedImage, ProviderError>, StoreError> {
        let (user, cancel) = (held.user, held.cancel.clone());
        let (tx, mut rx) = mpsc::channel(16);
        let mut live = Live::new(job, thread);
        live.counts_steps = provider.capabilities().steps;
        let call = {
            let cancel = cancel.clone();
            async move { provider.generate(&request, tx, cancel).await }
        };
        tokio::pin!(call);
        let deadline = tokio::time::sleep_until(ends_at);
        tokio::pin!(deadline);
        // Halfway to the deadline the user is told it is slow, once, before it fails.
        let slow = tokio::time::sleep(ends_at.duration_since(Instant::now()) / 2);
        tokio::pin!(slow);
        let mut told_slow = false;
        loop {
            tokio::select! {
                // The steps the engine counted go on the parameters card.
                result = &mut call => return Ok(result.map(|mut image| {
                    image.steps = image.steps.or(live.steps.map(|s| s.total));
                    image
                })),
                Some(event) = rx.recv() => match event {
                    ProviderEvent::Queued { position } => {
                        live.queue_position = position;
                        self.hub.publish(user, live.progress(JobStage::describe_queue(&job.subject, position)));
                    }
                    ProviderEvent::Generating => {
                        live.stage = JobStage::Generating;
                        live.queue_position = None;
                        let detail = live.describe();
                        self.store.set_job_stage(run, live.stage, &detail).await?;
                        self.hub.publish(user, live.progress(detail));
                    }
                    ProviderEvent::Step { step, total } => {
                        live.stage = JobStage::Generating;
                        live.queue_position = None;
                        live.steps = Some(StepCount { step, total });
                        self.hub.publish(user, live.progress(live.describe()));
                    }
                    ProviderEvent::Retrying(e) => {
                        self.hub.publish(user, live.progress(retrying(&e).to_string()));
                    }
                    ProviderEvent::Preview { png } => {
                        live.previews += 1;
                        if let Some(relay) = &self.relay {
                            relay.store_preview(job.id, &png).await;
                        }
                        self.slots.set_preview(&held.holder, png);
                        live.stage = JobStage::Generating;
                        self.hub.publish(user, live.progress(live.describe()));
                    }
                },
                _ = &mut slow, if !told_slow => {
                    told_slow = true;
                    self.hub.publish(user, live.progress("Generation is taking longer than expected…".to_string()));
                }
                _ = &mut deadline => {
                    cancel.cancel();
                    return Ok(Err(ProviderError::Timeout));
                }
            }
        }
    }
}
