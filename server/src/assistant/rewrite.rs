//! A refinement applied to the last prompt: a new style, time of day or season replaces the
//! old one instead of piling up, and "the sky to purple" reads "purple sky". Pure.

use super::style::{has_phrase, style_in};

/// Times and seasons replace each other instead of piling up.
const TIMES: &[&str] = &[
    "at night",
    "at midnight",
    "at sunset",
    "at sunrise",
    "at dawn",
    "at dusk",
    "at noon",
    "in the morning",
    "in the evening",
    "in the afternoon",
    "during the day",
    "in daylight",
    "at golden hour",
    "by day",
];
const SEASONS: &[&str] = &["in winter", "in summer", "in autumn", "in the fall", "in spring"];

/// The last prompt with `change` applied: a new style, time or season replaces the old one.
pub fn apply_change(last: &str, change: &str) -> String {
    let mut base = last.trim().to_string();
    let change = change.trim();
    if change.is_empty() {
        return base;
    }
    if style_in(change).is_some() {
        if let Some(old) = style_in(&base) {
            base = remove_phrase(&base, &format!(", in {old} style"));
            base = remove_phrase(&base, &format!(" in {old} style"));
            base = remove_phrase(&base, &format!(" in {old}"));
            base = remove_phrase(&base, old);
        }
    }
    for group in [TIMES, SEASONS] {
        if group.iter().any(|t| has_phrase(change, t)) {
            for t in group {
                base = remove_phrase(&base, t);
            }
        }
    }
    let base = base.trim().trim_end_matches([',', ' ']).to_string();
    format!("{base}, {}", rewrite_change(change))
}

/// "the sky to purple" → "purple sky"; other changes are used as they are.
fn rewrite_change(change: &str) -> String {
    let c = change.trim_end_matches([' ', ',']);
    for joint in [" to ", " into "] {
        if let Some((what, to)) = c.split_once(joint) {
            let what = what.trim_start_matches("the ").trim_start_matches("its ").trim();
            if (1..=3).contains(&what.split_whitespace().count()) && !to.trim().is_empty() {
                return format!("{} {what}", to.trim());
            }
        }
    }
    c.to_string()
}

/// `text` without the first case-insensitive occurrence of `phrase` (a whole phrase), spaces
/// tidied. Matched on the lowercased text but cut from the original at the characters the
/// match covers: lowercasing changes byte lengths (U+212A KELVIN SIGN: 3 bytes to 1), so the
/// lowercased text's offsets are not the original's (H1).
fn remove_phrase(text: &str, phrase: &str) -> String {
    let (lower, origin) = lowercase_with_origins(text);
    let phrase = phrase.to_lowercase();
    let Some(i) = lower.find(&phrase).filter(|_| has_phrase(&lower, &phrase)) else { return text.to_string() };
    let end = i + phrase.len();
    // A match that starts or ends inside one character's lowercase form covers no whole
    // characters of the original.
    let splits = |at: usize| at > 0 && at < lower.len() && origin[at] == origin[at - 1];
    if phrase.is_empty() || splits(i) || splits(end) {
        return text.to_string();
    }
    let (start, stop) = (origin[i], origin.get(end).copied().unwrap_or(text.len()));
    let mut out = text[..start].to_string();
    out.push_str(&text[stop..]);
    out.split_whitespace().collect::<Vec<_>>().join(" ").replace(" ,", ",")
}

/// `text` lowercased, and for each byte of it the offset in `text` of the character it
/// comes from.
fn lowercase_with_origins(text: &str) -> (String, Vec<usize>) {
    let mut lower = String::with_capacity(text.len());
    let mut origin = Vec::with_capacity(text.len());
    for (at, c) in text.char_indices() {
        let before = lower.len();
        lower.extend(c.to_lowercase());
        origin.resize(origin.len() + (lower.len() - before), at);
    }
    (lower, origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phrase_is_cut_from_the_original_even_when_lowercasing_changes_its_length() {
        // U+212A KELVIN SIGN lowercases to a one-byte "k": offsets shift left.
        assert_eq!(remove_phrase("\u{212A}\u{212A}\u{212A} at night", "at night"), "\u{212A}\u{212A}\u{212A}");
        // U+0130 lowercases to two characters: offsets shift right.
        assert_eq!(remove_phrase("\u{130}stanbul at night, misty", "at night"), "\u{130}stanbul, misty");
        assert_eq!(remove_phrase("A Lighthouse AT NIGHT", "at night"), "A Lighthouse");
        assert_eq!(remove_phrase("nothing here", "at night"), "nothing here");
    }
}
