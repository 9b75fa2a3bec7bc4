//! The JSON AUTOMATIC1111's API speaks (`modules/api/models.py`, `modules/progress.py`), and
//! how its answers become images, progress and typed errors. Pure functions, unit-tested
//! here; the HTTP calls are in [`super::api`], failures in [`super::errors`].

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::A1111Settings;
use crate::providers::{steps_for, ImageRequest, ProviderError};

/// How strongly img2img may change the source image: enough to follow a refinement, little
/// enough to keep its composition.
const DENOISING_STRENGTH: f32 = 0.6;

/// The body of `POST /sdapi/v1/txt2img` (and `img2img` with the source image).
#[derive(Debug, Serialize)]
pub(super) struct GenerationBody<'a> {
    prompt: &'a str,
    negative_prompt: &'a str,
    width: u32,
    height: u32,
    steps: u32,
    cfg_scale: f32,
    sampler_name: &'a str,
    /// `-1` asks the engine for a random seed.
    seed: i64,
    batch_size: u32,
    n_iter: u32,
    send_images: bool,
    save_images: bool,
    /// Our id for the task, so `/internal/progress` answers about this job and no other.
    force_task_id: &'a str,
    override_settings: OverrideSettings<'a>,
    override_settings_restore_afterwards: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    init_images: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    denoising_strength: Option<f32>,
    /// Inpainting: white where the image may change (our mask's own form).
    #[serde(skip_serializing_if = "Option::is_none")]
    mask: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inpainting_mask_invert: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mask_blur: Option<u32>,
}

#[derive(Debug, Serialize)]
struct OverrideSettings<'a> {
    live_previews_enable: bool,
    show_progress_every_n_steps: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    sd_model_checkpoint: Option<&'a str>,
}

impl<'a> GenerationBody<'a> {
    pub(super) fn new(settings: &'a A1111Settings, request: &'a ImageRequest, task_id: &'a str) -> Self {
        let source = request.source.as_deref();
        // A mask only means something with the image it masks.
        let mask = request.mask.as_deref().filter(|_| source.is_some());
        Self {
            prompt: &request.prompt,
            negative_prompt: &settings.negative_prompt,
            width: multiple_of_8(request.width),
            height: multiple_of_8(request.height),
            steps: steps_for(settings.steps, request.quality),
            cfg_scale: settings.cfg_scale,
            sampler_name: &settings.sampler,
            // SD engines draw seeds from 32 bits; a wider one is folded rather than refused.
            seed: request.seed.map_or(-1, |s| i64::from(s as u32)),
            batch_size: 1,
            n_iter: 1,
            send_images: true,
            save_images: false,
            force_task_id: task_id,
            override_settings: OverrideSettings {
                live_previews_enable: true,
                show_progress_every_n_steps: 1,
                sd_model_checkpoint: settings.checkpoint.as_deref(),
            },
            override_settings_restore_afterwards: true,
            init_images: source.map(|png| vec![base64::engine::general_purpose::STANDARD.encode(png)]),
            denoising_strength: source.map(|_| DENOISING_STRENGTH),
            mask: mask.map(|png| base64::engine::general_purpose::STANDARD.encode(png)),
            inpainting_mask_invert: mask.map(|_| 0),
            mask_blur: mask.map(|_| 4),
        }
    }

    /// `txt2img`, or `img2img` when there is a source image.
    pub(super) fn endpoint(&self) -> &'static str {
        if self.init_images.is_some() {
            "/sdapi/v1/img2img"
        } else {
            "/sdapi/v1/txt2img"
        }
    }
}

/// Stable Diffusion works in 8-pixel latent cells; other sizes are refused or cropped.
fn multiple_of_8(side: u32) -> u32 {
    (side.saturating_add(4) / 8 * 8).clamp(64, 4096)
}

/// The answer of `txt2img` / `img2img`.
#[derive(Debug, Deserialize)]
pub(super) struct GenerationResponse {
    #[serde(default)]
    images: Option<Vec<String>>,
    /// A JSON document in a string (A1111), or the object itself (some compatible servers).
    #[serde(default)]
    info: Option<serde_json::Value>,
}

impl GenerationResponse {
    /// The first image's bytes and the seed the engine used.
    pub(super) fn into_image(self) -> Result<(Vec<u8>, Option<u64>), ProviderError> {
        let first = self.images.unwrap_or_default().into_iter().find(|i| !i.trim().is_empty());
        let png = decode_image(&first.ok_or(ProviderError::NoImage)?)?;
        Ok((png, self.info.as_ref().and_then(seed_from_info)))
    }
}

fn seed_from_info(info: &serde_json::Value) -> Option<u64> {
    let parsed;
    let info = match info {
        serde_json::Value::String(s) => {
            parsed = serde_json::from_str::<serde_json::Value>(s).ok()?;
            &parsed
        }
        other => other,
    };
    info.get("seed").and_then(serde_json::Value::as_u64).or_else(|| info.pointer("/all_seeds/0")?.as_u64())
}

/// Base64 image bytes, bare (results, `current_image`) or as a data URL (`live_preview`).
pub(super) fn decode_image(data: &str) -> Result<Vec<u8>, ProviderError> {
    let b64 = match data.split_once(";base64,") {
        Some((prefix, rest)) if prefix.starts_with("data:") => rest,
        _ => data,
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| ProviderError::BadResponse(format!("an image that is not base64: {e}")))?;
    if bytes.is_empty() {
        return Err(ProviderError::NoImage);
    }
    Ok(bytes)
}

/// The body of `POST /internal/progress`.
#[derive(Debug, Serialize)]
pub(super) struct TaskProgressBody<'a> {
    pub id_task: &'a str,
    /// The last preview we got (`-1`: none), so the engine sends only a newer one.
    pub id_live_preview: i64,
    pub live_preview: bool,
}

/// Where our task stands, from `POST /internal/progress`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct TaskProgress {
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub queued: bool,
    #[serde(default)]
    pub completed: bool,
    #[serde(default)]
    pub live_preview: Option<String>,
    #[serde(default)]
    pub id_live_preview: Option<i64>,
    #[serde(default)]
    pub textinfo: Option<String>,
}

impl TaskProgress {
    /// "In queue: 2/3" → 2: the tasks before ours in the engine's queue, counting the one
    /// running (a queued task waits behind it).
    pub fn queue_position(&self) -> Option<u32> {
        let info = self.textinfo.as_deref()?.trim();
        let rest = info.strip_prefix("In queue:")?;
        rest.trim().split('/').next()?.trim().parse().ok()
    }
}

/// The engine-wide state, from `GET /sdapi/v1/progress` (not per task: only read while our
/// task is the active one).
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct EngineProgress {
    #[serde(default)]
    pub state: EngineState,
    #[serde(default)]
    pub current_image: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct EngineState {
    /// 0 when idle, -1 just after a job began, else the images in the job.
    #[serde(default)]
    pub job_count: i64,
    #[serde(default)]
    pub job_no: i64,
    #[serde(default)]
    pub sampling_step: i64,
    #[serde(default)]
    pub sampling_steps: i64,
}

impl EngineState {
    pub fn busy(&self) -> bool {
        self.job_count != 0
    }

    /// (step, total) over the whole job, when the engine is sampling. The numbers are the
    /// engine's: any that overflow, or a total past `u32`, give `None` (no step said).
    pub fn steps(&self) -> Option<(u32, u32)> {
        if !self.busy() || self.sampling_steps <= 0 {
            return None;
        }
        let jobs = self.job_count.max(1);
        let total = u32::try_from(self.sampling_steps.checked_mul(jobs)?).ok()?;
        let done = self.job_no.clamp(0, jobs - 1).checked_mul(self.sampling_steps)?;
        let step = done.checked_add(self.sampling_step.max(0))?.min(i64::from(total));
        Some((u32::try_from(step).ok()?, total))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn request(source: Option<Vec<u8>>, seed: Option<u64>) -> ImageRequest {
        ImageRequest { source: source.map(Arc::new), seed, ..ImageRequest::new("a lighthouse", 1020, 770) }
    }

    #[test]
    fn a_txt2img_body_carries_every_setting() {
        let mut settings = A1111Settings::new("http://sd");
        settings.checkpoint = Some("sdxl".into());
        let request = request(None, None);
        let body = GenerationBody::new(&settings, &request, "task(abc)");
        assert_eq!(body.endpoint(), "/sdapi/v1/txt2img");
        let json = serde_json::to_value(&body).expect("json");
        assert_eq!((json["width"].as_u64(), json["height"].as_u64()), (Some(1024), Some(768)));
        assert_eq!((json["seed"].as_i64(), json["steps"].as_u64()), (Some(-1), Some(30)));
        assert_eq!(
            (json["sampler_name"].as_str(), json["force_task_id"].as_str()),
            (Some("Euler a"), Some("task(abc)"))
        );
        assert_eq!(json["override_settings"]["live_previews_enable"], true);
        assert_eq!(json["override_settings"]["sd_model_checkpoint"], "sdxl");
        assert_eq!((json["send_images"].as_bool(), json["save_images"].as_bool()), (Some(true), Some(false)));
        assert!(json.get("init_images").is_none() && json.get("denoising_strength").is_none());
    }

    #[test]
    fn a_source_image_makes_an_img2img_body() {
        let settings = A1111Settings::new("http://sd");
        let request = request(Some(vec![1, 2, 3]), Some(42));
        let body = GenerationBody::new(&settings, &request, "t");
        assert_eq!(body.endpoint(), "/sdapi/v1/img2img");
        let json = serde_json::to_value(&body).expect("json");
        assert_eq!(json["init_images"][0], "AQID");
        assert_eq!((json["seed"].as_i64(), json["denoising_strength"].as_f64()), (Some(42), Some(0.6f32 as f64)));
        assert!(json["override_settings"].get("sd_model_checkpoint").is_none());
        assert!(json.get("mask").is_none(), "no area painted: the whole image may change");
        // A painted area: inpainting, white where it may change, as our mask already is.
        let masked = ImageRequest { mask: Some(Arc::new(vec![9, 9])), ..request };
        let json = serde_json::to_value(GenerationBody::new(&settings, &masked, "t")).expect("json");
        assert_eq!((json["mask"].as_str(), json["inpainting_mask_invert"].as_u64()), (Some("CQk="), Some(0)));
    }

    #[test]
    fn sizes_are_rounded_to_multiples_of_8() {
        assert_eq!([1024, 1020, 1019, 3, 9999].map(multiple_of_8), [1024, 1024, 1016, 64, 4096]);
    }

    #[test]
    fn the_seed_comes_from_the_info_string_or_object() {
        let answer =
            |info: serde_json::Value| GenerationResponse { images: Some(vec!["AQID".into()]), info: Some(info) };
        assert_eq!(
            answer(r#"{"seed": 1234, "all_seeds": [1234]}"#.into()).into_image(),
            Ok((vec![1, 2, 3], Some(1234)))
        );
        assert_eq!(answer(serde_json::json!({ "all_seeds": [7] })).into_image().map(|i| i.1), Ok(Some(7)));
        assert_eq!(answer("not json".into()).into_image().map(|i| i.1), Ok(None));
        assert_eq!(GenerationResponse { images: Some(vec![]), info: None }.into_image(), Err(ProviderError::NoImage));
    }

    #[test]
    fn data_urls_and_bare_base64_both_decode() {
        assert_eq!(decode_image("data:image/jpeg;base64,AQID"), Ok(vec![1, 2, 3]));
        assert_eq!(decode_image("AQID\n"), Ok(vec![1, 2, 3]));
        assert!(matches!(decode_image("data:image/png;base64,%%%"), Err(ProviderError::BadResponse(_))));
    }

    #[test]
    fn the_engine_queue_position_is_read_from_textinfo() {
        let at = |t: &str| TaskProgress { textinfo: Some(t.into()), ..TaskProgress::default() }.queue_position();
        assert_eq!((at("In queue: 2/3"), at("Waiting..."), at("In queue: x")), (Some(2), None, None));
    }

    #[test]
    fn steps_cover_the_whole_job_and_idle_says_nothing() {
        let state = |job_count, job_no, step, steps| EngineState {
            job_count,
            job_no,
            sampling_step: step,
            sampling_steps: steps,
        };
        assert_eq!(state(1, 0, 12, 30).steps(), Some((12, 30)));
        assert_eq!(state(2, 1, 5, 20).steps(), Some((25, 40)));
        assert_eq!(state(0, 0, 30, 30).steps(), None, "stale counts of a finished job");
        assert_eq!(state(-1, 0, 0, 0).steps(), None);
    }

    #[test]
    fn hostile_counts_give_no_step_rather_than_a_panic() {
        let state = |job_count, job_no, step, steps| EngineState {
            job_count,
            job_no,
            sampling_step: step,
            sampling_steps: steps,
        };
        let max = i64::MAX;
        assert_eq!(state(max, max, 1, max).steps(), None, "job_no * sampling_steps overflows");
        assert_eq!(state(2, 1, max, 3).steps(), None, "the step sum overflows");
        assert_eq!(state(max, 0, max, max).steps(), None, "the total overflows");
        assert_eq!(state(1, 0, 5, i64::from(u32::MAX) + 1).steps(), None, "more steps than a u32 holds");
        assert_eq!(state(1, i64::MIN, i64::MIN, 10).steps(), Some((0, 10)), "negatives count as nothing");
        assert_eq!(state(1, 0, max, 10).steps(), Some((10, 10)), "a step past the end is the last one");
    }
}
