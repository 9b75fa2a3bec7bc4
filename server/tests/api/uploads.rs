//! Pictures users send (issue 13): an upload with words is an edit of it, sent to the
//! provider with the painted area as its mask; bad uploads (not a picture, a decompression
//! bomb, too large, not yours) are refused with a sentence and store nothing; an engine that
//! cannot edit says so before anything is sent.

use std::io::Cursor;
use std::time::Duration;

use app::protocol::*;
use image::{DynamicImage, ImageFormat};
use serde_json::Value;

use crate::fake_openai::{sha256_hex, FakeOpenAi};
use crate::helpers::{finished_job, spawn_app, spawn_app_with, test_db, TestApp};
use crate::quotas::app_with;

pub(crate) fn encode(img: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

/// A JPEG whose EXIF segment names a GPS position, as a phone writes it.
pub(crate) fn phone_photo() -> Vec<u8> {
    let img = DynamicImage::ImageRgb8(image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    }));
    let jpeg = encode(img, ImageFormat::Jpeg);
    let exif = b"Exif\0\0MM\0*\0\0\0\x08\0\x01\x88\x25\0\x04\0\0\0\x01\0\0\0\x1aGPSLatitude 48.8584N";
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((exif.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(exif);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// The left half painted.
pub(crate) fn left_half_mask(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(w, h, |x, _| image::Rgba([255, 40, 90, if x < w / 2 { 153 } else { 0 }]));
    encode(DynamicImage::ImageRgba8(img), ImageFormat::Png)
}

pub(crate) async fn post(app: &TestApp, path: &str, cookie: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
    let mut req = client.post(app.url(path)).header("origin", app.origin()).body(body);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = req.send().await.expect("sent");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub(crate) fn image_of(answer: &Value) -> ImageInfo {
    serde_json::from_value(answer["image"].clone()).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_with_words_is_an_edit_of_it_with_its_painted_area() {
    let fake = FakeOpenAi::start(vec![]).await;
    let app = app_with(Some(&fake), "hour=10,day=10,month=10,cooldown=0").await;
    let cookie = app.signup("ada").await;
    let user = app.user_id("ada").await;

    let (status, answer) = post(&app, "/uploads", Some(&cookie), phone_photo()).await;
    assert_eq!(status, 201, "{answer}");
    let picture = image_of(&answer);
    assert_eq!((picture.width, picture.height), (640, 480));
    let stored = app.store.image_variant(user, picture.id, Variant::Full).await.expect("db").expect("stored");
    assert_eq!(stored.mime, "image/png");
    assert!(
        !stored.bytes.windows(4).any(|w| w == b"Exif") && !stored.bytes.windows(3).any(|w| w == b"GPS"),
        "stripped"
    );

    let (status, answer) =
        post(&app, &format!("/uploads?kind=mask&for={}", picture.id), Some(&cookie), left_half_mask(320, 240)).await;
    assert_eq!(status, 201, "{answer}");
    let mask = image_of(&answer);
    assert_eq!((mask.width, mask.height), (640, 480), "the mask fits its picture");

    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    let options = ImageOptions { source: Some(picture.id), mask: Some(mask.id), ..Default::default() };
    tab.say_with(thread.id, "m-1", "make the background a beach", options).await;
    let job = tab.read_until(|m| finished_job(m).is_some()).await.last().and_then(finished_job).expect("a job");
    assert_eq!(job.status, JobStatus::Complete, "{job:?}");
    let params = job.params.clone().expect("params");
    assert_eq!((params.source, params.mask), (Some(picture.id), Some(mask.id)));
    assert!(job.enhanced_prompt.contains("beach"), "{}", job.enhanced_prompt);

    let edit = fake.requests().last().cloned().expect("a request");
    assert_eq!(edit["endpoint"], "edits", "{edit}");
    assert_eq!(edit["image_sha256"].as_str(), Some(sha256_hex(&stored.bytes).as_str()), "the picture itself was sent");
    let clear = edit["mask_transparent"].as_f64().expect("a mask was sent");
    assert!((clear - 0.5).abs() < 0.02, "the painted half may change: {clear}");

    // Several pictures at once: the one to change first, the others as references.
    let (_, answer) = post(&app, "/uploads", Some(&cookie), phone_photo()).await;
    let second = image_of(&answer);
    let options = ImageOptions { source: Some(picture.id), references: vec![second.id], ..Default::default() };
    tab.say_with(thread.id, "m-2", "put the second one into the first", options).await;
    let both = tab.read_until(|m| finished_job(m).is_some()).await.last().and_then(finished_job).expect("a job");
    assert_eq!(both.params.expect("params").references, vec![second.id]);
    let sent = fake.requests().last().cloned().expect("a request");
    let second_bytes =
        app.store.image_variant(user, second.id, Variant::Full).await.expect("db").expect("stored").bytes;
    assert_eq!(sent["images"], serde_json::json!([sha256_hex(&stored.bytes), sha256_hex(&second_bytes)]), "{sent}");
    // Bob cannot send Ada's picture as a reference.
    let bob = app.signup("bob").await;
    let mut bobs_tab = app.connect(&bob).await;
    let bobs = bobs_tab.create_thread("b").await;
    let (_, answer) = post(&app, "/uploads", Some(&bob), phone_photo()).await;
    let own = image_of(&answer);
    let theft = ImageOptions { source: Some(own.id), references: vec![second.id], ..Default::default() };
    bobs_tab.say_with(bobs.id, "b-1", "combine them", theft).await;
    match bobs_tab.recv().await {
        ServerMsg::Error(e) => assert_eq!(e.message, "That image is not available."),
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Pictures are never listed as masks; the upload is counted in storage.
    assert!(app.store.stored_bytes(user).await.expect("bytes") > stored.bytes.len() as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_are_refused_with_a_sentence_and_store_nothing() {
    let app = spawn_app_with(test_db().await, |s| s.caps.upload_bytes = 1 << 20).await;
    let cookie = app.signup("ada").await;
    let user = app.user_id("ada").await;

    let (status, answer) = post(&app, "/uploads", Some(&cookie), b"%PDF-1.7 not a picture".to_vec()).await;
    assert_eq!(status, 415, "{answer}");
    assert_eq!(answer["error"], "That file is not a picture Easel can use: send a PNG, JPEG or WebP image.");

    let mut bomb = encode(DynamicImage::ImageRgb8(image::RgbImage::new(1, 1)), ImageFormat::Png);
    bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let (status, answer) = post(&app, "/uploads", Some(&cookie), bomb).await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer["error"].as_str().is_some_and(|e| e.starts_with("That picture could not be read")), "{answer}");

    let noise = (0..(3u32 << 19)).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect::<Vec<u8>>();
    let (status, answer) = post(&app, "/uploads", Some(&cookie), noise).await;
    assert_eq!((status, answer["error"].as_str()), (413, Some("Pictures may be at most 1 MB.")));

    let (status, _) = post(&app, "/uploads", None, phone_photo()).await;
    assert_eq!(status, 401);
    assert_eq!(app.store.stored_bytes(user).await.expect("bytes"), 0, "nothing was stored");

    // A mask for someone else's picture, or a picture named that is not yours.
    let (_, answer) = post(&app, "/uploads", Some(&cookie), phone_photo()).await;
    let picture = image_of(&answer);
    let bob = app.signup("bob").await;
    let (status, _) =
        post(&app, &format!("/uploads?kind=mask&for={}", picture.id), Some(&bob), left_half_mask(8, 8)).await;
    assert_eq!(status, 404);
    assert_eq!(app.store.stored_bytes(app.user_id("bob").await).await.expect("bytes"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_cannot_edit_says_so_before_anything_is_sent() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let (_, answer) = post(&app, "/uploads", Some(&cookie), phone_photo()).await;
    let picture = image_of(&answer);
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    let options = ImageOptions { source: Some(picture.id), ..Default::default() };
    tab.say_with(thread.id, "m-1", "make it a watercolor", options).await;
    let said = tab.next_answer().await;
    assert!(said.job.is_none());
    assert!(said.text.starts_with("Built-in renderer cannot change a picture you send"), "{}", said.text);
}
