//! An optional language model for ordinary messages (`CHAT_MODEL`): any server that speaks
//! OpenAI's chat completions (`POST {base}/chat/completions`, `stream: true`). Tokens are
//! handed over as they arrive, so the reply grows in every tab while it is written.

use std::time::Duration;

use serde::Deserialize;
use tokio::sync::mpsc;

use crate::providers::sse::SseParser;

#[derive(Clone)]
pub struct ChatModelSettings {
    /// Sent as a bearer token; never logged.
    pub api_key: String,
    pub base_url: String,
    pub model: String,
    /// Deadline for the whole reply.
    pub timeout: Duration,
}

impl std::fmt::Debug for ChatModelSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatModelSettings")
            .field("api_key", &if self.api_key.is_empty() { "(none)" } else { "(set)" })
            .field("base_url", &self.base_url)
            .field("model", &self.model)
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

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Delta,
}

#[derive(Deserialize, Default)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

pub struct ChatModel {
    http: reqwest::Client,
    settings: ChatModelSettings,
}

/// What Easel's assistant is, for the model.
pub const SYSTEM_PROMPT: &str = "You are Easel, the assistant of a chat app that makes images. Answer briefly \
and helpfully in plain text. You cannot see images; an earlier image appears as [image: its prompt]. When the \
user would like a picture, tell them to ask for it plainly (for example \"draw me a lighthouse at dusk\") and \
that they can change the last image by saying what to change.";

impl ChatModel {
    pub fn new(settings: ChatModelSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(10)).build()?;
        Ok(Self { http, settings })
    }

    pub fn model(&self) -> &str {
        &self.settings.model
    }

    /// Streams a reply to `conversation` (oldest first): each piece of text goes to `pieces`
    /// as it arrives; the whole reply is returned at the end.
    pub async fn reply(
        &self,
        conversation: &[(Speaker, String)],
        pieces: mpsc::Sender<String>,
    ) -> Result<String, ChatModelError> {
        tokio::time::timeout(self.settings.timeout, self.stream(conversation, pieces))
            .await
            .unwrap_or(Err(ChatModelError::Timeout))
    }

    async fn stream(
        &self,
        conversation: &[(Speaker, String)],
        pieces: mpsc::Sender<String>,
    ) -> Result<String, ChatModelError> {
        let messages: Vec<serde_json::Value> = conversation
            .iter()
            .map(|(who, text)| serde_json::json!({ "role": who.as_str(), "content": text }))
            .collect();
        let body = serde_json::json!({ "model": self.settings.model, "messages": messages, "stream": true });
        let url = format!("{}/chat/completions", self.settings.base_url.trim_end_matches('/'));
        let mut request = self.http.post(url).json(&body);
        if !self.settings.api_key.is_empty() {
            request = request.bearer_auth(&self.settings.api_key);
        }
        let response = request.send().await.map_err(|e| ChatModelError::Network(e.to_string()))?;
        if !response.status().is_success() {
            return Err(ChatModelError::Status(response.status().as_u16()));
        }
        let mut response = response;
        let mut parser = SseParser::default();
        let mut whole = String::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| ChatModelError::Network(e.to_string()))? {
            for event in parser.push(&chunk) {
                if event.data.trim() == "[DONE]" {
                    return Ok(whole);
                }
                let parsed: Chunk =
                    serde_json::from_str(&event.data).map_err(|e| ChatModelError::BadResponse(e.to_string()))?;
                let piece: String = parsed.choices.into_iter().filter_map(|c| c.delta.content).collect();
                if !piece.is_empty() {
                    whole.push_str(&piece);
                    // A reader that went away does not stop the reply from being stored.
                    let _ = pieces.send(piece).await;
                }
            }
        }
        Ok(whole)
    }
}
