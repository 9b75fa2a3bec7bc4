//! Who may run a generation now. Admission is the [`Gate`]'s (shared by every instance when it
//! is Redis): a slot lease plus a place in each quota window. This instance also keeps a
//! handle on each job it runs here: the cancellation token and the newest preview. A job
//! renews its lease while it runs; a claim dropped before its job starts gives back the slot
//! and the reservation, so no early return leaks either.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::protocol::{JobId, UserId};
use tokio_util::sync::CancellationToken;

use app::protocol::Tier;

use super::JobError;
use crate::limits::policy::{crossed_notice, refusal_text};
use crate::limits::{Ask, Baseline, Gate, GateError, Policies, Usage, Verdict, WindowIds};

struct Running {
    user: UserId,
    job: Option<JobId>,
    cancel: CancellationToken,
    preview: Option<Arc<Vec<u8>>>,
}

pub struct Slots {
    gate: Arc<dyn Gate>,
    /// How long a slot outlives its holder's last renewal.
    lease: Duration,
    policies: Policies,
    local: Mutex<HashMap<String, Running>>,
}

/// A slot taken for a job not yet started.
pub struct Claim {
    slots: Arc<Slots>,
    user: UserId,
    holder: String,
    ids: WindowIds,
    images: u32,
    kept: bool,
    /// The user's use, counting this claim.
    pub usage: Usage,
}

/// A slot bound to a running job.
#[derive(Clone)]
pub struct Held {
    pub user: UserId,
    pub holder: String,
    pub cancel: CancellationToken,
    /// The windows the reservation was taken in, and the places it took in each (what a
    /// refund gives back).
    pub ids: WindowIds,
    pub images: u32,
}

impl From<GateError> for JobError {
    fn from(e: GateError) -> Self {
        tracing::error!(error = %e, "generation gate unavailable");
        JobError::Unavailable
    }
}

impl Slots {
    pub fn new(gate: Arc<dyn Gate>, lease: Duration, policies: Policies) -> Arc<Self> {
        Arc::new(Self { gate, lease, policies, local: Mutex::default() })
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }

    pub fn gate(&self) -> &Arc<dyn Gate> {
        &self.gate
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    fn local(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.local.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes one of the user's slots and a place in each window, before anything is stored or
    /// any provider called; a refusal says why and when to try again.
    pub async fn claim(
        self: &Arc<Self>,
        user: UserId,
        tier: Tier,
        baseline: &Baseline,
        ask: Ask,
    ) -> Result<Claim, JobError> {
        let holder = uuid::Uuid::new_v4().to_string();
        let limits = self.policies.of(tier);
        let admission = self.gate.admit(user, &holder, limits, baseline, self.lease, ask).await?;
        if admission.verdict != Verdict::Admitted {
            let text = refusal_text(admission.verdict, &admission.usage, tier, &self.policies, ask.images);
            tracing::info!(%user, verdict = ?admission.verdict, "generation refused by quota");
            return Err(JobError::Refused { verdict: admission.verdict, text, usage: admission.usage });
        }
        if let Some(window) = crossed_notice(limits, &admission.usage) {
            // An operator can hook this event (e.g. to send an email).
            tracing::warn!(
                target: "easel::quota",
                %user,
                window = window.adjective(),
                used = admission.usage.used(window),
                limit = limits.of(window),
                "user reached 80% of a generation window"
            );
        }
        let running = Running { user, job: None, cancel: CancellationToken::new(), preview: None };
        self.local().insert(holder.clone(), running);
        let ids = admission.usage.ids;
        Ok(Claim {
            slots: self.clone(),
            user,
            holder,
            ids,
            images: ask.images.max(1),
            kept: false,
            usage: admission.usage,
        })
    }

    /// Gives a reservation back: the generation did not happen.
    pub async fn refund(&self, held: &Held) {
        if let Err(e) = self.gate.refund(held.user, &held.holder, held.ids, held.images).await {
            tracing::warn!(user = %held.user, error = %e, "a reservation could not be returned");
        }
    }

    /// Takes back the place an earlier attempt of `job` holds in the windows `ids` (Retry of a
    /// job that kept its place: the new attempt's place replaces it).
    pub async fn forget(&self, user: UserId, job: JobId, ids: WindowIds, images: u32) {
        if let Err(e) = self.gate.refund(user, &format!("retry-{job}"), ids, images).await {
            tracing::warn!(%user, error = %e, "an earlier attempt's place could not be returned");
        }
    }

    /// Slots held by this instance (jobs running here, and admissions in progress).
    pub fn held_here(&self) -> usize {
        self.local().len()
    }

    /// Trips every running job's token here; how many there were.
    pub fn cancel_all(&self) -> usize {
        let local = self.local();
        local.values().for_each(|r| r.cancel.cancel());
        local.len()
    }

    /// Trips the token of `user`'s running job `job`; `false` if there is none here.
    pub fn cancel(&self, user: UserId, job: JobId) -> bool {
        let local = self.local();
        match local.values().find(|r| r.user == user && r.job == Some(job)) {
            Some(r) => {
                r.cancel.cancel();
                true
            }
            None => false,
        }
    }

    pub fn preview(&self, user: UserId, job: JobId) -> Option<Arc<Vec<u8>>> {
        self.local().values().find(|r| r.user == user && r.job == Some(job)).and_then(|r| r.preview.clone())
    }

    pub fn set_preview(&self, holder: &str, png: Vec<u8>) {
        if let Some(r) = self.local().get_mut(holder) {
            r.preview = Some(Arc::new(png));
        }
    }

    /// Runs `work` while renewing the lease, then gives the slot back.
    pub async fn hold<T>(&self, held: &Held, work: impl std::future::Future<Output = T>) -> T {
        tokio::pin!(work);
        let mut renew = tokio::time::interval(self.lease / 3);
        renew.tick().await;
        let out = loop {
            tokio::select! {
                out = &mut work => break out,
                _ = renew.tick() => match self.gate.renew(held.user, &held.holder, self.lease).await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(user = %held.user, "a running job lost its slot lease"),
                    Err(e) => tracing::warn!(user = %held.user, error = %e, "slot lease could not be renewed"),
                },
            }
        };
        self.release(held.user, &held.holder).await;
        out
    }

    async fn release(&self, user: UserId, holder: &str) {
        self.local().remove(holder);
        if let Err(e) = self.gate.release(user, holder).await {
            // The lease runs out by itself; nothing stays held for long.
            tracing::warn!(%user, error = %e, "slot could not be released; its lease will expire");
        }
    }
}

impl Claim {
    /// Binds the slot to a started job.
    pub fn keep(mut self, job: JobId) -> Held {
        let cancel = match self.slots.local().get_mut(&self.holder) {
            Some(r) => {
                r.job = Some(job);
                r.cancel.clone()
            }
            None => CancellationToken::new(),
        };
        self.kept = true;
        Held { user: self.user, holder: self.holder.clone(), cancel, ids: self.ids, images: self.images }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.kept {
            let (slots, user, holder, ids, images) =
                (self.slots.clone(), self.user, std::mem::take(&mut self.holder), self.ids, self.images);
            tokio::spawn(async move {
                if let Err(e) = slots.gate.refund(user, &holder, ids, images).await {
                    tracing::warn!(%user, error = %e, "a reservation could not be returned");
                }
                slots.release(user, &holder).await
            });
        }
    }
}
