//! The chat model's allowance: tokens per hour and per day by tier (`tokens_hour`,
//! `tokens_day` in `EASEL_QUOTA_*`), and the same monthly spending cap as images. Counted from
//! the ledger in the database, which every instance shares. Each call is written into the
//! ledger before it is made, at the most it may use (its prompt, estimated, and
//! `max_completion_tokens`), so calls running at the same time count against each other;
//! only calls that check in the same instant can pass together. When the call is over, its
//! row is settled: the tokens the server reported (estimated from the text when it reported
//! none; nothing when it refused the request), their cost, and the month's spend.

use app::protocol::{dollars, reset_phrase, UserId, Window};

use super::{Chat, ChatError};
use crate::chat_model::{estimate_prompt_tokens, ChatModel, ModelReply, Speaker};
use crate::limits::WindowIds;
use crate::store::{now_ms, ModelUsage};

/// Whether the chat model may be called for a user now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Budget {
    Open {
        /// Their use stays out of the admin's spend totals.
        exempt: bool,
    },
    /// Spent: what the user is told.
    Spent(String),
}

/// The sentence for a spent window.
fn spent_window(window: Window, now: i64) -> String {
    let which = match window {
        Window::Hour => "this hour's",
        Window::Day => "today's",
        Window::Month => "this month's",
    };
    format!(
        "You have used {which} allowance of the chat model; it is back {}. Until then I answer with short \
         built-in replies, and images still work.",
        reset_phrase(window, window.end_of(window.id_at(now)))
    )
}

impl Chat {
    /// Whether the chat model's calls cost money (unpriced models, local servers, do not).
    fn model_is_paid(&self) -> bool {
        self.model.as_ref().is_some_and(|m| m.rates().input > 0 || m.rates().output > 0)
    }

    pub(super) async fn model_budget(&self, user: UserId) -> Result<Budget, ChatError> {
        let (limits, exempt) = self.jobs.limits_of(user).await?.ok_or(ChatError::NotFound)?;
        if self.model_is_paid() {
            if let Some(month) = self.jobs.global_cap_reached().await? {
                return Ok(Budget::Spent(crate::jobs::global_cap::paused_chat(month)));
            }
        }
        let now = now_ms();
        let ids = WindowIds::at(now);
        let since = [Window::Hour.start_of(ids.hour), Window::Day.start_of(ids.day)];
        let [hour, day] = self.store.model_tokens_since(user, since).await?;
        if hour >= limits.tokens_hour {
            return Ok(Budget::Spent(spent_window(Window::Hour, now)));
        }
        if day >= limits.tokens_day {
            return Ok(Budget::Spent(spent_window(Window::Day, now)));
        }
        let spent = self.store.baseline(user, now).await?.spent_micros;
        if spent >= limits.spend_cap_micros {
            return Ok(Budget::Spent(format!(
                "You have reached this month's {} budget, so the chat model is paused {}. Until then I answer \
                 with short built-in replies.",
                dollars(limits.spend_cap_micros),
                reset_phrase(Window::Month, Window::Month.end_of(ids.month))
            )));
        }
        Ok(Budget::Open { exempt })
    }

    /// Reserves a call in the ledger at the most it may use; `None` (logged) when the ledger
    /// cannot be written, and the call goes ahead unreserved.
    pub(super) async fn reserve(
        &self,
        user: UserId,
        model: &ChatModel,
        conversation: &[(Speaker, String)],
        tools: bool,
        exempt: bool,
    ) -> Option<i64> {
        let prompt_tokens = estimate_prompt_tokens(conversation, tools);
        let row = ModelUsage {
            user,
            model: model.model(),
            at_ms: now_ms(),
            input_tokens: prompt_tokens,
            output_tokens: u64::from(model.max_reply_tokens()),
            estimated: true,
            cost_micros: 0,
            exempt,
        };
        match self.store.reserve_model_usage(&row).await {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::error!(%user, error = %e, "a chat model call could not be reserved");
                None
            }
        }
    }

    /// Settles a call's row with what it used and adds its cost to the month's spend. A
    /// failure is logged: the reply itself has already been given.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn meter(
        &self,
        reserved: Option<i64>,
        user: UserId,
        model: &ChatModel,
        conversation: &[(Speaker, String)],
        reply: &ModelReply,
        tools: bool,
        exempt: bool,
    ) {
        let (usage, estimated) = reply.usage_or_estimate(conversation, tools);
        let cost_micros = model.rates().cost_micros(usage);
        let row = ModelUsage {
            user,
            model: model.model(),
            at_ms: now_ms(),
            input_tokens: usage.prompt_tokens,
            output_tokens: usage.completion_tokens,
            estimated,
            cost_micros,
            exempt,
        };
        let recorded = async {
            match reserved {
                Some(id) => self.store.settle_model_usage(id, &row).await?,
                None => drop(self.store.reserve_model_usage(&row).await?),
            }
            self.jobs.charge_spend(user, cost_micros).await
        };
        if let Err(e) = recorded.await {
            tracing::error!(%user, error = %e, tokens = usage.total(), "a chat model call could not be metered");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_window_says_when_it_is_back() {
        // 2026-11-29 10:20 UTC.
        let now = 1_795_947_600_000;
        let text = spent_window(Window::Hour, now);
        assert!(text.starts_with("You have used this hour's allowance"), "{text}");
        assert!(text.contains("back at 11:00 UTC"), "{text}");
        assert!(spent_window(Window::Day, now).contains("back at 00:00 UTC"));
    }
}
