//! Settings, read once from the environment at start-up and passed down; nothing else reads
//! the environment. Tests build a [`Settings`] directly.

use std::time::Duration;

use leptos::config::LeptosOptions;

use crate::chat_model::{ChatModelSettings, TokenRates};
use crate::limits::{Limits, Policies};
use crate::providers::a1111::A1111Settings;
use crate::providers::comfyui::ComfyUiSettings;
use crate::providers::openai::{AllowedHosts, OpenAiSettings};
use crate::providers::pricing::PriceTable;
use crate::providers::{ProviderKind, MAX_DEADLINE};
use crate::throttle::ThrottleSettings;

/// Where data lives when `DATABASE_URL` is not set: a SQLite file beside the app.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/easel.db";

#[derive(Debug, Clone)]
pub struct Settings {
    /// `sqlite://…` (default) or `postgres://…`.
    pub database_url: String,
    /// Origins allowed to open the WebSocket besides the page's own host
    /// (`EASEL_ALLOWED_ORIGINS`, comma-separated, e.g. `https://chat.example.com`).
    pub allowed_origins: Vec<String>,
    /// Mark the session cookie `Secure` (`EASEL_SECURE_COOKIES=true` behind HTTPS).
    pub secure_cookies: bool,
    pub ws: WsSettings,
    pub images: ImageSettings,
    /// `REDIS_URL`: the generation gate shared by several instances (in-process without it).
    pub redis_url: Option<String>,
    /// Prefix of every Redis key (`EASEL_REDIS_PREFIX`, default `easel`); tests use their own.
    pub redis_prefix: String,
    pub quotas: QuotaSettings,
    /// `CHAT_MODEL`: a chat-completions model for ordinary messages (none: short built-in replies).
    pub chat_model: Option<ChatModelSettings>,
    /// Login and sign-up rates per client (`EASEL_LOGINS_PER_MINUTE`, …).
    pub throttle: ThrottleSettings,
    /// What one user may keep: threads, messages, image storage.
    pub caps: Caps,
    /// `SMTP_URL` and `EMAIL_FROM`: quota emails (none: the notices stay in the app).
    pub email: Option<crate::email::EmailSettings>,
    /// The header a reverse proxy puts the client's address in (`EASEL_CLIENT_IP_HEADER`, e.g.
    /// `x-forwarded-for`, whose last entry is taken); without it, the peer's address.
    pub client_ip_header: Option<String>,
    /// `EASEL_METRICS_TOKEN`: the bearer token `/metrics` asks for (without one it answers
    /// loopback peers only).
    pub metrics_token: Option<String>,
    /// Site address, output name and paths of the built front end (cargo-leptos' settings).
    pub leptos: LeptosOptions,
}

#[derive(Debug, Clone, Copy)]
pub struct WsSettings {
    /// How often the server pings each socket.
    pub ping_every: Duration,
    /// A socket silent for this long (no frame, no pong) is dropped.
    pub idle_timeout: Duration,
    /// How often a socket checks that its sign-in session still holds (C2): what the relay
    /// could not say (Redis was down, no Redis between instances) is caught by then.
    pub revalidate_every: Duration,
}

impl Default for WsSettings {
    fn default() -> Self {
        Self {
            ping_every: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            revalidate_every: Duration::from_secs(60),
        }
    }
}

/// Per-user caps (D2), so one account cannot fill the disk: see the README's configuration table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Threads per user (`EASEL_MAX_THREADS`).
    pub threads: u32,
    /// Messages in one thread (`EASEL_MAX_MESSAGES_PER_THREAD`).
    pub messages_per_thread: u32,
    /// Messages a user sends per UTC day (`EASEL_MESSAGES_PER_DAY`).
    pub messages_per_day: u32,
    /// Bytes of images a user keeps (`EASEL_STORAGE_MB`).
    pub storage_bytes: i64,
    /// The largest picture a user may send (`EASEL_UPLOAD_MB`).
    pub upload_bytes: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Self {
            threads: 1_000,
            messages_per_thread: 5_000,
            messages_per_day: 2_000,
            storage_bytes: 2048 << 20,
            upload_bytes: 20 << 20,
        }
    }
}

/// One image provider an administrator configured.
#[derive(Debug, Clone)]
pub enum ProviderChoice {
    /// The offline renderer (always available: no key, no network).
    Builtin,
    /// The OpenAI Images API or a server that speaks it.
    OpenAi(OpenAiSettings),
    /// A ComfyUI server with an API-format workflow.
    ComfyUi(ComfyUiSettings),
    /// AUTOMATIC1111, Forge, or a server with the same `/sdapi/v1` API.
    Automatic1111(A1111Settings),
}

impl ProviderChoice {
    pub fn kind(&self) -> ProviderKind {
        match self {
            Self::Builtin => ProviderKind::Builtin,
            Self::OpenAi(_) => ProviderKind::OpenAi,
            Self::ComfyUi(_) => ProviderKind::ComfyUi,
            Self::Automatic1111(_) => ProviderKind::Automatic1111,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ImageSettings {
    /// The providers offered, in the administrator's order (`EASEL_PROVIDERS`; by default
    /// every configured one: OpenAI, ComfyUI, A1111, then the built-in renderer).
    pub providers: Vec<ProviderChoice>,
    /// The provider a request goes to (`EASEL_DEFAULT_PROVIDER`; by default the first offered).
    pub default_provider: Option<ProviderKind>,
    /// Prices for the cost of each job; per-image prices can be added with
    /// `EASEL_IMAGE_PRICES=model=dollars,…`, token rates with `EASEL_TOKEN_PRICES`.
    pub prices: PriceTable,
    /// Pause between the built-in renderer's previews, so progress is visible
    /// (`EASEL_RENDER_PACE_MS`, default 700).
    pub render_pace: Duration,
    /// One deadline for every generation (`EASEL_JOB_TIMEOUT_SECS`), overriding each
    /// provider's own (which depends on size, quality and the engine); at most 10 minutes.
    pub job_timeout: Option<Duration>,
    /// How long a running job's slot outlives its last renewal (a dead server's slots free
    /// themselves within this), default 15 s.
    pub slot_lease: Duration,
    /// On SIGTERM, how long running jobs may go on before they are stopped and closed as
    /// interrupted (`EASEL_SHUTDOWN_GRACE_SECS`, default 30, at most 600).
    pub shutdown_grace: Duration,
}

impl ImageSettings {
    /// Only `provider`, offered and default (tests and single-engine set-ups).
    pub fn with_provider(mut self, provider: ProviderChoice) -> Self {
        self.default_provider = Some(provider.kind());
        self.providers = vec![provider];
        self
    }
}

impl Default for ImageSettings {
    fn default() -> Self {
        Self {
            providers: vec![ProviderChoice::Builtin],
            default_provider: None,
            prices: PriceTable::default(),
            render_pace: Duration::from_millis(700),
            job_timeout: None,
            slot_lease: Duration::from_secs(15),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Who may generate how much, and who watches the spend.
#[derive(Debug, Clone, Default)]
pub struct QuotaSettings {
    /// Per tier, from `EASEL_QUOTA_FREE` / `EASEL_QUOTA_PREMIUM`
    /// (`running=1,hour=10,day=50,month=200,cooldown=30,spend=5`; omitted names keep defaults).
    pub policies: Policies,
    /// Accounts given the admin right at start-up if they exist (`EASEL_ADMINS`,
    /// comma-separated); the right itself lives in the database (see [`crate::admin`]).
    pub admins: Vec<String>,
    /// This month's total spend, in micro-dollars, past which the admin page shows a banner
    /// and a warning is logged (`EASEL_SPEND_ALERT_USD`).
    pub spend_alert_micros: Option<i64>,
    /// This month's total spend, in micro-dollars, at which paid work stops for everyone
    /// until the month ends (`EASEL_SPEND_CAP_USD`, K2).
    pub spend_cap_micros: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} must be a whole number of seconds")]
    NotSeconds(&'static str),
    #[error("{0} must be a whole number of milliseconds")]
    NotMillis(&'static str),
    #[error("EASEL_IMAGE_PRICES: {0}")]
    Prices(String),
    #[error("OPENAI_PARTIAL_IMAGES must be 0, 1, 2 or 3")]
    PartialImages,
    #[error("{0}: {1}")]
    Quota(&'static str, String),
    #[error("{0} must be an amount in dollars")]
    Dollars(&'static str),
    #[error("EASEL_TOKEN_PRICES: {0}")]
    TokenPrices(String),
    #[error("{0}")]
    Provider(String),
    #[error("CHAT_TOKEN_PRICES: {0}")]
    ChatPrices(String),
    #[error("CHAT_MAX_REPLY_TOKENS must be a whole number from 16 to 100000")]
    ChatReplyTokens,
    #[error("{0}: {1:?} is not a provider (builtin, openai, comfyui, a1111)")]
    UnknownProvider(&'static str, String),
    #[error("{0}: {1} is not configured (set its URL or key)")]
    ProviderNotConfigured(&'static str, &'static str),
    #[error("{0} must be a whole number of seconds above zero")]
    Deadline(&'static str),
    #[error("{0} must be a whole number above zero")]
    NotCount(&'static str),
    #[error("OPENAI_IMAGE_URL_HOSTS: {0}")]
    UrlHosts(String),
    #[error("{0} must not carry a user name or password (they would be logged): use COMFYUI_API_KEY, A1111_AUTH, OPENAI_API_KEY or CHAT_API_KEY")]
    CredentialsInUrl(&'static str),
}

impl Settings {
    /// Reads every setting from the process environment (the README's configuration table).
    pub fn from_env(leptos: LeptosOptions) -> Result<Self, ConfigError> {
        Self::from_vars(leptos, &|name| std::env::var(name).ok())
    }

    /// The same, from any lookup (tests give a table instead of the process environment).
    pub fn from_vars(leptos: LeptosOptions, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let secs = |name: &'static str, default: Duration| match var(name) {
            Some(v) => v.trim().parse::<u64>().map(Duration::from_secs).map_err(|_| ConfigError::NotSeconds(name)),
            None => Ok(default),
        };
        let defaults = WsSettings::default();
        let image_defaults = ImageSettings::default();
        let millis = |name: &'static str, default: Duration| match var(name) {
            Some(v) => v.trim().parse::<u64>().map(Duration::from_millis).map_err(|_| ConfigError::NotMillis(name)),
            None => Ok(default),
        };
        Ok(Self {
            database_url: var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
            allowed_origins: var("EASEL_ALLOWED_ORIGINS")
                .map(|v| {
                    v.split(',').map(|o| o.trim().trim_end_matches('/').to_string()).filter(|o| !o.is_empty()).collect()
                })
                .unwrap_or_default(),
            secure_cookies: var("EASEL_SECURE_COOKIES").is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes")),
            ws: WsSettings {
                ping_every: positive(secs("EASEL_WS_PING_SECS", defaults.ping_every)?, "EASEL_WS_PING_SECS")?,
                idle_timeout: secs("EASEL_WS_IDLE_SECS", defaults.idle_timeout)?,
                revalidate_every: positive(
                    secs("EASEL_WS_REVALIDATE_SECS", defaults.revalidate_every)?,
                    "EASEL_WS_REVALIDATE_SECS",
                )?,
            },
            images: ImageSettings {
                providers: providers_from_env(&var)?,
                default_provider: match var("EASEL_DEFAULT_PROVIDER") {
                    Some(v) => {
                        Some(ProviderKind::parse(&v).ok_or(ConfigError::UnknownProvider("EASEL_DEFAULT_PROVIDER", v))?)
                    }
                    None => None,
                },
                prices: PriceTable::default()
                    .with_per_image(&var("EASEL_IMAGE_PRICES").unwrap_or_default())
                    .map_err(ConfigError::Prices)?
                    .with_per_token(&var("EASEL_TOKEN_PRICES").unwrap_or_default())
                    .map_err(ConfigError::TokenPrices)?,
                render_pace: millis("EASEL_RENDER_PACE_MS", image_defaults.render_pace)?,
                job_timeout: match var("EASEL_JOB_TIMEOUT_SECS") {
                    Some(_) => Some(deadline_secs(&var, "EASEL_JOB_TIMEOUT_SECS")?),
                    None => None,
                },
                slot_lease: image_defaults.slot_lease,
                shutdown_grace: match var("EASEL_SHUTDOWN_GRACE_SECS") {
                    Some(v) => v
                        .trim()
                        .parse::<u64>()
                        .map(|s| Duration::from_secs(s).min(MAX_DEADLINE))
                        .map_err(|_| ConfigError::NotSeconds("EASEL_SHUTDOWN_GRACE_SECS"))?,
                    None => image_defaults.shutdown_grace,
                },
            },
            redis_url: var("REDIS_URL"),
            redis_prefix: var("EASEL_REDIS_PREFIX").unwrap_or_else(|| "easel".to_string()),
            quotas: quotas_from_env(&var)?,
            chat_model: chat_model_from_env(&var)?,
            throttle: {
                let d = ThrottleSettings::default();
                ThrottleSettings {
                    logins_per_address: count(&var, "EASEL_LOGINS_PER_MINUTE", d.logins_per_address)?,
                    logins_per_name: count(&var, "EASEL_LOGINS_PER_NAME_PER_MINUTE", d.logins_per_name)?,
                    signups_per_address: count(&var, "EASEL_SIGNUPS_PER_HOUR", d.signups_per_address)?,
                    frames_per_second: count(&var, "EASEL_FRAMES_PER_SECOND", d.frames_per_second)?,
                    sockets_per_user: count(&var, "EASEL_SOCKETS_PER_USER", d.sockets_per_user)?,
                    sockets_per_address: count(&var, "EASEL_SOCKETS_PER_ADDRESS", d.sockets_per_address)?,
                }
            },
            caps: {
                let d = Caps::default();
                Caps {
                    threads: count(&var, "EASEL_MAX_THREADS", d.threads)?,
                    messages_per_thread: count(&var, "EASEL_MAX_MESSAGES_PER_THREAD", d.messages_per_thread)?,
                    messages_per_day: count(&var, "EASEL_MESSAGES_PER_DAY", d.messages_per_day)?,
                    storage_bytes: i64::from(count(&var, "EASEL_STORAGE_MB", (d.storage_bytes >> 20) as u32)?) << 20,
                    upload_bytes: (count(&var, "EASEL_UPLOAD_MB", (d.upload_bytes >> 20) as u32)? as usize) << 20,
                }
            },
            client_ip_header: var("EASEL_CLIENT_IP_HEADER").map(|h| h.trim().to_ascii_lowercase()),
            metrics_token: var("EASEL_METRICS_TOKEN").map(|t| t.trim().to_string()).filter(|t| !t.is_empty()),
            email: var("SMTP_URL").map(|smtp_url| crate::email::EmailSettings {
                smtp_url,
                from: var("EMAIL_FROM").unwrap_or_else(|| "Easel <easel@localhost.localdomain>".into()),
            }),
            leptos,
        })
    }
}

mod env;

use env::*;

#[cfg(test)]
mod tests;
