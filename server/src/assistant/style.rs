//! Style memory: the look and the shape a user asked for earlier in a thread ("in
//! watercolor", "cyberpunk", "wide") carry over to later requests until they ask for another.

/// Styles the assistant recognises, each with the words that name it. The first name is the
/// one written into prompts.
const STYLES: &[(&str, &[&str])] = &[
    ("watercolor", &["watercolor", "watercolour", "water color"]),
    ("oil painting", &["oil painting", "oil paint", "in oils"]),
    ("cyberpunk", &["cyberpunk"]),
    ("pixel art", &["pixel art", "pixel-art", "8-bit", "8 bit", "pixelated"]),
    ("anime", &["anime", "manga"]),
    ("photorealistic", &["photorealistic", "photo-realistic", "photoreal", "realistic photo", "like a photo"]),
    ("pencil sketch", &["pencil sketch", "pencil drawing", "in pencil", "graphite"]),
    ("charcoal", &["charcoal"]),
    ("ink drawing", &["ink drawing", "pen and ink", "line art"]),
    ("comic book", &["comic book", "comic-book", "comic style"]),
    ("low poly", &["low poly", "low-poly"]),
    ("3D render", &["3d render", "3d-render", "3d style", "cgi"]),
    ("impressionist", &["impressionist", "impressionism", "monet"]),
    ("art deco", &["art deco", "art-deco"]),
    ("vaporwave", &["vaporwave", "synthwave"]),
    ("studio ghibli", &["ghibli"]),
    ("minimalist", &["minimalist", "minimalism", "minimal style"]),
    ("steampunk", &["steampunk"]),
    ("vintage", &["vintage", "retro"]),
    ("claymation", &["claymation", "clay style", "plasticine"]),
    ("stained glass", &["stained glass", "stained-glass"]),
    ("ukiyo-e", &["ukiyo-e", "ukiyoe", "woodblock"]),
];

/// Words that drop the remembered style.
const NO_STYLE: &[&str] = &["no style", "no particular style", "plain style", "default style", "without a style"];

/// The picture's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Aspect {
    #[default]
    Square,
    Wide,
    Tall,
}

impl Aspect {
    /// Width and height for a 1024-pixel-class image.
    pub fn size(self) -> (u32, u32) {
        match self {
            Self::Square => (1024, 1024),
            Self::Wide => (1536, 1024),
            Self::Tall => (1024, 1536),
        }
    }

    fn phrase(self) -> Option<&'static str> {
        match self {
            Self::Square => None,
            Self::Wide => Some("wide composition"),
            Self::Tall => Some("tall composition"),
        }
    }
}

const WIDE: &[&str] =
    &["wide", "widescreen", "panorama", "panoramic", "landscape format", "landscape orientation", "16:9", "banner"];
const TALL: &[&str] = &["tall", "portrait format", "portrait orientation", "vertical", "9:16", "phone wallpaper"];
const SQUARE: &[&str] = &["square"];

/// What a thread has asked for so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StyleMemory {
    pub style: Option<&'static str>,
    pub aspect: Aspect,
}

/// True when `phrase` occurs in `text` as whole words (`text` lower-cased, single-spaced).
pub(crate) fn has_phrase(text: &str, phrase: &str) -> bool {
    let mut from = 0;
    while let Some(i) = text[from..].find(phrase) {
        let start = from + i;
        let end = start + phrase.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
        if boundary(before) && boundary(after) {
            return true;
        }
        from = start + phrase.len().max(1);
        if from >= text.len() {
            break;
        }
    }
    false
}

/// The style named in `text`, the last one mentioned when there are several.
pub fn style_in(text: &str) -> Option<&'static str> {
    let text = text.to_lowercase();
    STYLES
        .iter()
        .filter_map(|(name, words)| {
            words.iter().filter(|w| has_phrase(&text, w)).filter_map(|w| text.rfind(w)).max().map(|at| (at, *name))
        })
        .max_by_key(|(at, _)| *at)
        .map(|(_, name)| name)
}

/// The shape asked for in `text`, if any.
pub fn aspect_in(text: &str) -> Option<Aspect> {
    let text = text.to_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| has_phrase(&text, w));
    // "wide shot" or "tall trees" describe the scene, not the frame.
    let scene_words =
        ["wide shot", "wide angle", "wide-angle", "tall trees", "tall grass", "tall building", "tall tower"];
    if scene_words.iter().any(|w| has_phrase(&text, w)) {
        return None;
    }
    if any(WIDE) {
        Some(Aspect::Wide)
    } else if any(TALL) {
        Some(Aspect::Tall)
    } else if any(SQUARE) {
        Some(Aspect::Square)
    } else {
        None
    }
}

/// `prompt` saying `aspect`'s shape: a shape phrase the memory wrote for another shape is
/// replaced (the composer's row chose otherwise); the user's own words are left alone.
pub fn with_aspect(prompt: &str, aspect: Aspect) -> String {
    let mut out = prompt.to_string();
    for other in [Aspect::Wide, Aspect::Tall].into_iter().filter(|a| *a != aspect) {
        if let Some(phrase) = other.phrase() {
            out = out.replace(&format!(", {phrase}"), "");
        }
    }
    if let Some(phrase) = aspect.phrase() {
        if aspect_in(&out).is_none() {
            out.push_str(&format!(", {phrase}"));
        }
    }
    out
}

impl StyleMemory {
    /// What the user's messages (oldest first) established: the latest mention wins.
    pub fn from_messages<'a>(messages: impl IntoIterator<Item = &'a str>) -> Self {
        let mut memory = Self::default();
        for text in messages {
            memory.update(text);
        }
        memory
    }

    pub fn update(&mut self, text: &str) {
        let lower = text.to_lowercase();
        if NO_STYLE.iter().any(|w| has_phrase(&lower, w)) {
            self.style = None;
        } else if let Some(style) = style_in(text) {
            self.style = Some(style);
        }
        if let Some(aspect) = aspect_in(text) {
            self.aspect = aspect;
        }
    }

    /// Adds what `prompt` does not already say: the style and the shape.
    pub fn apply(&self, prompt: &str) -> String {
        let mut out = prompt.trim().trim_end_matches(['.', '!', '?']).to_string();
        if let Some(style) = self.style {
            if style_in(&out).is_none() {
                out.push_str(&format!(", in {style} style"));
            }
        }
        if let Some(phrase) = self.aspect.phrase() {
            if aspect_in(&out).is_none() {
                out.push_str(&format!(", {phrase}"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_style_carries_over_until_changed() {
        let m = StyleMemory::from_messages(["draw a fox in watercolor", "now a bear"]);
        assert_eq!(m.apply("a bear"), "a bear, in watercolor style");
        let m = StyleMemory::from_messages(["draw a fox in watercolor", "let's go cyberpunk from now on"]);
        assert_eq!(m.style, Some("cyberpunk"));
        let m = StyleMemory::from_messages(["in watercolor please", "no particular style this time"]);
        assert_eq!(m.style, None);
    }

    #[test]
    fn the_shape_carries_over_and_scene_words_do_not_count() {
        let m = StyleMemory::from_messages(["make them wide please", "a tall lighthouse"]);
        assert_eq!(m.aspect, Aspect::Tall, "the latest wins");
        let m = StyleMemory::from_messages(["a wide shot of a valley"]);
        assert_eq!(m.aspect, Aspect::Square);
        assert_eq!(StyleMemory { style: None, aspect: Aspect::Wide }.apply("a valley."), "a valley, wide composition");
        assert_eq!(Aspect::Wide.size(), (1536, 1024));
    }

    #[test]
    fn a_prompt_that_names_its_style_keeps_it() {
        assert_eq!(with_aspect("a valley, wide composition", Aspect::Tall), "a valley, tall composition");
        assert_eq!(with_aspect("a valley, wide composition", Aspect::Wide), "a valley, wide composition");
        assert_eq!(with_aspect("a valley, tall composition", Aspect::Square), "a valley");
        let m = StyleMemory { style: Some("watercolor"), aspect: Aspect::Square };
        assert_eq!(m.apply("a fox in pixel art"), "a fox in pixel art");
        assert_eq!(style_in("first anime, then actually pixel art"), Some("pixel art"));
        assert!(has_phrase("a retro car", "retro") && !has_phrase("retrofit", "retro"));
    }
}
