//! The fake's input folder: `POST /upload/image` (multipart `image`, `type`, `subfolder`,
//! `overwrite`, answered `{name, subfolder, type}`, a clashing name renamed `name (1).png`
//! unless overwriting, as ComfyUI does) and the check `POST /prompt` makes of every
//! `LoadImage`/`LoadImageMask`: its file must exist there, its channel be one it knows.

use std::sync::Arc;

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{lock, Shared};

/// What a fresh ComfyUI install has in its input folder.
const SHIPPED: &str = "example.png";

pub(super) async fn upload(State(shared): State<Arc<Shared>>, mut form: Multipart) -> Response {
    let (mut image, mut kind, mut subfolder, mut overwrite) = (None, "input".to_string(), String::new(), false);
    while let Ok(Some(field)) = form.next_field().await {
        match field.name().unwrap_or_default() {
            "image" => {
                let name = field.file_name().unwrap_or_default().to_string();
                let Ok(bytes) = field.bytes().await else { return StatusCode::BAD_REQUEST.into_response() };
                image = Some((name, bytes.to_vec()));
            }
            "type" => kind = field.text().await.unwrap_or_default(),
            "subfolder" => subfolder = field.text().await.unwrap_or_default(),
            "overwrite" => overwrite = matches!(field.text().await.as_deref(), Ok("true" | "1")),
            _ => {}
        }
    }
    let Some((name, bytes)) = image.filter(|(name, _)| !name.is_empty()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    // The real server refuses a path that leaves its folder.
    if name.contains('/') || subfolder.split('/').any(|part| part == "..") || kind != "input" {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let path = |name: &str| if subfolder.is_empty() { name.to_string() } else { format!("{subfolder}/{name}") };
    let mut files = lock(&shared.inputs);
    let mut stored = name.clone();
    if !overwrite {
        let (stem, ext) = name.rsplit_once('.').unwrap_or((&name, ""));
        let mut n = 1;
        while files.contains_key(&path(&stored)) {
            stored = format!("{stem} ({n}).{ext}");
            n += 1;
        }
    }
    files.insert(path(&stored), bytes);
    Json(json!({ "name": stored, "subfolder": subfolder, "type": kind })).into_response()
}

/// ComfyUI's answer to a graph whose image loader names a missing file or a bad channel:
/// a 400 with the node's error, before anything is queued.
pub(super) fn refused_inputs(shared: &Shared, graph: &Value) -> Option<Response> {
    let files = lock(&shared.inputs);
    let nodes = graph.as_object()?;
    let (id, node, details) = nodes.iter().find_map(|(id, node)| {
        let class = node["class_type"].as_str()?;
        if !matches!(class, "LoadImage" | "LoadImageMask") {
            return None;
        }
        let image = node["inputs"]["image"].as_str().unwrap_or_default();
        if image != SHIPPED && !files.contains_key(image) {
            return Some((id, node, format!("image - Invalid image file: {image}")));
        }
        let channel = node["inputs"]["channel"].as_str();
        (class == "LoadImageMask" && !matches!(channel, Some("alpha" | "red" | "green" | "blue")))
            .then(|| (id, node, format!("channel - Value not in list: {channel:?}")))
    })?;
    let errors = json!({
        "error": { "type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation", "details": "", "extra_info": {} },
        "node_errors": { id.as_str(): {
            "errors": [{ "type": "custom_validation_failed", "message": "Custom validation failed for node", "details": details, "extra_info": {} }],
            "dependent_outputs": [],
            "class_type": node["class_type"],
        } }
    });
    Some((StatusCode::BAD_REQUEST, Json(errors)).into_response())
}
