//! The built-in renderer: the default provider when no API key is configured, so a fresh
//! checkout makes images offline. It paints a scene read from the prompt's words (see
//! [`scene`]), deterministically, and reports progressive previews at a configurable pace
//! so the stages are visible in the UI.

pub mod paint;
pub mod scene;

use std::io::Cursor;
use std::time::Duration;

use async_trait::async_trait;
use image::{imageops::FilterType, DynamicImage, ImageFormat, RgbImage};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Capabilities, GeneratedImage, ImageProvider, ImageRequest, ProviderError, ProviderEvent, ProviderKind};
use scene::Scene;

/// Largest side the renderer paints, whatever is asked.
const MAX_SIDE: u32 = 2048;
/// Preview widths, coarse to fine.
const PREVIEW_SIDES: [u32; 3] = [32, 96, 192];

#[derive(Debug, Clone)]
pub struct BuiltinRenderer {
    /// Pause before each preview; zero in tests, a second or so for a visible demo.
    pub pace: Duration,
}

fn encode_png(img: &RgbImage) -> Result<Vec<u8>, ProviderError> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).map_err(|e| ProviderError::BadResponse(e.to_string()))?;
    Ok(out.into_inner())
}

/// Paints off the async threads: a 1024 px image is tens of milliseconds of CPU.
async fn paint_png(
    scene: Scene,
    width: u32,
    height: u32,
    upscale_to: Option<(u32, u32)>,
) -> Result<Vec<u8>, ProviderError> {
    tokio::task::spawn_blocking(move || {
        let mut img = paint::paint(&scene, width, height);
        if let Some((w, h)) = upscale_to {
            img = DynamicImage::ImageRgb8(img).resize_exact(w, h, FilterType::Nearest).to_rgb8();
        }
        encode_png(&img)
    })
    .await
    .map_err(|e| ProviderError::BadResponse(format!("renderer stopped: {e}")))?
}

#[async_trait]
impl ImageProvider for BuiltinRenderer {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Builtin
    }

    fn model(&self) -> String {
        "scene-v1".into()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { previews: true, cancel: true, custom_sizes: true, ..Capabilities::default() }
    }

    /// Painting takes well under a second; the pace between previews is what takes time.
    fn deadline(&self, _request: &ImageRequest) -> Duration {
        Duration::from_secs(120) + self.pace * PREVIEW_SIDES.len() as u32
    }

    async fn generate(
        &self,
        request: &ImageRequest,
        events: mpsc::Sender<ProviderEvent>,
        cancel: CancellationToken,
    ) -> Result<GeneratedImage, ProviderError> {
        let scene = Scene::from_prompt(&request.prompt);
        let (width, height) = (request.width.clamp(8, MAX_SIDE), request.height.clamp(8, MAX_SIDE));
        // A closed channel means nobody watches; the image is still made and stored.
        let _ = events.send(ProviderEvent::Generating).await;
        for side in PREVIEW_SIDES {
            tokio::select! {
                _ = cancel.cancelled() => return Err(ProviderError::Cancelled),
                _ = tokio::time::sleep(self.pace) => {}
            }
            let h = (side * height / width).max(1);
            let png = paint_png(scene.clone(), side, h, None).await?;
            let _ = events.send(ProviderEvent::Preview { png }).await;
        }
        let png = tokio::select! {
            _ = cancel.cancelled() => return Err(ProviderError::Cancelled),
            png = paint_png(scene, width, height, None) => png?,
        };
        Ok(GeneratedImage {
            images: vec![png],
            revised_prompt: None,
            provider: self.name(),
            model: "scene-v1".into(),
            usage: None,
            seed: None,
            steps: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(prompt: &str) -> ImageRequest {
        ImageRequest::new(prompt, 256, 256)
    }

    #[tokio::test]
    async fn it_reports_previews_then_returns_a_png_of_the_asked_size() {
        let renderer = BuiltinRenderer { pace: Duration::ZERO };
        let (tx, mut rx) = mpsc::channel(8);
        let image = renderer.generate(&request("a lighthouse at dusk"), tx, CancellationToken::new()).await;
        let image = image.expect("rendered");
        let decoded = image::load_from_memory(&image.images[0]).expect("valid png");
        assert_eq!((decoded.width(), decoded.height()), (256, 256));
        assert_eq!(image.provider, "built-in renderer");
        assert_eq!(rx.recv().await, Some(ProviderEvent::Generating));
        let mut previews = 0;
        while let Some(ProviderEvent::Preview { png }) = rx.recv().await {
            assert!(image::load_from_memory(&png).is_ok());
            previews += 1;
        }
        assert_eq!(previews, PREVIEW_SIDES.len());
    }

    #[tokio::test]
    async fn the_same_prompt_renders_the_same_bytes() {
        let renderer = BuiltinRenderer { pace: Duration::ZERO };
        let a =
            renderer.generate(&request("neon city in the rain"), mpsc::channel(8).0, CancellationToken::new()).await;
        let b =
            renderer.generate(&request("neon city in the rain"), mpsc::channel(8).0, CancellationToken::new()).await;
        assert_eq!(a.expect("a").images, b.expect("b").images);
    }

    #[tokio::test]
    async fn cancel_stops_it_at_once() {
        let renderer = BuiltinRenderer { pace: Duration::from_secs(30) };
        let cancel = CancellationToken::new();
        let trip = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            trip.cancel();
        });
        let started = std::time::Instant::now();
        let result = renderer.generate(&request("sea"), mpsc::channel(8).0, cancel).await;
        assert_eq!(result, Err(ProviderError::Cancelled));
        assert!(started.elapsed() < Duration::from_secs(5), "cancel did not wait for the 30 s pace");
    }
}
