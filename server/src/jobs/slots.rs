//! Who may run a generation now. Admission is the [`Gate`]'s lease (shared by every instance
//! when it is Redis); this instance also keeps a handle on each job it runs here: the
//! cancellation token and the newest preview. A job renews its lease while it runs; a claim
//! that is dropped before its job starts gives the slot back, so no early return leaks one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::protocol::{JobId, UserId};
use tokio_util::sync::CancellationToken;

use super::JobError;
use crate::limits::{Gate, GateError};

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
    /// Running generations allowed per user.
    max_per_user: u32,
    local: Mutex<HashMap<String, Running>>,
}

/// A slot taken for a job not yet started.
pub struct Claim {
    slots: Arc<Slots>,
    user: UserId,
    holder: String,
    kept: bool,
}

/// A slot bound to a running job.
pub struct Held {
    pub user: UserId,
    pub holder: String,
    pub cancel: CancellationToken,
}

impl From<GateError> for JobError {
    fn from(e: GateError) -> Self {
        tracing::error!(error = %e, "generation gate unavailable");
        JobError::Unavailable
    }
}

impl Slots {
    pub fn new(gate: Arc<dyn Gate>, lease: Duration, max_per_user: u32) -> Arc<Self> {
        Arc::new(Self { gate, lease, max_per_user, local: Mutex::default() })
    }

    fn local(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.local.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes one of the user's slots, before anything is stored or any provider called.
    pub async fn claim(self: &Arc<Self>, user: UserId) -> Result<Claim, JobError> {
        let holder = uuid::Uuid::new_v4().to_string();
        if !self.gate.acquire(user, &holder, self.max_per_user, self.lease).await? {
            return Err(JobError::Busy);
        }
        let running = Running { user, job: None, cancel: CancellationToken::new(), preview: None };
        self.local().insert(holder.clone(), running);
        Ok(Claim { slots: self.clone(), user, holder, kept: false })
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
        Held { user: self.user, holder: self.holder.clone(), cancel }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.kept {
            let (slots, user, holder) = (self.slots.clone(), self.user, std::mem::take(&mut self.holder));
            tokio::spawn(async move { slots.release(user, &holder).await });
        }
    }
}
