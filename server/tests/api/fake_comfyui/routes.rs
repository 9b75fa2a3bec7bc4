//! The fake's HTTP routes, each also under `/api`: `POST /prompt` (validated, then answered
//! as the script says), `GET /history/{id}`, `GET /view`, `GET /queue`, `POST /queue
//! {"delete"}`, `POST /interrupt`, `POST /upload/image` ([`super::inputs`]), the switchable `/api/jobs/{id}` and its cancel, and the
//! fake's own `GET /__fake/records`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::socket::{broadcast_status, socket};
use super::worker::{dequeue, enqueue, interrupt_running, set_job};
use super::{lock, CancelRecord, CancelRoute, Reply, Run, Shared};

/// Every route, under `/` and `/api`, answering 503 once the engine vanished.
pub(super) fn router(shared: Arc<Shared>) -> Router {
    let routes = || {
        Router::new()
            .route("/ws", get(socket))
            .route("/prompt", post(submit))
            .route("/history/{id}", get(history))
            .route("/view", get(view))
            .route("/queue", get(queue).post(queue_delete))
            .route("/interrupt", post(interrupt))
            .route("/upload/image", post(super::inputs::upload))
    };
    // Not ComfyUI's: what the browser test reads to see that Cancel reached the engine.
    let records = Router::new().route("/__fake/records", get(records));
    let jobs = Router::new().route("/jobs/{id}", get(job)).route("/jobs/{id}/cancel", post(job_cancel));
    routes()
        .nest("/api", routes().merge(jobs))
        .merge(records)
        .layer(axum::middleware::from_fn_with_state(shared.clone(), unless_vanished))
        .with_state(shared)
}

async fn unless_vanished(
    State(shared): State<Arc<Shared>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if shared.vanished.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "gone").into_response();
    }
    next.run(request).await
}

fn is_canonical_uuid(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok_and(|u| u.hyphenated().to_string() == id)
}

fn rejected(kind: &str, message: &str) -> Response {
    let error =
        json!({ "error": { "type": kind, "message": message, "details": "", "extra_info": {} }, "node_errors": {} });
    (StatusCode::BAD_REQUEST, Json(error)).into_response()
}

async fn submit(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else { return rejected("invalid_json", "Invalid JSON") };
    let graph_ok = body["prompt"]
        .as_object()
        .is_some_and(|g| !g.is_empty() && g.values().all(|n| n["class_type"].is_string() && n["inputs"].is_object()));
    if !graph_ok {
        return rejected("no_prompt", "No prompt provided");
    }
    let Some(client_id) = body["client_id"].as_str().map(str::to_string) else {
        return rejected("invalid_prompt", "client_id is required by this fake");
    };
    let prompt_id = match body["prompt_id"].as_str() {
        Some(id) if is_canonical_uuid(id) => id.to_string(),
        _ => return rejected("invalid_prompt_id", "prompt_id must be a canonical lowercase UUID"),
    };
    if let Some(refused) = super::inputs::refused_inputs(&shared, &body["prompt"]) {
        return refused;
    }
    lock(&shared.prompts).push(body.clone());
    let reply = lock(&shared.script).pop_front();
    let run = match reply {
        Some(Reply::Run(run)) => run,
        None => lock(&shared.default_run).clone().unwrap_or_else(|| Run::steps(4)),
        Some(Reply::NodeErrors) => {
            let errors = json!({
                "error": { "type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation", "details": "", "extra_info": {} },
                "node_errors": { "4": { "errors": [{ "type": "value_not_in_list", "message": "Value not in list", "details": "ckpt_name: 'sd_xl_base_1.0.safetensors' not in ['v1-5-pruned-emaonly.safetensors']", "extra_info": {} }], "dependent_outputs": ["9"], "class_type": "CheckpointLoaderSimple" } }
            });
            return (StatusCode::BAD_REQUEST, Json(errors)).into_response();
        }
        Some(Reply::Garbage) => {
            return ([(header::CONTENT_TYPE, "text/html")], "<html>502 Bad Gateway</html>").into_response()
        }
        Some(Reply::NoPromptId) => return Json(json!({ "number": 1, "node_errors": {} })).into_response(),
        Some(Reply::Status(code)) => {
            return (StatusCode::from_u16(code).expect("status"), "scripted failure").into_response();
        }
        Some(Reply::Slow { queue_after, answer_after, run }) => {
            // In a task of its own: a client that gives up does not stop it.
            let task = tokio::spawn(async move {
                tokio::time::sleep(queue_after).await;
                let number = enqueue(&shared, &prompt_id, client_id, run);
                tokio::time::sleep(answer_after).await;
                Json(json!({ "prompt_id": prompt_id, "number": number, "node_errors": {} })).into_response()
            });
            return task.await.expect("the slow submit");
        }
    };
    let number = enqueue(&shared, &prompt_id, client_id, run);
    Json(json!({ "prompt_id": prompt_id, "number": number, "node_errors": {} })).into_response()
}

async fn history(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Json<Value> {
    match lock(&shared.history).get(&id) {
        Some(entry) => Json(json!({ id: entry })),
        None => Json(json!({})),
    }
}

async fn view(State(shared): State<Arc<Shared>>, Query(query): Query<HashMap<String, String>>) -> Response {
    let known = query.get("filename").is_some_and(|f| lock(&shared.files).contains(f));
    if !known || query.get("type").map(String::as_str) != Some("output") {
        return (StatusCode::NOT_FOUND, "404: Not Found").into_response();
    }
    ([(header::CONTENT_TYPE, "image/png")], shared.png.clone()).into_response()
}

async fn queue(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let q = lock(&shared.queue);
    let item = |number: u64, id: &str, client: &str| json!([number, id, {}, { "client_id": client }, ["9"]]);
    let running: Vec<Value> = q.running.iter().map(|r| item(r.number, &r.prompt_id, &r.client_id)).collect();
    let pending: Vec<Value> = q.pending.iter().map(|p| item(p.number, &p.prompt_id, &p.client_id)).collect();
    Json(json!({ "queue_running": running, "queue_pending": pending }))
}

fn record(shared: &Shared, route: CancelRoute, prompt_id: &str) {
    lock(&shared.cancels).push(CancelRecord { route, prompt_id: prompt_id.to_string(), at: Instant::now() });
}

async fn queue_delete(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> StatusCode {
    for id in body["delete"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        record(&shared, CancelRoute::QueueDelete, id);
        if dequeue(&shared, id) {
            lock(&shared.jobs).remove(id);
        }
    }
    broadcast_status(&shared);
    StatusCode::OK
}

async fn interrupt(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> StatusCode {
    let prompt_id =
        serde_json::from_slice::<Value>(&body).ok().and_then(|b| b["prompt_id"].as_str().map(str::to_string));
    match prompt_id {
        Some(id) => {
            record(&shared, CancelRoute::Interrupt, &id);
            interrupt_running(&shared, (!shared.global_interrupt).then_some(id.as_str()));
        }
        None => {
            shared.bare_interrupts.fetch_add(1, Ordering::SeqCst);
            interrupt_running(&shared, None);
        }
    }
    StatusCode::OK
}

fn no_jobs_api() -> Response {
    (StatusCode::NOT_FOUND, "404: Not Found").into_response()
}

async fn job(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    if !shared.jobs_api.load(Ordering::SeqCst) {
        return no_jobs_api();
    }
    match lock(&shared.jobs).get(&id) {
        Some(job) => Json(job.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({ "error": "Job not found" }))).into_response(),
    }
}

async fn job_cancel(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    if !shared.jobs_api.load(Ordering::SeqCst) {
        return no_jobs_api();
    }
    record(&shared, CancelRoute::Jobs, &id);
    let cancelled = if dequeue(&shared, &id) {
        set_job(&shared, &id, "cancelled", json!({}));
        broadcast_status(&shared);
        true
    } else {
        interrupt_running(&shared, Some(&id))
    };
    Json(json!({ "cancelled": cancelled })).into_response()
}

/// `GET /__fake/records`: `{prompts, cancels: [prompt ids], cancel_routes, bare_interrupts}`.
async fn records(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let cancels = lock(&shared.cancels).clone();
    Json(json!({
        "prompts": lock(&shared.prompts).len(),
        "cancels": cancels.iter().map(|c| c.prompt_id.clone()).collect::<Vec<_>>(),
        "cancel_routes": cancels.iter().map(|c| format!("{:?}", c.route)).collect::<Vec<_>>(),
        "bare_interrupts": shared.bare_interrupts.load(Ordering::SeqCst),
    }))
}
