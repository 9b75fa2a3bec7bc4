//! One socket's session, written against a generic sink and stream.
//!
//! A single loop owns the socket and waits on three things: a frame from the tab, an event
//! from the hub, and the heartbeat tick. One owner means replies and events leave in one
//! order and nothing else can write to the socket. The session subscribes to the hub
//! *before* reading the snapshot it sends first, so no event falls between the two.
//!
//! A `send` is the one frame whose handling is long (storing the message, the assistant's
//! plan, admitting its job: several database round trips after the message is published).
//! It runs as a task of its own while the loop keeps writing events, so the sender sees its
//! own message when its other tabs do, not after the job is admitted. The next frame is read
//! only when it is done: one request at a time per socket, as before. A task, not a future
//! the loop polls beside its other branches: while the loop awaited something in a branch
//! (a pooled connection to revalidate the session), a future holding another connection
//! would not be polled, and forty sockets doing so at once starved the pool (the fault
//! storm test caught it).

use std::time::Duration;

use app::protocol::*;
use axum::extract::ws::{close_code, CloseFrame, Message};
use futures::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{interval, Instant, MissedTickBehavior};
use tracing::Instrument;

use crate::chat::{Chat, ChatError};
use crate::config::WsSettings;
use crate::hub::{OnEnded, Signal};
use crate::throttle::Throttle;

/// What a session needs: the chat operations, who is connected, and the heartbeat timing.
#[derive(Clone)]
pub struct SessionCtx {
    pub chat: Chat,
    pub user: UserInfo,
    /// The tag of the sign-in session the socket was opened under (see `auth::session_tag`):
    /// its logout closes the socket.
    pub session: Option<String>,
    /// When that session signed in (ms): "sign out everywhere" ends sessions older than its moment.
    pub signed_in_at: i64,
    pub ws: WsSettings,
    /// Frames per user per second (D2).
    pub throttle: Throttle,
}

/// Why a session ended; logged once when it does.
#[derive(Debug, thiserror::Error)]
enum End {
    #[error("closed by the tab")]
    Closed,
    #[error("frame over the size limit")]
    TooLarge,
    #[error("silent for {0:?}")]
    Idle(Duration),
    #[error("socket error: {0}")]
    SocketError(String),
    #[error("hub closed")]
    HubClosed,
    #[error("signed out")]
    SignedOut,
    #[error("its session signed in again")]
    Renewed,
    #[error("not reading: a write waited {0:?}")]
    NotReading(Duration),
    /// The tab could not be brought up to date; it reconnects and catches up then.
    #[error("resync failed: {0}")]
    ResyncFailed(String),
}

pub async fn run_session<S, R>(ctx: SessionCtx, mut sink: S, mut stream: R)
where
    S: Sink<Message, Error = axum::Error> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let user = ctx.user.id;
    tracing::info!(%user, "socket opened");
    crate::monitoring::socket_opened();
    let mut sending = None;
    let end = session_loop(&ctx, &mut sink, &mut stream, &mut sending).await;
    crate::monitoring::socket_closed();
    let close = match end {
        End::TooLarge => Some(CloseFrame { code: close_code::SIZE, reason: "frame larger than 64 KiB".into() }),
        End::SignedOut => Some(CloseFrame { code: SIGNED_OUT, reason: "signed out".into() }),
        // Any other code: the tab reconnects, under its session's new id.
        End::Renewed => Some(CloseFrame { code: close_code::RESTART, reason: "session renewed".into() }),
        _ => None,
    };
    if let Some(frame) = close {
        // The tab may already be gone; there is nothing left to tell it then.
        let _ = tokio::time::timeout(ctx.ws.idle_timeout, sink.send(Message::Close(Some(frame)))).await;
    }
    // A send under way is finished (its replies dropped: the tab catches up when it
    // reconnects) before the socket's place is given back, so closing and reopening sockets
    // cannot pile up a user's sends beyond the sockets a user may have.
    if let Some(task) = sending {
        let _ = task.await;
    }
    tracing::info!(%user, reason = %end, "socket closed");
}

/// The handling of a `send` frame under way (a task: it is finished even if the socket
/// closes), and the replies it will have for this socket.
type Sending = tokio::task::JoinHandle<Vec<ServerMsg>>;

async fn session_loop<S, R>(ctx: &SessionCtx, sink: &mut S, stream: &mut R, sending: &mut Option<Sending>) -> End
where
    S: Sink<Message, Error = axum::Error> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let mut events = ctx.chat.hub.subscribe(ctx.user.id);
    // The thread this tab last opened: re-sent whole if the tab lags behind the hub.
    let mut open: Option<ThreadId> = None;
    // The rare, deep futures (a frame's handling, a snapshot) are boxed: inline, their size
    // would be part of every idle socket's task for as long as it stays open.
    if let Err(end) = Box::pin(send_snapshot(ctx, sink)).await {
        return end;
    }
    let mut heartbeat = interval(ctx.ws.ping_every);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    heartbeat.tick().await;
    let mut revalidate = interval(ctx.ws.revalidate_every);
    revalidate.set_missed_tick_behavior(MissedTickBehavior::Delay);
    revalidate.tick().await;
    let signed_in_at = ctx.signed_in_at;
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            // Biased, events first: what earlier requests caused reaches the tab before the
            // answer to a later request, so one socket sees one causal order.
            biased;
            event = events.recv() => {
                let result = match event {
                    Ok(signal) => match &*signal {
                        Signal::Event(frame) => write(ctx, sink, Message::Text(frame.json())).await,
                        Signal::Resync => Box::pin(resync(ctx, sink, open)).await,
                        Signal::SessionEnded(ended) => match ended.for_socket(ctx.session.as_deref(), signed_in_at) {
                            OnEnded::SignOut => return End::SignedOut,
                            OnEnded::Reconnect => return End::Renewed,
                            OnEnded::Stay => Ok(()),
                        },
                    },
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(user = %ctx.user.id, missed, "socket lagged behind the hub; re-syncing it");
                        Box::pin(resync(ctx, sink, open)).await
                    }
                    Err(RecvError::Closed) => return End::HubClosed,
                };
                if let Err(end) = result {
                    return end;
                }
            }
            replies = finish(sending) => {
                *sending = None;
                for reply in replies {
                    if let Err(end) = send(ctx, sink, &reply).await {
                        return end;
                    }
                }
            }
            frame = stream.next(), if sending.is_none() => {
                let frame = match frame {
                    None | Some(Ok(Message::Close(_))) => return End::Closed,
                    Some(Err(e)) => return if is_too_large(e) { End::TooLarge } else { End::SocketError("read failed".into()) },
                    Some(Ok(frame)) => frame,
                };
                last_heard = Instant::now();
                let replies = match frame {
                    Message::Text(text) => match admit(ctx, text.as_str()) {
                        Ok(ClientMsg::Send(s)) => {
                            let ctx = ctx.clone();
                            // In the socket's span, so its log lines still name the user and socket.
                            let task = async move { handle_send(&ctx, s).await }.in_current_span();
                            *sending = Some(tokio::spawn(task));
                            vec![]
                        }
                        Ok(msg) => Box::pin(handle(ctx, msg, &mut open)).await,
                        Err(refusal) => vec![ServerMsg::Error(refusal)],
                    },
                    Message::Binary(_) => vec![protocol_error(ErrorCode::BadFrame, "Frames are JSON text.", None)],
                    Message::Ping(_) | Message::Pong(_) | Message::Close(_) => vec![],
                };
                for reply in replies {
                    if let Err(end) = send(ctx, sink, &reply).await {
                        return end;
                    }
                }
            }
            _ = revalidate.tick() => {
                match ctx.chat.store.signed_in_user(ctx.user.id, signed_in_at).await {
                    Ok(Some(_)) => {}
                    Ok(None) => return End::SignedOut,
                    // The database is away: the session is taken as it was, checked next time.
                    Err(e) => tracing::warn!(user = %ctx.user.id, error = %e, "session could not be revalidated"),
                }
            }
            _ = heartbeat.tick() => {
                let silent = last_heard.elapsed();
                if silent > ctx.ws.idle_timeout {
                    return End::Idle(silent);
                }
                if let Err(end) = write(ctx, sink, Message::Ping(Default::default())).await {
                    return end;
                }
            }
        }
    }
}

fn is_too_large(e: axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error;
    e.into_inner().downcast::<Error>().is_ok_and(|e| matches!(*e, Error::Capacity(_)))
}

async fn send<S>(ctx: &SessionCtx, sink: &mut S, msg: &ServerMsg) -> Result<(), End>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    write(ctx, sink, Message::Text(msg.to_json().into())).await
}

/// Every write has the idle limit as its deadline: a tab that stops reading fills its
/// buffers and the write never completes, which would pin this task and its memory for good
/// (G1); past the limit the socket is dropped like a silent one.
async fn write<S>(ctx: &SessionCtx, sink: &mut S, message: Message) -> Result<(), End>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    match tokio::time::timeout(ctx.ws.idle_timeout, sink.send(message)).await {
        Ok(sent) => sent.map_err(|e| End::SocketError(e.to_string())),
        Err(_) => Err(End::NotReading(ctx.ws.idle_timeout)),
    }
}

async fn send_snapshot<S>(ctx: &SessionCtx, sink: &mut S) -> Result<(), End>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    let msg = match ctx.chat.snapshot(&ctx.user).await {
        Ok(welcome) => ServerMsg::Welcome(welcome),
        Err(e) => error_reply(e, None),
    };
    send(ctx, sink, &msg).await
}

/// A fresh snapshot and the open thread, in place of events that were missed. When the
/// database cannot give them, the socket is closed: the tab reconnects and catches up then,
/// rather than staying behind.
async fn resync<S>(ctx: &SessionCtx, sink: &mut S, open: Option<ThreadId>) -> Result<(), End>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    let welcome = ctx.chat.snapshot(&ctx.user).await.map_err(|e| End::ResyncFailed(e.to_string()))?;
    send(ctx, sink, &ServerMsg::Welcome(welcome)).await?;
    if let Some(id) = open {
        let msg = match ctx.chat.history(ctx.user.id, id, None).await {
            Ok(h) => ServerMsg::ThreadHistory(h),
            // Deleted meanwhile: the tab learns it from the snapshot.
            Err(ChatError::NotFound) => return Ok(()),
            Err(e) => return Err(End::ResyncFailed(e.to_string())),
        };
        send(ctx, sink, &msg).await?;
    }
    Ok(())
}

/// Resolves when the send under way is handled; never while there is none.
async fn finish(sending: &mut Option<Sending>) -> Vec<ServerMsg> {
    match sending {
        Some(handling) => handling.await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "a send's handling panicked");
            vec![protocol_error(ErrorCode::Internal, "Something went wrong; send it again.", None)]
        }),
        None => std::future::pending().await,
    }
}

/// A text frame as a request, or the refusal to send back instead.
fn admit(ctx: &SessionCtx, text: &str) -> Result<ClientMsg, ProtocolError> {
    let parsed = ClientMsg::parse(text);
    // Every frame counts, readable or not. Refused, not queued: the tab keeps its message
    // and shows the sentence, with Retry.
    if let Err(wait) = ctx.throttle.frame(ctx.user.id) {
        let client_id = parsed.as_ref().ok().and_then(ClientMsg::client_id).cloned();
        return Err(ProtocolError { code: ErrorCode::RateLimited, message: wait.sending_too_fast(), client_id });
    }
    parsed.map_err(|message| ProtocolError { code: ErrorCode::BadFrame, message, client_id: None })
}

/// A `send`'s replies for this socket: the stored message again for a resend, or the refusal.
async fn handle_send(ctx: &SessionCtx, s: SendMessage) -> Vec<ServerMsg> {
    match ctx.chat.send_message(ctx.user.id, &s).await {
        Ok((_, true)) => vec![],
        Ok((message, false)) => vec![ServerMsg::MessageAdded(MessageAdded { message })],
        Err(e) => vec![error_reply(e, Some(s.client_id))],
    }
}

/// Handles one request in place; returns the replies for this socket only (the loop gives a
/// send a task of its own instead). Events for all of the user's sockets (this one included)
/// travel through the hub.
async fn handle(ctx: &SessionCtx, msg: ClientMsg, open: &mut Option<ThreadId>) -> Vec<ServerMsg> {
    let user = ctx.user.id;
    let chat = &ctx.chat;
    let reply = match msg {
        ClientMsg::OpenThread(o) => {
            *open = Some(o.thread_id);
            chat.history(user, o.thread_id, o.after_seq).await.map(|h| Some(ServerMsg::ThreadHistory(h)))
        }
        ClientMsg::CreateThread(c) => match chat.create_thread(user, &c.client_id, c.title.as_deref()).await {
            Ok((created, is_new)) => Ok((!is_new).then_some(ServerMsg::ThreadCreated(created))),
            Err(e) => return vec![error_reply(e, Some(c.client_id))],
        },
        ClientMsg::RenameThread(r) => chat.rename_thread(user, r.thread_id, &r.title).await.map(|()| None),
        ClientMsg::DeleteThread(d) => chat.delete_thread(user, d.thread_id).await.map(|()| None),
        ClientMsg::CancelJob(c) => match chat.jobs.cancel(user, c.job_id).await {
            Ok(true) => Ok(None),
            Ok(false) => Err(ChatError::Job(crate::jobs::JobError::NotFound)),
            Err(e) => Err(ChatError::Job(e)),
        },
        ClientMsg::LoadOlder(l) => {
            chat.older(user, l.thread_id, l.before_seq).await.map(|o| Some(ServerMsg::OlderMessages(o)))
        }
        ClientMsg::RetryJob(r) => chat.jobs.retry(user, r.job_id).await.map(|()| None).map_err(ChatError::from),
        ClientMsg::Send(s) => return handle_send(ctx, s).await,
    };
    match reply {
        Ok(reply) => reply.into_iter().collect(),
        Err(e) => vec![error_reply(e, None)],
    }
}

fn error_reply(e: ChatError, client_id: Option<ClientId>) -> ServerMsg {
    ServerMsg::Error(e.into_protocol(client_id))
}

fn protocol_error(code: ErrorCode, message: &str, client_id: Option<ClientId>) -> ServerMsg {
    ServerMsg::Error(ProtocolError { code, message: message.to_string(), client_id })
}
