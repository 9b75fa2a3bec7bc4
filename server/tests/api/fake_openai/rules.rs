//! What the real API checks before it generates (a model it serves, a size the 2.x models
//! take) and what it reports after (images made, usage for their size and quality).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{Shared, SERVED_MODELS};

/// What the real API answers before it generates: an unknown or retired model, a size the
/// 2.x models refuse.
pub(super) fn refusal(shared: &Shared, model: &str, size: Option<&str>) -> Option<Response> {
    let error = |status: StatusCode, code: &str, message: String| {
        Some((status, Json(json!({ "error": { "message": message, "type": "invalid_request_error", "param": null, "code": code } }))).into_response())
    };
    if shared.extra_models.lock().expect("lock").iter().any(|m| m == model) {
        return None; // a compatible server's own model: its own size rules
    }
    if !SERVED_MODELS.contains(&model) {
        return error(
            StatusCode::NOT_FOUND,
            "model_not_found",
            format!("The model `{model}` does not exist or you do not have access to it."),
        );
    }
    let size = size.unwrap_or("auto");
    if size == "auto" {
        return None;
    }
    let parsed = size.split_once('x').and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)));
    let valid = parsed.is_some_and(|(w, h)| {
        let (long, short, pixels) = (w.max(h), w.min(h), u64::from(w) * u64::from(h));
        w % 16 == 0
            && h % 16 == 0
            && long <= 3840
            && short > 0
            && long <= 3 * short
            && (655_360..=8_294_400).contains(&pixels)
    });
    (!valid).then(|| error(StatusCode::BAD_REQUEST, "invalid_value", format!("Invalid size '{size}'.")))?
}

/// What a request asked for that shapes the answer: how many images, and the size and
/// quality its usage is reported for.
#[derive(Clone, Copy)]
pub(super) struct Asked {
    pub(super) n: usize,
    pixels: u64,
    quality: Option<&'static str>,
}

impl Asked {
    pub(super) fn of(body: &Value) -> Self {
        let n = body["n"].as_u64().or_else(|| body["n"].as_str().and_then(|n| n.parse().ok())).unwrap_or(1);
        let size = body["size"].as_str().and_then(|s| s.split_once('x'));
        let pixels = size.and_then(|(w, h)| Some(w.parse::<u64>().ok()? * h.parse::<u64>().ok()?)).unwrap_or(1 << 20);
        let quality = match body["quality"].as_str() {
            Some("low") => Some("low"),
            Some("high") => Some("high"),
            Some("xhigh") => Some("xhigh"),
            Some("max") => Some("max"),
            _ => None,
        };
        Self { n: n.clamp(1, 10) as usize, pixels, quality }
    }

    /// Image tokens as the API reports them: gpt-image's documented 272 / 1,056 / 4,160 per
    /// 1024×1024 image at low / medium / high, by area, for every image made.
    pub(super) fn output_tokens(&self) -> u64 {
        let per_mp = match self.quality {
            Some("low") => 272.0,
            Some("high") => 4_160.0,
            Some("xhigh") => 8_320.0,
            Some("max") => 16_640.0,
            _ => 1_056.0,
        };
        (per_mp * self.pixels as f64 / 1_048_576.0).round() as u64 * self.n as u64
    }
}

/// The share of a PNG mask's pixels that are transparent; `None` when it is not a PNG.
pub(super) fn transparent_share(png: &[u8]) -> Option<f64> {
    let img = image::load_from_memory_with_format(png, image::ImageFormat::Png).ok()?.to_rgba8();
    let total = u64::from(img.width()) * u64::from(img.height());
    let clear = img.pixels().filter(|p| p.0[3] == 0).count() as u64;
    (total > 0).then(|| clear as f64 / total as f64)
}
