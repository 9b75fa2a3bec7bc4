//! An optional language model (`CHAT_MODEL`): any server that speaks OpenAI's chat
//! completions (`POST {base}/chat/completions`, `stream: true`). It answers ordinary
//! messages and, offered the image tools ([`tools`]), decides whether a message the rules are
//! not sure of wants a picture. Text is handed over as it arrives, so the reply grows in every
//! tab while it is written; tool calls are put together from their pieces ([`wire`]).

pub mod tools;
pub mod wire;

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::providers::pricing::dollars_to_micros;
use crate::providers::sse::SseParser;
pub use tools::{ImageCall, ImageTool, ToolError};
pub use wire::{RawCall, TokenUsage};

/// Bytes a reply may stream before it is taken for a broken server.
const MAX_STREAM_BYTES: usize = 4 * 1024 * 1024;

/// Micro-dollars per million tokens, in and out (`CHAT_TOKEN_PRICES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenRates {
    pub input: i64,
    pub output: i64,
}

impl TokenRates {
    /// Reads `input=0.15,output=0.6` (dollars per million tokens).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut rates = Self::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').ok_or_else(|| format!("`{part}` is not name=value"))?;
            let micros = dollars_to_micros(value, "a price in dollars per million tokens")?;
            match name.trim() {
                "input" => rates.input = micros,
                "output" => rates.output = micros,
                other => return Err(format!("unknown price `{other}` (input, output)")),
            }
        }
        Ok(rates)
    }

    /// What `usage` cost, in micro-dollars (rounded up; saturating, never overflowing).
    pub fn cost_micros(&self, usage: TokenUsage) -> i64 {
        let part = |tokens: u64, rate: i64| {
            let tokens = i128::from(tokens);
            let micros = (tokens * i128::from(rate.max(0)) + 999_999) / 1_000_000;
            i64::try_from(micros).unwrap_or(i64::MAX)
        };
        part(usage.prompt_tokens, self.input).saturating_add(part(usage.completion_tokens, self.output))
    }
}

#[derive(Clone)]
pub struct ChatModelSettings {
    /// Sent as a bearer token; never logged.
    pub api_key: String,
    pub base_url: String,
    pub model: String,
    /// Deadline for the whole reply.
    pub timeout: Duration,
    /// Deadline for the first word or tool call; past it the local classifier decides.
    pub first_token_timeout: Duration,
    /// Tokens a reply may write (`max_completion_tokens`), which bounds how far one reply can
    /// overrun a user's budget.
    pub max_reply_tokens: u32,
    pub rates: TokenRates,
    /// Calls at once, for everyone (K1): past it a message waits for a free call until its
    /// first-token deadline, then the local classifier answers.
    pub max_concurrent: usize,
}

impl ChatModelSettings {
    /// Settings with the defaults for everything but where the model is.
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            base_url: base_url.into(),
            model: model.into(),
            timeout: Duration::from_secs(60),
            first_token_timeout: Duration::from_secs(15),
            max_reply_tokens: 800,
            rates: TokenRates::default(),
            max_concurrent: 16,
        }
    }
}

impl std::fmt::Debug for ChatModelSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatModelSettings")
            .field("api_key", &if self.api_key.is_empty() { "(none)" } else { "(set)" })
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .field("first_token_timeout", &self.first_token_timeout)
            .field("max_reply_tokens", &self.max_reply_tokens)
            .field("max_concurrent", &self.max_concurrent)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChatModelError {
    #[error("the chat model answered HTTP {0}")]
    Status(u16),
    #[error("network error: {0}")]
    Network(String),
    #[error("the chat model took too long")]
    Timeout,
    /// Every call the server allows at once was taken for the whole wait.
    #[error("all {0} chat model calls were busy")]
    Busy(usize),
    #[error("unreadable chat model stream: {0}")]
    BadResponse(String),
}

/// Who said a line of the conversation sent to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    System,
    User,
    Assistant,
}

impl Speaker {
    fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// Four characters a token, rounded up.
fn tokens_in(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

/// The tokens a request for `conversation` sends, estimated (the ledger's reservation, and the
/// count of a reply the server did not meter).
pub fn estimate_prompt_tokens(conversation: &[(Speaker, String)], tools_offered: bool) -> u64 {
    let sent: usize = conversation.iter().map(|(_, t)| t.chars().count() + 4).sum::<usize>()
        + if tools_offered { tools::definitions().to_string().len() } else { 0 };
    tokens_in(sent)
}

/// What the model sent, whole or up to where it failed.
#[derive(Debug, Default)]
pub struct ModelReply {
    pub text: String,
    pub calls: Vec<RawCall>,
    /// As the server reported it (`None`: it did not, or the stream broke before the end).
    pub usage: Option<TokenUsage>,
    /// The server accepted the request (a 2xx answer): only then can it have billed.
    pub accepted: bool,
    /// The reply stopped at `max_completion_tokens` (`finish_reason: length`).
    pub truncated: bool,
    pub error: Option<ChatModelError>,
}

impl ModelReply {
    /// The reported token count, else an estimate (four characters a token, rounded up) of
    /// what was sent and what came back, so a failed or unmetered reply still counts.
    pub fn usage_or_estimate(&self, conversation: &[(Speaker, String)], tools_offered: bool) -> (TokenUsage, bool) {
        if let Some(usage) = self.usage {
            return (usage, false);
        }
        // Refused or never reached: nothing was used.
        if !self.accepted {
            return (TokenUsage::default(), false);
        }
        let received =
            self.text.chars().count() + self.calls.iter().map(|c| c.arguments.len() + c.name.len()).sum::<usize>();
        let usage = TokenUsage {
            prompt_tokens: estimate_prompt_tokens(conversation, tools_offered),
            completion_tokens: tokens_in(received),
        };
        (usage, true)
    }
}

/// What Easel's assistant is, for the model, when it answers without tools.
pub const SYSTEM_PROMPT: &str = "You are Easel, the assistant of a chat app that makes images. Answer briefly \
and helpfully in plain text. You cannot see images; an earlier image appears as [image: its prompt]. When the \
user would like a picture, tell them to ask for it plainly (for example \"draw me a lighthouse at dusk\") and \
that they can change the last image by saying what to change.";

/// The same, when it has the image tools and decides.
pub const TOOLS_PROMPT: &str = "You are Easel, the assistant of a chat app that makes images. You cannot see \
images; an earlier image of this conversation appears as [image: its prompt]. When the user wants a new picture \
made now, in any wording or language, call generate_image with a clear English prompt (when they point at an \
idea from the conversation, such as \"draw that\", write that idea out). When they want the last picture \
changed or redone (darker, add or remove something, fix a detail, another take), call edit_last_image with the \
whole revised prompt. Questions about drawing, art, photos or the app, descriptions in words, and thanks are \
answered briefly in plain text without a tool.";

pub struct ChatModel {
    http: reqwest::Client,
    settings: ChatModelSettings,
    calls: tokio::sync::Semaphore,
}

impl ChatModel {
    pub fn new(settings: ChatModelSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(10)).build()?;
        let calls = tokio::sync::Semaphore::new(settings.max_concurrent.max(1));
        Ok(Self { http, settings, calls })
    }

    pub fn model(&self) -> &str {
        &self.settings.model
    }

    pub fn rates(&self) -> TokenRates {
        self.settings.rates
    }

    pub fn max_reply_tokens(&self) -> u32 {
        self.settings.max_reply_tokens
    }

    /// Streams a reply to `conversation` (oldest first), with the image tools when `tools`:
    /// each piece of text goes to `pieces` as it arrives. Returns what arrived, with the error
    /// that ended it early, if any.
    pub async fn turn(
        &self,
        conversation: &[(Speaker, String)],
        tools: bool,
        pieces: mpsc::Sender<String>,
    ) -> ModelReply {
        let mut reply = ModelReply::default();
        let wait = tokio::time::timeout(self.settings.first_token_timeout, self.calls.acquire()).await;
        let Ok(Ok(_call)) = wait else {
            reply.error = Some(ChatModelError::Busy(self.settings.max_concurrent));
            return reply;
        };
        if let Err(e) = self.stream(conversation, tools, pieces, &mut reply).await {
            reply.error = Some(e);
        }
        reply
    }

    async fn stream(
        &self,
        conversation: &[(Speaker, String)],
        tools: bool,
        pieces: mpsc::Sender<String>,
        reply: &mut ModelReply,
    ) -> Result<(), ChatModelError> {
        let started = Instant::now();
        let end = started + self.settings.timeout;
        let first = (started + self.settings.first_token_timeout).min(end);
        let body = wire::request_body(
            &self.settings.model,
            conversation,
            tools.then(tools::definitions),
            self.settings.max_reply_tokens,
        );
        let url = format!("{}/chat/completions", self.settings.base_url.trim_end_matches('/'));
        let mut request = self.http.post(url).json(&body);
        if !self.settings.api_key.is_empty() {
            request = request.bearer_auth(&self.settings.api_key);
        }
        let mut response = tokio::time::timeout_at(first, request.send())
            .await
            .map_err(|_| ChatModelError::Timeout)?
            .map_err(|e| ChatModelError::Network(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(ChatModelError::Status(response.status().as_u16()));
        }
        reply.accepted = true;
        let mut parser = SseParser::default();
        let mut calls = wire::CallAssembler::default();
        let mut read = 0usize;
        let mut answered = false;
        let mut finished = false;
        let result = loop {
            let deadline = if answered { end } else { first };
            let chunk = match tokio::time::timeout_at(deadline, response.chunk()).await {
                Err(_) => break Err(ChatModelError::Timeout),
                Ok(Err(e)) => break Err(ChatModelError::Network(e.without_url().to_string())),
                // Ended without `[DONE]` or a finish reason: the connection was cut.
                Ok(Ok(None)) if !finished => break Err(ChatModelError::BadResponse("the stream ended early".into())),
                Ok(Ok(None)) => break Ok(()),
                Ok(Ok(Some(chunk))) => chunk,
            };
            read += chunk.len();
            if read > MAX_STREAM_BYTES {
                break Err(ChatModelError::BadResponse("the reply is too long".into()));
            }
            let mut done = false;
            for event in parser.push(&chunk) {
                if event.data.trim() == "[DONE]" {
                    done = true;
                    finished = true;
                    break;
                }
                let parsed: wire::Chunk = match serde_json::from_str(&event.data) {
                    Ok(parsed) => parsed,
                    Err(e) => return finish(reply, calls, Err(ChatModelError::BadResponse(e.to_string()))),
                };
                if let Some(error) = parsed.error {
                    let text: String = error.to_string().chars().take(200).collect();
                    return finish(
                        reply,
                        calls,
                        Err(ChatModelError::BadResponse(format!("error in the stream: {text}"))),
                    );
                }
                if let Some(usage) = parsed.usage {
                    reply.usage = Some(usage.tokens());
                }
                for choice in parsed.choices {
                    if let Some(reason) = choice.finish_reason.as_deref() {
                        finished = true;
                        reply.truncated |= reason == "length";
                    }
                    if let Some(piece) = choice.delta.content.filter(|p| !p.is_empty()) {
                        answered = true;
                        reply.text.push_str(&piece);
                        // A reader that went away does not stop the reply from being stored.
                        let _ = pieces.send(piece).await;
                    }
                    for delta in choice.delta.tool_calls.into_iter().flatten() {
                        answered = true;
                        calls.push(delta);
                    }
                }
            }
            if done {
                break Ok(());
            }
        };
        finish(reply, calls, result)
    }
}

fn finish(
    reply: &mut ModelReply,
    calls: wire::CallAssembler,
    result: Result<(), ChatModelError>,
) -> Result<(), ChatModelError> {
    reply.calls = calls.finish();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_read_and_applied_with_rounding_up() {
        let rates = TokenRates::parse("input=0.15, output=0.6").expect("prices");
        assert_eq!(rates, TokenRates { input: 150_000, output: 600_000 });
        let usage = TokenUsage { prompt_tokens: 1_000, completion_tokens: 100 };
        assert_eq!(rates.cost_micros(usage), 150 + 60);
        assert_eq!(
            rates.cost_micros(TokenUsage { prompt_tokens: 1, completion_tokens: 0 }),
            1,
            "a part of a micro-dollar rounds up"
        );
        let huge = TokenUsage { prompt_tokens: u64::MAX, completion_tokens: u64::MAX };
        assert_eq!(rates.cost_micros(huge), i64::MAX);
        assert!(TokenRates::parse("input=-1").is_err());
        assert!(TokenRates::parse("inputs=1").is_err());
        assert!(TokenRates::parse("input=NaN").is_err());
    }

    #[test]
    fn an_unmetered_reply_is_estimated() {
        let reply = ModelReply { text: "12345678".into(), accepted: true, ..ModelReply::default() };
        let conversation = [(Speaker::User, "x".repeat(40))];
        let (usage, estimated) = reply.usage_or_estimate(&conversation, false);
        assert!(estimated);
        assert_eq!(usage, TokenUsage { prompt_tokens: 11, completion_tokens: 2 });
        let refused = ModelReply { accepted: false, ..ModelReply::default() };
        assert_eq!(
            refused.usage_or_estimate(&conversation, true),
            (TokenUsage::default(), false),
            "a refusal costs nothing"
        );
        let metered = ModelReply { usage: Some(TokenUsage { prompt_tokens: 5, completion_tokens: 1 }), ..reply };
        assert_eq!(
            metered.usage_or_estimate(&conversation, true),
            (TokenUsage { prompt_tokens: 5, completion_tokens: 1 }, false)
        );
    }
}
