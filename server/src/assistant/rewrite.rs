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

fn remove_phrase(text: &str, phrase: &str) -> String {
    let lower = text.to_lowercase();
    match lower.find(&phrase.to_lowercase()) {
        Some(i) if has_phrase(&lower, &phrase.to_lowercase()) => {
            let mut out = text[..i].to_string();
            out.push_str(&text[i + phrase.len()..]);
            out.split_whitespace().collect::<Vec<_>>().join(" ").replace(" ,", ",")
        }
        _ => text.to_string(),
    }
}
