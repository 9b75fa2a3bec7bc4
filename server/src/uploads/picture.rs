//! A picture a user sends is untrusted: its type is read from its bytes (PNG, JPEG or WebP
//! only, whatever it is called), it is decoded with the same limits as an engine's image,
//! scaled to fit 4096 pixels, and re-encoded as PNG, which keeps the pixels and nothing else
//! (no EXIF, no GPS, no text chunks). A mask (the area to change, painted in the browser) is
//! kept as a grey PNG the size of the picture it masks: white where painted.

use image::{imageops::FilterType, DynamicImage, GenericImageView, ImageFormat, Luma};

use crate::jobs::variants::{self, Prepared};

/// The longest side a picture is kept at: more than any engine edits.
pub const MAX_KEPT_SIDE: u32 = 4096;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PictureError {
    #[error("That file is not a picture Easel can use: send a PNG, JPEG or WebP image.")]
    NotAPicture,
    #[error("That picture could not be read: it is damaged, or larger than {0} pixels a side.")]
    Unreadable(u32),
    #[error("That picture is too large to keep.")]
    TooLarge,
}

/// A picture to store: decoded, scaled, re-encoded, with its variants.
pub fn picture(bytes: &[u8]) -> Result<Prepared, PictureError> {
    match image::guess_format(bytes) {
        Ok(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP) => {}
        _ => return Err(PictureError::NotAPicture),
    }
    let img = variants::decode(bytes).map_err(|_| PictureError::Unreadable(variants::MAX_SIDE))?;
    let img = fit(img, MAX_KEPT_SIDE);
    // RGBA at most: a 16-bit picture becomes what every engine takes.
    let img = DynamicImage::ImageRgba8(img.to_rgba8());
    let full = variants::encode_png(&img).map_err(|_| PictureError::TooLarge)?;
    variants::prepare_decoded(&img, full).map_err(|_| PictureError::TooLarge)
}

/// A mask for a picture `size` wide and high: any PNG whose painted pixels are opaque (or,
/// without alpha, light), resized to the picture, as white-on-black grey.
pub fn mask(bytes: &[u8], (width, height): (u32, u32)) -> Result<Prepared, PictureError> {
    if image::guess_format(bytes).ok() != Some(ImageFormat::Png) {
        return Err(PictureError::NotAPicture);
    }
    let img = variants::decode(bytes).map_err(|_| PictureError::Unreadable(variants::MAX_SIDE))?;
    let has_alpha = img.color().has_alpha();
    let painted = image::GrayImage::from_fn(img.width(), img.height(), |x, y| {
        let p = img.get_pixel(x, y).0;
        let on = if has_alpha { p[3] >= 128 } else { u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]) >= 384 };
        Luma([if on { 255 } else { 0 }])
    });
    let resized = image::imageops::resize(&painted, width.max(1), height.max(1), FilterType::Nearest);
    let img = DynamicImage::ImageLuma8(resized);
    let full = variants::encode_png(&img).map_err(|_| PictureError::TooLarge)?;
    variants::prepare_decoded(&img, full).map_err(|_| PictureError::TooLarge)
}

/// The share of a mask's pixels that are painted (0.0–1.0).
pub fn painted_share(mask_png: &[u8]) -> f64 {
    let Ok(img) = variants::decode(mask_png) else { return 0.0 };
    let grey = img.to_luma8();
    let total = u64::from(grey.width()) * u64::from(grey.height());
    let on = grey.pixels().filter(|p| p.0[0] >= 128).count() as u64;
    if total == 0 {
        0.0
    } else {
        on as f64 / total as f64
    }
}

fn fit(img: DynamicImage, side: u32) -> DynamicImage {
    let (w, h) = img.dimensions();
    if w <= side && h <= side {
        return img;
    }
    img.resize(side, side, FilterType::Triangle)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn encode(img: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).expect("encode");
        out.into_inner()
    }

    /// A JPEG with an EXIF segment naming a GPS position, as a phone writes it.
    pub(crate) fn jpeg_with_gps() -> Vec<u8> {
        let img = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(64, 48, image::Rgb([200, 100, 50])));
        let jpeg = encode(img, ImageFormat::Jpeg);
        let exif = b"Exif\0\0MM\0*\0\0\0\x08\0\x01\x88\x25\0\x04\0\0\0\x01\0\0\0\x1aGPSLatitude 48.8584N";
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend(((exif.len() + 2) as u16).to_be_bytes());
        app1.extend_from_slice(exif);
        let mut out = jpeg[..2].to_vec();
        out.extend(app1);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn a_phone_photo_is_kept_as_pixels_only() {
        let photo = jpeg_with_gps();
        assert!(photo.windows(4).any(|w| w == b"Exif"));
        let kept = picture(&photo).expect("a picture");
        let full = &kept.variants[0].bytes;
        assert_eq!(image::guess_format(full).ok(), Some(ImageFormat::Png));
        assert!(!full.windows(4).any(|w| w == b"Exif") && !full.windows(3).any(|w| w == b"GPS"));
        assert_eq!((kept.width, kept.height), (64, 48));
    }

    #[test]
    fn what_is_not_a_picture_is_refused_by_its_bytes() {
        assert_eq!(picture(b"GIF89a....").err(), Some(PictureError::NotAPicture));
        assert_eq!(picture(b"<svg xmlns='http://www.w3.org/2000/svg'/>").err(), Some(PictureError::NotAPicture));
        assert_eq!(picture(b"%PDF-1.7").err(), Some(PictureError::NotAPicture));
        // A PNG header promising 100,000 pixels a side: refused before any pixel is decoded.
        let mut bomb = encode(DynamicImage::ImageRgb8(image::RgbImage::new(1, 1)), ImageFormat::Png);
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(matches!(picture(&bomb), Err(PictureError::Unreadable(_))));
    }

    #[test]
    fn large_pictures_are_scaled_to_fit() {
        let big = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(5000, 2500, image::Rgb([1, 2, 3])));
        let kept = picture(&encode(big, ImageFormat::Png)).expect("kept");
        assert_eq!((kept.width, kept.height), (4096, 2048));
    }

    #[test]
    fn a_mask_is_resized_to_its_picture_and_says_where_it_was_painted() {
        let mut painted = image::RgbaImage::new(100, 50);
        for x in 0..50 {
            for y in 0..50 {
                painted.put_pixel(x, y, image::Rgba([255, 255, 255, 255]));
            }
        }
        let m = mask(&encode(DynamicImage::ImageRgba8(painted), ImageFormat::Png), (200, 100)).expect("a mask");
        assert_eq!((m.width, m.height), (200, 100));
        let share = painted_share(&m.variants[0].bytes);
        assert!((share - 0.5).abs() < 0.01, "{share}");
        let jpeg = encode(DynamicImage::ImageRgb8(image::RgbImage::new(4, 4)), ImageFormat::Jpeg);
        assert_eq!(mask(&jpeg, (4, 4)).err(), Some(PictureError::NotAPicture));
    }
}
