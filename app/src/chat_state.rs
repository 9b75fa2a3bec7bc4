//! What a tab knows, and the reducer that turns [`ServerMsg`]s into it.
//!
//! Pure and synchronous so it is tested without a browser: the socket loop feeds it frames,
//! the components read it. It is built to tolerate the network: events may arrive twice
//! (a resend, a replay after reconnect) or with a gap (a dropped connection); duplicates are
//! ignored by `seq`, and a gap asks for a resync instead of showing a hole.

use std::collections::{HashMap, HashSet};

use crate::protocol::*;

/// State of the tab's socket, shown to the user when it is not `Online`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connection {
    /// Before the first connection succeeded.
    #[default]
    Connecting,
    Online,
    /// The socket dropped; the tab is trying again with backoff.
    Reconnecting,
    /// The server said it is restarting; the socket is still up until it goes.
    Restarting,
}

/// A message the user sent that the server has not yet echoed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub thread_id: ThreadId,
    pub client_id: ClientId,
    pub text: String,
    /// The composer row's settings it was sent with (resent with it).
    pub options: ImageOptions,
    /// Set when the server refused it; the text stays so nothing typed is lost.
    pub error: Option<String>,
}

/// The contiguous messages of a thread the tab has opened, `seq` 1..=n.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadLog {
    pub messages: Vec<ChatMessage>,
    /// Earlier messages exist on the server than the first one here.
    pub has_older: bool,
}

impl ThreadLog {
    pub fn last_seq(&self) -> Seq {
        self.messages.last().map_or(0, |m| m.seq)
    }

    pub fn first_seq(&self) -> Option<Seq> {
        self.messages.first().map(|m| m.seq)
    }

    /// Puts an earlier page in front of the log (what it already holds is kept).
    fn prepend(&mut self, older: Vec<ChatMessage>, has_older: bool) {
        let first = self.first_seq().unwrap_or(Seq::MAX);
        let mut page: Vec<ChatMessage> = older.into_iter().filter(|m| m.seq < first).collect();
        if page.is_empty() && !has_older {
            self.has_older = false;
            return;
        }
        page.append(&mut self.messages);
        self.messages = page;
        self.has_older = has_older;
    }

    /// Appends what follows the log; returns false on a gap (something was missed).
    fn extend(&mut self, messages: impl IntoIterator<Item = ChatMessage>) -> bool {
        for m in messages {
            let last = self.last_seq();
            if m.seq <= last {
                continue;
            }
            if m.seq != last + 1 {
                return false;
            }
            self.messages.push(m);
        }
        true
    }
}

/// Something the reducer cannot do by itself and asks its caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followup {
    /// Ask the server again for a thread's messages after `after_seq`.
    Resync { thread_id: ThreadId, after_seq: Seq },
    /// A thread this tab asked for was created: show it.
    Navigate(ThreadId),
    /// A thread was deleted (maybe in another tab): leave it if it is open.
    ThreadGone(ThreadId),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatState {
    pub connection: Connection,
    pub user: Option<UserInfo>,
    /// `None` until the first snapshot; then newest first.
    pub threads: Option<Vec<ThreadSummary>>,
    pub logs: HashMap<ThreadId, ThreadLog>,
    pub outbox: Vec<Pending>,
    pub deleted: HashSet<ThreadId>,
    /// The `CreateThread` this tab is waiting for, to navigate when it arrives.
    pub awaiting_create: Option<ClientId>,
    pub last_error: Option<String>,
    /// The thread shown in this tab, caught up first after a reconnect.
    pub open: Option<ThreadId>,
    /// The newest progress of each running job this tab has heard of.
    pub progress: HashMap<JobId, JobProgress>,
    /// What the user may still generate, as last heard (`None`: unknown or unavailable).
    pub quota: Option<QuotaView>,
    /// What the composer's row offers, and the user's defaults.
    pub choices: Option<ImageChoices>,
}

impl ChatState {
    /// Applies one server frame.
    pub fn apply(&mut self, msg: ServerMsg) -> Option<Followup> {
        match msg {
            ServerMsg::Welcome(w) => {
                let live: HashSet<ThreadId> = w.threads.iter().map(|t| t.id).collect();
                self.logs.retain(|id, _| live.contains(id));
                self.outbox.retain(|p| live.contains(&p.thread_id));
                self.user = Some(w.user);
                self.threads = Some(w.threads);
                self.quota = w.quota;
                self.choices = w.choices;
                self.sort_threads();
                self.connection = Connection::Online;
                None
            }
            ServerMsg::ThreadHistory(h) => {
                let id = h.thread.id;
                let known_last = self.summary(id).map_or(0, |t| t.last_seq).max(h.thread.last_seq);
                self.upsert_summary(h.thread);
                let log = self.logs.entry(id).or_default();
                // A whole answer (the newest page) replaces the log; it may start anywhere.
                let contiguous = match h.after_seq {
                    None => {
                        *log = ThreadLog { messages: h.messages, has_older: h.has_older };
                        true
                    }
                    Some(_) => log.extend(h.messages),
                };
                let last = log.last_seq();
                if !contiguous || known_last > last {
                    return Some(Followup::Resync { thread_id: id, after_seq: last });
                }
                None
            }
            ServerMsg::OlderMessages(o) => {
                // Only the page right before what the log starts with: a log replaced meanwhile
                // (a newer page after a reconnect) would get a silent hole.
                if let Some(log) = self.logs.get_mut(&o.thread_id).filter(|l| l.first_seq() == Some(o.before_seq)) {
                    log.prepend(o.messages, o.has_older);
                }
                None
            }
            ServerMsg::Choices(c) => {
                self.choices = Some(c);
                None
            }
            ServerMsg::ThreadCreated(c) => {
                self.upsert_summary(c.thread.clone());
                if self.awaiting_create.as_ref() == Some(&c.client_id) {
                    self.awaiting_create = None;
                    return Some(Followup::Navigate(c.thread.id));
                }
                None
            }
            ServerMsg::ThreadRenamed(r) => {
                if let Some(t) = self.summary_mut(r.thread_id) {
                    t.title = r.title;
                    t.updated_at = t.updated_at.max(r.updated_at);
                }
                self.sort_threads();
                None
            }
            ServerMsg::ThreadDeleted(d) => {
                if let Some(threads) = &mut self.threads {
                    threads.retain(|t| t.id != d.thread_id);
                }
                self.logs.remove(&d.thread_id);
                self.outbox.retain(|p| p.thread_id != d.thread_id);
                self.deleted.insert(d.thread_id);
                Some(Followup::ThreadGone(d.thread_id))
            }
            ServerMsg::MessageAdded(MessageAdded { message }) => self.add_message(message),
            ServerMsg::JobProgress(mut p) => {
                let old = self.progress.get(&p.job_id);
                if old.is_some_and(|old| old.stage > p.stage) {
                    return None;
                }
                // A step without a picture keeps the last preview on screen until a newer one.
                p.preview = p.preview.or(old.and_then(|o| o.preview));
                self.progress.insert(p.job_id, p);
                None
            }
            ServerMsg::JobUpdated(u) => {
                // The job view is authoritative; progress starts again from what it says.
                self.progress.remove(&u.job.id);
                if let Some(m) =
                    self.logs.get_mut(&u.thread_id).and_then(|l| l.messages.iter_mut().find(|m| m.id == u.message_id))
                {
                    m.text = u.job.message_text();
                    m.job = Some(u.job);
                }
                None
            }
            ServerMsg::AssistantDelta(d) => {
                if let Some(m) = self.message_mut(d.thread_id, d.message_id) {
                    m.text.push_str(&d.delta);
                }
                None
            }
            ServerMsg::MessageUpdated(u) => {
                if let Some(m) = self.message_mut(u.message.thread_id, u.message.id) {
                    *m = u.message;
                }
                None
            }
            ServerMsg::Quota(q) => {
                self.quota = Some(q.quota);
                None
            }
            ServerMsg::Restarting(_) => {
                self.connection = Connection::Restarting;
                None
            }
            ServerMsg::Error(e) => {
                match e.client_id.as_ref().and_then(|c| self.outbox.iter_mut().find(|p| &p.client_id == c)) {
                    Some(p) => p.error = Some(e.message),
                    None => self.last_error = Some(e.message),
                }
                None
            }
        }
    }

    fn message_mut(&mut self, thread: ThreadId, id: MessageId) -> Option<&mut ChatMessage> {
        self.logs.get_mut(&thread)?.messages.iter_mut().find(|m| m.id == id)
    }

    fn add_message(&mut self, message: ChatMessage) -> Option<Followup> {
        let id = message.thread_id;
        if let Some(c) = &message.client_id {
            self.outbox.retain(|p| &p.client_id != c);
        }
        if let Some(t) = self.summary_mut(id) {
            t.last_seq = t.last_seq.max(message.seq);
            t.updated_at = t.updated_at.max(message.created_at);
        }
        self.sort_threads();
        let log = self.logs.get_mut(&id)?;
        let last = log.last_seq();
        if log.extend([message]) {
            None
        } else {
            Some(Followup::Resync { thread_id: id, after_seq: last })
        }
    }

    /// Records a message the user is sending and returns the frame to send for it.
    pub fn queue_send(
        &mut self,
        thread_id: ThreadId,
        client_id: ClientId,
        text: String,
        options: ImageOptions,
    ) -> ClientMsg {
        let pending = Pending {
            thread_id,
            client_id: client_id.clone(),
            text: text.clone(),
            options: options.clone(),
            error: None,
        };
        self.outbox.push(pending);
        ClientMsg::Send(SendMessage { thread_id, client_id, text, options })
    }

    /// Frames to send after a (re)connection: catch up on the open thread, then resend every
    /// unacknowledged message (the server stores each client id once, so this never doubles).
    pub fn resume(&self, open: Option<ThreadId>) -> Vec<ClientMsg> {
        let mut out = Vec::new();
        if let Some(thread_id) = open {
            let after_seq = self.logs.get(&thread_id).map(ThreadLog::last_seq);
            out.push(ClientMsg::OpenThread(OpenThread { thread_id, after_seq }));
        }
        out.extend(self.outbox.iter().filter(|p| p.error.is_none()).map(|p| {
            ClientMsg::Send(SendMessage {
                thread_id: p.thread_id,
                client_id: p.client_id.clone(),
                text: p.text.clone(),
                options: p.options.clone(),
            })
        }));
        out
    }

    pub fn summary(&self, id: ThreadId) -> Option<&ThreadSummary> {
        self.threads.as_ref()?.iter().find(|t| t.id == id)
    }

    fn summary_mut(&mut self, id: ThreadId) -> Option<&mut ThreadSummary> {
        self.threads.as_mut()?.iter_mut().find(|t| t.id == id)
    }

    fn upsert_summary(&mut self, thread: ThreadSummary) {
        let threads = self.threads.get_or_insert_with(Vec::new);
        match threads.iter_mut().find(|t| t.id == thread.id) {
            Some(t) => {
                t.title = thread.title;
                t.last_seq = t.last_seq.max(thread.last_seq);
                t.updated_at = t.updated_at.max(thread.updated_at);
            }
            None => threads.push(thread),
        }
        self.sort_threads();
    }

    fn sort_threads(&mut self) {
        if let Some(threads) = &mut self.threads {
            threads.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
        }
    }

    /// Messages still on their way for a thread, in the order they were typed.
    pub fn pending_in(&self, id: ThreadId) -> Vec<Pending> {
        self.outbox.iter().filter(|p| p.thread_id == id).cloned().collect()
    }
}

/// Milliseconds to wait before reconnection attempt `attempt` (0-based): doubling from
/// 500 ms, capped at 10 s, so a restarting server is not hammered by every open tab.
pub fn backoff_ms(attempt: u32) -> u32 {
    500u32.saturating_mul(1 << attempt.min(5)).min(10_000)
}

#[cfg(test)]
#[path = "chat_state_tests.rs"]
mod tests;
