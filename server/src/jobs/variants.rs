//! Turns a provider's image into what we store: the original as PNG (`full`; an engine that
//! saved JPEG or WebP is re-encoded, since edits send `full` on as PNG), a content hash, and
//! WebP variants at fixed widths for `srcset`. CPU work: callers run it on the blocking pool.

use std::io::Cursor;

use image::{imageops::FilterType, ImageFormat};
use sha2::{Digest, Sha256};

use app::protocol::Variant;

use crate::store::StoredVariant;

/// Widths of the web variants; a variant is only made when the image is at least that wide.
pub const WIDTHS: [u32; 3] = [256, 512, 1024];

pub struct Prepared {
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    pub variants: Vec<StoredVariant>,
}

/// The largest side we decode: past the largest any engine makes (A1111's upscalers reach
/// 8K); a 30000² "image" from a hostile engine is refused from its header alone (E3).
pub const MAX_SIDE: u32 = 8192;
/// What one decode may allocate: an 8192² RGBA image, with room.
const MAX_DECODE_BYTES: u64 = 320 * 1024 * 1024;

/// Decodes with explicit limits: the dimensions are read from the header and refused before
/// any pixel buffer exists, and no allocation passes [`MAX_DECODE_BYTES`].
pub fn decode(bytes: &[u8]) -> Result<image::DynamicImage, image::ImageError> {
    let mut reader = image::ImageReader::new(Cursor::new(bytes)).with_guessed_format()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    reader.decode()
}

pub fn prepare(png: &[u8]) -> Result<Prepared, image::ImageError> {
    let img = decode(png)?;
    let full = match image::guess_format(png)? {
        ImageFormat::Png => png.to_vec(),
        _ => encode_png(&img)?,
    };
    prepare_decoded(&img, full)
}

pub(crate) fn encode_png(img: &image::DynamicImage) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)?;
    Ok(out.into_inner())
}

/// `full` (the PNG of `img`) with its hash and web variants.
pub(crate) fn prepare_decoded(img: &image::DynamicImage, full: Vec<u8>) -> Result<Prepared, image::ImageError> {
    let (width, height) = (img.width(), img.height());
    let sha256 = Sha256::digest(&full).iter().map(|b| format!("{b:02x}")).collect();
    let mut variants = vec![StoredVariant { name: Variant::Full, mime: "image/png", width, height, bytes: full }];
    for w in WIDTHS.into_iter().filter(|w| *w <= width) {
        let h = (u64::from(height) * u64::from(w) / u64::from(width)).max(1) as u32;
        let resized = img.resize_exact(w, h, FilterType::Triangle).to_rgb8();
        let mut out = Cursor::new(Vec::new());
        resized.write_to(&mut out, ImageFormat::WebP)?;
        variants.push(StoredVariant {
            name: Variant::Width(w),
            mime: "image/webp",
            width: w,
            height: h,
            bytes: out.into_inner(),
        });
    }
    Ok(Prepared { sha256, width, height, variants })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 255) as u8, (y % 255) as u8, 90]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).expect("encode");
        out.into_inner()
    }

    #[test]
    fn a_large_image_gets_every_width_as_webp() {
        let p = prepare(&png(1024, 512)).expect("prepared");
        let names: Vec<Variant> = p.variants.iter().map(|v| v.name).collect();
        assert_eq!(names, [Variant::Full, Variant::Width(256), Variant::Width(512), Variant::Width(1024)]);
        let v512 = &p.variants[2];
        assert_eq!((v512.width, v512.height, v512.mime), (512, 256, "image/webp"));
        assert_eq!(image::guess_format(&v512.bytes).ok(), Some(ImageFormat::WebP));
        assert_eq!(p.sha256.len(), 64);
    }

    #[test]
    fn a_small_image_is_not_upscaled() {
        let p = prepare(&png(300, 300)).expect("prepared");
        assert_eq!(p.variants.iter().map(|v| v.name).collect::<Vec<_>>(), [Variant::Full, Variant::Width(256)]);
    }

    #[test]
    fn a_jpeg_from_an_engine_is_kept_as_png() {
        let img = image::RgbImage::from_fn(300, 200, |x, _| image::Rgb([(x % 255) as u8, 40, 90]));
        let mut jpeg = Cursor::new(Vec::new());
        img.write_to(&mut jpeg, ImageFormat::Jpeg).expect("encode");
        let p = prepare(&jpeg.into_inner()).expect("prepared");
        assert_eq!(image::guess_format(&p.variants[0].bytes).ok(), Some(ImageFormat::Png));
        assert_eq!((p.width, p.height), (300, 200));
    }

    #[test]
    fn an_image_larger_than_any_engine_makes_is_refused() {
        let wide = image::RgbImage::from_pixel(MAX_SIDE + 1, 1, image::Rgb([1, 2, 3]));
        let mut out = Cursor::new(Vec::new());
        wide.write_to(&mut out, ImageFormat::Png).expect("encode");
        let e = prepare(&out.into_inner()).err().expect("refused");
        assert!(matches!(e, image::ImageError::Limits(_)), "{e}");
        assert!(prepare(&png(MAX_SIDE.min(1100), 2)).is_ok());
    }

    proptest::proptest! {
        /// Any bytes, and a real PNG with any bytes changed or cut: decoded or refused, never
        /// a panic (the image path takes whatever an engine sends).
        #[test]
        fn any_bytes_are_decoded_or_refused(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), proptest::prelude::any::<u8>()), 0..8),
            cut in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let _ = prepare(&bytes);
            let mut real = png(40, 30);
            for (at, value) in &edits {
                let i = at.index(real.len());
                real[i] = *value;
            }
            let _ = prepare(&real);
            let _ = prepare(&real[..cut.index(real.len())]);
        }
    }

    #[test]
    fn bytes_that_are_not_an_image_are_an_error() {
        assert!(prepare(b"not a png").is_err());
    }
}
