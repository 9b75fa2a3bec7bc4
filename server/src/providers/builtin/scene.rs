//! What the built-in renderer reads from a prompt: a [`Scene`], decided by the words that
//! name colours, times of day, weather, subjects and styles. Pure and deterministic: the
//! same prompt always gives the same scene (and, with the seed, the same picture).

/// Time of day sets the sky.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeOfDay {
    Dawn,
    Day,
    Sunset,
    Night,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weather {
    Clear,
    Cloudy,
    Fog,
    Rain,
    Snow,
    Storm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Watercolor,
    Neon,
    Pastel,
    Vibrant,
}

/// Things that can appear in the picture, back to front.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    Stars,
    Sun,
    Moon,
    Mountains,
    Sea,
    City,
    Trees,
    Lighthouse,
}

pub type Rgb = [u8; 3];

#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    pub time: TimeOfDay,
    pub weather: Weather,
    pub style: Style,
    /// Sorted, without repeats.
    pub subjects: Vec<Subject>,
    /// A colour the prompt named, tinting the sky and the subjects.
    pub accent: Option<Rgb>,
    /// Stable hash of the prompt: varies shapes between prompts, never between runs.
    pub seed: u64,
}

const COLOURS: &[(&str, Rgb)] = &[
    ("red", [214, 48, 49]),
    ("crimson", [180, 20, 50]),
    ("orange", [243, 140, 40]),
    ("amber", [245, 170, 40]),
    ("yellow", [246, 214, 60]),
    ("gold", [222, 180, 60]),
    ("golden", [222, 180, 60]),
    ("green", [60, 170, 90]),
    ("emerald", [30, 150, 100]),
    ("teal", [30, 150, 150]),
    ("cyan", [40, 200, 220]),
    ("turquoise", [50, 200, 190]),
    ("blue", [50, 100, 220]),
    ("navy", [30, 40, 110]),
    ("indigo", [75, 60, 170]),
    ("purple", [140, 70, 190]),
    ("violet", [150, 90, 210]),
    ("magenta", [210, 50, 170]),
    ("pink", [240, 130, 180]),
    ("white", [240, 240, 240]),
    ("black", [20, 20, 24]),
    ("silver", [190, 195, 205]),
    ("brown", [130, 85, 50]),
];

fn has(words: &[String], any: &[&str]) -> bool {
    words.iter().any(|w| any.contains(&w.as_str()))
}

/// FNV-1a: tiny, stable across platforms and releases (unlike `DefaultHasher`).
pub fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

impl Scene {
    pub fn from_prompt(prompt: &str) -> Self {
        let lower = prompt.to_lowercase();
        let words: Vec<String> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| w.strip_suffix('s').filter(|s| s.len() > 2).unwrap_or(w).to_string())
            .chain(lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string))
            .collect();

        let time = if has(&words, &["night", "midnight", "nocturne", "moonlit", "moonlight", "starry", "dark"]) {
            TimeOfDay::Night
        } else if has(&words, &["sunset", "dusk", "twilight", "evening"]) {
            TimeOfDay::Sunset
        } else if has(&words, &["dawn", "sunrise", "morning", "daybreak"]) {
            TimeOfDay::Dawn
        } else {
            TimeOfDay::Day
        };
        let weather = if has(&words, &["storm", "stormy", "thunder", "lightning"]) {
            Weather::Storm
        } else if has(&words, &["snow", "snowy", "winter", "blizzard"]) {
            Weather::Snow
        } else if has(&words, &["rain", "rainy", "drizzle", "downpour"]) {
            Weather::Rain
        } else if has(&words, &["fog", "foggy", "mist", "misty", "haze", "hazy"]) {
            Weather::Fog
        } else if has(&words, &["cloud", "cloudy", "overcast"]) {
            Weather::Cloudy
        } else {
            Weather::Clear
        };
        let style = if has(&words, &["watercolor", "watercolour", "painted", "painting"]) {
            Style::Watercolor
        } else if has(&words, &["neon", "cyberpunk", "synthwave", "glowing"]) {
            Style::Neon
        } else if has(&words, &["pastel", "soft", "muted"]) {
            Style::Pastel
        } else if has(&words, &["vibrant", "vivid", "colorful", "colourful", "bold", "saturated"]) {
            Style::Vibrant
        } else {
            Style::Plain
        };

        let table: &[(&[&str], Subject)] = &[
            (&["star", "starry", "galaxy", "constellation"], Subject::Stars),
            (&["sun", "sunny", "sunset", "sunrise", "sunlight"], Subject::Sun),
            (&["moon", "moonlit", "moonlight", "lunar"], Subject::Moon),
            (&["mountain", "peak", "hill", "alp", "volcano", "cliff"], Subject::Mountains),
            (&["sea", "ocean", "wave", "beach", "harbor", "harbour", "lake", "coast", "bay", "shore"], Subject::Sea),
            (&["city", "skyline", "town", "street", "building", "skyscraper", "tower"], Subject::City),
            (&["tree", "forest", "wood", "pine", "jungle", "garden", "park"], Subject::Trees),
            (&["lighthouse", "beacon"], Subject::Lighthouse),
        ];
        let mut subjects: Vec<Subject> =
            table.iter().filter(|(names, _)| has(&words, names)).map(|(_, subject)| *subject).collect();
        if time == TimeOfDay::Night && !subjects.contains(&Subject::Moon) && !subjects.contains(&Subject::Stars) {
            subjects.push(Subject::Stars);
        }
        if subjects.contains(&Subject::Lighthouse) && !subjects.contains(&Subject::Sea) {
            subjects.push(Subject::Sea);
        }
        if subjects.is_empty() {
            // Nothing named: a landscape, so every prompt still makes a picture.
            subjects = vec![Subject::Sun, Subject::Mountains];
        }
        subjects.sort();
        subjects.dedup();

        let accent = words.iter().find_map(|w| COLOURS.iter().find(|(name, _)| name == w).map(|(_, rgb)| *rgb));
        Self { time, weather, style, subjects, accent, seed: stable_hash(prompt.trim()) }
    }

    pub fn has(&self, subject: Subject) -> bool {
        self.subjects.contains(&subject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_are_read() {
        assert_eq!(Scene::from_prompt("a lighthouse at dusk").time, TimeOfDay::Sunset);
        assert_eq!(Scene::from_prompt("city streets at night").time, TimeOfDay::Night);
        assert_eq!(Scene::from_prompt("misty sunrise over hills").time, TimeOfDay::Dawn);
        assert_eq!(Scene::from_prompt("a cat").time, TimeOfDay::Day);
    }

    #[test]
    fn subjects_weather_and_style_are_read() {
        let s = Scene::from_prompt("Neon city skyline in the rain, with mountains");
        assert_eq!(s.style, Style::Neon);
        assert_eq!(s.weather, Weather::Rain);
        assert_eq!(s.subjects, vec![Subject::Mountains, Subject::City]);
        let w = Scene::from_prompt("watercolor forest with pine trees in fog");
        assert_eq!((w.style, w.weather), (Style::Watercolor, Weather::Fog));
        assert!(w.has(Subject::Trees));
    }

    #[test]
    fn a_lighthouse_stands_by_the_sea_and_night_has_stars() {
        let s = Scene::from_prompt("a lighthouse at night");
        assert!(s.has(Subject::Lighthouse) && s.has(Subject::Sea) && s.has(Subject::Stars));
    }

    #[test]
    fn named_colours_become_the_accent() {
        assert_eq!(Scene::from_prompt("a purple sky").accent, Some([140, 70, 190]));
        assert_eq!(Scene::from_prompt("a sky").accent, None);
    }

    #[test]
    fn an_empty_prompt_still_makes_a_landscape() {
        assert_eq!(Scene::from_prompt("").subjects, vec![Subject::Sun, Subject::Mountains]);
    }

    #[test]
    fn the_same_prompt_gives_the_same_scene_and_others_differ() {
        assert_eq!(Scene::from_prompt("sea at dawn"), Scene::from_prompt("sea at dawn"));
        assert_ne!(Scene::from_prompt("sea at dawn").seed, Scene::from_prompt("sea at dusk").seed);
        assert_eq!(stable_hash("abc"), 0xe71f_a219_0541_574b);
    }
}
