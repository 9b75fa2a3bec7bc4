//! The chat model's turn. For a message the rules are not certain about, the model gets the
//! thread and the image tools and decides, as ChatGPT and LibreChat do: it answers in text
//! (streamed to every tab as it is written, in a message made at its first word) or calls a
//! tool, which starts a job through the same gate and quotas as any request. A clear negative
//! is only answered, without tools. When the model fails, times out, says nothing usable or
//! the user's allowance is spent, the local decision (rules and classifier) stands instead.

use std::sync::Arc;

use app::protocol::*;
use tokio::sync::mpsc;
use tracing::Instrument;

use super::budget::Budget;
use super::options::Asked;
use super::{Chat, ChatError};
use crate::assistant::{self, offline_reply, Decision, Plan, Turn};
use crate::chat_model::{tools, ChatModel, ImageCall, ImageTool, ModelReply, Speaker, SYSTEM_PROMPT, TOOLS_PROMPT};
use crate::store::NewMessage;

/// What the tab shows when the model could not answer and there is nothing else to do.
const NO_ANSWER: &str = "I couldn't answer just now. Please try again in a moment.";
/// Added to a reply the model stopped writing.
const CUT_OFF: &str = "(The answer was cut off. Please try again.)";
/// Characters of the thread sent to the model, newest first; older turns are left out.
const CONVERSATION_BUDGET: usize = 12_000;

/// The local decision, kept for when the model cannot decide.
pub(super) struct LocalDecision {
    pub plan: Plan,
    pub last_image: Option<JobId>,
    /// The model may call the image tools (the rules are not certain).
    pub tools: bool,
}

/// The conversation as the model reads it: the system prompt, the newest turns that fit in
/// [`CONVERSATION_BUDGET`], the message.
fn conversation(turns: &[Turn], message: &str, tools: bool) -> Vec<(Speaker, String)> {
    let mut room = CONVERSATION_BUDGET.saturating_sub(message.chars().count());
    let mut kept = Vec::new();
    for t in turns.iter().rev() {
        let len = t.text.chars().count();
        if len > room {
            break;
        }
        room -= len;
        let who = if t.role == Role::User { Speaker::User } else { Speaker::Assistant };
        kept.push((who, t.text.clone()));
    }
    let system = if tools { TOOLS_PROMPT } else { SYSTEM_PROMPT };
    let mut conversation = vec![(Speaker::System, system.to_string())];
    conversation.extend(kept.into_iter().rev());
    conversation.push((Speaker::User, message.to_string()));
    conversation
}

impl Chat {
    /// Runs the model's turn in its own task, so the socket is not held up.
    pub(super) fn model_turn(
        &self,
        model: Arc<ChatModel>,
        user: UserId,
        message: ChatMessage,
        turns: Vec<Turn>,
        local: LocalDecision,
    ) {
        let chat = self.clone();
        let span =
            tracing::info_span!(parent: None, "model_turn", %user, thread = %message.thread_id, model = model.model());
        let turn = async move {
            if let Err(e) = chat.decide_with_model(&model, user, &message, &turns, &local).await {
                tracing::error!(error = %e, "the assistant could not answer");
            }
        };
        tokio::spawn(turn.instrument(span));
    }

    async fn decide_with_model(
        &self,
        model: &ChatModel,
        user: UserId,
        message: &ChatMessage,
        turns: &[Turn],
        local: &LocalDecision,
    ) -> Result<(), ChatError> {
        let exempt = match self.model_budget(user).await {
            Ok(Budget::Open { exempt }) => exempt,
            Ok(Budget::Spent(sentence)) => return self.act_locally(user, message, turns, local, Some(&sentence)).await,
            Err(e) => {
                tracing::error!(%user, error = %e, "the chat model's allowance could not be read; deciding locally");
                return self.act_locally(user, message, turns, local, None).await;
            }
        };
        let conversation = conversation(turns, &message.text, local.tools);
        let reserved = self.reserve(user, model, &conversation, local.tools, exempt).await;
        let (reply, written) = self.stream_turn(model, user, message.thread_id, &conversation, local.tools).await;
        if let Some(e) = &reply.error {
            tracing::warn!(model = model.model(), error = %e, "the chat model could not answer");
        }
        // A tool call is acted on only when the tools were offered.
        let call = if local.tools { first_usable_call(&reply) } else { None };
        let answered = self.finish_text(user, message.thread_id, written, &reply).await;
        let acted = match call {
            Some(call) => self.start_called_image(user, message, turns, local, &call).await,
            None if !answered => self.act_locally(user, message, turns, local, None).await,
            None => Ok(()),
        };
        // After the user has their answer: metering reads and writes the ledger and the gate.
        self.meter(reserved, user, model, &conversation, &reply, local.tools, exempt).await;
        acted
    }

    /// Makes the streamed text the message's final text (at most `MAX_MESSAGE_CHARS`, with a
    /// note when it was cut off); `true` when the user got an answer in words.
    async fn finish_text(
        &self,
        user: UserId,
        thread: ThreadId,
        written: Option<ChatMessage>,
        reply: &ModelReply,
    ) -> bool {
        let mut text: String = reply.text.trim().chars().take(MAX_MESSAGE_CHARS - CUT_OFF.len() - 2).collect();
        if text.is_empty() {
            return false;
        }
        if reply.error.is_some() || reply.truncated {
            text = format!("{text}\n\n{CUT_OFF}");
        }
        let Some(written) = written else {
            // The message could not be made while the text streamed: one more try, whole.
            return match self.say(user, thread, &text).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!(error = %e, "a chat model reply could not be stored");
                    false
                }
            };
        };
        match self.store.set_message_text(user, written.id, &text).await {
            Ok(Some(message)) => drop(self.hub.publish(user, ServerMsg::MessageUpdated(MessageUpdated { message }))),
            Ok(None) => {} // the thread was deleted meanwhile
            // The tabs have the text from its deltas; the next start-up closes the empty row.
            Err(e) => tracing::error!(error = %e, "a chat model reply could not be stored whole"),
        }
        true
    }

    /// Streams the model's reply; the assistant message is made at the first word that is not
    /// white space (a reply that is only a tool call makes none) and every piece is published
    /// as it arrives.
    async fn stream_turn(
        &self,
        model: &ChatModel,
        user: UserId,
        thread: ThreadId,
        conversation: &[(Speaker, String)],
        tools: bool,
    ) -> (ModelReply, Option<ChatMessage>) {
        let (tx, mut pieces) = mpsc::channel::<String>(64);
        let call = model.turn(conversation, tools, tx);
        tokio::pin!(call);
        let mut out = Outgoing::default();
        let reply = loop {
            tokio::select! {
                Some(piece) = pieces.recv() => self.publish_piece(user, thread, &mut out, piece).await,
                reply = &mut call => break reply,
            }
        };
        while let Ok(piece) = pieces.try_recv() {
            self.publish_piece(user, thread, &mut out, piece).await;
        }
        (reply, out.written)
    }

    async fn publish_piece(&self, user: UserId, thread: ThreadId, out: &mut Outgoing, piece: String) {
        out.pending.push_str(&piece);
        if out.written.is_none() {
            if out.pending.trim().is_empty() || out.gave_up {
                return;
            }
            let new = NewMessage { user, thread, client_id: None, role: Role::Assistant, text: "" };
            match self.store.add_message(new).await {
                Ok(Some((message, _))) => {
                    self.hub.publish(user, ServerMsg::MessageAdded(MessageAdded { message: message.clone() }));
                    out.written = Some(message);
                }
                Ok(None) => out.gave_up = true, // the thread was deleted meanwhile
                Err(e) => {
                    tracing::error!(error = %e, "a chat model reply could not be started; it is stored at the end");
                    out.gave_up = true;
                }
            }
        }
        if let Some(message) = &out.written {
            let delta = std::mem::take(&mut out.pending);
            let d = AssistantDelta { thread_id: thread, message_id: message.id, delta };
            self.hub.publish(user, ServerMsg::AssistantDelta(d));
        }
    }

    /// A picture the model asked for, through the gate like any other request. The user's
    /// words stay the original prompt; the model's prompt (with the thread's style) is what
    /// the provider is sent. An edit with no image in the thread is a new picture.
    async fn start_called_image(
        &self,
        user: UserId,
        message: &ChatMessage,
        turns: &[Turn],
        local: &LocalDecision,
        call: &ImageCall,
    ) -> Result<(), ChatError> {
        let style = call.style.as_deref();
        let enhanced = assistant::prompt::styled(turns, &message.text, &call.prompt, style, call.aspect);
        let refines = if call.tool == ImageTool::EditLast { local.last_image } else { None };
        let shape = call.aspect.map(|a| match a {
            assistant::Aspect::Square => AspectRatio::Square,
            assistant::Aspect::Wide => AspectRatio::Landscape,
            assistant::Aspect::Tall => AspectRatio::Portrait,
        });
        let asked = Asked { original: &message.text, enhanced: &enhanced, refines, raw: false, shape };
        self.start_for(user, message, turns, asked).await
    }

    /// The local decision: the plan's image or refinement, else a reply (`note` when the model
    /// was not asked, a plain sentence when it failed).
    async fn act_locally(
        &self,
        user: UserId,
        message: &ChatMessage,
        turns: &[Turn],
        local: &LocalDecision,
        note: Option<&str>,
    ) -> Result<(), ChatError> {
        let plan = &local.plan;
        match plan.decision {
            Decision::Image | Decision::Refine => {
                let refines = (plan.decision == Decision::Refine).then_some(local.last_image).flatten();
                let asked =
                    Asked { original: &plan.original, enhanced: &plan.prompt, refines, raw: plan.raw, shape: None };
                self.start_for(user, message, turns, asked).await
            }
            Decision::None => {
                // A spent allowance is said once; after that the built-in replies answer.
                let said =
                    |note: &str| turns.iter().rev().find(|t| t.role == Role::Assistant).is_some_and(|t| t.text == note);
                let text = match note {
                    Some(note) if !said(note) => Some(note),
                    Some(_) => offline_reply(turns, &message.text),
                    None => Some(NO_ANSWER),
                };
                match text {
                    Some(text) => self.say(user, message.thread_id, text).await,
                    None => Ok(()),
                }
            }
        }
    }
}

/// The reply's message while it streams.
#[derive(Default)]
struct Outgoing {
    written: Option<ChatMessage>,
    /// Text not yet published: white space before the first word, or all of it when the
    /// message could not be made.
    pending: String,
    gave_up: bool,
}

/// The first tool call that reads as a picture; the others are logged and left.
fn first_usable_call(reply: &ModelReply) -> Option<ImageCall> {
    let mut usable = None;
    for raw in &reply.calls {
        match tools::parse(raw) {
            Ok(call) if usable.is_none() => usable = Some(call),
            Ok(_) => tracing::info!(tool = %raw.name, "a second tool call in one reply was left"),
            Err(e) => tracing::warn!(error = %e, "a chat model tool call was not used"),
        }
    }
    usable
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(role: Role, text: &str) -> Turn {
        Turn { role, text: text.into() }
    }

    #[test]
    fn the_conversation_keeps_the_newest_turns_that_fit() {
        let old = "o".repeat(CONVERSATION_BUDGET);
        let turns = [turn(Role::User, &old), turn(Role::Assistant, "[image: a fox]"), turn(Role::User, "nice")];
        let c = conversation(&turns, "darker", true);
        let texts: Vec<&str> = c.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, [TOOLS_PROMPT, "[image: a fox]", "nice", "darker"]);
        assert_eq!(c[1].0, Speaker::Assistant);
        assert_eq!(conversation(&[], "hi", false)[0].1, SYSTEM_PROMPT);
    }
}
