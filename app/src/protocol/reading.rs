//! Reading the server's frames in the browser.

use serde::Deserialize;

use super::ServerMsg;

impl ServerMsg {
    /// The `type` of each variant on the wire, as `Serialize` writes it.
    pub const TYPES: [&'static str; 15] = [
        "welcome",
        "thread_history",
        "thread_created",
        "thread_renamed",
        "thread_deleted",
        "message_added",
        "job_progress",
        "job_updated",
        "quota",
        "assistant_delta",
        "message_updated",
        "restarting",
        "older_messages",
        "choices",
        "error",
    ];

    /// Parses one text frame. Written out rather than derived: serde's derived reader for an
    /// internally tagged enum first copies the whole frame into a tree of its own (`Content`),
    /// then reads each variant from that tree, which doubled the reading code of every type a
    /// frame holds in the browser's bundle (`docs/benchmarks.md`). Here the tag is read first
    /// (skipping the rest), then the frame again as that variant's payload, whose fields sit
    /// beside `type` on the wire.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        #[derive(Deserialize)]
        struct Tag<'a> {
            #[serde(rename = "type", borrow)]
            kind: std::borrow::Cow<'a, str>,
        }
        let tag: Tag = serde_json::from_str(text)?;
        Ok(match tag.kind.as_ref() {
            "welcome" => Self::Welcome(serde_json::from_str(text)?),
            "thread_history" => Self::ThreadHistory(serde_json::from_str(text)?),
            "thread_created" => Self::ThreadCreated(serde_json::from_str(text)?),
            "thread_renamed" => Self::ThreadRenamed(serde_json::from_str(text)?),
            "thread_deleted" => Self::ThreadDeleted(serde_json::from_str(text)?),
            "message_added" => Self::MessageAdded(serde_json::from_str(text)?),
            "job_progress" => Self::JobProgress(serde_json::from_str(text)?),
            "job_updated" => Self::JobUpdated(serde_json::from_str(text)?),
            "quota" => Self::Quota(serde_json::from_str(text)?),
            "assistant_delta" => Self::AssistantDelta(serde_json::from_str(text)?),
            "message_updated" => Self::MessageUpdated(serde_json::from_str(text)?),
            "restarting" => Self::Restarting(serde_json::from_str(text)?),
            "older_messages" => Self::OlderMessages(serde_json::from_str(text)?),
            "choices" => Self::Choices(serde_json::from_str(text)?),
            "error" => Self::Error(serde_json::from_str(text)?),
            other => return Err(serde::de::Error::unknown_variant(other, &Self::TYPES)),
        })
    }
}
