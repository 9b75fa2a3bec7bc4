//! The wire protocol between a browser tab and the server, defined once for both sides.
//!
//! One enum per direction, [`ClientMsg`] and [`ServerMsg`], each variant wrapping one struct,
//! serialised as JSON objects with an explicit `"type"` tag. Ids are newtypes so a thread id
//! can never be passed where a message id is expected.
//!
//! Invariants the protocol carries:
//! - Every message of a thread has a sequence number (`seq`), contiguous from 1. A tab that
//!   has seen up to `seq = n` asks for what follows with [`OpenThread::after_seq`], so a
//!   reconnect replays exactly what was missed and events apply idempotently.
//! - Everything that creates a row carries a [`ClientId`] made by the tab: sending the same
//!   request twice (a double click, a resend after reconnect) stores one row, and the echo
//!   tells the tab which of its pending requests it settles.
//!
//! Later features (image jobs, progress, cancel, quotas) add variants; existing variants keep
//! their shape so an older tab still understands the rest.

use serde::{Deserialize, Serialize};

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

mod jobs;
mod kinds;
mod options;
mod quota;
mod reading;
pub use jobs::*;
pub use kinds::*;
pub use options::*;
pub use quota::*;

id_newtype!(
    /// A user account.
    UserId
);
id_newtype!(
    /// A chat thread; also its URL segment (`/threads/{id}`).
    ThreadId
);
id_newtype!(
    /// One stored message.
    MessageId
);

/// Position of a message in its thread: 1, 2, 3… with no gaps.
pub type Seq = i64;

/// An idempotency key made by the tab (a UUID string) for requests that create rows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(pub String);

/// Longest message a user may send, in characters; keeps frames far below the 64 KiB limit.
pub const MAX_MESSAGE_CHARS: usize = 8_000;
/// Longest thread title, in characters.
pub const MAX_TITLE_CHARS: usize = 100;
/// Largest frame the server accepts; bigger ones close the socket with code 1009.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// The close code of a socket whose sign-in session ended (a logout): the tab goes to the
/// visitor's home page instead of reconnecting (4000–4999 are the application's own).
pub const SIGNED_OUT: u16 = 4001;

/// Frames a tab sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    OpenThread(OpenThread),
    CreateThread(CreateThread),
    RenameThread(RenameThread),
    DeleteThread(DeleteThread),
    Send(SendMessage),
    CancelJob(CancelJob),
    RetryJob(RetryJob),
    LoadOlder(LoadOlder),
}

/// Frames the server sends. Read with [`ServerMsg::from_json`]; the derived `Deserialize`
/// is the server's only (its relay nests frames in its own envelopes), kept out of the
/// browser's bundle.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ssr", derive(Deserialize))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Welcome(Welcome),
    ThreadHistory(ThreadHistory),
    ThreadCreated(ThreadCreated),
    ThreadRenamed(ThreadRenamed),
    ThreadDeleted(ThreadDeleted),
    MessageAdded(MessageAdded),
    JobProgress(JobProgress),
    JobUpdated(JobUpdated),
    Quota(QuotaUpdated),
    AssistantDelta(AssistantDelta),
    MessageUpdated(MessageUpdated),
    Restarting(Restarting),
    OlderMessages(OlderMessages),
    /// The user's defaults changed (the settings page): the row's new starting values.
    Choices(ImageChoices),
    Error(ProtocolError),
}

/// The most messages one answer carries (D2): a thread is read a page at a time, newest first.
pub const HISTORY_PAGE: usize = 100;

/// Asks for a thread's messages after `after_seq` (the newest [`HISTORY_PAGE`] when `None`,
/// or when more than a page followed it); the answer is a [`ThreadHistory`] for this socket
/// only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenThread {
    pub thread_id: ThreadId,
    pub after_seq: Option<Seq>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateThread {
    pub client_id: ClientId,
    pub title: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenameThread {
    pub thread_id: ThreadId,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteThread {
    pub thread_id: ThreadId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendMessage {
    pub thread_id: ThreadId,
    pub client_id: ClientId,
    pub text: String,
    /// The composer row's settings for an image this message asks for.
    #[serde(default, skip_serializing_if = "is_default")]
    pub options: ImageOptions,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// The account a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub id: UserId,
    pub username: String,
    /// May open the admin page (named in the server's configuration).
    #[serde(default)]
    pub admin: bool,
}

/// A thread as the thread list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadSummary {
    pub id: ThreadId,
    pub title: String,
    /// Sequence number of the newest message (0 for an empty thread).
    pub last_seq: Seq,
    /// Unix milliseconds of the last change; the list is ordered by it, newest first.
    pub updated_at: i64,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: MessageId,
    pub thread_id: ThreadId,
    pub seq: Seq,
    pub client_id: Option<ClientId>,
    pub role: Role,
    pub text: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// The image job this (assistant) message shows, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<JobView>,
}

/// Sent first on every connection: a snapshot that replaces whatever the tab held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    pub user: UserInfo,
    pub threads: Vec<ThreadSummary>,
    /// What the user may still generate; `None` while the quota store cannot be reached.
    #[serde(default)]
    pub quota: Option<QuotaView>,
    /// What the composer's row offers (engines, shapes, qualities, prices) and the user's
    /// defaults.
    #[serde(default)]
    pub choices: Option<ImageChoices>,
}

/// The user's quota changed (a generation started, was refunded, or was charged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaUpdated {
    pub quota: QuotaView,
}

/// Messages of one thread after the `after_seq` the tab asked for, in `seq` order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadHistory {
    pub thread: ThreadSummary,
    pub after_seq: Option<Seq>,
    pub messages: Vec<ChatMessage>,
    /// Earlier messages exist than these (fetched with [`LoadOlder`]).
    #[serde(default)]
    pub has_older: bool,
}

/// Asks for the page of a thread's messages before `before_seq`; the answer is
/// [`OlderMessages`] for this socket only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadOlder {
    pub thread_id: ThreadId,
    pub before_seq: Seq,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OlderMessages {
    pub thread_id: ThreadId,
    /// The `before_seq` asked for: a log that changed meanwhile ignores the page.
    pub before_seq: Seq,
    /// Oldest first, all before the `before_seq` asked for.
    pub messages: Vec<ChatMessage>,
    pub has_older: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadCreated {
    pub thread: ThreadSummary,
    pub client_id: ClientId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadRenamed {
    pub thread_id: ThreadId,
    pub title: String,
    pub updated_at: i64,
}

/// The server is shutting down: running generations get `grace_secs` to finish, then are
/// stopped with Retry offered. The socket closes soon; the tab reconnects by itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Restarting {
    pub grace_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadDeleted {
    pub thread_id: ThreadId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageAdded {
    pub message: ChatMessage,
}

/// More of an assistant reply that is being written (a chat model streams it): append `delta`
/// to the message's text. `MessageUpdated` follows with the whole text when it is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistantDelta {
    pub thread_id: ThreadId,
    pub message_id: MessageId,
    pub delta: String,
}

/// A stored message changed (a streamed reply is complete): replace it whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageUpdated {
    pub message: ChatMessage,
}

/// Why a request was refused. The session goes on after any of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not valid JSON for a [`ClientMsg`].
    BadFrame,
    /// The thread does not exist or belongs to someone else (indistinguishable on purpose).
    NotFound,
    /// The request was well formed but its content is not allowed (empty, too long).
    Invalid,
    /// The server failed; the request may be retried.
    Internal,
    /// Something is already running (one image at a time per user).
    Busy,
    /// A quota or cooldown refused the request; the message says when to try again.
    Quota,
    /// Too many frames too fast; the message says how long to wait.
    RateLimited,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolError {
    pub code: ErrorCode,
    /// A sentence a person can read.
    pub message: String,
    /// The request this answers, when it carried a client id.
    pub client_id: Option<ClientId>,
}

impl ClientMsg {
    /// Parses one text frame; the error text is safe to show to the sender.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("unreadable frame: {e}"))
    }

    /// The client id of a request that carries one (a message, a new thread).
    pub fn client_id(&self) -> Option<&ClientId> {
        match self {
            Self::Send(s) => Some(&s.client_id),
            Self::CreateThread(c) => Some(&c.client_id),
            _ => None,
        }
    }
}

impl ServerMsg {
    /// Serialises for a text frame. The types hold only strings and numbers, so this cannot fail
    /// in practice; a failure still becomes a typed error frame rather than a panic.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"type":"error","code":"internal","message":{:?},"client_id":null}}"#, e.to_string())
        })
    }
}

#[cfg(test)]
mod tests;
