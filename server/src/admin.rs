//! The admin page's numbers: spend totals, per-user use against each tier's limits, and the
//! daily trend, assembled from the store's aggregates. Admin rights live in the database.

use app::admin::{fill_days, AdminOverview, AdminUser, ChatSpend, DayPoint, SpendTotals};
use app::protocol::{Tier, UserId, UserInfo, Window};

use crate::config::QuotaSettings;
use crate::jobs::Jobs;
use crate::store::{now_ms, ListedAdmin, Store, StoreError};

/// Days the trend chart covers.
const TREND_DAYS: i64 = 30;

/// Whether `user` holds the admin right now, as the database says (A5: never a name in
/// the configuration, which anyone could claim by signing up first).
pub async fn is_admin(store: &Store, user: &UserInfo) -> Result<bool, StoreError> {
    Ok(store.user(user.id).await?.is_some_and(|u| u.admin))
}

/// Grants the admin right to each account named in `EASEL_ADMINS` that existed when the
/// name was first listed. A name with no account then grants nothing, ever: whoever signs up
/// with it later is an ordinary user until the operator runs `server admin grant NAME`.
pub async fn grant_listed(store: &Store, names: &[String]) -> Result<(), StoreError> {
    for name in names {
        match store.grant_listed_admin(name, now_ms()).await? {
            ListedAdmin::Granted => tracing::info!(admin = %name, "admin right granted (EASEL_ADMINS)"),
            ListedAdmin::NotGranted => {
                tracing::warn!(admin = %name, "EASEL_ADMINS names an account created after the name was listed, or revoked: not granted; run `server admin grant {name}` if it is yours")
            }
            ListedAdmin::NoAccount => {
                tracing::warn!(admin = %name, "EASEL_ADMINS names no account: nothing granted, and signing up with the name will not make an admin; create the account, then run `server admin grant {name}`")
            }
        }
    }
    Ok(())
}

pub async fn overview(
    store: &Store,
    jobs: &Jobs,
    quotas: &QuotaSettings,
    include_exempt: bool,
) -> Result<AdminOverview, StoreError> {
    let now = now_ms();
    let start = |w: Window| w.start_of(w.id_at(now));
    let today = Window::Day.id_at(now);
    let totals = SpendTotals {
        all_time: store.spend_since(0, include_exempt).await?,
        today: store.spend_since(start(Window::Day), include_exempt).await?,
        month: store.spend_since(start(Window::Month), include_exempt).await?,
    };
    let starts = [start(Window::Hour), start(Window::Day), start(Window::Month)];
    let users = store
        .spend_by_user(starts, include_exempt)
        .await?
        .into_iter()
        .map(|row| {
            let limits = quotas.policies.of(row.tier);
            AdminUser {
                id: row.id,
                username: row.username,
                tier: row.tier,
                test_account: row.test_account,
                used: row.used,
                limits: Window::ALL.map(|w| limits.of(w)),
                spent_month: row.spent_month_micros,
                spend_cap: limits.spend_cap_micros,
                spent_all: row.spent_all_micros,
            }
        })
        .collect();
    let since = Window::Day.start_of(today - TREND_DAYS + 1);
    let known: Vec<DayPoint> = store
        .daily_spend(since, include_exempt)
        .await?
        .into_iter()
        .map(|d| DayPoint { day: d.day, images: d.images, spent: d.spent_micros })
        .collect();
    Ok(AdminOverview {
        totals,
        include_exempt,
        alert_threshold: quotas.spend_alert_micros,
        spend_cap: jobs.global_cap().await?,
        chat_month: {
            let (calls, tokens, spent) = store.model_spend_since(start(Window::Month), include_exempt).await?;
            ChatSpend { calls, tokens, spent }
        },
        users,
        days: fill_days(&known, today, TREND_DAYS),
    })
}

/// Changes a plan and tells the user's tabs their new limits.
pub async fn set_plan(
    store: &Store,
    jobs: &Jobs,
    user: UserId,
    tier: Tier,
    test_account: bool,
) -> Result<bool, StoreError> {
    let changed = store.set_plan(user, tier, test_account).await?;
    if changed {
        tracing::info!(%user, tier = tier.as_str(), test_account, "plan changed by an admin");
        jobs.quota_changed(user).await;
    }
    Ok(changed)
}
