//! What quotas read from and write to the database: each account's plan, and the use the
//! database remembers (the gate's seed when it meets a window it has no count for).

use app::protocol::{Tier, UserId, Window};
use sqlx::Row;

use super::{Store, StoreError};
use crate::limits::{Baseline, WindowIds};

/// An account's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub username: String,
    pub tier: Tier,
    /// Its generations are marked exempt (left out of the admin's spend by default).
    pub test_account: bool,
    /// Holds the admin right (its generations are exempt too).
    pub admin: bool,
}

impl Store {
    pub async fn plan(&self, user: UserId) -> Result<Option<Plan>, StoreError> {
        let row = sqlx::query("SELECT username, tier, test_account, is_admin FROM users WHERE id = $1")
            .bind(user.0)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok(Plan {
                username: r.try_get("username")?,
                tier: Tier::parse(&r.try_get::<String, _>("tier")?).unwrap_or_default(),
                test_account: r.try_get::<i64, _>("test_account")? != 0,
                admin: r.try_get::<i64, _>("is_admin")? != 0,
            })
        })
        .transpose()
    }

    /// Changes an account's plan; `false` when there is no such account.
    pub async fn set_plan(&self, user: UserId, tier: Tier, test_account: bool) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET tier = $1, test_account = $2 WHERE id = $3")
            .bind(tier.as_str())
            .bind(i64::from(test_account))
            .bind(user.0)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Images counted in the hour, day and month around `now_ms`, and the month's cost
    /// (images and chat model).
    pub async fn baseline(&self, user: UserId, now_ms: i64) -> Result<Baseline, StoreError> {
        let ids = WindowIds::at(now_ms);
        let start = |w: Window| w.start_of(ids.of(w));
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN counted_at >= $2 THEN image_count ELSE 0 END), 0) AS BIGINT) AS hour, \
             CAST(COALESCE(SUM(CASE WHEN counted_at >= $3 THEN image_count ELSE 0 END), 0) AS BIGINT) AS day, \
             CAST(COALESCE(SUM(image_count), 0) AS BIGINT) AS month, \
             CAST(COALESCE(SUM(cost_usd_micros), 0) AS BIGINT) AS spent, \
             (SELECT CAST(COALESCE(SUM(cost_usd_micros), 0) AS BIGINT) FROM model_usage \
              WHERE user_id = $1 AND at_ms >= $4) AS chat_spent \
             FROM job_ledger WHERE user_id = $1 AND counted_at >= $4",
        )
        .bind(user.0)
        .bind(start(Window::Hour))
        .bind(start(Window::Day))
        .bind(start(Window::Month))
        .fetch_one(self.pool())
        .await?;
        let count = |name: &str| row.try_get::<i64, _>(name).map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        Ok(Baseline {
            ids,
            used: [count("hour")?, count("day")?, count("month")?],
            // The chat model's cost counts against the same monthly cap.
            spent_micros: row.try_get::<i64, _>("spent")?.saturating_add(row.try_get("chat_spent")?),
        })
    }

    /// The job no longer counts against its user's windows (its reservation was returned).
    pub async fn uncount_job(&self, run: super::JobRun) -> Result<(), StoreError> {
        sqlx::query("UPDATE jobs SET counted_at = NULL WHERE id = $1 AND attempt = $2")
            .bind(run.id.0)
            .bind(run.attempt)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
