//! Reading the server's frames in the browser.

use serde::Deserialize;

use super::ServerMsg;

/// Each variant's wire tag (as `Serialize` writes it) once, for both the list of tags and
/// the reader's match.
macro_rules! read_by_tag {
    ($($tag:literal => $variant:ident),* $(,)?) => {
        impl ServerMsg {
            /// The `type` of each variant on the wire, as `Serialize` writes it.
            pub const TYPES: &'static [&'static str] = &[$($tag),*];

            /// Parses one text frame. Written out rather than derived: serde's derived reader
            /// for an internally tagged enum first copies the whole frame into a tree of its
            /// own (`Content`), then reads each variant from that tree, which doubled the
            /// reading code of every type a frame holds in the browser's bundle
            /// (`docs/benchmarks.md`). Here the tag is read first (skipping the rest), then the
            /// frame again as that variant's payload, whose fields sit beside `type` on the wire.
            pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
                #[derive(Deserialize)]
                struct Tag<'a> {
                    #[serde(rename = "type", borrow)]
                    kind: std::borrow::Cow<'a, str>,
                }
                let tag: Tag = serde_json::from_str(text)?;
                Ok(match tag.kind.as_ref() {
                    $($tag => Self::$variant(serde_json::from_str(text)?),)*
                    other => return Err(serde::de::Error::unknown_variant(other, Self::TYPES)),
                })
            }
        }
    };
}

read_by_tag! {
    "welcome" => Welcome,
    "thread_history" => ThreadHistory,
    "thread_created" => ThreadCreated,
    "thread_renamed" => ThreadRenamed,
    "thread_deleted" => ThreadDeleted,
    "message_added" => MessageAdded,
    "job_progress" => JobProgress,
    "job_updated" => JobUpdated,
    "quota" => Quota,
    "assistant_delta" => AssistantDelta,
    "message_updated" => MessageUpdated,
    "restarting" => Restarting,
    "older_messages" => OlderMessages,
    "choices" => Choices,
    "error" => Error,
}
