//! What can go wrong with a chat operation, and the one place it becomes what the user is told:
//! a protocol error on the socket, a status on a form post. Failures on our side are logged
//! there, once, with their cause; the user reads a sentence without storage details.

use app::protocol::{ClientId, ErrorCode, ProtocolError};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::jobs::JobError;
use crate::limits::Verdict;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("That thread does not exist.")]
    NotFound,
    #[error("{0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Job(#[from] JobError),
    /// A per-user cap is reached; the sentence says which and what to do.
    #[error("{0}")]
    Full(String),
}

impl ChatError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound => ErrorCode::NotFound,
            Self::Invalid(_) | Self::Full(_) => ErrorCode::Invalid,
            Self::Store(_) | Self::Job(JobError::Store(_)) => ErrorCode::Internal,
            Self::Job(JobError::Refused { verdict: Verdict::Busy, .. } | JobError::Unavailable) => ErrorCode::Busy,
            Self::Job(JobError::Refused { .. } | JobError::Paused(_)) => ErrorCode::Quota,
            Self::Job(JobError::NotFound) => ErrorCode::NotFound,
            Self::Job(JobError::PromptTooLong | JobError::StorageFull(_)) => ErrorCode::Invalid,
        }
    }

    /// What the user is told; storage details stay in the log.
    pub fn user_message(&self) -> String {
        match self.code() {
            ErrorCode::Internal => "Something went wrong saving that. Please try again.".into(),
            _ => self.to_string(),
        }
    }

    /// The socket's answer; a failure on our side is logged here, once.
    pub fn into_protocol(self, client_id: Option<ClientId>) -> ProtocolError {
        self.log();
        ProtocolError { code: self.code(), message: self.user_message(), client_id }
    }

    fn log(&self) {
        if self.code() == ErrorCode::Internal {
            tracing::error!(error = %self, "a request failed on our side");
        }
    }
}

/// A form post's answer (the pages without JavaScript).
impl IntoResponse for ChatError {
    fn into_response(self) -> Response {
        self.log();
        let status = match self.code() {
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Busy | ErrorCode::Quota => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        (status, self.user_message()).into_response()
    }
}
