//! What the admin page reads: spend and images over time and per user, from `job_ledger`
//! (live jobs and those of deleted threads). Exempt jobs (an
//! admin's or a test account's) are left out unless asked for (`exempt <= 1` takes all,
//! `exempt <= 0` only the billable ones).

use app::protocol::{Tier, UserId};
use sqlx::Row;

use super::{Store, StoreError};

/// One account's use, counted from `counted_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpendRow {
    pub id: UserId,
    pub username: String,
    pub tier: Tier,
    pub test_account: bool,
    /// Generations in this hour, today and this month.
    pub used: [u32; 3],
    pub spent_month_micros: i64,
    pub spent_all_micros: i64,
}

/// One UTC day of the trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRow {
    /// Days since 1970-01-01.
    pub day: i64,
    pub images: i64,
    pub spent_micros: i64,
}

impl Store {
    /// Cost of the jobs counted since `since_ms`.
    pub async fn spend_since(&self, since_ms: i64, include_exempt: bool) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(cost_usd_micros), 0) AS BIGINT) AS spent FROM job_ledger \
             WHERE counted_at >= $1 AND exempt <= $2",
        )
        .bind(since_ms)
        .bind(i64::from(include_exempt))
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("spent")?)
    }

    /// Every account with its use in the windows starting at `starts` (hour, day, month),
    /// biggest spenders first.
    pub async fn spend_by_user(&self, starts: [i64; 3], include_exempt: bool) -> Result<Vec<UserSpendRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.id, u.username, u.tier, u.test_account, \
             CAST(COALESCE(SUM(CASE WHEN j.counted_at >= $1 THEN j.image_count ELSE 0 END), 0) AS BIGINT) AS used_hour, \
             CAST(COALESCE(SUM(CASE WHEN j.counted_at >= $2 THEN j.image_count ELSE 0 END), 0) AS BIGINT) AS used_day, \
             CAST(COALESCE(SUM(CASE WHEN j.counted_at >= $3 THEN j.image_count ELSE 0 END), 0) AS BIGINT) AS used_month, \
             CAST(COALESCE(SUM(CASE WHEN j.counted_at >= $3 THEN j.cost_usd_micros ELSE 0 END), 0) AS BIGINT) AS spent_month, \
             CAST(COALESCE(SUM(j.cost_usd_micros), 0) AS BIGINT) AS spent_all \
             FROM users u LEFT JOIN job_ledger j ON j.user_id = u.id AND j.counted_at IS NOT NULL AND j.exempt <= $4 \
             GROUP BY u.id, u.username, u.tier, u.test_account \
             ORDER BY spent_month DESC, used_month DESC, u.username LIMIT 500",
        )
        .bind(starts[0])
        .bind(starts[1])
        .bind(starts[2])
        .bind(i64::from(include_exempt))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let count = |name: &str| r.try_get::<i64, _>(name).map(|n| u32::try_from(n).unwrap_or(u32::MAX));
                Ok(UserSpendRow {
                    id: UserId(r.try_get("id")?),
                    username: r.try_get("username")?,
                    tier: Tier::parse(&r.try_get::<String, _>("tier")?).unwrap_or_default(),
                    test_account: r.try_get::<i64, _>("test_account")? != 0,
                    used: [count("used_hour")?, count("used_day")?, count("used_month")?],
                    spent_month_micros: r.try_get("spent_month")?,
                    spent_all_micros: r.try_get("spent_all")?,
                })
            })
            .collect()
    }

    /// Images and spend per UTC day since `since_ms`, oldest first; days without any are absent.
    pub async fn daily_spend(&self, since_ms: i64, include_exempt: bool) -> Result<Vec<DayRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT CAST(counted_at / 86400000 AS BIGINT) AS day, CAST(COALESCE(SUM(image_count), 0) AS BIGINT) AS images, \
             CAST(COALESCE(SUM(cost_usd_micros), 0) AS BIGINT) AS spent FROM job_ledger \
             WHERE counted_at >= $1 AND exempt <= $2 \
             GROUP BY CAST(counted_at / 86400000 AS BIGINT) ORDER BY day",
        )
        .bind(since_ms)
        .bind(i64::from(include_exempt))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DayRow { day: r.try_get("day")?, images: r.try_get("images")?, spent_micros: r.try_get("spent")? })
            })
            .collect()
    }
}
