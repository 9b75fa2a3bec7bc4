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

/// How the model is asked to decide a message the rules found ambiguous.
pub const CLASSIFY_PROMPT: &str = "Decide whether the user's last message asks you to make a picture. If it \
does, answer exactly `image: ` followed by a short description of the picture to make, using the conversation \
for context. If it does not, answer exactly `none`.";

/// The model's decision: the picture to make, if it says one was asked for.
pub fn parse_classification(answer: &str) -> Option<String> {
    let answer = answer.trim().trim_matches('`');
    let prompt = answer.strip_prefix("image:").or_else(|| answer.strip_prefix("Image:"))?.trim();
    (!prompt.is_empty()).then(|| prompt.chars().take(400).collect())
}

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

    /// Asks the model whether `conversation`'s last message wants a picture; `None` for no
    /// (or when the model cannot answer: the message is then treated as text).
    pub async fn classify(&self, conversation: &[(Speaker, String)]) -> Option<String> {
        let mut asked = vec![(Speaker::System, CLASSIFY_PROMPT.to_string())];
        asked.extend(conversation.iter().filter(|(who, _)| *who != Speaker::System).cloned());
        let (tx, _rx) = mpsc::channel(64);
        match self.reply(&asked, tx).await {
            Ok(answer) => parse_classification(&answer),
            Err(e) => {
                tracing::warn!(model = self.model(), error = %e, "the chat model could not classify a message");
                None
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifications_are_read_leniently_and_bounded() {
        assert_eq!(parse_classification("image: a shark in a bathtub").as_deref(), Some("a shark in a bathtub"));
        assert_eq!(parse_classification(" `Image: a fox` ").as_deref(), Some("a fox"));
        assert_eq!(parse_classification("none"), None);
        assert_eq!(parse_classification("image:   "), None);
        assert_eq!(parse_classification(&format!("image: {}", "x".repeat(1000))).map(|p| p.len()), Some(400));
    }
}
