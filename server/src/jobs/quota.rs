//! The job runner's side of quotas: what an admission needs from the database, settling a
//! reservation when a job ends (refund or charge), and telling every tab what is left.

use app::protocol::*;

use super::slots::{Claim, Held};
use super::{JobError, Jobs};
use crate::limits::policy::quota_view;
use crate::limits::{Ask, Limits, Usage, WindowIds};
use crate::store::{now_ms, JobEnding, JobRun, StoreError};

impl Jobs {
    /// Admits a generation for `user` under their tier; also says whether it is exempt from
    /// spend totals (an admin's or a test account's).
    pub(super) async fn admit(&self, user: UserId, ask: Ask) -> Result<(Claim, bool), JobError> {
        let plan = self.store.plan(user).await?.ok_or(JobError::NotFound)?;
        let baseline = self.store.baseline(user, now_ms()).await?;
        let claim = match self.slots.claim(user, plan.tier, &baseline, ask).await {
            Ok(claim) => claim,
            Err(e) => {
                if let JobError::Refused { usage, verdict, .. } = &e {
                    crate::monitoring::refused(*verdict);
                    // The refusal's numbers are the freshest; every tab gets them.
                    let view = self.view(plan.tier, usage);
                    self.hub.publish(user, ServerMsg::Quota(QuotaUpdated { quota: view }));
                }
                return Err(e);
            }
        };
        let view = self.view(plan.tier, &claim.usage);
        self.hub.publish(user, ServerMsg::Quota(QuotaUpdated { quota: view }));
        self.notify(user, plan.tier, &claim.usage);
        let exempt = plan.test_account || plan.admin;
        Ok((claim, exempt))
    }

    /// `user`'s tier limits, and whether their use is exempt from spend totals (an admin's or
    /// a test account's); `None` when there is no such account.
    pub async fn limits_of(&self, user: UserId) -> Result<Option<(Limits, bool)>, StoreError> {
        let Some(plan) = self.store.plan(user).await? else { return Ok(None) };
        let exempt = plan.test_account || plan.admin;
        Ok(Some((*self.slots.policies().of(plan.tier), exempt)))
    }

    /// Adds the cost of a chat model call (already in the ledger) to the month's spend the gate
    /// counts, so the same cap stops images and replies; every tab sees the new total.
    pub async fn charge_spend(&self, user: UserId, micros: i64) -> Result<(), StoreError> {
        if micros <= 0 {
            return Ok(());
        }
        crate::monitoring::chat_spend(micros);
        let now = now_ms();
        let baseline = self.store.baseline(user, now).await?;
        if let Err(e) = self.slots.gate().charge(user, &baseline, WindowIds::at(now).month, micros).await {
            tracing::warn!(%user, error = %e, "a chat model cost could not be added to the gate");
        }
        self.check_spend_alert(micros).await?;
        self.publish_quota(user).await;
        Ok(())
    }

    /// The numbers a tab shows for `usage` under `tier`'s limits.
    fn view(&self, tier: Tier, usage: &Usage) -> QuotaView {
        quota_view(tier, self.slots.policies().of(tier), usage)
    }

    /// What `user` may still generate; `None` (logged) when the gate cannot be reached.
    pub async fn quota(&self, user: UserId) -> Option<QuotaView> {
        self.use_of(user).await.map(|(tier, usage)| self.view(tier, &usage))
    }

    /// `user`'s tier and use now; `None` (logged) when the gate cannot be reached.
    async fn use_of(&self, user: UserId) -> Option<(Tier, Usage)> {
        match self.read_use(user).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(%user, error = %e, "quota could not be read");
                None
            }
        }
    }

    async fn read_use(&self, user: UserId) -> Result<Option<(Tier, Usage)>, JobError> {
        let Some(plan) = self.store.plan(user).await? else { return Ok(None) };
        let baseline = self.store.baseline(user, now_ms()).await?;
        let usage = self.slots.gate().usage(user, &baseline).await?;
        Ok(Some((plan.tier, usage)))
    }

    /// Tells `user`'s tabs their limits changed (e.g. a new tier).
    pub async fn quota_changed(&self, user: UserId) {
        self.publish_quota(user).await;
    }

    /// Sends `user`'s quota to every tab.
    /// Sends `user`'s quota to every tab, and the email it calls for (a charge that reached
    /// the spending budget is announced here, after the job's end or a chat model's reply).
    pub(super) async fn publish_quota(&self, user: UserId) {
        if let Some((tier, usage)) = self.use_of(user).await {
            self.notify(user, tier, &usage);
            self.hub.publish(user, ServerMsg::Quota(QuotaUpdated { quota: self.view(tier, &usage) }));
        }
    }

    /// Returns the reservation of a generation the provider did not bill (refused, failed
    /// before it made anything, cancelled before it was called); charges the cost of one it
    /// probably did. A job an earlier attempt was billed for keeps its place whatever this
    /// attempt did, so the gate and the database keep counting what was paid.
    pub(super) async fn settle(
        &self,
        run: JobRun,
        held: &Held,
        ending: &JobEnding,
        provider_called: bool,
    ) -> Result<(), StoreError> {
        if !ending.billed(provider_called) && self.store.job_cost(run.id).await?.is_none() {
            self.store.uncount_job(run).await?;
            self.slots.refund(held).await;
        }
        match ending.cost_micros() {
            Some(micros) => self.charge(held.user, held.ids.month, micros).await,
            None => Ok(()),
        }
    }

    /// Adds a recorded cost to the gate's spend for `month` and checks the spend alert.
    pub(super) async fn charge(&self, user: UserId, month: i64, micros: i64) -> Result<(), StoreError> {
        if micros <= 0 {
            return Ok(());
        }
        let baseline = self.store.baseline(user, now_ms()).await?;
        if let Err(e) = self.slots.gate().charge(user, &baseline, month, micros).await {
            // The database has the cost; the gate reseeds from it once Redis is back.
            tracing::warn!(%user, error = %e, "a job's cost could not be added to the gate");
        }
        self.check_spend_alert(micros).await
    }

    /// Logs a warning when this cost took the month's total spend past the alert threshold;
    /// the server-wide cap reads the new total at its next check.
    async fn check_spend_alert(&self, micros: i64) -> Result<(), StoreError> {
        self.global.forget();
        let Some(threshold) = self.spend_alert_micros else { return Ok(()) };
        let month = Window::Month.start_of(Window::Month.id_at(now_ms()));
        let total = self.store.total_spend_since(month, false).await?;
        if total >= threshold && total - micros < threshold {
            tracing::warn!(
                target: "easel::spend",
                total = %dollars(total),
                threshold = %dollars(threshold),
                "this month's spend (images and chat model) crossed the alert threshold"
            );
        }
        Ok(())
    }
}
