//! Every user's message is answered once (F3): the request that stores a message claims it
//! and answers it; when that fails, or its process dies first, a resend of the message or the
//! sweep answers it instead. A claim older than [`CLAIM_STALE_MS`] is taken to be dead.

use app::protocol::{ChatMessage, Role, UserId};

use super::{Chat, ChatError};
use crate::store::now_ms;

/// Answering takes well under a second (a chat model's turn runs on after it); a claim this
/// old belongs to a request that failed or died.
const CLAIM_STALE_MS: i64 = 30_000;

/// Older unanswered messages are given up: an answer arriving this late would confuse.
const ANSWER_WITHIN_MS: i64 = 10 * 60_000;

/// Messages the sweep answers at most per round.
const SWEEP_BATCH: i64 = 100;

impl Chat {
    /// Answers `message`, which the caller has claimed, and records that it did; on failure
    /// the claim is released so that a resend or the sweep answers it.
    pub(super) async fn answer(&self, user: UserId, message: &ChatMessage) -> Result<(), ChatError> {
        match self.respond(user, message).await {
            Ok(()) => Ok(self.store.mark_answered(message.id).await?),
            Err(e) => {
                if let Err(release) = self.store.release_answer(message.id).await {
                    tracing::warn!(message = %message.id, error = %release, "a failed answer's claim could not be released");
                }
                Err(e)
            }
        }
    }

    /// A resend of a stored message: answered now if nobody answered it and nobody is.
    pub(super) async fn answer_resend(&self, user: UserId, message: &ChatMessage) -> Result<(), ChatError> {
        if message.role == Role::User && self.store.claim_answer(message.id, now_ms() - CLAIM_STALE_MS).await? {
            tracing::warn!(message = %message.id, "a resent message had not been answered; answering it now");
            self.answer(user, message).await?;
        }
        Ok(())
    }

    /// The sweep's round: answers the messages nobody is answering; gives up those older
    /// than ten minutes. Returns how many it answered.
    pub async fn answer_forgotten(&self) -> Result<usize, ChatError> {
        let now = now_ms();
        let given_up = self.store.give_up_answers(now - ANSWER_WITHIN_MS).await?;
        if given_up > 0 {
            tracing::warn!(messages = given_up, "gave up answering messages left unanswered for ten minutes");
        }
        let mut answered = 0;
        let forgotten = self.store.claim_forgotten(now - ANSWER_WITHIN_MS, now - CLAIM_STALE_MS, SWEEP_BATCH).await?;
        for (user, message) in forgotten {
            tracing::warn!(message = %message.id, %user, "answering a message whose answer was lost");
            match self.answer(user, &message).await {
                Ok(()) => answered += 1,
                Err(e) => tracing::warn!(message = %message.id, error = %e, "a lost answer failed again"),
            }
        }
        Ok(answered)
    }
}
