//! What OpenAI's Images API offers today, and what it no longer does: model ids, their
//! sizes, qualities and output formats, and the retirement dates of the old ones. Pure data
//! and checks, so a retired or unknown model is said plainly at start-up and on the job,
//! and a request is never sent with a size or quality the model would refuse.
//!
//! Source: the API reference and deprecations page as of 2026-12 (see
//! `shared/research/image-backends.md` §3). Dated snapshots (`gpt-image-2.5-flare-2026-09-08`)
//! are the same model as their alias.

/// The default: OpenAI's own "fast, high-quality everyday" choice.
pub const DEFAULT_MODEL: &str = "gpt-image-2.5-flare";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// gpt-image-2 and later: custom sizes, token-priced, streaming previews.
    GptImage2,
    /// The 2.6 models add `xhigh`/`max` quality (and SVG/GIF output, which Easel does not ask for).
    GptImage26,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Model {
    pub id: &'static str,
    pub family: Family,
}

/// Models the API serves now.
pub const CURRENT: [Model; 5] = [
    Model { id: "gpt-image-2", family: Family::GptImage2 },
    Model { id: "gpt-image-2.5-flare", family: Family::GptImage2 },
    Model { id: "gpt-image-2.5-sunburst", family: Family::GptImage2 },
    Model { id: "gpt-image-2.6-flare", family: Family::GptImage26 },
    Model { id: "gpt-image-2.6-sunburst", family: Family::GptImage26 },
];

/// Models OpenAI shut down, with the day they stopped answering.
pub const RETIRED: [(&str, &str); 6] = [
    ("dall-e-2", "2026-05-12"),
    ("dall-e-3", "2026-05-12"),
    ("gpt-image-1", "2026-10-23"),
    ("gpt-image-1-mini", "2026-12-01"),
    ("gpt-image-1.5", "2026-12-01"),
    ("chatgpt-image-latest", "2026-12-01"),
];

/// What the catalogue says of a configured model id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Current(Model),
    /// Shut down on this date (YYYY-MM-DD).
    Retired(&'static str),
    /// Not known here: a compatible server's own model, or one newer than this table.
    Unknown,
}

/// `gpt-image-2.5-flare-2026-09-08` → `gpt-image-2.5-flare`; other ids unchanged.
pub fn alias_of(id: &str) -> &str {
    let bytes = id.as_bytes();
    let n = bytes.len();
    let dated = n > 11
        && bytes[n - 11] == b'-'
        && bytes[n - 6] == b'-'
        && bytes[n - 3] == b'-'
        && id[n - 10..].chars().all(|c| c.is_ascii_digit() || c == '-');
    if dated {
        &id[..n - 11]
    } else {
        id
    }
}

pub fn lookup(id: &str) -> Lookup {
    let id = alias_of(id.trim());
    if let Some((_, date)) = RETIRED.iter().find(|(m, _)| *m == id) {
        return Lookup::Retired(date);
    }
    match CURRENT.iter().find(|m| m.id == id) {
        Some(m) => Lookup::Current(*m),
        None => Lookup::Unknown,
    }
}

/// The retirement date of `id`, if it was retired.
pub fn retired_on(id: &str) -> Option<&'static str> {
    match lookup(id) {
        Lookup::Retired(date) => Some(date),
        _ => None,
    }
}

pub use app::protocol::Quality;

impl Model {
    pub fn qualities(self) -> &'static [Quality] {
        use Quality::*;
        match self.family {
            Family::GptImage2 => &[Low, Medium, High, Auto],
            Family::GptImage26 => &[Low, Medium, High, XHigh, Max, Auto],
        }
    }

    pub fn output_formats(self) -> &'static [&'static str] {
        match self.family {
            Family::GptImage2 => &["png", "jpeg", "webp"],
            Family::GptImage26 => &["png", "jpeg", "webp", "svg", "gif"],
        }
    }
}

/// Why a size is refused, in words for the administrator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("{0:?} is not WIDTHxHEIGHT")]
    Unreadable(String),
    #[error("{0}x{1}: both sides must be multiples of 16")]
    NotMultipleOf16(u32, u32),
    #[error("{0}x{1}: the longest side may be at most 3840")]
    TooLong(u32, u32),
    #[error("{0}x{1}: the sides may differ by at most 3:1")]
    TooNarrow(u32, u32),
    #[error("{0}x{1}: between 655,360 and 8,294,400 pixels are allowed")]
    PixelCount(u32, u32),
}

/// Parses `1536x1024`; `auto` is `None` (the model chooses).
pub fn parse_size(s: &str) -> Result<Option<(u32, u32)>, SizeError> {
    let s = s.trim().to_ascii_lowercase();
    if s == "auto" {
        return Ok(None);
    }
    let (w, h) = s.split_once('x').ok_or_else(|| SizeError::Unreadable(s.clone()))?;
    match (w.trim().parse::<u32>(), h.trim().parse::<u32>()) {
        (Ok(w), Ok(h)) => Ok(Some((w, h))),
        _ => Err(SizeError::Unreadable(s.clone())),
    }
}

/// The custom-size rules of the 2.x models.
pub fn check_size(width: u32, height: u32) -> Result<(), SizeError> {
    let (long, short) = (width.max(height), width.min(height));
    let pixels = u64::from(width) * u64::from(height);
    if !width.is_multiple_of(16) || !height.is_multiple_of(16) {
        Err(SizeError::NotMultipleOf16(width, height))
    } else if long > 3840 {
        Err(SizeError::TooLong(width, height))
    } else if short == 0 || long > short * 3 {
        Err(SizeError::TooNarrow(width, height))
    } else if !(655_360..=8_294_400).contains(&pixels) {
        Err(SizeError::PixelCount(width, height))
    } else {
        Ok(())
    }
}

/// The nearest size the 2.x models accept for a wanted shape: multiples of 16, within the
/// pixel and ratio bounds, keeping the aspect ratio as well as those allow.
pub fn fit_size(width: u32, height: u32) -> (u32, u32) {
    let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
    let ratio = (w / h).clamp(1.0 / 3.0, 3.0);
    let pixels = (w * h).clamp(655_360.0, 8_294_400.0);
    let mut fw = (pixels * ratio).sqrt();
    let mut fh = fw / ratio;
    let scale = (3840.0 / fw.max(fh)).min(1.0);
    fw *= scale;
    fh *= scale;
    let round16 = |v: f64| ((v / 16.0).round() as u32).max(1) * 16;
    let (mut rw, mut rh) = (round16(fw), round16(fh));
    // Rounding can step just outside the bounds; step back inside.
    while u64::from(rw) * u64::from(rh) < 655_360 {
        if rw <= rh {
            rw += 16
        } else {
            rh += 16
        }
    }
    while u64::from(rw) * u64::from(rh) > 8_294_400 || rw > 3840 || rh > 3840 {
        if rw >= rh {
            rw -= 16
        } else {
            rh -= 16
        }
    }
    (rw, rh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_current_and_the_old_defaults_are_retired() {
        assert!(matches!(lookup(DEFAULT_MODEL), Lookup::Current(_)));
        assert_eq!(lookup("gpt-image-1"), Lookup::Retired("2026-10-23"));
        assert_eq!(lookup("gpt-image-1.5"), Lookup::Retired("2026-12-01"));
        assert_eq!(lookup("dall-e-3"), Lookup::Retired("2026-05-12"));
        assert_eq!(lookup("my-local-sdxl"), Lookup::Unknown);
    }

    #[test]
    fn dated_snapshots_are_their_alias() {
        assert_eq!(alias_of("gpt-image-2.5-flare-2026-09-08"), "gpt-image-2.5-flare");
        assert_eq!(alias_of("gpt-image-2-2026-04-21"), "gpt-image-2");
        assert_eq!(alias_of("gpt-image-2"), "gpt-image-2");
        assert!(matches!(lookup("gpt-image-2.6-sunburst"), Lookup::Current(m) if m.family == Family::GptImage26));
    }

    #[test]
    fn qualities_depend_on_the_model() {
        let Lookup::Current(flare) = lookup("gpt-image-2.5-flare") else { panic!("current") };
        let Lookup::Current(m26) = lookup("gpt-image-2.6-flare") else { panic!("current") };
        assert!(!flare.qualities().contains(&Quality::Max));
        assert!(m26.qualities().contains(&Quality::XHigh) && m26.qualities().contains(&Quality::Max));
        assert_eq!(Quality::parse("XHIGH"), Some(Quality::XHigh));
        assert_eq!(Quality::parse("ultra"), None);
    }

    #[test]
    fn custom_sizes_follow_the_published_rules() {
        assert_eq!(check_size(1024, 1024), Ok(()));
        assert_eq!(check_size(3840, 2160), Ok(()));
        assert_eq!(check_size(1000, 1000), Err(SizeError::NotMultipleOf16(1000, 1000)));
        assert_eq!(check_size(4096, 2048), Err(SizeError::TooLong(4096, 2048)));
        assert_eq!(check_size(3072, 1008), Err(SizeError::TooNarrow(3072, 1008)));
        assert_eq!(check_size(512, 512), Err(SizeError::PixelCount(512, 512)));
        assert_eq!(parse_size("1536x1024"), Ok(Some((1536, 1024))));
        assert_eq!(parse_size("auto"), Ok(None));
        assert!(parse_size("big").is_err());
    }

    #[test]
    fn fitted_sizes_are_always_accepted() {
        for (w, h) in [(1, 1), (512, 512), (1024, 576), (576, 1024), (10_000, 100), (4000, 4000), (1920, 1080)] {
            let (fw, fh) = fit_size(w, h);
            assert_eq!(check_size(fw, fh), Ok(()), "{w}x{h} → {fw}x{fh}");
        }
        assert_eq!(fit_size(1024, 1024), (1024, 1024));
    }
}
