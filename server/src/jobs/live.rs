//! A running job's progress between provider events: stage, sampler steps, queue place and
//! previews held together, so every `JobProgress` frame says all of them consistently and the
//! bar's percentage follows the steps where the engine counts them.

use app::protocol::*;

/// What the runner knows of a running job between provider events, so every progress frame
/// carries the stage, the steps and the queue place together.
pub(super) struct Live {
    pub(super) job: JobId,
    pub(super) thread: ThreadId,
    pub(super) subject: String,
    pub(super) stage: JobStage,
    pub(super) steps: Option<StepCount>,
    pub(super) queue_position: Option<u32>,
    pub(super) previews: u32,
    /// The provider reports steps: until the first arrives the bar waits at the start of the
    /// generating stage instead of jumping to its middle and back.
    pub(super) counts_steps: bool,
}

impl Live {
    pub(super) fn new(job: &JobView, thread: ThreadId) -> Self {
        Self {
            job: job.id,
            thread,
            subject: job.subject.clone(),
            stage: JobStage::Initializing,
            steps: None,
            queue_position: None,
            previews: 0,
            counts_steps: false,
        }
    }

    fn percent(&self) -> u8 {
        match (self.stage, self.steps) {
            (JobStage::Generating, Some(s)) => JobStage::step_percent(s.step, s.total),
            (JobStage::Generating, None) if self.counts_steps => JobStage::step_percent(0, 1),
            (stage, _) => stage.percent(),
        }
    }

    pub(super) fn describe(&self) -> String {
        match (self.stage, self.steps) {
            (JobStage::Generating, Some(s)) => JobStage::describe_step(&self.subject, s),
            (stage, _) => stage.describe(&self.subject),
        }
    }

    pub(super) fn progress(&self, detail: String) -> ServerMsg {
        ServerMsg::JobProgress(JobProgress {
            job_id: self.job,
            thread_id: self.thread,
            stage: self.stage,
            percent: self.percent(),
            detail,
            // Every frame names the newest preview, so a step keeps it on screen.
            preview: (self.previews > 0).then_some(self.previews),
            steps: self.steps,
            queue_position: self.queue_position,
        })
    }
}
