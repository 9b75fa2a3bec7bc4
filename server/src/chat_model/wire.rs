//! Chat completions as they travel: the request body, and the streamed chunks put back
//! together. Text arrives in `delta.content`; a tool call arrives in pieces under
//! `delta.tool_calls`, keyed by `index`, its id and name in the first piece and its JSON
//! arguments spread over the rest; the token count comes last, in a chunk with no choices,
//! when `stream_options.include_usage` is asked for. Pure, so the assembly is tested without
//! a server.

use serde::Deserialize;

use super::Speaker;

/// Arguments longer than this are not a prompt; the call is dropped as unreadable.
pub const MAX_ARGUMENT_BYTES: usize = 16 * 1024;
/// Tool calls kept from one reply (the first usable one is acted on).
pub const MAX_CALLS: usize = 4;

/// One chunk of the stream.
#[derive(Debug, Deserialize)]
pub struct Chunk {
    #[serde(default)]
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub usage: Option<ReportedUsage>,
    /// A server may report an error in the middle of a stream.
    #[serde(default)]
    pub error: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct Choice {
    #[serde(default)]
    pub delta: Delta,
    /// `stop`, `length`, `tool_calls`, `content_filter`; null until the last chunk.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct Delta {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Debug, Deserialize)]
pub struct ToolCallDelta {
    #[serde(default)]
    pub index: Option<usize>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub function: Option<FunctionDelta>,
}

#[derive(Debug, Deserialize)]
pub struct FunctionDelta {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
}

/// Token counts as the server reports them (either may be missing or null).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub struct ReportedUsage {
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
}

/// No reply is counted as more than this many tokens each way, whatever a server reports, so
/// the ledger's sums cannot overflow.
pub const MAX_REPORTED_TOKENS: u64 = 10_000_000;

impl ReportedUsage {
    pub fn tokens(&self) -> TokenUsage {
        TokenUsage {
            prompt_tokens: self.prompt_tokens.unwrap_or(0).min(MAX_REPORTED_TOKENS),
            completion_tokens: self.completion_tokens.unwrap_or(0).min(MAX_REPORTED_TOKENS),
        }
    }
}

/// Tokens a reply used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl TokenUsage {
    pub fn total(&self) -> u64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }
}

/// A tool call as the model wrote it, put together from its pieces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
    /// Its arguments grew past [`MAX_ARGUMENT_BYTES`]; they were cut and are not to be read.
    pub overflowed: bool,
}

/// Puts streamed tool calls back together. Most servers number parallel calls by `index`;
/// some (Ollama's compatible endpoint) send every call at index 0 and tell them apart only
/// by a new id, which opens a new call here.
#[derive(Debug, Default)]
pub struct CallAssembler {
    calls: Vec<RawCall>,
    /// The server's index of each call in `calls`.
    indices: Vec<usize>,
}

impl CallAssembler {
    pub fn push(&mut self, delta: ToolCallDelta) {
        let index = delta.index.unwrap_or(0);
        let id = delta.id.filter(|id| !id.is_empty());
        let current = self.indices.iter().rposition(|&i| i == index);
        let slot = match (current, &id) {
            (Some(at), Some(id)) if !self.calls[at].id.is_empty() && self.calls[at].id != *id => None,
            (Some(at), _) => Some(at),
            (None, _) => None,
        };
        let slot = match slot {
            Some(at) => at,
            None if self.calls.len() < MAX_CALLS => {
                self.calls.push(RawCall::default());
                self.indices.push(index);
                self.calls.len() - 1
            }
            None => return,
        };
        let call = &mut self.calls[slot];
        if let Some(id) = id {
            call.id = id;
        }
        if let Some(function) = delta.function {
            if let Some(name) = function.name.filter(|n| !n.is_empty()) {
                call.name = name.chars().take(64).collect();
            }
            if let Some(piece) = function.arguments {
                if call.arguments.len() + piece.len() > MAX_ARGUMENT_BYTES {
                    call.overflowed = true;
                } else if !call.overflowed {
                    call.arguments.push_str(&piece);
                }
            }
        }
    }

    pub fn finish(self) -> Vec<RawCall> {
        self.calls.into_iter().filter(|c| !c.name.is_empty()).collect()
    }
}

/// The request body: the conversation, streamed, with the token count at the end; the tools
/// when the model may make pictures.
pub fn request_body(
    model: &str,
    conversation: &[(Speaker, String)],
    tools: Option<serde_json::Value>,
    max_reply_tokens: u32,
) -> serde_json::Value {
    let messages: Vec<serde_json::Value> =
        conversation.iter().map(|(who, text)| serde_json::json!({ "role": who.as_str(), "content": text })).collect();
    let mut body = serde_json::json!({
        "model": model,
        "messages": messages,
        "stream": true,
        "stream_options": { "include_usage": true },
        "max_completion_tokens": max_reply_tokens,
    });
    if let Some(tools) = tools {
        body["tools"] = tools;
        body["tool_choice"] = "auto".into();
        body["parallel_tool_calls"] = false.into();
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(json: serde_json::Value) -> ToolCallDelta {
        serde_json::from_value(json).expect("a tool call delta")
    }

    #[test]
    fn arguments_in_pieces_are_joined_by_index() {
        let mut calls = CallAssembler::default();
        calls.push(delta(serde_json::json!({"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "generate_image", "arguments": ""}})));
        calls.push(delta(serde_json::json!({"index": 0, "function": {"arguments": "{\"prompt\": \"a li"}})));
        calls.push(delta(serde_json::json!({"index": 0, "function": {"arguments": "ghthouse\"}"}})));
        let done = calls.finish();
        assert_eq!(done.len(), 1);
        assert_eq!(
            (done[0].name.as_str(), done[0].arguments.as_str()),
            ("generate_image", "{\"prompt\": \"a lighthouse\"}")
        );
        assert_eq!(done[0].id, "call_1");
    }

    #[test]
    fn a_new_id_at_a_used_index_is_a_new_call() {
        let mut calls = CallAssembler::default();
        calls.push(delta(
            serde_json::json!({"index": 0, "id": "a", "function": {"name": "generate_image", "arguments": "{}"}}),
        ));
        calls.push(delta(
            serde_json::json!({"index": 0, "id": "b", "function": {"name": "edit_last_image", "arguments": "{}"}}),
        ));
        calls.push(delta(serde_json::json!({"index": 1, "id": "c", "function": {"name": "generate_image"}})));
        let names: Vec<String> = calls.finish().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["generate_image", "edit_last_image", "generate_image"]);
    }

    #[test]
    fn calls_and_arguments_are_bounded() {
        let mut calls = CallAssembler::default();
        for i in 0..10 {
            calls.push(delta(
                serde_json::json!({"index": i, "id": format!("c{i}"), "function": {"name": "generate_image"}}),
            ));
        }
        let big = "x".repeat(MAX_ARGUMENT_BYTES);
        calls.push(delta(serde_json::json!({"index": 0, "function": {"arguments": "{"}})));
        calls.push(delta(serde_json::json!({"index": 0, "function": {"arguments": big}})));
        calls.push(delta(serde_json::json!({"index": 0, "function": {"arguments": "}"}})));
        let done = calls.finish();
        assert_eq!(done.len(), MAX_CALLS);
        assert!(done[0].overflowed && done[0].arguments.len() <= MAX_ARGUMENT_BYTES);
        assert!(!done[1].overflowed);
    }

    #[test]
    fn a_call_without_a_name_is_dropped() {
        let mut calls = CallAssembler::default();
        calls.push(delta(serde_json::json!({"index": 0, "function": {"arguments": "{}"}})));
        assert!(calls.finish().is_empty());
    }

    #[test]
    fn the_usage_chunk_has_no_choices() {
        let chunk: Chunk = serde_json::from_str(
            r#"{"choices":[],"usage":{"prompt_tokens":120,"completion_tokens":30,"total_tokens":150}}"#,
        )
        .expect("chunk");
        assert_eq!(chunk.usage.map(|u| u.tokens().total()), Some(150));
        let odd: Chunk = serde_json::from_str(
            r#"{"choices":[],"usage":{"prompt_tokens":null,"completion_tokens":18446744073709551615}}"#,
        )
        .expect("chunk");
        assert_eq!(
            odd.usage.map(|u| u.tokens()),
            Some(TokenUsage { prompt_tokens: 0, completion_tokens: MAX_REPORTED_TOKENS })
        );
    }

    #[test]
    fn tools_are_offered_only_when_given() {
        let conversation = [(Speaker::User, "hi".to_string())];
        let plain = request_body("m", &conversation, None, 500);
        assert!(plain.get("tools").is_none());
        assert_eq!(plain["stream_options"]["include_usage"], true);
        let with = request_body("m", &conversation, Some(serde_json::json!([])), 500);
        assert_eq!((with["tool_choice"].as_str(), with["max_completion_tokens"].as_u64()), (Some("auto"), Some(500)));
    }
}
