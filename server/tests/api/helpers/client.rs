//! A test's browser tab without the browser: a WebSocket speaking the protocol, with reads
//! that give up (and say what came instead) rather than wait forever.

use std::time::Duration;

use app::protocol::*;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::WAIT;

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub(super) async fn next_text(socket: &mut Socket) -> String {
    next_text_within(socket).await.expect("a frame within 10 s")
}

/// The next text frame, or `None` when none came within 10 s.
pub(super) async fn next_text_within(socket: &mut Socket) -> Option<String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next()).await.ok()?;
        match frame {
            Some(Ok(Message::Text(t))) => return Some(t.to_string()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

pub(super) fn parse_frame(text: &str) -> ServerMsg {
    ServerMsg::from_json(text).unwrap_or_else(|e| panic!("unreadable server frame {text}: {e}"))
}

/// A typed test client over one socket.
pub struct Client {
    pub socket: Socket,
}

impl Client {
    pub async fn send(&mut self, msg: ClientMsg) {
        let json = serde_json::to_string(&msg).expect("serialise");
        self.socket.send(Message::text(json)).await.expect("frame sent");
    }

    pub async fn send_raw(&mut self, frame: Message) {
        self.socket.send(frame).await.expect("frame sent");
    }

    /// The next frame that is not a quota update (those arrive whenever a job starts or ends).
    pub async fn recv(&mut self) -> ServerMsg {
        loop {
            match self.recv_any().await {
                ServerMsg::Quota(_) => continue,
                other => return other,
            }
        }
    }

    pub async fn recv_any(&mut self) -> ServerMsg {
        parse_frame(&next_text(&mut self.socket).await)
    }

    /// Reads until a quota update and returns it.
    pub async fn next_quota(&mut self) -> QuotaView {
        loop {
            if let ServerMsg::Quota(q) = self.recv_any().await {
                return q.quota;
            }
        }
    }

    /// True when nothing arrives within `wait`.
    pub async fn is_quiet_for(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Err(_) => return true,
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Ok(_) => return false,
            }
        }
    }

    pub async fn create_thread(&mut self, client_id: &str) -> ThreadSummary {
        self.send(ClientMsg::CreateThread(CreateThread { client_id: ClientId(client_id.into()), title: None })).await;
        loop {
            match self.recv().await {
                ServerMsg::ThreadCreated(c) => return c.thread,
                ServerMsg::ThreadRenamed(_) => continue,
                other => panic!("expected thread_created, got {other:?}"),
            }
        }
    }

    pub async fn say(&mut self, thread_id: ThreadId, client_id: &str, text: &str) {
        self.say_with(thread_id, client_id, text, ImageOptions::default()).await;
    }

    /// Sends a message with the composer row's settings.
    pub async fn say_with(&mut self, thread_id: ThreadId, client_id: &str, text: &str, options: ImageOptions) {
        let client_id = ClientId(client_id.into());
        self.send(ClientMsg::Send(SendMessage { thread_id, client_id, text: text.into(), options })).await;
    }

    /// Reads frames until `done` says stop; returns everything read, the last one included.
    /// A wait that runs out panics with what was read, so a failure says what came instead.
    pub async fn read_until(&mut self, mut done: impl FnMut(&ServerMsg) -> bool) -> Vec<ServerMsg> {
        let mut seen = Vec::new();
        loop {
            let Some(text) = next_text_within(&mut self.socket).await else {
                panic!("no awaited frame within 10 s; read: {seen:#?}")
            };
            let msg = parse_frame(&text);
            let stop = done(&msg);
            seen.push(msg);
            if stop {
                return seen;
            }
        }
    }

    /// Reads until the assistant's next message arrives; that message.
    pub async fn next_answer(&mut self) -> ChatMessage {
        let frames =
            self.read_until(|m| matches!(m, ServerMsg::MessageAdded(a) if a.message.role == Role::Assistant)).await;
        match frames.into_iter().last() {
            Some(ServerMsg::MessageAdded(a)) => a.message,
            other => panic!("expected the assistant's message, got {other:?}"),
        }
    }

    /// Waits for the next `message_added`, skipping thread renames (a first message names its thread).
    pub async fn next_message(&mut self) -> ChatMessage {
        loop {
            match self.recv().await {
                ServerMsg::MessageAdded(m) => return m.message,
                ServerMsg::ThreadRenamed(_) => continue,
                other => panic!("expected message_added, got {other:?}"),
            }
        }
    }
}

/// The job a `job_updated` frame reports as finished (complete, failed, cancelled, interrupted).
pub fn finished_job(m: &ServerMsg) -> Option<JobView> {
    match m {
        ServerMsg::JobUpdated(u) if u.job.status.is_finished() => Some(u.job.clone()),
        _ => None,
    }
}
