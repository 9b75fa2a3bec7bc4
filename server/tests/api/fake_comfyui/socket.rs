//! The fake's WebSocket side: `GET /ws?clientId=…` sessions (status first, the
//! `feature_flags` answer, a reused id dropping the older socket) and the frames the worker
//! and the routes send through them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::{lock, Shared, Sock};

pub(super) fn send(shared: &Shared, client_id: &str, kind: &str, data: Value) {
    if let Some(sock) = lock(&shared.sockets).get(client_id) {
        let _ = sock.tx.send(Message::Text(json!({ "type": kind, "data": data }).to_string().into()));
    }
}

pub(super) fn broadcast(shared: &Shared, kind: &str, data: Value) {
    let text = json!({ "type": kind, "data": data }).to_string();
    for sock in lock(&shared.sockets).values() {
        let _ = sock.tx.send(Message::Text(text.clone().into()));
    }
}

fn queue_remaining(shared: &Shared) -> usize {
    let q = lock(&shared.queue);
    q.pending.len() + usize::from(q.running.is_some())
}

fn status_data(shared: &Shared, sid: Option<&str>) -> Value {
    let mut data = json!({ "status": { "exec_info": { "queue_remaining": queue_remaining(shared) } } });
    if let Some(sid) = sid {
        data["sid"] = sid.into();
    }
    data
}

pub(super) fn broadcast_status(shared: &Shared) {
    broadcast(shared, "status", status_data(shared, None));
}

/// A preview for one client: type 4 with metadata if it asked for it, type 1 otherwise.
pub(super) fn send_preview(shared: &Shared, client_id: &str, prompt_id: &str, image: &[u8]) {
    let sockets = lock(&shared.sockets);
    let Some(sock) = sockets.get(client_id) else { return };
    let frame = if sock.metadata.load(Ordering::SeqCst) {
        let meta = json!({ "node_id": "3", "prompt_id": prompt_id, "display_node_id": "3", "parent_node_id": null, "real_node_id": "3", "image_type": "image/png" }).to_string();
        let mut frame = 4u32.to_be_bytes().to_vec();
        frame.extend((meta.len() as u32).to_be_bytes());
        frame.extend(meta.as_bytes());
        frame.extend(image);
        frame
    } else {
        let mut frame = 1u32.to_be_bytes().to_vec();
        frame.extend(2u32.to_be_bytes());
        frame.extend(image);
        frame
    };
    let _ = sock.tx.send(Message::Binary(frame.into()));
}

/// Closes a client's socket, as a network blip would.
pub(super) fn drop_socket(shared: &Shared, client_id: &str) {
    if let Some(sock) = lock(&shared.sockets).remove(client_id) {
        let _ = sock.tx.send(Message::Close(None));
    }
}

pub(super) async fn socket(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let client_id = query.get("clientId").cloned().unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    if lock(&shared.refused).contains(&client_id) {
        return (StatusCode::SERVICE_UNAVAILABLE, "refused for the test").into_response();
    }
    // Counted at the handshake: the client may be done before the session task runs.
    let serial = shared.connections.fetch_add(1, Ordering::SeqCst);
    upgrade.on_upgrade(move |ws| session(shared, client_id, serial, ws))
}

async fn session(shared: Arc<Shared>, client_id: String, serial: usize, ws: WebSocket) {
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    let metadata = Arc::new(AtomicBool::new(false));
    // A reused id drops the older socket, as the real server does.
    if let Some(old) =
        lock(&shared.sockets).insert(client_id.clone(), Sock { tx: tx.clone(), metadata: metadata.clone(), serial })
    {
        let _ = old.tx.send(Message::Close(None));
    }
    let writer = tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            let close = matches!(message, Message::Close(_));
            if sink.send(message).await.is_err() || close {
                break;
            }
        }
    });
    let _ = tx.send(Message::Text(
        json!({ "type": "status", "data": status_data(&shared, Some(&client_id)) }).to_string().into(),
    ));
    // On a reconnect, only the node executing now is said again.
    let running = lock(&shared.queue)
        .running
        .as_ref()
        .filter(|r| r.client_id == client_id)
        .map(|r| (r.prompt_id.clone(), r.node.clone()));
    if let Some((prompt_id, node)) = running {
        send(&shared, &client_id, "executing", json!({ "node": node, "display_node": node, "prompt_id": prompt_id }));
    }
    let mut first = true;
    while let Some(Ok(message)) = stream.next().await {
        let Message::Text(text) = message else { continue };
        let Ok(value) = serde_json::from_str::<Value>(&text) else { continue };
        if first {
            lock(&shared.first_frames).push(value.clone());
            first = false;
        }
        if value["type"] == "feature_flags" {
            let wants = value["data"]["supports_preview_metadata"].as_bool() == Some(true);
            metadata.store(wants, Ordering::SeqCst);
            let answer = json!({ "type": "feature_flags", "data": { "supports_preview_metadata": true, "max_upload_size": 104857600 } });
            let _ = tx.send(Message::Text(answer.to_string().into()));
        }
    }
    {
        let mut sockets = lock(&shared.sockets);
        if sockets.get(&client_id).is_some_and(|s| s.serial == serial) {
            sockets.remove(&client_id);
        }
    }
    writer.abort();
}
