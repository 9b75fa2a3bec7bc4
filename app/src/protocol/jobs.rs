//! Wire types of image jobs: their stages, their state as a tab shows it, and the frames
//! that move them. A job belongs to the assistant message that shows it; progress frames
//! are frequent and small, `JobUpdated` carries the whole job when its state changes.
//! Previews and images travel by HTTP (`/jobs/{id}/preview`, `/images/{id}/{variant}`),
//! never as base64 in a frame.

use serde::{Deserialize, Serialize};

use super::{FailureKind, JobParams, MessageId, ProviderKind, ThreadId, Variant};

id_newtype!(
    /// One image generation.
    JobId
);
id_newtype!(
    /// One stored image (its bytes and web variants).
    ImageId
);

/// Where a running job is, with the percentage the progress bar shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStage {
    Queued,
    Initializing,
    Generating,
    Processing,
    Saving,
    Complete,
}

impl JobStage {
    pub fn percent(self) -> u8 {
        match self {
            Self::Queued => 10,
            Self::Initializing => 30,
            Self::Generating => 60,
            Self::Processing => 80,
            Self::Saving => 90,
            Self::Complete => 100,
        }
    }

    /// What the status line says, e.g. "Generating your lighthouse scene…".
    pub fn describe(self, subject: &str) -> String {
        match self {
            Self::Queued => format!("Queued: your {subject} scene is next…"),
            Self::Initializing => format!("Preparing your {subject} scene…"),
            Self::Generating => format!("Generating your {subject} scene…"),
            Self::Processing => format!("Processing your {subject} scene…"),
            Self::Saving => format!("Saving your {subject} scene…"),
            Self::Complete => format!("Your {subject} scene is ready."),
        }
    }

    /// The bar inside the generating stage when the engine counts sampler steps: from just
    /// past preparing (30 %) to just short of processing (80 %).
    pub fn step_percent(step: u32, total: u32) -> u8 {
        // Engines send these numbers: u64 so no total can overflow the arithmetic.
        let (lo, hi) = (u64::from(Self::Initializing.percent()), u64::from(Self::Processing.percent()));
        let done = u64::from(step.min(total));
        let span = (hi - lo) * done / u64::from(total.max(1));
        (lo + span).clamp(lo + 1, hi - 1) as u8
    }

    /// "Step 12 of 30: generating your lighthouse scene…".
    pub fn describe_step(subject: &str, steps: StepCount) -> String {
        format!("Step {} of {}: generating your {subject} scene…", steps.step, steps.total)
    }

    /// "Queued: 2 images ahead of your lighthouse scene…" (or next, or unknown).
    pub fn describe_queue(subject: &str, position: Option<u32>) -> String {
        match position {
            Some(0) | None => Self::Queued.describe(subject),
            Some(1) => format!("Queued: 1 image ahead of your {subject} scene…"),
            Some(n) => format!("Queued: {n} images ahead of your {subject} scene…"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Initializing => "initializing",
            Self::Generating => "generating",
            Self::Processing => "processing",
            Self::Saving => "saving",
            Self::Complete => "complete",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Queued, Self::Initializing, Self::Generating, Self::Processing, Self::Saving, Self::Complete]
            .into_iter()
            .find(|stage| stage.as_str() == s)
    }
}

/// How a job ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Running,
    Complete,
    Failed,
    Cancelled,
    /// The server stopped while the job ran; it may be retried.
    Interrupted,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Complete => "complete",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Running, Self::Complete, Self::Failed, Self::Cancelled, Self::Interrupted]
            .into_iter()
            .find(|status| status.as_str() == s)
    }

    pub fn is_finished(self) -> bool {
        self != Self::Running
    }
}

/// Why a job failed, in words a person understands, and whether Retry makes sense.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    pub message: String,
    pub retryable: bool,
    #[serde(default)]
    pub kind: FailureKind,
}

/// A stored image as a message shows it; URLs are `/images/{id}/{variant}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    pub id: ImageId,
    pub width: u32,
    pub height: u32,
    /// Widths of the stored WebP variants, for `srcset`.
    pub variants: Vec<u32>,
}

impl ImageInfo {
    pub fn url(&self, variant: Variant) -> String {
        format!("/images/{}/{variant}", self.id)
    }

    /// The widest WebP, else the original.
    pub fn largest(&self) -> Variant {
        self.variants.last().map_or(Variant::Full, |w| Variant::Width(*w))
    }
}

/// A job as every tab shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    pub id: JobId,
    pub status: JobStatus,
    pub stage: JobStage,
    /// The user's words.
    pub prompt: String,
    /// The prompt sent to the provider.
    pub enhanced_prompt: String,
    /// The prompt the provider says it used, when it rewrites prompts.
    pub revised_prompt: Option<String>,
    /// Short subject for status lines ("lighthouse").
    pub subject: String,
    pub provider: ProviderKind,
    pub model: String,
    pub error: Option<JobError>,
    /// What it made, in the engine's order (a request may ask for several).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageInfo>,
    /// What it was made with (`None` for jobs from before the composer's row).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<JobParams>,
    /// What it cost, once recorded (millionths of a dollar).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_micros: Option<i64>,
    /// The job whose image this one changes (a refinement), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refines: Option<JobId>,
    /// When the current run started (Unix ms), for the elapsed time of a long job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
}

impl JobView {
    /// The first image, which stands for the job where one picture is shown (a thumbnail,
    /// the image a refinement changes when none is named).
    pub fn image(&self) -> Option<&ImageInfo> {
        self.images.first()
    }

    /// The text of the message that shows the job, as stored once the job is in this state:
    /// the server writes it and every tab sets it from the job's last update, so a tab that
    /// saw the end live holds what one that reloads reads.
    pub fn message_text(&self) -> String {
        match self.status {
            JobStatus::Running => self.stage.describe(&self.subject),
            JobStatus::Complete => format!("Here is your {} scene.", self.subject),
            JobStatus::Failed => self.error.as_ref().map_or("Generation failed.".into(), |e| e.message.clone()),
            JobStatus::Cancelled => "Generation cancelled.".into(),
            JobStatus::Interrupted => "Generation was interrupted by a server restart.".into(),
        }
    }
}

/// "0:42", "12:05": elapsed time as a running job shows it.
pub fn elapsed_text(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    format!("{}:{:02}", secs / 60, secs % 60)
}

/// Sampler steps done, from engines that count them (ComfyUI, AUTOMATIC1111).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepCount {
    pub step: u32,
    pub total: u32,
}

/// Frequent, small: a running job moved on. `preview` counts the previews so far; the tab
/// fetches the newest from `/jobs/{id}/preview?n={preview}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobProgress {
    pub job_id: JobId,
    pub thread_id: ThreadId,
    pub stage: JobStage,
    pub percent: u8,
    pub detail: String,
    pub preview: Option<u32>,
    /// Real sampler progress, when the engine reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<StepCount>,
    /// Images ahead of this one in the engine's queue, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<u32>,
}

/// A job changed state (started, finished, failed, cancelled, retried).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobUpdated {
    pub thread_id: ThreadId,
    pub message_id: MessageId,
    pub job: JobView,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CancelJob {
    pub job_id: JobId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryJob {
    pub job_id: JobId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_have_the_product_s_percentages_in_order() {
        let stages = [
            JobStage::Queued,
            JobStage::Initializing,
            JobStage::Generating,
            JobStage::Processing,
            JobStage::Saving,
            JobStage::Complete,
        ];
        assert_eq!(stages.map(JobStage::percent), [10, 30, 60, 80, 90, 100]);
        assert!(stages.windows(2).all(|w| w[0] < w[1]));
        for s in stages {
            assert_eq!(JobStage::parse(s.as_str()), Some(s));
        }
        assert_eq!(JobStage::Generating.describe("lighthouse"), "Generating your lighthouse scene…");
    }

    #[test]
    fn steps_move_the_bar_inside_the_generating_stage() {
        assert_eq!(JobStage::step_percent(0, 30), 31);
        assert_eq!(JobStage::step_percent(15, 30), 55);
        assert_eq!(JobStage::step_percent(30, 30), 79);
        assert_eq!(JobStage::step_percent(99, 30), 79);
        assert_eq!(JobStage::step_percent(1, 0), 31, "no total: no progress to show");
        assert_eq!(JobStage::step_percent(u32::MAX, u32::MAX), 79);
        assert_eq!(JobStage::step_percent(u32::MAX / 2, u32::MAX), 54);
        let rising: Vec<u8> = (1..=30).map(|s| JobStage::step_percent(s, 30)).collect();
        assert!(rising.windows(2).all(|w| w[0] <= w[1]) && rising[0] < rising[29]);
        assert_eq!(
            JobStage::describe_step("lighthouse", StepCount { step: 12, total: 30 }),
            "Step 12 of 30: generating your lighthouse scene…"
        );
        assert_eq!(JobStage::describe_queue("fox", Some(2)), "Queued: 2 images ahead of your fox scene…");
        assert_eq!(JobStage::describe_queue("fox", Some(0)), JobStage::Queued.describe("fox"));
        assert_eq!(elapsed_text(42_999), "0:42");
        assert_eq!(elapsed_text(725_000), "12:05");
        assert_eq!(elapsed_text(-5), "0:00");
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in
            [JobStatus::Running, JobStatus::Complete, JobStatus::Failed, JobStatus::Cancelled, JobStatus::Interrupted]
        {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        }
        assert!(!JobStatus::Running.is_finished() && JobStatus::Interrupted.is_finished());
    }
}
