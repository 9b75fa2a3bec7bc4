//! `GET /threads/{id}/export.zip`: a thread's images (the originals, as PNG) and a
//! `prompts.json` saying what each was asked, made with, and cost. Owner-only. Built in memory
//! on the blocking pool, so a thread larger than [`MAX_EXPORT_BYTES`] is refused with a
//! sentence rather than taking the server's memory.

use std::io::{Cursor, Write};

use app::protocol::{MessageId, ThreadId, Variant};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use zip::write::SimpleFileOptions;

use crate::auth::MaybeUser;
use crate::state::AppState;

/// The most image bytes one export holds.
pub const MAX_EXPORT_BYTES: usize = 512 << 20;

pub async fn thread_zip(State(state): State<AppState>, user: MaybeUser, Path(id): Path<i64>) -> Response {
    let Some(user) = user.0 else { return (StatusCode::UNAUTHORIZED, "Please log in again.").into_response() };
    let store = &state.chat.store;
    let thread = match store.thread(user.id, ThreadId(id)).await {
        Ok(Some(thread)) => thread,
        Ok(None) => return (StatusCode::NOT_FOUND, "not found").into_response(),
        Err(e) => return unavailable(e),
    };
    let jobs = match store.jobs_of_thread(ThreadId(id), (MessageId(0), MessageId(i64::MAX))).await {
        Ok(jobs) => jobs,
        Err(e) => return unavailable(e),
    };
    let mut jobs: Vec<_> = jobs.into_values().filter(|j| !j.images.is_empty()).collect();
    jobs.sort_by_key(|j| j.id);
    let (mut files, mut entries, mut total) = (Vec::new(), Vec::new(), 0usize);
    for job in &jobs {
        for image in &job.images {
            let bytes = match store.image_variant(user.id, image.id, Variant::Full).await {
                Ok(Some(v)) => v.bytes,
                Ok(None) => continue,
                Err(e) => return unavailable(e),
            };
            total += bytes.len();
            if total > MAX_EXPORT_BYTES {
                let text = format!(
                    "This thread's images are more than {} MB; export them a few at a time from the gallery.",
                    MAX_EXPORT_BYTES >> 20
                );
                return (StatusCode::PAYLOAD_TOO_LARGE, text).into_response();
            }
            let name = format!("images/{:04}-{}.png", files.len() + 1, image.id);
            entries.push(json!({
                "file": name, "prompt": job.prompt, "enhanced_prompt": job.enhanced_prompt,
                "revised_prompt": job.revised_prompt, "provider": job.provider.id(), "model": job.model,
                "params": job.params, "cost_usd_micros": job.cost_micros,
                "width": image.width, "height": image.height,
            }));
            files.push((name, bytes));
        }
    }
    let prompts = json!({ "thread": thread.title, "images": entries });
    let built = tokio::task::spawn_blocking(move || build(files, &prompts)).await;
    match built {
        Ok(Ok(zip)) => {
            let filename = format!("attachment; filename=\"easel-thread-{id}.zip\"");
            ([(header::CONTENT_TYPE, "application/zip".to_string()), (header::CONTENT_DISPOSITION, filename)], zip)
                .into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "an export could not be built");
            (StatusCode::INTERNAL_SERVER_ERROR, "The export could not be made.").into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "an export stopped");
            (StatusCode::INTERNAL_SERVER_ERROR, "The export could not be made.").into_response()
        }
    }
}

/// The zip: PNGs stored as they are (already compressed), the prompts as pretty JSON.
fn build(files: Vec<(String, Vec<u8>)>, prompts: &serde_json::Value) -> Result<Vec<u8>, zip::result::ZipError> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in files {
        zip.start_file(name, stored)?;
        zip.write_all(&bytes)?;
    }
    zip.start_file("prompts.json", stored)?;
    zip.write_all(serde_json::to_string_pretty(prompts).unwrap_or_default().as_bytes())?;
    Ok(zip.finish()?.into_inner())
}

fn unavailable(e: crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "an export could not read the store");
    (StatusCode::SERVICE_UNAVAILABLE, "Please try again in a moment.").into_response()
}
