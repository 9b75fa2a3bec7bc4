//! The chat operations both the socket and the no-JavaScript forms use: validate, store,
//! then publish to the user's sockets. Storing comes first, so an event that reaches a tab
//! is always one a reload would show again.

mod answers;
mod budget;
mod error;
mod model_turn;
pub mod options;

use std::sync::Arc;

use app::protocol::*;

use crate::assistant::{self, image_marker, offline_reply, Decision, Turn};
use crate::chat_model::ChatModel;
use crate::config::Caps;
use crate::hub::Hub;
use crate::jobs::{JobError, JobRequest, Jobs};
use crate::store::{NewMessage, Store};
pub use error::ChatError;
use options::Asked;

/// Messages of the thread the assistant reads before answering (recent turns weigh more; the
/// prompt builder bounds what it uses of them).
const CONTEXT_MESSAGES: i64 = 20;

/// Title of a thread until its first message names it.
pub const DEFAULT_TITLE: &str = "New chat";
const AUTO_TITLE_CHARS: usize = 48;

#[derive(Clone)]
pub struct Chat {
    pub store: Store,
    pub hub: Hub,
    pub jobs: Jobs,
    /// Answers ordinary messages when configured (`CHAT_MODEL`).
    pub model: Option<Arc<ChatModel>>,
    /// What one user may keep (D2).
    pub caps: Caps,
}

fn clean_title(title: &str) -> Result<String, ChatError> {
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    if title.is_empty() {
        return Err(ChatError::Invalid("A thread title cannot be empty."));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(ChatError::Invalid("Thread titles are at most 100 characters."));
    }
    Ok(title)
}

/// A title from the first words of a message, cut at a word boundary.
fn title_from(text: &str) -> String {
    let words = text.split_whitespace();
    let mut title = String::new();
    for w in words {
        if title.chars().count() + w.chars().count() + 1 > AUTO_TITLE_CHARS {
            if title.is_empty() {
                title = w.chars().take(AUTO_TITLE_CHARS).collect();
            }
            title.push('…');
            break;
        }
        if !title.is_empty() {
            title.push(' ');
        }
        title.push_str(w);
    }
    title
}

impl Chat {
    pub async fn snapshot(&self, user: &UserInfo) -> Result<Welcome, ChatError> {
        let threads = self.store.threads(user.id).await?;
        let choices = Some(self.jobs.choices(self.store.preferences(user.id).await?));
        Ok(Welcome { user: user.clone(), threads, quota: self.jobs.quota(user.id).await, choices })
    }

    pub async fn history(
        &self,
        user: UserId,
        id: ThreadId,
        after_seq: Option<Seq>,
    ) -> Result<ThreadHistory, ChatError> {
        self.store.history(user, id, after_seq).await?.ok_or(ChatError::NotFound)
    }

    /// The page of a thread before `before_seq` (D2: a long thread is read a page at a time).
    pub async fn older(&self, user: UserId, id: ThreadId, before_seq: Seq) -> Result<OlderMessages, ChatError> {
        let (messages, has_older) =
            self.store.older_messages(user, id, before_seq).await?.ok_or(ChatError::NotFound)?;
        Ok(OlderMessages { thread_id: id, before_seq, messages, has_older })
    }

    /// Creates (or, for a repeated client id, finds) a thread. New threads are announced to
    /// every tab; the caller answers a repeat itself.
    pub async fn create_thread(
        &self,
        user: UserId,
        client_id: &ClientId,
        title: Option<&str>,
    ) -> Result<(ThreadCreated, bool), ChatError> {
        if client_id.0.is_empty() || client_id.0.len() > 64 {
            return Err(ChatError::Invalid("A request id is missing."));
        }
        let title = match title {
            Some(t) => clean_title(t)?,
            None => DEFAULT_TITLE.to_string(),
        };
        // A repeated request gets its thread, cap or not; only a new one counts against it.
        let (thread, is_new) = match self.store.thread_by_client_id(user, client_id).await? {
            Some(existing) => (existing, false),
            None => {
                if self.store.thread_count(user).await? >= i64::from(self.caps.threads) {
                    return Err(ChatError::Full(format!(
                        "You have {} threads, the most one account keeps; delete some to start a new one.",
                        self.caps.threads
                    )));
                }
                self.store.create_new_thread(user, client_id, &title).await?
            }
        };
        let created = ThreadCreated { thread, client_id: client_id.clone() };
        if is_new {
            self.hub.publish(user, ServerMsg::ThreadCreated(created.clone()));
        }
        Ok((created, is_new))
    }

    pub async fn rename_thread(&self, user: UserId, id: ThreadId, title: &str) -> Result<(), ChatError> {
        let title = clean_title(title)?;
        let updated_at = self.store.rename_thread(user, id, &title).await?.ok_or(ChatError::NotFound)?;
        self.hub.publish(user, ServerMsg::ThreadRenamed(ThreadRenamed { thread_id: id, title, updated_at }));
        Ok(())
    }

    /// Deletes a thread; its running jobs are stopped first (their runners find the rows gone
    /// and record nothing more; what they counted stays in the ledger).
    pub async fn delete_thread(&self, user: UserId, id: ThreadId) -> Result<(), ChatError> {
        for job in self.store.running_jobs_in_thread(user, id).await? {
            self.jobs.cancel(user, job).await?;
        }
        if !self.store.delete_thread(user, id).await? {
            return Err(ChatError::NotFound);
        }
        self.hub.publish(user, ServerMsg::ThreadDeleted(ThreadDeleted { thread_id: id }));
        Ok(())
    }

    /// Stores a user's message once per client id, announces it and answers it. The first
    /// message of an untitled thread also names it. A resend is answered only if its first
    /// answer was lost (see `answers`).
    pub async fn send_message(&self, user: UserId, send: &SendMessage) -> Result<(ChatMessage, bool), ChatError> {
        let text = send.text.trim();
        if text.is_empty() {
            return Err(ChatError::Invalid("An empty message was not sent."));
        }
        if text.chars().count() > MAX_MESSAGE_CHARS {
            return Err(ChatError::Invalid("Messages are at most 8,000 characters."));
        }
        if send.client_id.0.is_empty() || send.client_id.0.len() > 64 {
            return Err(ChatError::Invalid("A request id is missing."));
        }
        // A resend of a stored message is answered as before, caps or not.
        let (message, is_new) = match self.store.message_by_client_id(user, Some(&send.client_id)).await? {
            Some(existing) => (existing, false),
            None => {
                self.check_named_images(user, &send.options).await?;
                self.check_message_caps(user, send.thread_id).await?;
                let new = NewMessage {
                    user,
                    thread: send.thread_id,
                    client_id: Some(&send.client_id),
                    role: Role::User,
                    text,
                };
                let (message, is_new) = self.store.add_new_message(new).await?.ok_or(ChatError::NotFound)?;
                if is_new {
                    self.store.set_message_options(user, message.id, &send.options).await?;
                }
                (message, is_new)
            }
        };
        if is_new {
            self.hub.publish(user, ServerMsg::MessageAdded(MessageAdded { message: message.clone() }));
            if message.seq == 1 {
                self.name_thread_after(user, send.thread_id, text).await?;
            }
            self.answer(user, &message).await?;
        } else {
            self.answer_resend(user, &message).await?;
        }
        Ok((message, is_new))
    }

    /// The images a message names must be the sender's, and of the right kind: a picture or a
    /// made image to change, a mask of it. Another account's id is refused like one that does
    /// not exist, before anything is stored.
    async fn check_named_images(&self, user: UserId, options: &ImageOptions) -> Result<(), ChatError> {
        if let Some(image) = options.source {
            match self.store.image_kind(user, image).await? {
                Some((ImageKind::Generated | ImageKind::Upload, _, _)) => {}
                _ => return Err(ChatError::Invalid("That image is not available.")),
            }
        }
        if options.references.len() > MAX_REFERENCES || (!options.references.is_empty() && options.source.is_none()) {
            return Err(ChatError::Invalid("At most 4 more pictures go with the one to change."));
        }
        for picture in &options.references {
            match self.store.image_kind(user, *picture).await? {
                Some((ImageKind::Generated | ImageKind::Upload, _, _)) => {}
                _ => return Err(ChatError::Invalid("That image is not available.")),
            }
        }
        if let Some(mask) = options.mask {
            match self.store.image_kind(user, mask).await? {
                Some((ImageKind::Mask, _, _)) if options.source.is_some() => {}
                _ => return Err(ChatError::Invalid("That painted area is not available; paint it again.")),
            }
        }
        Ok(())
    }

    /// A full thread, or a day's messages spent, refuse a new message in words (D2). The
    /// day's count is taken here, for the message about to be stored.
    async fn check_message_caps(&self, user: UserId, thread: ThreadId) -> Result<(), ChatError> {
        let length = self.store.thread_length(user, thread).await?.ok_or(ChatError::NotFound)?;
        if length >= i64::from(self.caps.messages_per_thread) {
            return Err(ChatError::Full(format!(
                "This thread is full ({} messages); start a new one to go on.",
                self.caps.messages_per_thread
            )));
        }
        let day = Window::Day.id_at(crate::store::now_ms());
        if !self.store.count_message(user, day, i64::from(self.caps.messages_per_day)).await? {
            return Err(ChatError::Full(format!(
                "You have sent {} messages today, the most one account may; sending opens again at 00:00 UTC.",
                self.caps.messages_per_day
            )));
        }
        Ok(())
    }

    /// The assistant's answer to a user's message: an image, a refinement of the thread's
    /// last image, or (asking for neither) a reply. With a chat model, the model decides what
    /// the rules are not certain of and answers what asks for no image.
    async fn respond(&self, user: UserId, message: &ChatMessage) -> Result<(), ChatError> {
        let thread = message.thread_id;
        let (turns, last_image) = self.recent_turns(user, thread, message.seq).await?;
        let mut plan = assistant::plan(&turns, &message.text);
        // A message sent with an image to change is an edit of it, whatever its words.
        if self.store.message_options(user, message.id).await?.source.is_some() {
            plan.decision = Decision::Refine;
            plan.certain = true;
        }
        match &self.model {
            Some(model) if !plan.certain || plan.decision == Decision::None => {
                let local = model_turn::LocalDecision { tools: !plan.certain, plan, last_image };
                self.model_turn(model.clone(), user, message.clone(), turns, local);
                Ok(())
            }
            _ => match plan.decision {
                Decision::None => match offline_reply(&turns, &message.text) {
                    Some(reply) => self.say(user, thread, reply).await,
                    None => Ok(()),
                },
                Decision::Image | Decision::Refine => {
                    let refines = (plan.decision == Decision::Refine).then_some(last_image).flatten();
                    let asked =
                        Asked { original: &plan.original, enhanced: &plan.prompt, refines, raw: plan.raw, shape: None };
                    self.start_for(user, message, &turns, asked).await
                }
            },
        }
    }

    /// The turns before `seq` (oldest first; an image as `[image: prompt]`) and the job of the
    /// thread's last image.
    async fn recent_turns(
        &self,
        user: UserId,
        thread: ThreadId,
        seq: Seq,
    ) -> Result<(Vec<Turn>, Option<JobId>), ChatError> {
        let after = (seq - 1 - CONTEXT_MESSAGES).max(0);
        let mut turns = Vec::new();
        let mut last_image = None;
        for m in self.store.recent_messages(user, thread, after, seq).await? {
            match (&m.role, &m.job) {
                (Role::Assistant, Some(job)) if job.status == JobStatus::Complete => {
                    last_image = Some(job.id);
                    turns.push(Turn { role: Role::Assistant, text: format!("[image: {}]", job.prompt) });
                }
                // Unfinished or failed jobs made no picture to talk about; a typed
                // "[image: …]" is not one either.
                (_, Some(_)) => {}
                _ if image_marker(&m.text).is_some() => {}
                // Its help is kept (so it is not repeated; the prompt builder skips it); its
                // refusals are not conversation.
                // With a chat model its answers are conversation too.
                (Role::Assistant, None) if self.model.is_none() && !assistant::reply::is_canned(&m.text) => {}
                // A reply still being written (or left empty) is not conversation yet.
                (_, None) if m.text.trim().is_empty() => {}
                (role, None) => turns.push(Turn { role: *role, text: m.text }),
            }
        }
        Ok((turns, last_image))
    }

    /// Adds an assistant message and announces it.
    async fn say(&self, user: UserId, thread: ThreadId, text: &str) -> Result<(), ChatError> {
        let new = NewMessage { user, thread, client_id: None, role: Role::Assistant, text };
        if let Some((message, _)) = self.store.add_message(new).await? {
            self.hub.publish(user, ServerMsg::MessageAdded(MessageAdded { message }));
        }
        Ok(())
    }

    /// Starts an image job; a refusal (one is already running, a quota, the gate is down)
    /// becomes an assistant message, so it reads like the rest of the conversation and every
    /// tab sees it.
    async fn start_image(&self, user: UserId, thread: ThreadId, request: &JobRequest<'_>) -> Result<(), ChatError> {
        match self.jobs.start(user, thread, request).await {
            Ok(_) => Ok(()),
            Err(
                refusal @ (JobError::Refused { .. }
                | JobError::Unavailable
                | JobError::Paused(_)
                | JobError::StorageFull(_)
                | JobError::PromptTooLong),
            ) => self.say(user, thread, &refusal.to_string()).await,
            Err(e) => Err(e.into()),
        }
    }

    async fn name_thread_after(&self, user: UserId, id: ThreadId, text: &str) -> Result<(), ChatError> {
        let still_default = self.store.thread(user, id).await?.is_some_and(|t| t.title == DEFAULT_TITLE);
        if still_default {
            self.rename_thread(user, id, &title_from(text)).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_first_words() {
        assert_eq!(title_from("  hello   there "), "hello there");
        let long = "a lighthouse at dusk with waves crashing against the rocks below it";
        let t = title_from(long);
        assert!(t.ends_with('…') && t.chars().count() <= AUTO_TITLE_CHARS + 1, "{t}");
        assert_eq!(title_from(&"x".repeat(100)).chars().count(), AUTO_TITLE_CHARS + 1);
    }

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(clean_title("  My   ideas ").ok().as_deref(), Some("My ideas"));
        assert!(clean_title("   ").is_err());
        assert!(clean_title(&"t".repeat(101)).is_err());
    }
}
