//! The chat model's ledger: what each call used and cost. Token budgets are counted from it,
//! on every instance alike (the database is shared), and its cost joins the month's spend.

use app::protocol::UserId;
use sqlx::Row;

use super::{Store, StoreError};

/// One call of the chat model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelUsage<'a> {
    pub user: UserId,
    pub model: &'a str,
    pub at_ms: i64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The server reported no count; these are estimated from the text.
    pub estimated: bool,
    pub cost_micros: i64,
    /// Left out of the admin's spend totals by default (an admin's or a test account's).
    pub exempt: bool,
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Writes a call into the ledger before it is made (its tokens estimated at the most it
    /// may use), so calls running at the same time see each other against the budget;
    /// returns the row to settle when the call is over.
    pub async fn reserve_model_usage(&self, usage: &ModelUsage<'_>) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO model_usage \
             (user_id, model, at_ms, input_tokens, output_tokens, estimated, cost_usd_micros, exempt) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(usage.user.0)
        .bind(usage.model)
        .bind(usage.at_ms)
        .bind(signed(usage.input_tokens))
        .bind(signed(usage.output_tokens))
        .bind(i64::from(usage.estimated))
        .bind(usage.cost_micros)
        .bind(i64::from(usage.exempt))
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("id")?)
    }

    /// What a reserved call really used and cost.
    pub async fn settle_model_usage(&self, id: i64, usage: &ModelUsage<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE model_usage SET input_tokens = $1, output_tokens = $2, estimated = $3, cost_usd_micros = $4 \
             WHERE id = $5 AND user_id = $6",
        )
        .bind(signed(usage.input_tokens))
        .bind(signed(usage.output_tokens))
        .bind(i64::from(usage.estimated))
        .bind(usage.cost_micros)
        .bind(id)
        .bind(usage.user.0)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Tokens `user` used since each of `since` (Unix ms), in the same order.
    pub async fn model_tokens_since(&self, user: UserId, since: [i64; 2]) -> Result<[u64; 2], StoreError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN at_ms >= $2 THEN input_tokens + output_tokens ELSE 0 END), 0) AS BIGINT) AS a, \
             CAST(COALESCE(SUM(CASE WHEN at_ms >= $3 THEN input_tokens + output_tokens ELSE 0 END), 0) AS BIGINT) AS b \
             FROM model_usage WHERE user_id = $1 AND at_ms >= $4",
        )
        .bind(user.0)
        .bind(since[0])
        .bind(since[1])
        .bind(since[0].min(since[1]))
        .fetch_one(self.pool())
        .await?;
        let count = |name: &str| row.try_get::<i64, _>(name).map(|n| u64::try_from(n).unwrap_or(0));
        Ok([count("a")?, count("b")?])
    }

    /// Everything spent since `since_ms`, images and chat model, in micro-dollars.
    pub async fn total_spend_since(&self, since_ms: i64, include_exempt: bool) -> Result<i64, StoreError> {
        let (_, _, chat) = self.model_spend_since(since_ms, include_exempt).await?;
        Ok(self.spend_since(since_ms, include_exempt).await?.saturating_add(chat))
    }

    /// Tokens and cost of every call since `since_ms`: (calls, tokens, micro-dollars).
    pub async fn model_spend_since(&self, since_ms: i64, include_exempt: bool) -> Result<(i64, i64, i64), StoreError> {
        let row = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT) AS calls, \
             CAST(COALESCE(SUM(input_tokens + output_tokens), 0) AS BIGINT) AS tokens, \
             CAST(COALESCE(SUM(cost_usd_micros), 0) AS BIGINT) AS spent \
             FROM model_usage WHERE at_ms >= $1 AND exempt <= $2",
        )
        .bind(since_ms)
        .bind(i64::from(include_exempt))
        .fetch_one(self.pool())
        .await?;
        Ok((row.try_get("calls")?, row.try_get("tokens")?, row.try_get("spent")?))
    }
}
