//! `/metrics` in Prometheus' text format, and the names of every series in one place.
//!
//! The recorder is the `metrics` crate's, process-wide: several applications in one process
//! (the tests) share it, so each series counts the process, as a scrape of one instance
//! would. The page answers with `EASEL_METRICS_TOKEN` as a bearer token, or without one only
//! to loopback peers (an exporter or Prometheus beside the server), never to the internet.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use app::protocol::{Role, Window};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use subtle::ConstantTimeEq;

use crate::limits::Verdict;
use crate::state::AppState;

/// Seconds: from a millisecond (an event on the relay) to ten minutes (a slow engine).
const BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0, 600.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed on first use.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS);
            match builder.and_then(PrometheusBuilder::install_recorder) {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed: /metrics will be empty");
                    None
                }
            }
        })
        .as_ref()
}

/// `GET /metrics`.
pub async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let allowed = match state.settings.metrics_token.as_deref() {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| bool::from(given.trim().as_bytes().ct_eq(token.as_bytes()))),
        None => peer.ip().is_loopback(),
    };
    if !allowed {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(handle) = install() else { return StatusCode::SERVICE_UNAVAILABLE.into_response() };
    handle.run_upkeep();
    gauge!("easel_hub_undelivered").set(state.chat.hub.undelivered() as f64);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()).into_response()
}

pub fn socket_opened() {
    counter!("easel_sockets_opened_total").increment(1);
    gauge!("easel_sockets_open").increment(1.0);
}

pub fn socket_closed() {
    gauge!("easel_sockets_open").decrement(1.0);
}

pub fn message_stored(role: Role) {
    let role = match role {
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    counter!("easel_messages_total", "role" => role).increment(1);
}

/// A job at its provider: counted as running until it is dropped, whichever way its run ends
/// (a stale runner or a database error returns early).
pub struct RunningJob {
    provider: &'static str,
    started: Instant,
}

impl RunningJob {
    pub fn start(provider: &'static str) -> Self {
        gauge!("easel_jobs_running", "provider" => provider).increment(1.0);
        Self { provider, started: Instant::now() }
    }

    /// Time since the provider was called.
    pub fn took(&self) -> Duration {
        self.started.elapsed()
    }

    /// The job ended `outcome` (complete, failed, cancelled, interrupted) after `took` at the
    /// provider, costing `cost_micros`.
    pub fn ended(self, outcome: &'static str, took: Duration, cost_micros: Option<i64>) {
        let provider = self.provider;
        counter!("easel_jobs_total", "provider" => provider, "outcome" => outcome).increment(1);
        histogram!("easel_provider_seconds", "provider" => provider, "outcome" => outcome).record(took.as_secs_f64());
        if let Some(micros) = cost_micros.filter(|m| *m > 0) {
            counter!("easel_spend_micros_total", "source" => provider).increment(micros.unsigned_abs());
        }
    }
}

impl Drop for RunningJob {
    fn drop(&mut self) {
        gauge!("easel_jobs_running", "provider" => self.provider).decrement(1.0);
    }
}

/// A chat model call's cost, already in the ledger.
pub fn chat_spend(micros: i64) {
    if micros > 0 {
        counter!("easel_spend_micros_total", "source" => "chat model").increment(micros.unsigned_abs());
    }
}

pub fn refused(verdict: Verdict) {
    let reason = match verdict {
        Verdict::Admitted => return,
        Verdict::Busy => "busy",
        Verdict::Cooldown => "cooldown",
        Verdict::Window(Window::Hour) => "hour",
        Verdict::Window(Window::Day) => "day",
        Verdict::Window(Window::Month) => "month",
        Verdict::Spend => "spend",
    };
    counter!("easel_gate_refusals_total", "reason" => reason).increment(1);
}

/// An event from another instance arrived `lag` after it was published.
pub fn relay_received(lag: Duration) {
    counter!("easel_relay_events_total").increment(1);
    histogram!("easel_relay_lag_seconds").record(lag.as_secs_f64());
}
