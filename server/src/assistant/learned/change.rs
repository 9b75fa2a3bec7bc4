//! Whether a message after an image says anything about changing it. A learned "refine" the
//! rules did not see is acted on only with such a sign, or when the classifier is sure: after
//! an image most messages are reactions ("wow love it", "👍", "kinda scary ngl") or new
//! questions, and the classifier, which sees "there is an image" first, over-reads them.

use super::features::{self, Context};
use crate::assistant::style::style_in;

/// Words that ask for a change, in the corpus's languages. Longer ones also match with one
/// letter wrong.
#[rustfmt::skip]
const CHANGE: &[&str] = &[
    "more", "less", "add", "adding", "remove", "delete", "erase", "without", "instead", "again", "another",
    "other", "different", "alternative", "version", "variation", "redo", "retry", "regenerate", "redraw",
    "change", "make", "but", "now", "same", "try", "fix", "replace", "turn", "swap", "crop", "flip", "zoom",
    "rotate", "mirror", "move", "put", "give", "keep", "too", "only", "with", "one", "as", "in", "at", "into",
    "also", "bit", "little", "lot", "tweak", "adjust", "edit", "update", "style", "color", "colour",
    "background", "sky", "light", "lighting", "darker", "lighter", "brighter", "bigger", "smaller", "larger",
    "rounder", "warmer", "cooler", "softer", "sharper", "closer", "wider", "taller", "shorter", "longer",
    "older", "younger", "happier", "sadder", "scarier", "cuter", "simpler", "thicker", "thinner", "higher",
    "lower", "better", "red", "orange", "yellow", "green", "blue", "purple", "pink", "white", "black", "gold",
    "golden", "silver", "grey", "gray", "brown", "dark", "bright", "night", "day", "sunset", "sunrise",
    "winter", "summer", "autumn", "spring", "rain", "snow", "text", "word", "words", "hands", "fingers",
    "face", "eyes", "hair", "wrong", "missing", "extra", "weird", "off", "zoomed", "cropped", "version",
    "plus", "moins", "encore", "autre", "sans", "avec", "más", "mas", "menos", "otra", "otro", "sin", "con",
    "mehr", "weniger", "andere", "anders", "ohne", "mit", "più", "meno", "altro", "altra", "senza", "mais",
    "outra", "outro", "sem", "com", "meer", "minder", "ander", "zonder", "met",
    "could", "would", "should", "wish", "want", "wanted", "said", "asked", "supposed", "need", "needs", "on",
    "from", "and", "cubist", "isometric", "flat", "woodcut", "print", "tapestry", "cartoon", "cartoony",
    "realistic", "photo", "painting", "drawing", "vertical", "horizontal", "landscape", "portrait", "square",
    "wide", "tall", "view", "angle", "closeup",
    "no", "doesn't", "doesnt", "has", "have", "misspelled", "spelled", "spelling", "he's", "she's",
    "monochrome", "nighttime", "daytime", "ad", "gve", "mak", "aggiungi", "ajoute", "quita", "mach", "mettigli",
    "varianten", "wersji", "jeszcze", "istället", "hinzu", "weg", "entferne", "enlève", "retire", "togli",
    "rimuovi", "quitar", "añade", "agrega", "pon", "ponle", "tira", "adicione", "coloque", "voeg", "haal",
];

/// Change words in scripts whose words are not split by spaces, or by endings.
#[rustfmt::skip]
const INSIDE: &[&str] = &[
    "добав", "убер", "сделай", "вид", "зроб", "додай", "прибер", "もっと", "して", "追加", "消して", "换", "加",
    "去掉", "더", "줘", "바꿔",
];

/// Words ending in -er that are not comparatives.
#[rustfmt::skip]
const NOT_COMPARATIVE: &[&str] = &[
    "never", "ever", "over", "under", "after", "other", "water", "rather", "whether", "together", "either",
    "neither", "super", "later", "number", "paper", "power", "remember", "computer", "answer", "order",
    "offer", "user", "sister", "brother", "mother", "father", "monster", "poster", "corner", "dinner",
    "flower", "finger", "tower", "letter", "matter", "wonder", "master", "member", "weather", "feather",
    "river", "cover", "printer", "teacher", "player", "singer", "burger", "butter", "whatever", "however",
    "forever", "clever", "proper", "folder", "timer", "partner", "character", "chapter", "soccer", "summer",
    "winter", "silver", "better",
];

/// "hotter", "livelier", "meltier": a comparative says how to change it.
fn is_comparative(word: &str) -> bool {
    word.chars().count() >= 5 && word.is_ascii() && word.ends_with("er") && !NOT_COMPARATIVE.contains(&word)
}

/// A short question of a word or two with no question word: "isometric?", "en otoño?".
fn is_bare_suggestion(tokens: &[String]) -> bool {
    const ASKING: &[&str] = &["what", "why", "how", "who", "when", "where", "is", "are", "do", "does", "can", "omg"];
    let words: Vec<&str> = tokens.iter().map(String::as_str).filter(|t| t.chars().any(char::is_alphanumeric)).collect();
    tokens.last().is_some_and(|t| t == "?")
        && (1..=2).contains(&words.len())
        && !words.iter().any(|w| ASKING.contains(w))
}

pub fn has_change_cue(message: &str, _context: &Context) -> bool {
    if style_in(message).is_some() {
        return true;
    }
    let lower = message.to_lowercase();
    if INSIDE.iter().any(|w| lower.contains(w)) {
        return true;
    }
    let tokens = features::tokens(message);
    if is_bare_suggestion(&tokens) {
        return true;
    }
    tokens.iter().any(|t| {
        let t = t.as_str();
        CHANGE.contains(&t)
            || is_comparative(t)
            || (t.chars().count() >= 5
                && CHANGE.iter().any(|c| c.chars().count() >= 5 && super::request::edit_distance_at_most_one(t, c)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_have_cues_and_reactions_do_not() {
        let ctx = Context { has_image: true, last_is_image: true, ..Context::default() };
        for change in [
            "darker",
            "a watercolor one?",
            "another take",
            "now the dog sitting",
            "drkaer pls",
            "plus sombre",
            "meltier lol",
            "en otoño?",
        ] {
            assert!(has_change_cue(change, &ctx), "{change}");
        }
        for reaction in ["wow love it", "👍", "kinda scary ngl", "are snowy owls endangered?", "omg", "lmaooo"] {
            assert!(!has_change_cue(reaction, &ctx), "{reaction}");
        }
    }
}
