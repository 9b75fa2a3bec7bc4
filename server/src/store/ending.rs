//! How a job attempt ended, in one enum: what its row records (`Store::finish_job`), what
//! settlement reads (refund or charge) and what the tabs are told.

use app::protocol::{FailureKind, ImageId};

/// How a job attempt ended: what its row records, what settlement reads and what its tabs
/// are told. The one enum for it; `cost_micros` is what the provider probably billed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnding {
    Complete {
        /// In the engine's order; never empty.
        images: Vec<ImageId>,
        /// What the engine reports using (a seed), for the parameters card.
        params: Option<app::protocol::JobParams>,
        revised_prompt: Option<String>,
        cost_micros: Option<i64>,
    },
    Failed {
        kind: FailureKind,
        message: String,
        retryable: bool,
        cost_micros: Option<i64>,
    },
    Cancelled {
        cost_micros: Option<i64>,
    },
    /// Stopped by a shutdown or a dead process: Retry offered.
    Interrupted {
        cost_micros: Option<i64>,
    },
}

impl JobEnding {
    /// The ending's name in metrics and logs.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Complete { .. } => "complete",
            Self::Failed { .. } => "failed",
            Self::Cancelled { .. } => "cancelled",
            Self::Interrupted { .. } => "interrupted",
        }
    }

    pub fn cost_micros(&self) -> Option<i64> {
        match self {
            Self::Complete { cost_micros, .. }
            | Self::Failed { cost_micros, .. }
            | Self::Cancelled { cost_micros }
            | Self::Interrupted { cost_micros } => *cost_micros,
        }
    }

    /// Whether the provider probably billed this attempt: then its place stays counted and its
    /// cost is recorded, whatever happened after (F7).
    pub fn billed(&self, provider_called: bool) -> bool {
        provider_called
            && match self {
                Self::Complete { .. } | Self::Cancelled { .. } | Self::Interrupted { .. } => true,
                Self::Failed { kind, .. } => kind.billed_when_called(),
            }
    }

    /// The same ending with the cost of a generation that did not complete.
    pub fn with_cost(self, cost: Option<i64>) -> Self {
        match self {
            Self::Failed { kind, message, retryable, .. } => {
                Self::Failed { kind, message, retryable, cost_micros: cost }
            }
            Self::Cancelled { .. } => Self::Cancelled { cost_micros: cost },
            Self::Interrupted { .. } => Self::Interrupted { cost_micros: cost },
            complete @ Self::Complete { .. } => complete,
        }
    }
}
