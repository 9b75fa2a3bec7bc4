//! Server-owned image jobs: one runner task per job, owning it until it ends.
//!
//! A job outlives the tab that asked for it: progress goes to the hub (every tab of the
//! user), each stage is written to the job row (a reload shows it), and the result is stored
//! before it is announced. Each job has a cancellation token; cancelling it drops the
//! provider call. Admission goes through the quota gate (`slots`, `quota`) before anything is
//! stored or any provider is called, so two tabs pressing Send at once start one job, and a
//! refused request costs nothing. A reservation is returned when the provider did not bill
//! the generation (blocked, refused, failed before making anything, cancelled before the
//! call); one it probably billed (completed, timed out, cancelled or stopped after the call)
//! counts, and its cost is charged to the month.

mod abandon;
mod drive;
pub mod global_cap;
mod live;
mod notices;
mod quota;
mod recovery;
mod runner;
mod shutdown;
mod slots;
mod text;
pub(crate) mod variants;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use app::protocol::*;
use tokio_util::task::TaskTracker;

use crate::hub::Hub;
use crate::limits::{Ask, Gate, Policies, Usage, Verdict};
use crate::providers::pricing::PriceTable;
use crate::providers::registry::Providers;
use crate::providers::ImageProvider;
use crate::relay::Relay;
use crate::store::{JobRun, NewJob, Store, StoreError};
use global_cap::GlobalCap;
pub use runner::params_of;
use slots::Slots;
pub use text::friendly;

/// The longest prompt sent to a provider (D3): DALL-E 3 takes 4,000 characters, and a
/// diffusion model reads far fewer; a chain of refinements, each adding its change, stops
/// here instead of growing without bound.
pub const MAX_PROMPT_CHARS: usize = 4_000;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A slot, cooldown, window or spend cap refused it; `text` says why and when.
    #[error("{text}")]
    Refused { verdict: Verdict, text: String, usage: Usage },
    #[error("That generation does not exist, or it is not running.")]
    NotFound,
    #[error("Image generation is unavailable right now. Chat still works; please try again soon.")]
    Unavailable,
    /// The server-wide monthly spending cap is reached; `0` is what the user reads.
    #[error("{0}")]
    Paused(String),
    /// The user's images fill their storage (`EASEL_STORAGE_MB`).
    #[error("Your images take {0} MB, the most one account keeps; delete a thread to make room for new ones.")]
    StorageFull(i64),
    /// The prompt would pass [`MAX_PROMPT_CHARS`] (a long message, or a long refinement chain).
    #[error("That description is too long for the image model (at most 4,000 characters). Please start a new image with a shorter one.")]
    PromptTooLong,
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
    /// Total monthly spend (micro-dollars) past which a warning is logged.
    spend_alert_micros: Option<i64>,
    /// The server-wide monthly cap (K2).
    global: Arc<GlobalCap>,
    /// Bytes of images one user may keep (D2).
    storage_bytes: i64,
    /// Other instances, when there are any (cancels and previews for jobs running there).
    relay: Option<Relay>,
    /// Quota emails, when `SMTP_URL` is set.
    mailer: Option<Arc<crate::email::Mailer>>,
    /// Set on shutdown: no new job starts, and a job stopped now was interrupted, not cancelled.
    closing: Arc<AtomicBool>,
    /// Every runner task, so the shutdown waits until each has recorded and announced its end.
    runners: TaskTracker,
}

/// What a new job is asked to make.
pub struct JobRequest<'a> {
    /// The user's words.
    pub prompt: &'a str,
    /// What the provider is sent.
    pub enhanced: &'a str,
    /// The job whose image this one changes.
    pub refines: Option<JobId>,
    /// Shape, quality, count and seed, resolved (see `chat::options`).
    pub params: JobParams,
    /// The engine asked for; the default when `None` or no longer offered.
    pub engine: Option<ProviderKind>,
}

impl<'a> JobRequest<'a> {
    /// One square image of `prompt` from the default engine (benchmarks, tools).
    pub fn simple(prompt: &'a str) -> Self {
        let params = JobParams::of_shape(AspectRatio::Square);
        Self { prompt, enhanced: prompt, refines: None, params, engine: None }
    }
}

/// How the runner is set up; see `config::ImageSettings`.
pub struct JobsConfig {
    pub deadline: Option<Duration>,
    pub prices: PriceTable,
    pub gate: Arc<dyn Gate>,
    pub lease: Duration,
    pub policies: Policies,
    pub spend_alert_micros: Option<i64>,
    pub spend_cap_micros: Option<i64>,
    /// Bytes of images one user may keep.
    pub storage_bytes: i64,
    pub relay: Option<Relay>,
    /// Quota emails (`SMTP_URL`).
    pub mailer: Option<Arc<crate::email::Mailer>>,
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
            spend_alert_micros: config.spend_alert_micros,
            global: Arc::new(GlobalCap::new(config.spend_cap_micros)),
            storage_bytes: config.storage_bytes,
            relay: config.relay,
            mailer: config.mailer,
            closing: Arc::new(AtomicBool::new(false)),
            runners: TaskTracker::new(),
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
        if request.enhanced.chars().count() > MAX_PROMPT_CHARS {
            return Err(JobError::PromptTooLong);
        }
        let provider = self.engine(request.engine).clone();
        self.refuse_unaffordable(user, provider.as_ref()).await?;
        let model = provider.model();
        let (claim, exempt) = self.admit(user, self.ask(&model, &request.params)).await?;
        let subject = crate::assistant::subject_of(request.enhanced);
        let new = NewJob {
            prompt: request.prompt,
            enhanced_prompt: request.enhanced,
            subject: &subject,
            provider: provider.kind(),
            model: &model,
            counted_at: crate::store::now_ms(),
            exempt,
            refines: request.refines,
            params: &request.params,
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
        // A retry goes back to the job's own provider, which may be paid when the default is not.
        let (job, _) = self.store.job(user, id).await?.ok_or(JobError::NotFound)?;
        self.refuse_unaffordable(user, self.provider_for(&job).as_ref()).await?;
        let params = runner::params_of(&job);
        let (claim, _) = self.admit(user, self.ask(&job.model, &params)).await?;
        let before = self.store.job_counted_at(user, id).await?;
        let run = self.store.restart_job(user, id, crate::store::now_ms()).await?.ok_or(JobError::NotFound)?;
        // The attempt before still held its place (the provider probably billed it): the new
        // one replaces it, in the gate as in the database, so a Retry counts once.
        if let Some(at) = before {
            self.slots.forget(user, id, crate::limits::WindowIds::at(at), u32::from(params.count.max(1))).await;
        }
        let (job, place) = self.store.job(user, id).await?.ok_or(JobError::NotFound)?;
        let held = claim.keep(id);
        let updated = JobUpdated { thread_id: place.thread, message_id: place.message, job: job.clone() };
        self.hub.publish(user, ServerMsg::JobUpdated(updated));
        self.spawn(run, place.thread, place.message, job, held);
        Ok(())
    }

    /// The engine asked for while it is offered, else the default.
    pub fn engine(&self, kind: Option<ProviderKind>) -> &Arc<dyn ImageProvider> {
        kind.and_then(|k| self.providers.by_kind(k)).unwrap_or_else(|| self.providers.default_provider())
    }

    /// What an admission asks of the gate: a place per image and room for their estimate.
    fn ask(&self, model: &str, params: &JobParams) -> Ask {
        let count = params.count.max(1);
        let size = (params.width, params.height);
        let estimate = self.prices.estimate_request(model, params.quality, size, count).unwrap_or(0);
        Ask { images: u32::from(count), estimate_micros: estimate }
    }

    /// What the composer's row offers: each engine with its shapes, qualities and prices from
    /// the rate table the ledger uses, and `preferences` as the row's starting values.
    pub fn choices(&self, preferences: Preferences) -> ImageChoices {
        let engines = self
            .providers
            .offered()
            .map(|p| {
                let caps = p.capabilities();
                let model = p.model();
                let aspects: Vec<AspectRatio> =
                    AspectRatio::ALL.into_iter().filter(|a| caps.custom_sizes || !a.custom()).collect();
                let qualities = caps.qualities.to_vec();
                let mut prices = Vec::new();
                for &aspect in &aspects {
                    let (w, h) = aspect.size();
                    for quality in std::iter::once(None).chain(qualities.iter().copied().map(Some)) {
                        if let Some((per_image, per_request)) = self.prices.estimate_parts(&model, quality, (w, h)) {
                            prices.push(PriceEstimate { aspect, quality, per_image, per_request });
                        }
                    }
                }
                EngineChoice {
                    kind: p.kind(),
                    model,
                    aspects,
                    qualities,
                    seed: caps.seed,
                    edit: caps.edit,
                    mask: caps.mask,
                    references: caps.references,
                    prices,
                }
            })
            .collect();
        ImageChoices { engines, default_engine: self.providers.default_provider().kind(), preferences }
    }

    /// Refuses an image the server cannot afford: paid work once the server-wide cap is
    /// reached, any image once the user's images fill their storage.
    async fn refuse_unaffordable(&self, user: UserId, provider: &dyn ImageProvider) -> Result<(), JobError> {
        if self.is_paid(provider) {
            if let Some(month) = self.global_cap_reached().await? {
                return Err(JobError::Paused(global_cap::paused_images(month)));
            }
        }
        if self.store.stored_bytes(user).await? >= self.storage_bytes {
            return Err(JobError::StorageFull((self.storage_bytes + (1 << 20) - 1) >> 20));
        }
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
}
