//! What a request to the Images API says: the size and quality sent for what the composer's
//! row asked (within what the model takes), the JSON body of a generation and the multipart
//! form of an edit.

use super::{catalogue, Lookup, OpenAiImages, Quality};
use crate::providers::{ImageRequest, ProviderError};

impl OpenAiImages {
    /// DALL-E models take `response_format` and cannot stream; GPT image models are the opposite.
    pub(super) fn is_dalle(&self) -> bool {
        self.settings.model.starts_with("dall-e")
    }

    /// GPT image models and DALL-E 2 have an edits endpoint; DALL-E 3 does not.
    pub(super) fn edits(&self) -> bool {
        !self.is_dalle() || self.settings.model == "dall-e-2"
    }

    /// The model as the catalogue knows it (`None`: a compatible server's own, or retired).
    pub(super) fn known(&self) -> Option<catalogue::Model> {
        match catalogue::lookup(&self.settings.model) {
            Lookup::Current(m) => Some(m),
            _ => None,
        }
    }

    /// The quality sent: the one asked for when the model takes it, else the configured one.
    pub(super) fn quality_for(&self, request: &ImageRequest) -> Option<String> {
        let asked = request.quality.filter(|q| self.known().is_some_and(|m| m.qualities().contains(q)));
        asked.map(|q| q.as_str().to_string()).or_else(|| self.settings.quality.clone())
    }

    pub(super) fn quality(&self, request: &ImageRequest) -> Option<Quality> {
        self.quality_for(request).as_deref().and_then(Quality::parse)
    }

    /// The size sent: a model that takes custom sizes gets the request's size (the row's
    /// 1024-pixel class), scaled by the configured size's area against 1024×1024 (an operator
    /// who configured 2048×2048 gets twice the sides) and fitted to the model's rules; others
    /// get the configured size as written.
    pub(super) fn size_for(&self, request: &ImageRequest) -> String {
        match (self.known().is_some(), catalogue::parse_size(&self.settings.size)) {
            (true, Ok(Some((w, h)))) if request.width > 0 && request.height > 0 => {
                let scale = (f64::from(w) * f64::from(h) / 1_048_576.0).sqrt();
                let side = |v: u32| (f64::from(v) * scale).round() as u32;
                let (fw, fh) = catalogue::fit_size(side(request.width), side(request.height));
                format!("{fw}x{fh}")
            }
            _ => self.settings.size.clone(),
        }
    }

    pub(super) fn body(&self, request: &ImageRequest) -> serde_json::Value {
        let s = &self.settings;
        let prompt = &request.prompt;
        let n = request.images();
        let mut body =
            serde_json::json!({ "model": s.model, "prompt": prompt, "n": n, "size": self.size_for(request) });
        if let Some(q) = self.quality_for(request) {
            body["quality"] = q.into();
        }
        if self.is_dalle() {
            body["response_format"] = "b64_json".into();
        } else if s.partial_images > 0 && n == 1 {
            // Several images come as one JSON answer: the stream's events name one image each.
            body["stream"] = true.into();
            body["partial_images"] = s.partial_images.min(3).into();
        }
        body
    }

    /// The multipart form of an edit: the source image and the prompt.
    pub(super) fn edit_form(
        &self,
        request: &ImageRequest,
        source: &[u8],
    ) -> Result<reqwest::multipart::Form, ProviderError> {
        let prompt = &request.prompt;
        let s = &self.settings;
        let png = |bytes: &[u8], name: &str| {
            reqwest::multipart::Part::bytes(bytes.to_vec())
                .file_name(name.to_string())
                .mime_str("image/png")
                .map_err(|e| ProviderError::BadResponse(e.to_string()))
        };
        let mut form = reqwest::multipart::Form::new()
            .text("model", s.model.clone())
            .text("prompt", prompt.to_string())
            .text("n", request.images().to_string())
            .text("size", self.size_for(request));
        // One picture is `image`; several are `image[]`, the one to change (and mask) first.
        if request.references.is_empty() {
            form = form.part("image", png(source, "image.png")?);
        } else {
            form = form.part("image[]", png(source, "image.png")?);
            for (i, reference) in request.references.iter().enumerate() {
                form = form.part("image[]", png(reference, &format!("reference-{}.png", i + 1))?);
            }
        }
        if let Some(mask) = request.mask.as_deref() {
            let part = reqwest::multipart::Part::bytes(openai_mask(mask)?)
                .file_name("mask.png")
                .mime_str("image/png")
                .map_err(|e| ProviderError::BadResponse(e.to_string()))?;
            form = form.part("mask", part);
        }
        if let Some(q) = self.quality_for(request) {
            form = form.text("quality", q);
        }
        if self.is_dalle() {
            form = form.text("response_format", "b64_json");
        }
        Ok(form)
    }
}

/// OpenAI's form of a mask: a PNG the size of the image, transparent (alpha 0) where the
/// image may change, from our grey mask (white where painted).
fn openai_mask(grey_png: &[u8]) -> Result<Vec<u8>, ProviderError> {
    let grey = crate::jobs::variants::decode(grey_png)
        .map_err(|e| ProviderError::BadResponse(format!("the stored mask: {e}")))?
        .to_luma8();
    let rgba = image::RgbaImage::from_fn(grey.width(), grey.height(), |x, y| {
        let alpha = if grey.get_pixel(x, y).0[0] >= 128 { 0 } else { 255 };
        image::Rgba([0, 0, 0, alpha])
    });
    crate::jobs::variants::encode_png(&image::DynamicImage::ImageRgba8(rgba))
        .map_err(|e| ProviderError::BadResponse(format!("the mask: {e}")))
}
