//! Edits on ComfyUI (issue 13): a picture sent with words goes to the engine's input folder by
//! `POST /upload/image` and the edit workflow's `LoadImage` names it; the painted area rides
//! in the picture's alpha (the built-in graph) or in a file of its own for a workflow with a
//! `LoadImageMask`; quality sets the sampler steps.

use std::sync::Arc;

use app::protocol::*;
use image::GenericImageView;
use serde_json::{json, Value};
use server::config::ProviderChoice;
use server::providers::comfyui::{ComfyUi, ComfyUiSettings};
use server::providers::{ImageProvider, ImageRequest};

use crate::comfyui::{settings, start};
use crate::fake_comfyui::FakeComfyUi;
use crate::helpers::{finished_job, spawn_app_with, test_db};
use crate::uploads::{encode, image_of, left_half_mask, phone_photo, post};

/// The share of pixels whose alpha is 0, and of those in the left half.
fn clear_share(png: &[u8]) -> (f64, f64) {
    let img = image::load_from_memory(png).expect("decodes");
    let (w, h) = img.dimensions();
    let clear: Vec<(u32, u32)> = img.pixels().filter(|(_, _, p)| p.0[3] == 0).map(|(x, y, _)| (x, y)).collect();
    let left = clear.iter().filter(|(x, _)| *x < w / 2).count();
    (clear.len() as f64 / f64::from(w * h), left as f64 / clear.len().max(1) as f64)
}

/// A mask in the form the store keeps it: white where painted (the left half).
fn grey_left_half(w: u32, h: u32) -> Vec<u8> {
    let img = image::GrayImage::from_fn(w, h, |x, _| image::Luma([if x < w / 2 { 255 } else { 0 }]));
    encode(image::DynamicImage::ImageLuma8(img), image::ImageFormat::Png)
}

fn graph_of(prompt: &Value) -> &Value {
    &prompt["prompt"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picture_with_words_is_uploaded_and_edited_in_its_painted_area() {
    let fake = FakeComfyUi::start(vec![]).await;
    let s = settings(&fake.base_url);
    let app = spawn_app_with(test_db().await, move |settings| {
        settings.images = settings.images.clone().with_provider(ProviderChoice::ComfyUi(s));
    })
    .await;
    let cookie = app.signup("ada").await;
    let (_, answer) = post(&app, "/uploads", Some(&cookie), phone_photo()).await;
    let picture = image_of(&answer);
    let (_, answer) =
        post(&app, &format!("/uploads?kind=mask&for={}", picture.id), Some(&cookie), left_half_mask(320, 240)).await;
    let mask = image_of(&answer);

    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    let options = ImageOptions {
        source: Some(picture.id),
        mask: Some(mask.id),
        quality: Some(Quality::High),
        ..Default::default()
    };
    tab.say_with(thread.id, "m-1", "make the background a beach", options).await;
    let job = tab.read_until(|m| finished_job(m).is_some()).await.last().and_then(finished_job).expect("a job");
    assert_eq!(job.status, JobStatus::Complete, "{job:?}");
    assert_eq!(job.provider, ProviderKind::ComfyUi);

    let prompts = fake.prompts();
    let graph = graph_of(prompts.last().expect("a prompt"));
    let name = graph["10"]["inputs"]["image"].as_str().expect("the picture's name");
    assert!(name.starts_with("easel/easel-") && name.ends_with(".png"), "{name}");
    assert_eq!(graph["12"]["class_type"], "SetLatentNoiseMask", "the built-in edit graph ran");
    assert!(graph["6"]["inputs"]["text"].as_str().is_some_and(|t| t.contains("beach")), "{graph}");
    assert_eq!(graph["3"]["inputs"]["steps"], 32, "high quality: 160 % of the graph's 20 steps");
    let inputs = fake.inputs();
    let uploaded = inputs.get(name).expect("the picture was uploaded under that name");
    let (clear, on_the_left) = clear_share(uploaded);
    assert!((clear - 0.5).abs() < 0.03, "the painted half is clear: {clear}");
    assert!(on_the_left > 0.97, "and it is the left half: {on_the_left}");
    let shape = image::load_from_memory(uploaded).expect("decodes").dimensions();
    assert_eq!((shape.0 % 8, shape.1 % 8), (0, 0), "whole latent cells: {shape:?}");
    assert!((f64::from(shape.0) / f64::from(shape.1) - 4.0 / 3.0).abs() < 0.02, "the picture's shape: {shape:?}");

    // Refining the result ("make it bluer") edits it too: all of it may change.
    tab.say(thread.id, "m-2", "make it bluer").await;
    let again = tab.read_until(|m| finished_job(m).is_some()).await.last().and_then(finished_job).expect("a job");
    assert_eq!(again.status, JobStatus::Complete, "{again:?}");
    let prompts = fake.prompts();
    let graph = graph_of(prompts.last().expect("a prompt"));
    let second = graph["10"]["inputs"]["image"].as_str().expect("a name");
    assert_ne!(second, name, "each prompt uploads its own file");
    let (clear, _) = clear_share(&fake.inputs()[second]);
    assert!(clear > 0.99, "nothing painted: the whole picture may change ({clear})");
    assert_eq!(graph["3"]["inputs"]["steps"], 20, "no quality asked: the graph's own steps");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_with_a_mask_loader_gets_a_mask_file_in_the_channel_it_reads() {
    let fake = FakeComfyUi::start(vec![]).await;
    // An inpainting workflow as a user exports it: the mask from a LoadImageMask (alpha).
    let mut graph: Value =
        serde_json::from_str(include_str!("../../src/providers/comfyui/default_edit_workflow.json")).expect("json");
    graph["20"] = json!({"class_type": "LoadImageMask", "inputs": {"image": "example.png", "channel": "alpha"}});
    graph["12"]["inputs"]["mask"] = json!(["20", 0]);
    let path = std::env::temp_dir().join(format!("easel-inpaint-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&path, graph.to_string()).expect("write");
    let env = [("COMFYUI_URL", fake.base_url.clone()), ("COMFYUI_EDIT_WORKFLOW", path.to_string_lossy().into_owned())];
    let var = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    let mut s: ComfyUiSettings = ComfyUiSettings::from_env(&var).expect("valid").expect("configured");
    let quick = settings(&fake.base_url);
    (s.connect_wait, s.request_timeout) = (quick.connect_wait, quick.request_timeout);
    let provider = Arc::new(ComfyUi::new(s).expect("starts"));
    let caps = provider.capabilities();
    assert!(caps.edit && caps.mask, "{caps:?}");

    let request = ImageRequest {
        source: Some(Arc::new(phone_photo())),
        mask: Some(Arc::new(grey_left_half(640, 480))),
        ..ImageRequest::new("a red door", 640, 480)
    };
    let (result, _) = start(&provider, request).finish().await;
    result.expect("an image");
    let prompts = fake.prompts();
    let sent = graph_of(prompts.last().expect("a prompt"));
    let (picture, mask) = (sent["10"]["inputs"]["image"].as_str(), sent["20"]["inputs"]["image"].as_str());
    let (picture, mask) = (picture.expect("picture"), mask.expect("mask"));
    assert_eq!(sent["20"]["inputs"]["channel"], "alpha", "the workflow's own channel stays");
    let inputs = fake.inputs();
    assert_eq!(clear_share(&inputs[picture]).0, 0.0, "the picture itself stays opaque");
    let (clear, on_the_left) = clear_share(&inputs[mask]);
    assert!((clear - 0.5).abs() < 0.03 && on_the_left > 0.97, "{clear} {on_the_left}");
    std::fs::remove_file(path).ok();

    // Turned off, the engine says it cannot change pictures.
    let off = [("COMFYUI_URL", fake.base_url.clone()), ("COMFYUI_EDIT_WORKFLOW", "off".to_string())];
    let var = |k: &str| off.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    let s = ComfyUiSettings::from_env(&var).expect("valid").expect("configured");
    let caps = ComfyUi::new(s).expect("starts").capabilities();
    assert!(!caps.edit && !caps.mask, "{caps:?}");
}
