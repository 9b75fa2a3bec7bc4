//! The chat model's answer to an ordinary message: an empty assistant message is added at
//! once, every piece of text is published to the user's tabs as it streams, and the whole
//! text is stored and announced when the model is done. A failure becomes a plain sentence
//! in the same message, so nothing is left hanging.

use std::sync::Arc;

use app::protocol::*;
use tokio::sync::mpsc;

use super::{Chat, ChatError};
use crate::assistant::{self, Turn};
use crate::chat_model::{ChatModel, Speaker, SYSTEM_PROMPT};
use crate::jobs::JobRequest;
use crate::store::NewMessage;

/// What the tab shows when the model could not answer.
const NO_ANSWER: &str = "I couldn't answer just now. Please try again in a moment.";

/// The conversation as the model reads it: the system prompt, the turns, the message.
fn conversation(turns: &[Turn], message: &str) -> Vec<(Speaker, String)> {
    let mut conversation = vec![(Speaker::System, SYSTEM_PROMPT.to_string())];
    conversation.extend(turns.iter().map(|t| {
        let who = if t.role == Role::User { Speaker::User } else { Speaker::Assistant };
        (who, t.text.clone())
    }));
    conversation.push((Speaker::User, message.to_string()));
    conversation
}

impl Chat {
    /// The model's turn, in its own task so the socket is not held up: a message the rules
    /// found ambiguous but that talks about pictures is first put to the model as a question
    /// (image or not); an image it asks for is made, anything else is answered in text.
    pub(super) fn model_turn(&self, model: Arc<ChatModel>, user: UserId, message: ChatMessage, turns: Vec<Turn>) {
        let chat = self.clone();
        tokio::spawn(async move {
            let result = async {
                if assistant::intent::maybe_image(&message.text) {
                    if let Some(prompt) = model.classify(&conversation(&turns, &message.text)).await {
                        let enhanced = assistant::prompt::styled(&turns, &message.text, &prompt);
                        let request = JobRequest { prompt: &message.text, enhanced: &enhanced, refines: None };
                        return chat.start_image(user, message.thread_id, &request).await;
                    }
                }
                chat.start_model_reply(model, user, &message, &turns).await
            };
            if let Err(e) = result.await {
                tracing::error!(error = %e, "the assistant could not answer");
            }
        });
    }

    /// Starts the model's reply to `message` in its thread, after `turns`.
    pub(super) async fn start_model_reply(
        &self,
        model: Arc<ChatModel>,
        user: UserId,
        message: &ChatMessage,
        turns: &[Turn],
    ) -> Result<(), ChatError> {
        let new = NewMessage { user, thread: message.thread_id, client_id: None, role: Role::Assistant, text: "" };
        let Some((reply, _)) = self.store.add_message(new).await? else { return Ok(()) };
        self.hub.publish(user, ServerMsg::MessageAdded(MessageAdded { message: reply.clone() }));
        let conversation = conversation(turns, &message.text);
        let chat = self.clone();
        tokio::spawn(async move { chat.stream_reply(model, user, reply, conversation).await });
        Ok(())
    }

    async fn stream_reply(
        &self,
        model: Arc<ChatModel>,
        user: UserId,
        reply: ChatMessage,
        conversation: Vec<(Speaker, String)>,
    ) {
        let (tx, mut pieces) = mpsc::channel::<String>(64);
        let call = model.reply(&conversation, tx);
        tokio::pin!(call);
        let publish = |delta: String| {
            let d = AssistantDelta { thread_id: reply.thread_id, message_id: reply.id, delta };
            self.hub.publish(user, ServerMsg::AssistantDelta(d));
        };
        let result = loop {
            tokio::select! {
                Some(piece) = pieces.recv() => publish(piece),
                result = &mut call => break result,
            }
        };
        while let Ok(piece) = pieces.try_recv() {
            publish(piece);
        }
        let text = match result {
            Ok(text) if !text.trim().is_empty() => text,
            Ok(_) => NO_ANSWER.to_string(),
            Err(e) => {
                tracing::warn!(model = model.model(), error = %e, "the chat model could not answer");
                NO_ANSWER.to_string()
            }
        };
        match self.store.set_message_text(user, reply.id, &text).await {
            Ok(Some(message)) => drop(self.hub.publish(user, ServerMsg::MessageUpdated(MessageUpdated { message }))),
            Ok(None) => {} // the thread was deleted meanwhile
            Err(e) => tracing::error!(error = %e, "a chat model reply could not be stored"),
        }
    }
}
