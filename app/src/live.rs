//! The tab's socket loop (browser only): connect, catch up, apply frames to the
//! [`ChatState`], forward outgoing frames, and on any drop show "Reconnecting…" and try
//! again with backoff. One loop per tab, started by the first signed-in page.

use futures::channel::mpsc::{unbounded, UnboundedReceiver};
use futures::future::{select, Either};
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message, WebSocketError};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;

use crate::chat_state::{backoff_ms, ChatState, Connection, Followup};
use crate::components::Outbound;
use crate::protocol::{ClientMsg, OpenThread, ServerMsg, SIGNED_OUT};

pub fn ensure_started(
    state: RwSignal<ChatState>,
    outbound: Outbound,
    navigate: impl Fn(&str, NavigateOptions) + Clone + 'static,
) {
    let (tx, rx) = unbounded();
    if outbound.install(tx) {
        spawn_local(run(state, rx, navigate));
    }
}

fn socket_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" { "wss" } else { "ws" };
    Some(format!("{scheme}://{}/ws", location.host().ok()?))
}

/// `<body data-live=…>`: lets tests (and styles) tell a live page from one still hydrating.
fn mark_body(live: &str) {
    if let Some(body) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body()) {
        // Only fails for invalid attribute names; this one is constant and valid.
        let _ = body.set_attribute("data-live", live);
    }
}

fn encode(msg: &ClientMsg) -> Message {
    // ClientMsg holds only strings and numbers: serialising it cannot fail.
    Message::Text(serde_json::to_string(msg).unwrap_or_default())
}

async fn run(
    state: RwSignal<ChatState>,
    mut outgoing: UnboundedReceiver<ClientMsg>,
    navigate: impl Fn(&str, NavigateOptions) + Clone + 'static,
) {
    let mut attempt: u32 = 0;
    loop {
        if let Some(ws) = socket_url().and_then(|url| WebSocket::open(&url).ok()) {
            let (mut sink, mut stream) = ws.split();
            let mut ok = true;
            for frame in state.with_untracked(|s| s.resume(s.open)) {
                if sink.send(encode(&frame)).await.is_err() {
                    ok = false;
                    break;
                }
            }
            while ok {
                match select(stream.next(), outgoing.next()).await {
                    Either::Left((Some(Ok(Message::Text(text))), _)) => {
                        let Ok(msg) = ServerMsg::from_json(&text) else {
                            leptos::logging::warn!("unreadable frame from server: {text}");
                            continue;
                        };
                        if matches!(msg, ServerMsg::Welcome(_)) {
                            attempt = 0;
                            mark_body("online");
                        }
                        let followup = state.try_update(|s| s.apply(msg)).flatten();
                        match followup {
                            Some(Followup::Resync { thread_id, after_seq }) => {
                                let frame = ClientMsg::OpenThread(OpenThread { thread_id, after_seq: Some(after_seq) });
                                ok = sink.send(encode(&frame)).await.is_ok();
                            }
                            Some(Followup::Navigate(id)) => navigate(&format!("/threads/{id}"), Default::default()),
                            Some(Followup::ThreadGone(id)) if state.with_untracked(|s| s.open == Some(id)) => {
                                navigate("/", Default::default())
                            }
                            Some(Followup::ThreadGone(_)) | None => {}
                        }
                    }
                    Either::Left((Some(Ok(Message::Bytes(_))), _)) => {}
                    // The sign-in session ended (a logout, here or in another tab): to the home
                    // page a visitor sees, where the logout itself lands too.
                    Either::Left((Some(Err(WebSocketError::ConnectionClose(close))), _))
                        if close.code == SIGNED_OUT =>
                    {
                        if let Some(window) = web_sys::window() {
                            let _ = window.location().assign("/");
                        }
                        return;
                    }
                    Either::Left((Some(Err(_)) | None, _)) => ok = false,
                    Either::Right((Some(frame), _)) => ok = sink.send(encode(&frame)).await.is_ok(),
                    Either::Right((None, _)) => return,
                }
            }
        }
        state.update(|s| s.connection = Connection::Reconnecting);
        mark_body("reconnecting");
        let jitter = (js_sys::Math::random() * 250.0) as u32;
        gloo_timers::future::TimeoutFuture::new(backoff_ms(attempt) + jitter).await;
        attempt = attempt.saturating_add(1);
    }
}
