//! Easel's server: axum + leptos_axum over one store, one hub and the chat operations.
//!
//! [`Application::build`] does everything but serve, so tests start the same app on
//! port 0 with their own database.

#![recursion_limit = "256"]

pub mod account;
pub mod admin;
pub mod assets;
pub mod assistant;
pub mod auth;
pub mod chat;
pub mod chat_model;
pub mod config;
pub mod csrf;
pub mod email;
pub mod export;
mod hashing;
pub mod headers;
pub mod http;
pub mod hub;
pub mod jobs;
pub mod library;
pub mod limits;
mod media;
pub mod monitoring;
mod page_data;
mod passwords;
pub mod preferences;
pub mod providers;
pub mod relay;
pub mod sessions;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod throttle;
pub mod uploads;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;

use app::protocol::{Restarting, ServerMsg};
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;

use crate::chat::Chat;
use crate::chat_model::ChatModel;
use crate::config::ProviderChoice;
use crate::config::Settings;
use crate::hub::Hub;
use crate::jobs::{Jobs, JobsConfig};
use crate::limits::{Gate, GateError, MemoryGate, RedisGate};
use crate::providers::a1111::Automatic1111;
use crate::providers::builtin::BuiltinRenderer;
use crate::providers::comfyui::ComfyUi;
use crate::providers::openai::OpenAiImages;
use crate::providers::registry::Providers;
use crate::providers::ImageProvider;
use crate::relay::{Incoming, Relay};
use crate::sessions::SessionBackend;
use crate::state::AppState;
use crate::store::{Store, StoreError};
use crate::throttle::{SharedCounts, Throttle};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("could not listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the image provider's HTTP client could not be built: {0}")]
    Http(#[from] reqwest::Error),
    #[error("REDIS_URL is not a usable Redis address: {0}")]
    Gate(#[from] GateError),
    #[error("image providers: {0}")]
    Providers(String),
    #[error(transparent)]
    Email(#[from] crate::email::EmailError),
}

/// The configured providers, each told to start (a ComfyUI socket, a model check), in the
/// administrator's order.
fn build_providers(images: &crate::config::ImageSettings) -> Result<Providers, StartupError> {
    let mut offered: Vec<Arc<dyn ImageProvider>> = Vec::new();
    for choice in &images.providers {
        let provider: Arc<dyn ImageProvider> = match choice {
            ProviderChoice::Builtin => Arc::new(BuiltinRenderer { pace: images.render_pace }),
            ProviderChoice::OpenAi(s) => {
                let client = Arc::new(OpenAiImages::new(s.clone())?);
                // A retired or unknown model is said at start-up, without holding it up.
                let check = client.clone();
                tokio::spawn(async move { check.check_model().await });
                client
            }
            ProviderChoice::ComfyUi(s) => Arc::new(ComfyUi::new(s.clone()).map_err(StartupError::Providers)?),
            ProviderChoice::Automatic1111(s) => {
                Arc::new(Automatic1111::new(s.clone()).map_err(StartupError::Providers)?)
            }
        };
        tracing::info!(provider = provider.name(), model = %provider.model(), capabilities = ?provider.capabilities(), "image provider offered");
        offered.push(provider);
    }
    let providers =
        Providers::new(offered, images.default_provider).map_err(|e| StartupError::Providers(e.to_string()))?;
    tracing::info!(provider = providers.default_provider().name(), "default image provider");
    Ok(providers)
}

/// A built, bound server, ready to run.
pub struct Application {
    listener: TcpListener,
    router: Router,
    store: Store,
    /// Tells every tab the server is restarting.
    hub: Hub,
    /// Flushed on shutdown, so the other instances' tabs hear how this one's jobs ended.
    relay: Option<Relay>,
    /// Drained on shutdown.
    jobs: Jobs,
    grace: std::time::Duration,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let addr = settings.leptos.site_addr;
        monitoring::install();
        let listener = TcpListener::bind(addr).await.map_err(|source| StartupError::Bind { addr, source })?;
        let store = Store::connect(&settings.database_url).await?;
        admin::grant_listed(&store, &settings.quotas.admins).await?;
        let sessions = SessionBackend::connect(&settings.database_url).await?;
        sessions.spawn_cleanup();
        let relay = match &settings.redis_url {
            Some(url) => {
                Some(Relay::connect(url, &settings.redis_prefix).map_err(|e| GateError::Unavailable(e.to_string()))?)
            }
            None => None,
        };
        let hub = match &relay {
            Some(relay) => Hub::with_outbound(Arc::new(relay.clone())),
            None => Hub::default(),
        };
        let providers = build_providers(&settings.images)?;
        let chat_model = match &settings.chat_model {
            Some(s) => {
                tracing::info!(model = %s.model, "chat model");
                Some(Arc::new(ChatModel::new(s.clone())?))
            }
            None => None,
        };
        let gate: Arc<dyn Gate> = match &settings.redis_url {
            Some(url) => Arc::new(RedisGate::connect(url, &settings.redis_prefix)?),
            None => Arc::new(MemoryGate::default()),
        };
        let images = &settings.images;
        let config = JobsConfig {
            deadline: images.job_timeout,
            prices: images.prices.clone(),
            gate,
            lease: images.slot_lease,
            policies: settings.quotas.policies,
            spend_alert_micros: settings.quotas.spend_alert_micros,
            spend_cap_micros: settings.quotas.spend_cap_micros,
            storage_bytes: settings.caps.storage_bytes,
            relay: relay.clone(),
            mailer: match &settings.email {
                Some(email) => Some(Arc::new(crate::email::Mailer::new(email)?)),
                None => None,
            },
        };
        let jobs = Jobs::new(store.clone(), hub.clone(), providers, config);
        if let (Some(relay), Some(url)) = (relay.clone(), &settings.redis_url) {
            let (cancels, mut incoming) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(relay.listen(url.clone(), hub.clone(), cancels));
            let jobs = jobs.clone();
            tokio::spawn(async move {
                while let Some(Incoming::Cancel { user, job }) = incoming.recv().await {
                    jobs.cancel_here(user, job);
                }
            });
        }
        let shared = settings.redis_url.is_some();
        jobs.recover(shared).await?;
        // Replies are closed at start-up only: finding empty ones reads the whole messages table,
        // too much for a periodic sweep. Shared, only those too old to be still streaming.
        let replies_before = if shared { crate::store::now_ms() - REPLY_STALE_MS } else { i64::MAX };
        close_unfinished_replies(&store, replies_before).await?;
        if shared {
            // Other instances may die too: sweep for their jobs now and then (an indexed query).
            tokio::spawn(sweep(jobs.clone()));
        }
        let (drain_jobs, grace) = (jobs.clone(), settings.images.shutdown_grace);
        let chat = Chat { store: store.clone(), hub: hub.clone(), jobs, model: chat_model, caps: settings.caps };
        tokio::spawn(sweep_answers(chat.clone()));
        let throttle = match &relay {
            Some(relay) => Throttle::new(settings.throttle)
                .shared_through(SharedCounts::new(relay.connection(), &settings.redis_prefix)),
            None => Throttle::new(settings.throttle),
        };
        tokio::spawn(shrink_throttle(throttle.clone()));
        let state = AppState { chat, settings: Arc::new(settings), routes: http::route_list(), throttle };
        Ok(Self { listener, router: http::router(state, sessions), store, hub, relay, jobs: drain_jobs, grace })
    }

    /// The address actually bound (the port is chosen by the OS when configured as 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The application's store, for tests that check what was persisted.
    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// Serves until `shutdown` resolves: then tells every tab the server is restarting, stops
    /// accepting connections, lets in-flight requests finish, and gives running jobs the grace
    /// period (`EASEL_SHUTDOWN_GRACE_SECS`) before closing the rest as interrupted; last, the
    /// relay's queue is flushed. Open sockets keep receiving their jobs' progress meanwhile;
    /// they close when the process ends, and the tabs reconnect.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (hub, grace_secs) = (self.hub.clone(), self.grace.as_secs());
        let announced = async move {
            shutdown.await;
            let tabs = hub.tell_everyone(ServerMsg::Restarting(Restarting { grace_secs }));
            tracing::info!(tabs, grace_secs, "shutting down; told the tabs");
        };
        // With each peer's address, for the per-address limits (`throttle`).
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        // Frames are small and often follow one another: without TCP_NODELAY, Nagle's algorithm
        // holds the second until the first is acknowledged, and a delayed ACK makes that 40 ms
        // (the p99 of a message reaching a user's tabs, measured in docs/benchmarks.md).
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY not set on an accepted socket");
            }
        });
        let served = axum::serve(listener, service).with_graceful_shutdown(announced).await;
        self.jobs.drain(self.grace).await;
        if let Some(relay) = &self.relay {
            relay.flush(std::time::Duration::from_secs(3)).await;
        }
        // The last events (jobs' endings) reach the open sockets before the process ends.
        let until = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
        while self.hub.undelivered() > 0 && tokio::time::Instant::now() < until {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        served
    }
}

/// What a reply cut off by a dead process says.
const CUT_OFF_REPLY: &str = "The answer was interrupted by a server restart.";

/// Streamed replies older than this and still empty were cut off (the chat model's deadline
/// is 60 s).
const REPLY_STALE_MS: i64 = 120_000;

async fn close_unfinished_replies(store: &Store, before_ms: i64) -> Result<u64, StoreError> {
    let closed = store.close_unfinished_replies(CUT_OFF_REPLY, before_ms).await?;
    if closed > 0 {
        tracing::warn!(replies = closed, "closed replies a dead process left unfinished");
    }
    Ok(closed)
}

/// With several instances: every fifth of the staleness (3.2 s by default), jobs whose process
/// died are marked interrupted (an indexed query), so a job is closed soon after its slot expires.
async fn sweep(jobs: Jobs) {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(
        u64::try_from(jobs.stale_after_ms() / 5).unwrap_or(3_000),
    ));
    while !jobs.closing() {
        tick.tick().await;
        if let Err(e) = jobs.recover(true).await {
            tracing::warn!(error = %e, "sweep for interrupted jobs failed");
        }
    }
}

/// Messages whose answer was lost (the request failed, or its process died) are answered
/// every few seconds, here or on whichever instance claims them first (an indexed query).
async fn sweep_answers(chat: Chat) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    while !chat.jobs.closing() {
        tick.tick().await;
        if let Err(e) = chat.answer_forgotten().await {
            tracing::warn!(error = %e, "sweep for unanswered messages failed");
        }
    }
}

/// Every minute the limiters forget the clients whose budget is whole again.
async fn shrink_throttle(throttle: Throttle) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        throttle.shrink();
    }
}
