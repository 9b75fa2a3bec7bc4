//! Creative controls: what the composer's row asks of the next image ([`ImageOptions`]),
//! what each engine offers and what an image of each shape costs there ([`ImageChoices`]),
//! and what a job was made with ([`JobParams`], its parameters card). The price the row shows
//! comes from the server's own rate table, the one the ledger settles with.

use serde::{Deserialize, Serialize};

use super::{ImageId, ProviderKind};

/// Most images one request makes (the row's "Images" select).
pub const MAX_IMAGES_PER_REQUEST: u8 = 4;
/// Most pictures sent along with the one changed, as references (OpenAI takes up to 16).
pub const MAX_REFERENCES: usize = 4;

/// The picture's shape, as the composer offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AspectRatio {
    #[default]
    Square,
    Landscape,
    Portrait,
    /// 16:9, for engines that take custom sizes.
    Wide,
    /// 9:16, for engines that take custom sizes.
    Tall,
}

impl AspectRatio {
    pub const ALL: [Self; 5] = [Self::Square, Self::Landscape, Self::Portrait, Self::Wide, Self::Tall];

    pub fn id(self) -> &'static str {
        match self {
            Self::Square => "square",
            Self::Landscape => "landscape",
            Self::Portrait => "portrait",
            Self::Wide => "wide",
            Self::Tall => "tall",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.id() == s.trim().to_ascii_lowercase())
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Square => "Square 1:1",
            Self::Landscape => "Landscape 3:2",
            Self::Portrait => "Portrait 2:3",
            Self::Wide => "Wide 16:9",
            Self::Tall => "Tall 9:16",
        }
    }

    /// Width and height of a 1024-pixel-class image of this shape (multiples of 16, so the
    /// models with custom sizes take them as they are).
    pub fn size(self) -> (u32, u32) {
        match self {
            Self::Square => (1024, 1024),
            Self::Landscape => (1536, 1024),
            Self::Portrait => (1024, 1536),
            Self::Wide => (1792, 1008),
            Self::Tall => (1008, 1792),
        }
    }

    /// The shape closest to a `width`×`height` picture (by ratio, so 4:3 is landscape).
    pub fn nearest(width: u32, height: u32) -> Self {
        let ratio = |w: u32, h: u32| (f64::from(w.max(1)) / f64::from(h.max(1))).ln();
        let picture = ratio(width, height);
        let distance = |a: &Self| {
            let (w, h) = a.size();
            (ratio(w, h) - picture).abs()
        };
        Self::ALL.into_iter().min_by(|a, b| distance(a).total_cmp(&distance(b))).unwrap_or_default()
    }

    /// Whether only engines that take any size offer it (the classic three are everywhere).
    pub fn custom(self) -> bool {
        matches!(self, Self::Wide | Self::Tall)
    }
}

/// How much care the engine takes: OpenAI's `quality`, a diffusion engine's steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quality {
    Low,
    Medium,
    High,
    XHigh,
    Max,
    Auto,
}

impl Quality {
    pub const ALL: [Self; 6] = [Self::Low, Self::Medium, Self::High, Self::XHigh, Self::Max, Self::Auto];

    /// The name the APIs and the configuration use (`standard` and `hd` are DALL-E's).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "low" => Self::Low,
            "medium" | "standard" => Self::Medium,
            "high" | "hd" => Self::High,
            "xhigh" => Self::XHigh,
            "max" => Self::Max,
            "auto" => Self::Auto,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::XHigh => "xhigh",
            Self::Max => "max",
            Self::Auto => "auto",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Low => "Low",
            Self::Medium => "Medium",
            Self::High => "High",
            Self::XHigh => "Extra high",
            Self::Max => "Maximum",
            Self::Auto => "Auto",
        }
    }
}

/// What the composer's row asks of the next image. `None` leaves a choice to the message's
/// words, the thread's memory and the user's defaults, in that order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect: Option<AspectRatio>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<Quality>,
    /// Images to make, 1 to [`MAX_IMAGES_PER_REQUEST`] (0 reads as 1).
    #[serde(default)]
    pub count: u8,
    /// The engine, among those the administrator offers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<ProviderKind>,
    /// Where the engine takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The image this message changes (its Refine button, or a picture attached): the
    /// message is then an edit of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ImageId>,
    /// The area of `source` to change (an uploaded mask: white where painted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<ImageId>,
    /// More pictures sent with `source` for the engine to draw on (several attached at once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<ImageId>,
}

impl ImageOptions {
    /// The count asked for, within 1..=[`MAX_IMAGES_PER_REQUEST`].
    pub fn images(&self) -> u8 {
        self.count.clamp(1, MAX_IMAGES_PER_REQUEST)
    }
}

/// What images of one shape and quality are expected to cost on an engine, in millionths of
/// a dollar: each image adds `per_image`, the request costs `per_request` once (its prompt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceEstimate {
    pub aspect: AspectRatio,
    pub quality: Option<Quality>,
    pub per_image: i64,
    #[serde(default)]
    pub per_request: i64,
}

/// One engine the composer may pick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineChoice {
    pub kind: ProviderKind,
    pub model: String,
    pub aspects: Vec<AspectRatio>,
    /// Empty: the engine has one quality.
    pub qualities: Vec<Quality>,
    pub seed: bool,
    /// Takes an image to change, a mask of where, and more pictures as references.
    pub edit: bool,
    pub mask: bool,
    #[serde(default)]
    pub references: bool,
    /// Per image, for each shape and quality offered (`None` quality: the engine's default).
    pub prices: Vec<PriceEstimate>,
}

impl EngineChoice {
    /// The price of `count` images, when the rate table knows the model.
    pub fn estimate(&self, aspect: AspectRatio, quality: Option<Quality>, count: u8) -> Option<i64> {
        let price = |q| self.prices.iter().find(|p| p.aspect == aspect && p.quality == q);
        let p = price(quality).or_else(|| price(None))?;
        Some(p.per_image.saturating_mul(i64::from(count.max(1))).saturating_add(p.per_request))
    }
}

/// A user's standing choices (the settings page).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    pub aspect: AspectRatio,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<Quality>,
    /// Where quota notices go (none: only in the app).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// What the row offers, sent with [`Welcome`](super::Welcome).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageChoices {
    pub engines: Vec<EngineChoice>,
    pub default_engine: ProviderKind,
    pub preferences: Preferences,
}

impl ImageChoices {
    pub fn engine(&self, kind: Option<ProviderKind>) -> Option<&EngineChoice> {
        let kind = kind.unwrap_or(self.default_engine);
        self.engines.iter().find(|e| e.kind == kind).or_else(|| self.engines.first())
    }
}

/// What a job was made with: its parameters card, and what "Reuse settings" puts back in
/// the row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobParams {
    pub aspect: AspectRatio,
    pub width: u32,
    pub height: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<Quality>,
    pub count: u8,
    /// The seed asked for, or (once made) the one the engine reports using.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Sampler steps, where the engine counts them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u32>,
    /// The image it changes, when one was named (a Refine button, "the second one").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ImageId>,
    /// The area of the source changed, when one was painted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<ImageId>,
    /// The other pictures sent with the source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<ImageId>,
}

impl JobParams {
    /// One image of `aspect`'s shape, nothing else asked.
    pub fn of_shape(aspect: AspectRatio) -> Self {
        let (width, height) = aspect.size();
        Self {
            aspect,
            width,
            height,
            quality: None,
            count: 1,
            seed: None,
            steps: None,
            source: None,
            mask: None,
            references: Vec::new(),
        }
    }

    /// The row's settings that make this again.
    pub fn options(&self, engine: ProviderKind, same_seed: bool) -> ImageOptions {
        ImageOptions {
            aspect: Some(self.aspect),
            quality: self.quality,
            count: self.count,
            engine: Some(engine),
            seed: self.seed.filter(|_| same_seed),
            source: None,
            mask: None,
            references: Vec::new(),
        }
    }
}

/// "≈ $0.05" (or "≈ $0.00" for free engines): the row's price before Send.
pub fn estimate_text(micros: Option<i64>) -> String {
    match micros {
        Some(m) => format!("≈ {}", super::dollars(m)),
        None => "≈ $? (price unknown)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_round_trip_and_suit_custom_sizes() {
        for a in AspectRatio::ALL {
            assert_eq!(AspectRatio::parse(a.id()), Some(a));
            let (w, h) = a.size();
            assert!(w % 16 == 0 && h % 16 == 0, "{a:?}");
        }
        assert_eq!(AspectRatio::parse("LANDSCAPE"), Some(AspectRatio::Landscape));
        assert_eq!(AspectRatio::parse("round"), None);
        let nearest = [(640, 480), (480, 640), (1000, 1000), (1920, 1080), (1080, 1920), (0, 0)]
            .map(|(w, h)| AspectRatio::nearest(w, h));
        use AspectRatio::*;
        assert_eq!(nearest, [Landscape, Portrait, Square, Wide, Tall, Square]);
    }

    #[test]
    fn counts_are_bounded_and_estimates_multiply() {
        assert_eq!(ImageOptions::default().images(), 1);
        assert_eq!(ImageOptions { count: 9, ..Default::default() }.images(), 4);
        let engine = EngineChoice {
            kind: ProviderKind::OpenAi,
            model: "m".into(),
            aspects: vec![AspectRatio::Square],
            qualities: vec![Quality::Low, Quality::High],
            seed: false,
            edit: true,
            mask: true,
            references: true,
            prices: vec![
                PriceEstimate {
                    aspect: AspectRatio::Square,
                    quality: Some(Quality::Low),
                    per_image: 8_160,
                    per_request: 500,
                },
                PriceEstimate { aspect: AspectRatio::Square, quality: None, per_image: 31_680, per_request: 500 },
            ],
        };
        assert_eq!(
            engine.estimate(AspectRatio::Square, Some(Quality::Low), 3),
            Some(24_980),
            "one prompt, three images"
        );
        assert_eq!(engine.estimate(AspectRatio::Square, Some(Quality::High), 1), Some(32_180), "falls back");
        assert_eq!(engine.estimate(AspectRatio::Wide, None, 1), None);
        assert_eq!(estimate_text(Some(24_980)), "≈ $0.02");
        assert_eq!(estimate_text(Some(0)), "≈ $0.00");
    }

    #[test]
    fn options_travel_without_the_fields_left_unset() {
        let json = serde_json::to_string(&ImageOptions { count: 2, ..Default::default() }).expect("serialises");
        assert_eq!(json, r#"{"count":2}"#);
        let back: ImageOptions = serde_json::from_str("{}").expect("parses");
        assert_eq!(back.images(), 1);
    }
}
