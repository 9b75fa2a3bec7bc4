//! The runner: one task per job attempt, owning it until it ends. It moves the job through
//! its stages, drives the provider (`drive`), saves the image, records the ending, settles the
//! reservation and announces the end; whatever breaks on the way, `abandon` closes the job.

use std::sync::Arc;

use app::protocol::*;
use tokio::time::Instant;

/// Time to decode and store an image that arrived near the job's deadline.
const PROCESSING_GRACE: std::time::Duration = std::time::Duration::from_secs(30);
use tracing::Instrument;

use super::abandon::Outcome;
use super::live::Live;
use super::slots::Held;
use super::{friendly, variants, Jobs};
use crate::providers::{GeneratedImage, ImageProvider, ImageRequest, ProviderError};
use crate::store::{JobEnding, JobRun, StoreError};

impl Jobs {
    /// Runs one attempt of a job in its own task. Whatever way it ends (an outcome, a store
    /// error, a panic), exactly one final state is written and announced, and the slot is
    /// given back ([`abandon`] for the last two).
    pub(super) fn spawn(&self, run: JobRun, thread: ThreadId, message: MessageId, job: JobView, held: Held) {
        let jobs = self.clone();
        // Every line a job logs carries its id, attempt, user and provider.
        let span = tracing::info_span!(parent: None, "job", job = %run.id, attempt = run.attempt, user = %held.user, provider = job.provider.id());
        let task = async move {
            let outcome = Arc::new(Outcome::default());
            let work = async {
                // Its own task, so a panic in a provider's parser or in our code ends here as an
                // error instead of taking the slot and the row with it.
                let runner = {
                    let (jobs, held, job, outcome) = (jobs.clone(), held.clone(), job.clone(), outcome.clone());
                    let span = tracing::Span::current();
                    tokio::spawn(
                        async move { jobs.run_beating(run, &held, thread, job, &outcome).await }.instrument(span),
                    )
                };
                match runner.await {
                    Ok(Ok(ended)) => ended,
                    Ok(Err(e)) => {
                        tracing::error!(job = %run.id, error = %e, "a job's record failed mid-way; closing it");
                        jobs.abandon(run, &held, (thread, message), &job, &outcome).await
                    }
                    Err(e) => {
                        tracing::error!(job = %run.id, error = %e, "a job's task panicked; closing it");
                        jobs.abandon(run, &held, (thread, message), &job, &outcome).await
                    }
                }
            };
            // Announced once the slot is back: a tab that sees the job end can start the next.
            if let Some(ended) = jobs.slots.hold(&held, work).await {
                jobs.hub.publish(held.user, ended);
            }
            jobs.publish_quota(held.user).await;
        };
        self.runners.spawn(task.instrument(span));
    }

    /// [`Self::run`] with the row's heartbeat, which tells other instances the job is alive.
    async fn run_beating(
        &self,
        run: JobRun,
        held: &Held,
        thread: ThreadId,
        job: JobView,
        outcome: &Outcome,
    ) -> Result<Option<ServerMsg>, StoreError> {
        let heartbeat = async {
            let mut tick = tokio::time::interval(self.slots.lease() / 3);
            loop {
                tick.tick().await;
                if let Err(e) = self.store.touch_job(run).await {
                    tracing::warn!(job = %run.id, error = %e, "job heartbeat could not be written");
                }
            }
        };
        tokio::select! {
            out = self.run(run, held, thread, job, outcome) => out,
            // The heartbeat never ends by itself; the job ending ends it.
            () = heartbeat => Ok(None),
        }
    }

    async fn stage(
        &self,
        run: JobRun,
        user: UserId,
        thread: ThreadId,
        job: &JobView,
        stage: JobStage,
    ) -> Result<(), StoreError> {
        let detail = stage.describe(&job.subject);
        self.store.set_job_stage(run, stage, &detail).await?;
        let mut live = Live::new(job, thread);
        live.stage = stage;
        self.hub.publish(user, live.progress(detail));
        Ok(())
    }

    /// The provider that made (or makes) `job`: the one it was started with while that is
    /// still offered, else today's default.
    pub(super) fn provider_for(&self, job: &JobView) -> Arc<dyn ImageProvider> {
        self.providers.by_kind(job.provider).unwrap_or_else(|| self.providers.default_provider()).clone()
    }

    /// Runs the job to its end and records it; returns the `JobUpdated` that announces the end.
    async fn run(
        &self,
        run: JobRun,
        held: &Held,
        thread: ThreadId,
        job: JobView,
        outcome: &Outcome,
    ) -> Result<Option<ServerMsg>, StoreError> {
        let (user, cancel) = (held.user, held.cancel.clone());
        self.stage(run, user, thread, &job, JobStage::Queued).await?;
        self.stage(run, user, thread, &job, JobStage::Initializing).await?;
        let params = params_of(&job);
        let provider = self.provider_for(&job);
        let source = self.source_image(user, &job, provider.as_ref()).await?;
        let request = ImageRequest {
            prompt: job.enhanced_prompt.clone(),
            width: params.width,
            height: params.height,
            source,
            seed: params.seed,
            quality: params.quality,
            count: params.count,
            mask: self.mask_image(user, &params).await?,
            references: self.reference_images(user, &params, provider.as_ref()).await?,
        };
        // Cancelled before the provider was called: the generation never happened.
        let called = !cancel.is_cancelled();
        outcome.called(called);
        let ends_at = self.ends_at(provider.as_ref(), &request);
        let running = crate::monitoring::RunningJob::start(provider.name());
        let result = match called {
            true => self.generate_all(run, held, (thread, &job), provider, request, ends_at).await?,
            false => Err(ProviderError::Cancelled),
        };
        let took = running.took();
        let (ending, recorded) = match result {
            Ok(image) if !cancel.is_cancelled() => match self.save(run, user, thread, &job, image, ends_at).await? {
                Some(saved) => saved,
                None => {
                    // A stale runner: the job was closed and retried meanwhile; this image is not its.
                    tracing::warn!(job = %run.id, attempt = run.attempt, "a stale runner's image was not recorded");
                    return Ok(None);
                }
            },
            // Stopped by the shutdown, not by the user: Retry is offered.
            Ok(_) | Err(ProviderError::Cancelled) if self.closing() => {
                (JobEnding::Interrupted { cost_micros: None }, false)
            }
            Ok(_) | Err(ProviderError::Cancelled) => (JobEnding::Cancelled { cost_micros: None }, false),
            Err(e) => {
                // A missing model is a configuration error the provider logs once per model.
                if !matches!(e, ProviderError::ModelUnavailable { .. }) {
                    tracing::warn!(job = %job.id, error = %e, "generation failed");
                }
                let failed = JobEnding::Failed {
                    kind: e.kind(),
                    message: friendly(&e),
                    retryable: e.retryable(),
                    cost_micros: None,
                };
                (failed, false)
            }
        };
        // What the provider probably billed is recorded, whatever happened after (F7).
        let ending = match ending.billed(called) && !recorded {
            true => ending.with_cost(Some(self.billed_micros(&job))),
            false => ending,
        };
        running.ended(ending.outcome(), took, ending.cost_micros());
        // Recorded first: only the attempt that still owns the row settles and announces.
        let recorded = recorded || self.store.finish_job(run, &ending).await?;
        if !recorded {
            tracing::warn!(job = %run.id, attempt = run.attempt, "a stale runner's ending was not recorded");
            return Ok(None);
        }
        // The job has ended either way; a settlement the database refused is logged, not a
        // reason to keep the tabs waiting.
        if let Err(e) = self.settle(run, held, &ending, called).await {
            tracing::error!(job = %run.id, error = %e, "a job's reservation could not be settled");
        }
        outcome.settled();
        self.ended(user, job.id).await
    }

    /// The `JobUpdated` that announces how a job ended, read back from its row, with the text
    /// of the message that shows it brought in line; `None` when the job is gone.
    pub(super) async fn ended(&self, user: UserId, id: JobId) -> Result<Option<ServerMsg>, StoreError> {
        let Some((view, place)) = self.store.job(user, id).await? else { return Ok(None) };
        self.store.set_job_message_text(id, &view.message_text()).await?;
        Ok(Some(ServerMsg::JobUpdated(JobUpdated { thread_id: place.thread, message_id: place.message, job: view })))
    }

    /// The other pictures sent with the source, for an engine that takes them (owner-checked).
    async fn reference_images(
        &self,
        user: UserId,
        params: &JobParams,
        provider: &dyn ImageProvider,
    ) -> Result<Vec<Arc<Vec<u8>>>, StoreError> {
        let mut pictures = Vec::new();
        for id in params.references.iter().filter(|_| provider.capabilities().references) {
            if let Some(v) = self.store.image_variant(user, *id, Variant::Full).await? {
                pictures.push(Arc::new(v.bytes));
            }
        }
        Ok(pictures)
    }

    /// The painted area of the source to change, when one was sent (owner-checked).
    async fn mask_image(&self, user: UserId, params: &JobParams) -> Result<Option<Arc<Vec<u8>>>, StoreError> {
        let Some(mask) = params.mask else { return Ok(None) };
        Ok(self.store.image_variant(user, mask, Variant::Full).await?.map(|v| Arc::new(v.bytes)))
    }

    /// The image a refinement changes, when the provider can edit it (else it regenerates).
    async fn source_image(
        &self,
        user: UserId,
        job: &JobView,
        provider: &dyn ImageProvider,
    ) -> Result<Option<Arc<Vec<u8>>>, StoreError> {
        if !provider.capabilities().edit {
            return Ok(None);
        }
        // The image named (a Refine button, "the second one"), else the first of the job refined.
        let named = job.params.as_ref().and_then(|p| p.source);
        let image = match (named, job.refines) {
            (Some(image), _) => image,
            (None, Some(earlier)) => match self.store.job(user, earlier).await?.and_then(|(j, _)| j.image().cloned()) {
                Some(image) => image.id,
                None => return Ok(None),
            },
            (None, None) => return Ok(None),
        };
        // Owner-checked: another account's image is never read.
        Ok(self.store.image_variant(user, image, Variant::Full).await?.map(|v| Arc::new(v.bytes)))
    }

    /// Decodes, stores and records the image; returns the ending and whether it was recorded
    /// (an image that cannot be decoded is a failure still to record); `None` when this
    /// runner no longer owns the job.
    async fn save(
        &self,
        run: JobRun,
        user: UserId,
        thread: ThreadId,
        job: &JobView,
        image: GeneratedImage,
        ends_at: Instant,
    ) -> Result<Option<(JobEnding, bool)>, StoreError> {
        self.stage(run, user, thread, job, JobStage::Processing).await?;
        let count = image.images.len();
        let pngs = image.images;
        let bad_image = || JobEnding::Failed {
            kind: FailureKind::BadImage,
            message: "Generation failed, please try again.".into(),
            retryable: true,
            cost_micros: None,
        };
        // Within the job's deadline: decoding is bounded (see `variants`), but a slow machine
        // must not keep the job looking alive past it. The blocking task finishes unobserved.
        let work = tokio::task::spawn_blocking(move || {
            pngs.iter().map(|png| variants::prepare(png)).collect::<Result<Vec<_>, _>>()
        });
        // An image that arrived just before the deadline still gets time to be stored.
        let ends_at = ends_at.max(Instant::now() + PROCESSING_GRACE);
        let prepared = match tokio::time::timeout_at(ends_at, work).await {
            Ok(Ok(Ok(prepared))) => prepared,
            Ok(Ok(Err(e))) => {
                tracing::warn!(job = %job.id, error = %e, "provider image could not be decoded");
                return Ok(Some((bad_image(), false)));
            }
            Ok(Err(e)) => {
                tracing::error!(job = %job.id, error = %e, "image processing stopped");
                return Ok(Some((bad_image(), false)));
            }
            Err(_) => {
                tracing::warn!(job = %job.id, "the image was still being processed at the job's deadline");
                let e = ProviderError::Timeout;
                let failed =
                    JobEnding::Failed { kind: e.kind(), message: friendly(&e), retryable: true, cost_micros: None };
                return Ok(Some((failed, false)));
            }
        };
        self.stage(run, user, thread, job, JobStage::Saving).await?;
        let mut ids = Vec::with_capacity(count);
        for prepared in prepared {
            let size = (prepared.width, prepared.height);
            ids.push(self.store.store_image(user, &prepared.sha256, size, &prepared.variants).await?);
        }
        let cost_micros = self.prices.cost_of(&image.model, image.usage, count);
        // The card shows the seed the engine used, where it says.
        let params = Some(JobParams { seed: image.seed.or(params_of(job).seed), steps: image.steps, ..params_of(job) });
        let complete = JobEnding::Complete { images: ids, params, revised_prompt: image.revised_prompt, cost_micros };
        if !self.store.finish_job(run, &complete).await? {
            return Ok(None);
        }
        self.stage(run, user, thread, job, JobStage::Complete).await?;
        Ok(Some((complete, true)))
    }

    /// What the provider probably billed for a generation of `job` that reported no usage:
    /// its price for one image of the job's shape; zero when unpriced, still a record that the
    /// provider was paid (the job keeps its place on a Retry).
    pub(super) fn billed_micros(&self, job: &JobView) -> i64 {
        let p = params_of(job);
        self.prices.estimate_request(&job.model, p.quality, (p.width, p.height), p.count).unwrap_or(0)
    }
}

/// What a job asks for: its recorded parameters, or for a job from before the composer's
/// row, one image of the shape its prompt names ("wide composition").
pub fn params_of(job: &JobView) -> JobParams {
    job.params.clone().unwrap_or_else(|| {
        let aspect = match crate::assistant::style::aspect_in(&job.enhanced_prompt).unwrap_or_default() {
            crate::assistant::Aspect::Square => AspectRatio::Square,
            crate::assistant::Aspect::Wide => AspectRatio::Landscape,
            crate::assistant::Aspect::Tall => AspectRatio::Portrait,
        };
        JobParams::of_shape(aspect)
    })
}
