//! Server-owned image jobs: one runner task per job, owning it until it ends.
//!
//! A job outlives the tab that asked for it: progress goes to the hub (every tab of the
//! user), each stage is written to the job row (a reload shows it), and the result is stored
//! before it is announced. Each job has a cancellation token; cancelling it drops the
//! provider call. Admission goes through the quota gate (`slots`, `quota`) before anything is
//! stored or any provider is called, so two tabs pressing Send at once start one job, and a
//! refused request costs nothing. A reservation is returned when the generation did not
//! happen (cancelled before the provider was called, failed, blocked); a completed one counts
//! and its cost is charged to the month.

mod abandon;
mod drive;
mod live;
mod quota;
mod recovery;
mod shutdown;
mod slots;
mod text;
mod variants;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use app::protocol::*;
use tracing::Instrument;

use crate::hub::Hub;
use crate::limits::{Gate, Policies, Usage, Verdict};
use crate::providers::pricing::PriceTable;
use crate::providers::registry::Providers;
use crate::providers::{GeneratedImage, ImageProvider, ImageRequest, ProviderError};
use crate::relay::Relay;
use crate::store::{job_text, JobOutcome, JobRun, NewJob, Store, StoreError};
use abandon::Outcome;
use live::Live;
use slots::{Held, Slots};
pub use text::friendly;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A slot, cooldown, window or spend cap refused it; `text` says why and when.
    #[error("{text}")]
    Refused { verdict: Verdict, text: String, usage: Usage },
    #[error("That generation does not exist, or it is not running.")]
    NotFound,
    #[error("Image generation is unavailable right now. Chat still works; please try again soon.")]
    Unavailable,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct Jobs {
    store: Store,
    hub: Hub,
    providers: Providers,
    /// One deadline for every job, when the administrator set one; else each provider's own.
    deadline: Option<Duration>,
    prices: Arc<PriceTable>,
    slots: Arc<Slots>,
    /// Usernames whose generations are exempt from spend totals.
    admins: Arc<Vec<String>>,
    /// Total monthly spend (micro-dollars) past which a warning is logged.
    spend_alert_micros: Option<i64>,
    /// Other instances, when there are any (cancels and previews for jobs running there).
    relay: Option<Relay>,
    /// Set on shutdown: no new job starts, and a job stopped now was interrupted, not cancelled.
    closing: Arc<AtomicBool>,
}

/// What a new job is asked to make.
pub struct JobRequest<'a> {
    /// The user's words.
    pub prompt: &'a str,
    /// What the provider is sent.
    pub enhanced: &'a str,
    /// The job whose image this one changes.
    pub refines: Option<JobId>,
}

/// How the runner is set up; see `config::ImageSettings`.
pub struct JobsConfig {
    pub deadline: Option<Duration>,
    pub prices: PriceTable,
    pub gate: Arc<dyn Gate>,
    pub lease: Duration,
    pub policies: Policies,
    pub admins: Vec<String>,
    pub spend_alert_micros: Option<i64>,
    pub relay: Option<Relay>,
}

impl Jobs {
    pub fn new(store: Store, hub: Hub, providers: Providers, config: JobsConfig) -> Self {
        Self {
            store,
            hub,
            providers,
            deadline: config.deadline,
            prices: Arc::new(config.prices),
            slots: Slots::new(config.gate, config.lease, config.policies),
            admins: Arc::new(config.admins),
            spend_alert_micros: config.spend_alert_micros,
            relay: config.relay,
            closing: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Creates a job (and the assistant message showing it) and starts running it.
    pub async fn start(
        &self,
        user: UserId,
        thread: ThreadId,
        request: &JobRequest<'_>,
    ) -> Result<ChatMessage, JobError> {
        if self.closing() {
            return Err(JobError::Unavailable);
        }
        let (claim, exempt) = self.admit(user).await?;
        let subject = crate::assistant::subject_of(request.enhanced);
        let provider = self.providers.default_provider();
        let model = provider.model();
        let new = NewJob {
            prompt: request.prompt,
            enhanced_prompt: request.enhanced,
            subject: &subject,
            provider: provider.name(),
            model: &model,
            counted_at: crate::store::now_ms(),
            exempt,
            refines: request.refines,
        };
        let message = self.store.create_job(user, thread, new).await?.ok_or(JobError::NotFound)?;
        let job = message.job.clone().ok_or(JobError::NotFound)?;
        let held = claim.keep(job.id);
        self.hub.publish(user, ServerMsg::MessageAdded(MessageAdded { message: message.clone() }));
        self.spawn(JobRun::first(job.id), thread, message.id, job, held);
        Ok(message)
    }

    /// Starts a failed, cancelled or interrupted job again (a new reservation).
    pub async fn retry(&self, user: UserId, id: JobId) -> Result<(), JobError> {
        if self.closing() {
            return Err(JobError::Unavailable);
        }
        let (claim, _) = self.admit(user).await?;
        let before = self.store.job_counted_at(user, id).await?;
        let run = self.store.restart_job(user, id, crate::store::now_ms()).await?.ok_or(JobError::NotFound)?;
        // The attempt before still held its place (interrupted, or cancelled after the provider
        // was called): the new one replaces it, in the gate as in the database.
        if let Some(at) = before {
            self.slots.forget(user, id, crate::limits::WindowIds::at(at)).await;
        }
        let (job, place) = self.store.job(user, id).await?.ok_or(JobError::NotFound)?;
        let held = claim.keep(id);
        let updated = JobUpdated { thread_id: place.thread, message_id: place.message, job: job.clone() };
        self.hub.publish(user, ServerMsg::JobUpdated(updated));
        self.spawn(run, place.thread, place.message, job, held);
        Ok(())
    }

    /// Trips the job's cancellation token, here or (through the relay) on the instance running
    /// it; `false` when `user` has no such running job.
    pub async fn cancel(&self, user: UserId, id: JobId) -> Result<bool, JobError> {
        if self.slots.cancel(user, id) {
            return Ok(true);
        }
        let Some(relay) = &self.relay else { return Ok(false) };
        let running = self.store.job(user, id).await?.is_some_and(|(job, _)| job.status == JobStatus::Running);
        if running {
            relay.cancel(user, id);
        }
        Ok(running)
    }

    /// A cancel relayed from another instance: acts only if the job runs here.
    pub fn cancel_here(&self, user: UserId, id: JobId) -> bool {
        self.slots.cancel(user, id)
    }

    /// The newest preview of a running job of `user`'s (PNG), from this instance or, for a job
    /// running on another one, from Redis.
    pub async fn preview(&self, user: UserId, id: JobId) -> Option<Arc<Vec<u8>>> {
        if let Some(png) = self.slots.preview(user, id) {
            return Some(png);
        }
        let relay = self.relay.as_ref()?;
        let owned = matches!(self.store.job(user, id).await, Ok(Some(_)));
        if !owned {
            return None;
        }
        relay.preview(id).await.map(Arc::new)
    }

    /// Runs one attempt of a job in its own task. Whatever way it ends (an outcome, a store
    /// error, a panic), exactly one final state is written and announced, and the slot is
    /// given back ([`abandon`] for the last two).
    fn spawn(&self, run: JobRun, thread: ThreadId, message: MessageId, job: JobView, held: Held) {
        let jobs = self.clone();
        // Every line a job logs carries its id, attempt, user and provider.
        let span = tracing::info_span!(parent: None, "job", job = %run.id, attempt = run.attempt, user = %held.user, provider = %job.provider);
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
        tokio::spawn(task.instrument(span));
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
    fn provider_for(&self, job: &JobView) -> Arc<dyn ImageProvider> {
        self.providers.by_name(&job.provider).unwrap_or_else(|| self.providers.default_provider()).clone()
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
        // The shape is written into the prompt ("wide composition"), so a retry keeps it.
        let (width, height) = crate::assistant::style::aspect_in(&job.enhanced_prompt).unwrap_or_default().size();
        let provider = self.provider_for(&job);
        let source = self.source_image(user, &job, provider.as_ref()).await?;
        let request = ImageRequest { prompt: job.enhanced_prompt.clone(), width, height, source, seed: None };
        // Cancelled before the provider was called: the generation never happened.
        let called = !cancel.is_cancelled();
        outcome.called(called);
        let result = match called {
            true => self.generate(run, held, thread, &job, provider, request).await?,
            false => Err(ProviderError::Cancelled),
        };
        let outcome_of = match result {
            Ok(image) if !cancel.is_cancelled() => self.save(run, user, thread, &job, image).await?,
            // Stopped by the shutdown, not by the user: Retry is offered.
            Ok(_) | Err(ProviderError::Cancelled) if self.closing() => Finished::Interrupted,
            Ok(_) | Err(ProviderError::Cancelled) => Finished::Cancelled,
            Err(e) => {
                // A missing model is a configuration error the provider logs once per model.
                if !matches!(e, ProviderError::ModelUnavailable { .. }) {
                    tracing::warn!(job = %job.id, error = %e, "generation failed");
                }
                Finished::Failed(e.kind(), friendly(&e), e.retryable())
            }
        };
        let finished = outcome_of;
        // A completed image was recorded by this attempt; any other ending must still own the row.
        if !matches!(finished, Finished::Complete(_)) && !self.store.owns_job(run).await? {
            tracing::warn!(job = %run.id, attempt = run.attempt, "a stale runner stops without settling");
            return Ok(None);
        }
        self.settle(run, held, &finished, called).await?;
        outcome.settled();
        let recorded = match &finished {
            Finished::Complete(_) => true,
            Finished::Cancelled => self.store.finish_job(run, JobOutcome::Cancelled).await?,
            Finished::Interrupted => self.store.finish_job(run, JobOutcome::Interrupted).await?,
            Finished::Failed(kind, message, retryable) => {
                self.store.finish_job(run, JobOutcome::Failed { kind, message, retryable: *retryable }).await?
            }
        };
        if !recorded {
            tracing::warn!(job = %run.id, attempt = run.attempt, "a stale runner's ending was not recorded");
            return Ok(None);
        }
        let Some((view, place)) = self.store.job(user, job.id).await? else { return Ok(None) };
        self.store.set_job_message_text(job.id, &job_text(&view)).await?;
        Ok(Some(ServerMsg::JobUpdated(JobUpdated { thread_id: place.thread, message_id: place.message, job: view })))
    }

    /// The image a refinement changes, when the provider can edit it (else it regenerates).
    async fn source_image(
        &self,
        user: UserId,
        job: &JobView,
        provider: &dyn ImageProvider,
    ) -> Result<Option<Arc<Vec<u8>>>, StoreError> {
        let Some(earlier) = job.refines.filter(|_| provider.capabilities().edit) else { return Ok(None) };
        let Some(image) = self.store.job(user, earlier).await?.and_then(|(j, _)| j.image) else { return Ok(None) };
        Ok(self.store.image_variant(user, image.id, "full").await?.map(|v| Arc::new(v.bytes)))
    }

    async fn save(
        &self,
        run: JobRun,
        user: UserId,
        thread: ThreadId,
        job: &JobView,
        image: GeneratedImage,
    ) -> Result<Finished, StoreError> {
        self.stage(run, user, thread, job, JobStage::Processing).await?;
        let png = image.png;
        let prepared = match tokio::task::spawn_blocking(move || variants::prepare(&png)).await {
            Ok(Ok(prepared)) => prepared,
            Ok(Err(e)) => {
                tracing::warn!(job = %job.id, error = %e, "provider image could not be decoded");
                return Ok(Finished::Failed("bad_image", "Generation failed, please try again.".into(), true));
            }
            Err(e) => {
                tracing::error!(job = %job.id, error = %e, "image processing stopped");
                return Ok(Finished::Failed("bad_image", "Generation failed, please try again.".into(), true));
            }
        };
        self.stage(run, user, thread, job, JobStage::Saving).await?;
        let id = self
            .store
            .store_image(user, &prepared.sha256, (prepared.width, prepared.height), &prepared.variants)
            .await?;
        let revised = image.revised_prompt.as_deref();
        let cost_micros = self.prices.cost_micros(&image.model, image.usage);
        if !self.store.finish_job(run, JobOutcome::Complete { image: id, revised_prompt: revised, cost_micros }).await?
        {
            // A stale runner: the job was closed and retried meanwhile; this image is not its.
            return Ok(Finished::Cancelled);
        }
        self.stage(run, user, thread, job, JobStage::Complete).await?;
        Ok(Finished::Complete(cost_micros))
    }
}

enum Finished {
    /// With its cost in micro-dollars, when known.
    Complete(Option<i64>),
    Cancelled,
    /// Stopped by a shutdown, not by the user: Retry is offered.
    Interrupted,
    /// Stable code, what the user reads, whether Retry makes sense.
    Failed(&'static str, String, bool),
}
