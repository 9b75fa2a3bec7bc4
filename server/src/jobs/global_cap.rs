//! The server-wide monthly spending cap (K2): per-user caps bound each account, but a flood
//! of new accounts could still spend the operator's money. Once this month's spend by
//! everyone (images and chat model, exempt accounts included: the provider bills them all)
//! reaches `EASEL_SPEND_CAP_USD`, paid work is refused for everyone until the month ends;
//! free work (the built-in renderer, an unpriced local engine) goes on. The total is read
//! from the ledger every instance shares, at most every [`FRESH`], and at once after a
//! charge on this instance. In-flight jobs may take the total a little past the cap: they
//! were admitted before it was reached.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use app::protocol::{dollars, reset_phrase, Window};

use super::Jobs;
use crate::providers::ImageProvider;
use crate::store::{now_ms, StoreError};

/// How old a reading of the month's total may be.
const FRESH: Duration = Duration::from_secs(2);

#[derive(Default)]
pub(super) struct GlobalCap {
    cap_micros: Option<i64>,
    reading: Mutex<Option<Reading>>,
    /// The month whose reaching was already logged (once per month and instance).
    reported: AtomicI64,
}

#[derive(Clone, Copy)]
struct Reading {
    at: Instant,
    month: i64,
    total: i64,
}

impl GlobalCap {
    pub(super) fn new(cap_micros: Option<i64>) -> Self {
        Self { cap_micros, reading: Mutex::default(), reported: AtomicI64::new(-1) }
    }

    pub(super) fn forget(&self) {
        *self.reading.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// What a user reads when the cap stops their image.
pub fn paused_images(month: i64) -> String {
    format!(
        "This server has reached its spending limit for the month, so new images are paused for everyone until \
         {}. Chat still works.",
        resumes(month)
    )
}

/// What a user reads when the cap stops the chat model.
pub fn paused_chat(month: i64) -> String {
    format!(
        "This server has reached its spending limit for the month, so the chat model is paused {}. Until then I \
         answer with short built-in replies.",
        reset_phrase(Window::Month, Window::Month.end_of(month))
    )
}

fn resumes(month: i64) -> String {
    reset_phrase(Window::Month, Window::Month.end_of(month)).trim_start_matches("on ").to_string()
}

impl Jobs {
    /// This month's spend by everyone, images and chat model, exempt accounts included.
    pub async fn month_spend_all(&self) -> Result<i64, StoreError> {
        let month = Window::Month.id_at(now_ms());
        let cached = *self.global.reading.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = cached.filter(|r| r.month == month && r.at.elapsed() < FRESH) {
            return Ok(r.total);
        }
        let total = self.store.total_spend_since(Window::Month.start_of(month), true).await?;
        *self.global.reading.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Reading { at: Instant::now(), month, total });
        Ok(total)
    }

    /// The cap and this month's total, when a cap is set.
    pub async fn global_cap(&self) -> Result<Option<(i64, i64)>, StoreError> {
        let Some(cap) = self.global.cap_micros else { return Ok(None) };
        Ok(Some((cap, self.month_spend_all().await?)))
    }

    /// The month id when the cap is reached (paid work must be refused), logged once.
    pub async fn global_cap_reached(&self) -> Result<Option<i64>, StoreError> {
        let Some((cap, total)) = self.global_cap().await? else { return Ok(None) };
        if total < cap {
            return Ok(None);
        }
        let month = Window::Month.id_at(now_ms());
        if self.global.reported.swap(month, Ordering::SeqCst) != month {
            tracing::error!(
                target: "easel::spend",
                total = %dollars(total),
                cap = %dollars(cap),
                "this month's spend reached EASEL_SPEND_CAP_USD: paid images and chat-model replies are refused for everyone until the month ends"
            );
        }
        Ok(Some(month))
    }

    /// Whether a job of `provider` would cost money (an unpriced model is free).
    pub(super) fn is_paid(&self, provider: &dyn ImageProvider) -> bool {
        self.prices.estimate_micros(&provider.model(), None, 1024, 1024).is_some_and(|p| p > 0)
    }
}
