//! ComfyUI's WebSocket frames, parsed by pure functions into one [`Frame`] type.
//!
//! Text frames are JSON `{"type": …, "data": …}`; unknown types are ignored (the server adds
//! new ones). Binary frames are *never* JSON: a big-endian u32 event type first, then
//! type 1 (`u32` image format, image bytes: a preview without metadata), type 3 (progress
//! text, ignored) or type 4 (`u32` metadata length, metadata JSON naming the `prompt_id`,
//! image bytes: a preview with metadata, what we get after sending `feature_flags`). A frame
//! that does not parse is an error value the reader logs and skips, never a panic.

use serde::Deserialize;
use serde_json::Value;

/// One image a node saved, as `executed` and `/history` name it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ImageRef {
    pub filename: String,
    #[serde(default)]
    pub subfolder: String,
    /// `output` (SaveImage), `temp` (PreviewImage) or `input`.
    #[serde(default, rename = "type")]
    pub kind: String,
}

/// What the engine said, reduced to what a job needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `status`: prompts queued or running on the whole server.
    Status { queue_remaining: Option<u32> },
    /// `execution_start` or `execution_cached`: the prompt left the queue.
    Started { prompt_id: String },
    /// `executing`: the node now running (`None`: the legacy "finished" signal).
    Executing { prompt_id: String, node: Option<String> },
    /// `progress`, or the running node of `progress_state` (`from_state`).
    Progress { prompt_id: String, value: u32, max: u32, from_state: bool },
    /// `executed`: a node's UI output (the images it saved).
    Executed { prompt_id: String, images: Vec<ImageRef> },
    /// `execution_success`: the reliable "done".
    Success { prompt_id: String },
    /// `execution_error`.
    Failed { prompt_id: String, message: String, exception_type: String, node_type: String, node_id: String },
    /// `execution_interrupted` (broadcast to every socket).
    Interrupted { prompt_id: String },
    /// A preview image; type 4 names its prompt, type 1 does not (it belongs to the running one).
    Preview { prompt_id: Option<String>, image: Vec<u8> },
    /// Anything else (`feature_flags`, `progress_text`, types we do not use).
    Ignored,
}

impl Frame {
    /// The prompt a frame belongs to, when it says.
    pub fn prompt_id(&self) -> Option<&str> {
        match self {
            Self::Started { prompt_id }
            | Self::Executing { prompt_id, .. }
            | Self::Progress { prompt_id, .. }
            | Self::Executed { prompt_id, .. }
            | Self::Success { prompt_id }
            | Self::Failed { prompt_id, .. }
            | Self::Interrupted { prompt_id } => Some(prompt_id),
            Self::Preview { prompt_id, .. } => prompt_id.as_deref(),
            Self::Status { .. } | Self::Ignored => None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FrameError {
    #[error("unreadable JSON frame: {0}")]
    Json(String),
    #[error("binary frame too short ({0} bytes)")]
    Short(usize),
    #[error("binary preview metadata runs past the frame ({len} bytes declared, {available} left)")]
    Metadata { len: usize, available: usize },
    #[error("unreadable binary preview metadata: {0}")]
    MetadataJson(String),
    #[error("unknown binary event type {0}")]
    UnknownType(u32),
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Value,
}

#[derive(Deserialize)]
struct PromptData {
    prompt_id: String,
}

#[derive(Deserialize)]
struct ExecutingData {
    prompt_id: Option<String>,
    node: Option<String>,
}

#[derive(Deserialize)]
struct ProgressData {
    prompt_id: String,
    value: f64,
    max: f64,
}

#[derive(Deserialize)]
struct ProgressStateData {
    prompt_id: String,
    #[serde(default)]
    nodes: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
struct NodeState {
    #[serde(default)]
    value: f64,
    #[serde(default)]
    max: f64,
    #[serde(default)]
    state: String,
}

#[derive(Deserialize)]
struct ExecutedData {
    prompt_id: String,
    #[serde(default)]
    output: Option<ExecutedOutput>,
}

#[derive(Deserialize, Default)]
struct ExecutedOutput {
    #[serde(default)]
    images: Vec<ImageRef>,
}

#[derive(Deserialize)]
struct ErrorData {
    prompt_id: String,
    #[serde(default)]
    exception_message: String,
    #[serde(default)]
    exception_type: String,
    #[serde(default)]
    node_type: String,
    #[serde(default)]
    node_id: Value,
}

#[derive(Deserialize)]
struct PreviewMetadata {
    prompt_id: Option<String>,
}

fn data<T: serde::de::DeserializeOwned>(data: Value) -> Result<T, FrameError> {
    serde_json::from_value(data).map_err(|e| FrameError::Json(e.to_string()))
}

/// Counters are floats in `progress_state`; a negative or absurd one becomes 0.
fn count(x: f64) -> u32 {
    if x.is_finite() && x > 0.0 {
        x.round().min(f64::from(u32::MAX)) as u32
    } else {
        0
    }
}

/// Parses one text frame.
pub fn parse_text(text: &str) -> Result<Frame, FrameError> {
    let envelope: Envelope = serde_json::from_str(text).map_err(|e| FrameError::Json(e.to_string()))?;
    Ok(match envelope.kind.as_str() {
        "status" => {
            let remaining = envelope.data.pointer("/status/exec_info/queue_remaining").and_then(Value::as_u64);
            Frame::Status { queue_remaining: remaining.map(|n| u32::try_from(n).unwrap_or(u32::MAX)) }
        }
        "execution_start" | "execution_cached" => {
            Frame::Started { prompt_id: data::<PromptData>(envelope.data)?.prompt_id }
        }
        "executing" => match data::<ExecutingData>(envelope.data)? {
            ExecutingData { prompt_id: Some(prompt_id), node } => Frame::Executing { prompt_id, node },
            // Very old servers sent `executing` without a prompt id: nothing to route.
            ExecutingData { prompt_id: None, .. } => Frame::Ignored,
        },
        "progress" => {
            let p: ProgressData = data(envelope.data)?;
            Frame::Progress { prompt_id: p.prompt_id, value: count(p.value), max: count(p.max), from_state: false }
        }
        "progress_state" => {
            let p: ProgressStateData = data(envelope.data)?;
            // The node that is really counting: running, past its first step, the longest count
            // (a subgraph's parent and a loader sit at 0 of 1).
            let running = p
                .nodes
                .into_values()
                .filter_map(|n| serde_json::from_value::<NodeState>(n).ok())
                .filter(|n| n.state == "running" && count(n.value) >= 1 && count(n.max) >= 1)
                .max_by_key(|n| count(n.max));
            match running {
                Some(n) => Frame::Progress {
                    prompt_id: p.prompt_id,
                    value: count(n.value),
                    max: count(n.max),
                    from_state: true,
                },
                None => Frame::Ignored,
            }
        }
        "executed" => {
            let e: ExecutedData = data(envelope.data)?;
            Frame::Executed { prompt_id: e.prompt_id, images: e.output.unwrap_or_default().images }
        }
        "execution_success" => Frame::Success { prompt_id: data::<PromptData>(envelope.data)?.prompt_id },
        "execution_error" => {
            let e: ErrorData = data(envelope.data)?;
            let node_id = match e.node_id {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            Frame::Failed {
                prompt_id: e.prompt_id,
                message: e.exception_message.trim().to_string(),
                exception_type: e.exception_type,
                node_type: e.node_type,
                node_id,
            }
        }
        "execution_interrupted" => Frame::Interrupted { prompt_id: data::<PromptData>(envelope.data)?.prompt_id },
        _ => Frame::Ignored,
    })
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let word: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(word))
}

/// Parses one binary frame.
pub fn parse_binary(bytes: &[u8]) -> Result<Frame, FrameError> {
    let kind = be_u32(bytes, 0).ok_or(FrameError::Short(bytes.len()))?;
    match kind {
        // PREVIEW_IMAGE: format (1 JPEG, 2 PNG), then the image.
        1 => {
            if bytes.len() < 8 {
                return Err(FrameError::Short(bytes.len()));
            }
            Ok(Frame::Preview { prompt_id: None, image: bytes[8..].to_vec() })
        }
        // UNENCODED_PREVIEW_IMAGE is server-internal; TEXT is a node's progress text.
        2 | 3 => Ok(Frame::Ignored),
        // PREVIEW_IMAGE_WITH_METADATA: metadata length, metadata JSON, image.
        4 => {
            let len = be_u32(bytes, 4).ok_or(FrameError::Short(bytes.len()))? as usize;
            let available = bytes.len() - 8;
            let metadata = bytes.get(8..8usize.saturating_add(len)).ok_or(FrameError::Metadata { len, available })?;
            let meta: PreviewMetadata =
                serde_json::from_slice(metadata).map_err(|e| FrameError::MetadataJson(e.to_string()))?;
            Ok(Frame::Preview { prompt_id: meta.prompt_id, image: bytes[8 + len..].to_vec() })
        }
        other => Err(FrameError::UnknownType(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary(kind: u32, second: u32, rest: &[u8]) -> Vec<u8> {
        let mut out = kind.to_be_bytes().to_vec();
        out.extend(second.to_be_bytes());
        out.extend(rest);
        out
    }

    #[test]
    fn a_preview_with_metadata_names_its_prompt() {
        let meta = br#"{"node_id":"3","prompt_id":"p-1","display_node_id":"3","parent_node_id":null,"real_node_id":"3","image_type":"image/jpeg"}"#;
        let mut rest = meta.to_vec();
        rest.extend([0xFF, 0xD8, 0xFF]);
        let frame = parse_binary(&binary(4, meta.len() as u32, &rest));
        assert_eq!(frame, Ok(Frame::Preview { prompt_id: Some("p-1".into()), image: vec![0xFF, 0xD8, 0xFF] }));
    }

    #[test]
    fn a_preview_without_metadata_has_no_prompt() {
        let frame = parse_binary(&binary(1, 2, &[0x89, b'P', b'N', b'G']));
        assert_eq!(frame, Ok(Frame::Preview { prompt_id: None, image: vec![0x89, b'P', b'N', b'G'] }));
    }

    #[test]
    fn progress_text_is_ignored() {
        assert_eq!(parse_binary(&binary(3, 1, b"3hello")), Ok(Frame::Ignored));
    }

    #[test]
    fn broken_binary_frames_are_errors_not_panics() {
        assert_eq!(parse_binary(&[0, 0]), Err(FrameError::Short(2)));
        assert_eq!(parse_binary(&[0, 0, 0, 1, 0]), Err(FrameError::Short(5)));
        assert_eq!(parse_binary(&[0, 0, 0, 4, 0]), Err(FrameError::Short(5)));
        assert_eq!(parse_binary(&binary(4, 100, b"{}")), Err(FrameError::Metadata { len: 100, available: 2 }));
        assert_eq!(
            parse_binary(&binary(4, u32::MAX, b"{}")),
            Err(FrameError::Metadata { len: u32::MAX as usize, available: 2 })
        );
        assert!(matches!(parse_binary(&binary(4, 3, b"not json")), Err(FrameError::MetadataJson(_))));
        assert_eq!(parse_binary(&binary(9, 0, b"")), Err(FrameError::UnknownType(9)));
    }

    #[test]
    fn status_gives_the_queue_length() {
        let text = r#"{"type":"status","data":{"status":{"exec_info":{"queue_remaining":3}},"sid":"abc"}}"#;
        assert_eq!(parse_text(text), Ok(Frame::Status { queue_remaining: Some(3) }));
        assert_eq!(parse_text(r#"{"type":"status","data":{}}"#), Ok(Frame::Status { queue_remaining: None }));
    }

    #[test]
    fn execution_events_carry_their_prompt() {
        let start = r#"{"type":"execution_start","data":{"prompt_id":"p","timestamp":1}}"#;
        assert_eq!(parse_text(start), Ok(Frame::Started { prompt_id: "p".into() }));
        let cached = r#"{"type":"execution_cached","data":{"nodes":["4"],"prompt_id":"p","timestamp":1}}"#;
        assert_eq!(parse_text(cached), Ok(Frame::Started { prompt_id: "p".into() }));
        let executing = r#"{"type":"executing","data":{"node":"3","display_node":"3","prompt_id":"p"}}"#;
        assert_eq!(parse_text(executing), Ok(Frame::Executing { prompt_id: "p".into(), node: Some("3".into()) }));
        let done = r#"{"type":"executing","data":{"node":null,"prompt_id":"p"}}"#;
        assert_eq!(parse_text(done), Ok(Frame::Executing { prompt_id: "p".into(), node: None }));
        let success = r#"{"type":"execution_success","data":{"prompt_id":"p","timestamp":2}}"#;
        assert_eq!(parse_text(success), Ok(Frame::Success { prompt_id: "p".into() }));
        let interrupted = r#"{"type":"execution_interrupted","data":{"prompt_id":"p","node_id":"3","node_type":"KSampler","executed":[]}}"#;
        assert_eq!(parse_text(interrupted), Ok(Frame::Interrupted { prompt_id: "p".into() }));
    }

    #[test]
    fn progress_counts_steps() {
        let text = r#"{"type":"progress","data":{"value":3,"max":20,"prompt_id":"p","node":"3"}}"#;
        assert_eq!(
            parse_text(text),
            Ok(Frame::Progress { prompt_id: "p".into(), value: 3, max: 20, from_state: false })
        );
    }

    #[test]
    fn progress_state_takes_the_running_sampler() {
        let text = r#"{"type":"progress_state","data":{"prompt_id":"p","nodes":{
            "4":{"value":1.0,"max":1.0,"state":"finished","node_id":"4","prompt_id":"p"},
            "9":{"value":0.0,"max":1.0,"state":"running","node_id":"9","prompt_id":"p"},
            "3":{"value":7.0,"max":20.0,"state":"running","node_id":"3","prompt_id":"p"}}}}"#;
        assert_eq!(
            parse_text(text),
            Ok(Frame::Progress { prompt_id: "p".into(), value: 7, max: 20, from_state: true })
        );
        let idle =
            r#"{"type":"progress_state","data":{"prompt_id":"p","nodes":{"4":{"value":0,"max":1,"state":"running"}}}}"#;
        assert_eq!(parse_text(idle), Ok(Frame::Ignored));
    }

    #[test]
    fn executed_lists_saved_images() {
        let text = r#"{"type":"executed","data":{"node":"9","display_node":"9","output":{"images":[{"filename":"easel_00001_.png","subfolder":"","type":"output"}]},"prompt_id":"p"}}"#;
        let image = ImageRef { filename: "easel_00001_.png".into(), subfolder: String::new(), kind: "output".into() };
        assert_eq!(parse_text(text), Ok(Frame::Executed { prompt_id: "p".into(), images: vec![image] }));
    }

    #[test]
    fn execution_error_keeps_the_engines_words() {
        let text = r#"{"type":"execution_error","data":{"prompt_id":"p","node_id":"3","node_type":"KSampler","executed":[],"exception_message":"Allocation on device \n","exception_type":"torch.OutOfMemoryError","traceback":[],"current_inputs":{},"current_outputs":{}}}"#;
        let Ok(Frame::Failed { message, exception_type, node_type, node_id, .. }) = parse_text(text) else {
            panic!("a failure")
        };
        assert_eq!(
            (message.as_str(), exception_type.as_str(), node_type.as_str(), node_id.as_str()),
            ("Allocation on device", "torch.OutOfMemoryError", "KSampler", "3")
        );
    }

    #[test]
    fn unknown_and_broken_text_frames() {
        assert_eq!(
            parse_text(r#"{"type":"feature_flags","data":{"supports_preview_metadata":true}}"#),
            Ok(Frame::Ignored)
        );
        assert_eq!(parse_text(r#"{"type":"crystools.monitor","data":{"cpu":3}}"#), Ok(Frame::Ignored));
        assert!(parse_text("not json").is_err());
        assert!(parse_text(r#"{"type":"progress","data":{"value":"x"}}"#).is_err());
    }
}
