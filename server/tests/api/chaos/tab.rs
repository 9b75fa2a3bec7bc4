//! A tab as the browser runs it: the app's own reducer (`ChatState`) over a socket that
//! reconnects with the same resume frames `live.rs` sends, so "every tab converged" is
//! checked with the code users run.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::chat_state::{ChatState, Followup};
use app::protocol::*;
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

#[derive(Default)]
pub struct Shared {
    pub state: ChatState,
    /// When the socket last came up (its Welcome arrived).
    pub connected_at: Option<Instant>,
    pub connections: usize,
    pub restarting_notices: usize,
    /// The newest frames received, abridged, for a failure's report.
    pub heard: std::collections::VecDeque<String>,
}

/// How many received frames a tab keeps for a failure's report.
const HEARD: usize = 60;

pub struct Tab {
    pub shared: Arc<Mutex<Shared>>,
    outgoing: mpsc::UnboundedSender<ClientMsg>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Tab {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Tab {
    /// Opens a tab on the instance at `addr`, showing `thread`.
    pub fn open(addr: SocketAddr, cookie: &str, thread: Option<ThreadId>) -> Self {
        let shared = Arc::new(Mutex::new(Shared::default()));
        shared.lock().expect("tab").state.open = thread;
        let (outgoing, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(addr, cookie.to_string(), shared.clone(), rx));
        Self { shared, outgoing, task }
    }

    /// Sends a message as the composer does: queued in the outbox until the server echoes it.
    pub fn say(&self, thread: ThreadId, client_id: &str, text: &str) {
        let frame = self.shared.lock().expect("tab").state.queue_send(
            thread,
            ClientId(client_id.into()),
            text.into(),
            ImageOptions::default(),
        );
        let _ = self.outgoing.send(frame);
    }

    pub fn send(&self, msg: ClientMsg) {
        let _ = self.outgoing.send(msg);
    }

    pub fn with<T>(&self, f: impl FnOnce(&Shared) -> T) -> T {
        f(&self.shared.lock().expect("tab"))
    }

    /// Waits until `done` holds for this tab's state, at most `limit`; returns whether it did.
    /// (`done` runs under the tab's lock: it reads the `Shared` it is given, never the tab.)
    pub async fn wait_for(&self, limit: Duration, mut done: impl FnMut(&Shared) -> bool) -> bool {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if self.with(&mut done) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.with(done)
    }

    /// The messages of `thread` this tab shows.
    pub fn log(&self, thread: ThreadId) -> Vec<ChatMessage> {
        self.with(|s| s.log(thread).to_vec())
    }
}

impl Shared {
    pub fn log(&self, thread: ThreadId) -> &[ChatMessage] {
        self.state.logs.get(&thread).map_or(&[], |l| l.messages.as_slice())
    }

    /// The status of the first job shown in `thread`.
    pub fn job_status(&self, thread: ThreadId) -> Option<JobStatus> {
        self.log(thread).iter().find_map(|m| m.job.as_ref().map(|j| j.status))
    }
}

async fn run(
    addr: SocketAddr,
    cookie: String,
    shared: Arc<Mutex<Shared>>,
    mut outgoing: mpsc::UnboundedReceiver<ClientMsg>,
) {
    loop {
        let mut req = format!("ws://{addr}/ws").into_client_request().expect("request");
        req.headers_mut().insert("cookie", HeaderValue::from_str(&cookie).expect("cookie"));
        req.headers_mut().insert("origin", HeaderValue::from_str(&format!("http://{addr}")).expect("origin"));
        if let Ok((socket, _)) = connect_async(req).await {
            let (mut sink, mut stream) = socket.split();
            let resume = {
                let s = shared.lock().expect("tab");
                s.state.resume(s.state.open)
            };
            let mut ok = true;
            for frame in resume {
                ok = ok && sink.send(encode(&frame)).await.is_ok();
            }
            while ok {
                tokio::select! {
                    frame = stream.next() => match frame {
                        Some(Ok(Message::Text(text))) => {
                            let Ok(msg) = ServerMsg::from_json(&text) else { continue };
                            let followup = {
                                let mut s = shared.lock().expect("tab");
                                match &msg {
                                    ServerMsg::Welcome(_) => {
                                        s.connected_at = Some(Instant::now());
                                        s.connections += 1;
                                    }
                                    ServerMsg::Restarting(_) => s.restarting_notices += 1,
                                    _ => {}
                                }
                                if s.heard.len() == HEARD {
                                    s.heard.pop_front();
                                }
                                let raw = text.as_str();
                                s.heard.push_back(raw[..raw.floor_char_boundary(300)].to_string());
                                s.state.apply(msg)
                            };
                            if let Some(Followup::Resync { thread_id, after_seq }) = followup {
                                let frame = ClientMsg::OpenThread(OpenThread { thread_id, after_seq: Some(after_seq) });
                                ok = sink.send(encode(&frame)).await.is_ok();
                            }
                        }
                        // Answered here: tungstenite queues its own pong but sends it only with
                        // the next write, and a tab that only listens would look silent.
                        Some(Ok(Message::Ping(payload))) => ok = sink.send(Message::Pong(payload)).await.is_ok(),
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => ok = false,
                    },
                    frame = outgoing.recv() => match frame {
                        Some(frame) => ok = sink.send(encode(&frame)).await.is_ok(),
                        None => return,
                    },
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn encode(msg: &ClientMsg) -> Message {
    Message::text(serde_json::to_string(msg).expect("client frames serialise"))
}
