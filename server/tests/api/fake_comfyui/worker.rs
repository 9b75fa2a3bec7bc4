//! The fake's queue and its one worker: prompts run in order, each with its scripted steps,
//! previews, failure or dropped socket, and the history stored a moment *after*
//! `execution_success`, as the real server does.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::socket::{broadcast, broadcast_status, drop_socket, send, send_preview};
use super::{lock, now_ms, png, Pending, Run, Running, Shared};

/// Puts a prompt at the back of the queue; its number.
pub(super) fn enqueue(shared: &Shared, prompt_id: &str, client_id: String, run: Run) -> u64 {
    let number = {
        let mut q = lock(&shared.queue);
        q.number += 1;
        let number = q.number;
        q.pending.push_back(Pending { prompt_id: prompt_id.to_string(), client_id, number, run });
        number
    };
    lock(&shared.jobs)
        .insert(prompt_id.to_string(), json!({ "id": prompt_id, "status": "pending", "create_time": now_ms() }));
    broadcast_status(shared);
    shared.work.notify_one();
    number
}

/// Runs queued prompts one at a time, as ComfyUI's prompt worker does.
pub(super) async fn worker(shared: Arc<Shared>) {
    loop {
        let next = {
            let mut q = lock(&shared.queue);
            let next = q.pending.pop_front();
            if let Some(p) = &next {
                q.running = Some(Running {
                    prompt_id: p.prompt_id.clone(),
                    client_id: p.client_id.clone(),
                    number: p.number,
                    node: String::new(),
                    stop: CancellationToken::new(),
                });
            }
            next
        };
        let Some(pending) = next else {
            shared.work.notified().await;
            continue;
        };
        execute(&shared, &pending).await;
        lock(&shared.queue).running = None;
        lock(&shared.refused).retain(|c| c != &pending.client_id);
        broadcast_status(&shared);
    }
}

pub(super) fn set_job(shared: &Shared, id: &str, status: &str, extra: Value) {
    let mut job = json!({ "id": id, "status": status, "create_time": now_ms() });
    if let (Some(job), Some(extra)) = (job.as_object_mut(), extra.as_object()) {
        job.extend(extra.clone());
    }
    lock(&shared.jobs).insert(id.to_string(), job);
}

fn executing(shared: &Shared, p: &Pending, node: &str) {
    if let Some(running) = lock(&shared.queue).running.as_mut() {
        running.node = node.to_string();
    }
    send(shared, &p.client_id, "executing", json!({ "node": node, "display_node": node, "prompt_id": p.prompt_id }));
}

fn history_entry(p: &Pending, status: &str, messages: Value, outputs: Value) -> Value {
    json!({
        "prompt": [p.number, p.prompt_id, {}, { "client_id": p.client_id }, ["9"]],
        "outputs": outputs,
        "status": { "status_str": status, "completed": status == "success", "messages": messages },
        "meta": {}
    })
}

async fn execute(shared: &Arc<Shared>, p: &Pending) {
    let id = p.prompt_id.as_str();
    let stop = lock(&shared.queue).running.as_ref().map(|r| r.stop.clone()).unwrap_or_default();
    set_job(shared, id, "in_progress", json!({ "execution_start_time": now_ms() }));
    send(shared, &p.client_id, "execution_start", json!({ "prompt_id": id, "timestamp": now_ms() }));
    send(shared, &p.client_id, "execution_cached", json!({ "nodes": [], "prompt_id": id, "timestamp": now_ms() }));
    for node in ["4", "6", "7", "5", "3"] {
        executing(shared, p, node);
    }
    let run = &p.run;
    for step in 1..=run.steps {
        tokio::select! {
            _ = tokio::time::sleep(run.step_time) => {}
            _ = stop.cancelled() => {
                let data = json!({ "prompt_id": id, "node_id": "3", "node_type": "KSampler", "executed": ["4", "5", "6", "7"], "timestamp": now_ms() });
                broadcast(shared, "execution_interrupted", data.clone());
                lock(&shared.interrupted).push(id.to_string());
                let entry = history_entry(p, "error", json!([["execution_interrupted", data]]), json!({}));
                lock(&shared.history).insert(id.to_string(), entry);
                set_job(shared, id, "cancelled", json!({}));
                return;
            }
        }
        if run.fail_at == Some(step) {
            let data = json!({
                "prompt_id": id, "node_id": "3", "node_type": "KSampler", "executed": ["4", "5", "6", "7"],
                "exception_message": "Allocation on device 0 would exceed allowed memory. (out of memory)\n",
                "exception_type": "torch.OutOfMemoryError", "traceback": ["  File \"execution.py\", line 1\n"],
                "current_inputs": {}, "current_outputs": {}, "timestamp": now_ms()
            });
            send(shared, &p.client_id, "execution_error", data.clone());
            let entry = history_entry(p, "error", json!([["execution_error", data.clone()]]), json!({}));
            lock(&shared.history).insert(id.to_string(), entry);
            set_job(shared, id, "failed", json!({ "execution_error": data }));
            return;
        }
        let state = json!({ "value": f64::from(step), "max": f64::from(run.steps), "state": "running", "node_id": "3", "prompt_id": id, "display_node_id": "3", "parent_node_id": null, "real_node_id": "3" });
        send(shared, &p.client_id, "progress_state", json!({ "prompt_id": id, "nodes": { "3": state } }));
        send(
            shared,
            &p.client_id,
            "progress",
            json!({ "value": step, "max": run.steps, "prompt_id": id, "node": "3" }),
        );
        if run.preview_every > 0 && step % run.preview_every == 0 {
            send_preview(shared, &p.client_id, id, &png(64, (step * 8 % 255) as u8));
        }
        if run.drop_socket_at == Some(step) {
            lock(&shared.refused).push(p.client_id.clone());
            drop_socket(shared, &p.client_id);
        }
    }
    executing(shared, p, "8");
    executing(shared, p, "9");
    let filename = {
        let mut files = lock(&shared.files);
        let name = format!("easel_{:05}_.png", files.len() + 1);
        files.push(name.clone());
        name
    };
    let images = json!([{ "filename": filename, "subfolder": "", "type": "output" }]);
    send(
        shared,
        &p.client_id,
        "executed",
        json!({ "node": "9", "display_node": "9", "output": { "images": images }, "prompt_id": id }),
    );
    if !shared.lose_end_of.contains(&p.number) {
        send(shared, &p.client_id, "execution_success", json!({ "prompt_id": id, "timestamp": now_ms() }));
        send(shared, &p.client_id, "executing", json!({ "node": null, "prompt_id": id }));
    }
    // The real worker stores the history only after the executor returned.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let messages = json!([["execution_start", { "prompt_id": id }], ["execution_success", { "prompt_id": id }]]);
    let entry = history_entry(p, "success", messages, json!({ "9": { "images": images } }));
    lock(&shared.history).insert(id.to_string(), entry);
    set_job(shared, id, "completed", json!({ "outputs": { "9": { "images": images } } }));
}

/// Takes a waiting prompt off the queue; whether it was there.
pub(super) fn dequeue(shared: &Shared, id: &str) -> bool {
    let mut q = lock(&shared.queue);
    let before = q.pending.len();
    q.pending.retain(|p| p.prompt_id != id);
    before != q.pending.len()
}

/// Interrupts the running prompt if it is `id` (any prompt when `None`).
pub(super) fn interrupt_running(shared: &Shared, id: Option<&str>) -> bool {
    let q = lock(&shared.queue);
    match &q.running {
        Some(r) if id.is_none_or(|id| id == r.prompt_id) => {
            r.stop.cancel();
            true
        }
        _ => false,
    }
}
