//! Structured logs: `tracing` to stdout, filtered by `RUST_LOG` (default `info`), as JSON
//! when `EASEL_LOG_FORMAT=json` so a log shipper can read them.

use tracing_subscriber::{fmt, EnvFilter};

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_http=info,sqlx=warn"));
    let json = std::env::var("EASEL_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = fmt().with_env_filter(filter).with_target(false);
    // try_init: a second call (tests) keeps the first subscriber instead of panicking.
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
