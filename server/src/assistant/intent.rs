//! Does a message ask for an image? Rules over the normalised text, in a fixed order:
//! an explicit command; a request about what the conversation established ("show me what
//! that would look like"); a change to the thread's last image ("make it more vibrant");
//! a plain-language request ("draw me a spaceship"); otherwise none. Questions about images
//! ("how do I draw better hands?"), text requests ("describe a sunset") and figurative uses
//! ("draw a conclusion") are ruled out explicitly.

use super::lexicon::*;
use super::style::has_phrase;

/// What a message asks for, with the words that matter for the prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// A new image of `subject`.
    Image {
        subject: String,
    },
    /// An image of what the conversation so far is about.
    Context,
    /// The thread's last image, changed by `change` (empty: the same again).
    Refine {
        change: String,
    },
    None,
}

/// Lower-cased, straight apostrophes, single spaces, no trailing punctuation.
pub fn normalise(text: &str) -> String {
    let lower = text.to_lowercase().replace(['’', '‘'], "'");
    // Softeners change nothing about what is asked.
    let words: Vec<&str> =
        lower.split_whitespace().filter(|w| !["really", "actually", "kindly", "quickly"].contains(w)).collect();
    let mut text = words.join(" ").trim_end_matches(['.', '!', '?', ' ', ',', ':', ';', ')', '(']).to_string();
    // One spelling for the ways of saying the same thing.
    for (long, short) in [("i would ", "i'd "), ("let us ", "let's "), ("i am ", "i'm "), ("do not ", "don't ")] {
        text = text.replace(long, short);
    }
    for (long, short) in [("would love ", "i'd love "), ("would like ", "i'd like ")] {
        if let Some(rest) = text.strip_prefix(long) {
            text = format!("{short}{rest}");
        }
    }
    text
}

fn strip_openers(mut text: &str) -> &str {
    loop {
        let before = text;
        for o in OPENERS {
            if let Some(rest) = text.strip_prefix(o) {
                if rest.is_empty() || rest.starts_with([' ', ',', '!', '.']) {
                    text = rest.trim_start_matches([' ', ',', '!', '.']);
                }
            }
        }
        if text == before {
            return text;
        }
    }
}

fn starts_with_any(text: &str, options: &[&str]) -> Option<usize> {
    options.iter().filter(|o| text.starts_with(*o) && boundary_after(text, o.len())).map(|o| o.len()).max()
}

fn boundary_after(text: &str, at: usize) -> bool {
    text.as_bytes().get(at).is_none_or(|b| !b.is_ascii_alphanumeric()) || text[..at].ends_with(' ')
}

/// Leading words that only ask ("can you please", "please") removed.
fn strip_asks(mut text: &str) -> &str {
    while let Some(n) = starts_with_any(text, ASKS) {
        text = text[n..].trim_start_matches([' ', ',']);
    }
    text
}

/// Words without meaning for the picture at either end of a subject.
fn clean_subject(subject: &str) -> String {
    let mut s = subject.trim().trim_matches([',', ' ', ':']).to_string();
    for tail in [" please", " for me", " for us", " thanks", " thank you", " if you can", " if possible", " now"] {
        while let Some(rest) = s.strip_suffix(tail) {
            s = rest.trim_end_matches([',', ' ']).to_string();
        }
    }
    for head in ["me ", "us ", "for me ", "please "] {
        while let Some(rest) = s.strip_prefix(head) {
            s = rest.to_string();
        }
    }
    s.trim().to_string()
}

/// The subject after a picture noun: "an image of a cat" → "a cat"; "a logo for my bakery" →
/// "a logo for my bakery".
fn subject_after_noun(text: &str) -> Option<String> {
    let (noun, at) =
        PICTURE_NOUNS.iter().filter_map(|n| find_word(text, n).map(|i| (*n, i))).min_by_key(|(_, i)| *i)?;
    let after = text[at + noun.len()..].trim_start();
    if SELF_SUBJECT_NOUNS.contains(&noun) {
        let start = text[..at].rfind([' ']).map_or(0, |_| article_start(text, at));
        let subject = clean_subject(&text[start..]);
        return (subject.split_whitespace().count() > 1 || !after.is_empty()).then_some(subject);
    }
    let rest = after
        .strip_prefix("of ")
        .or_else(|| after.strip_prefix("showing "))
        .or_else(|| after.strip_prefix("with "))
        .or_else(|| after.strip_prefix("depicting "))
        .or_else(|| after.strip_prefix("featuring "))
        .or_else(|| after.strip_prefix("that shows "))
        .or_else(|| after.strip_prefix("where "))
        .or_else(|| after.strip_prefix("for "))?;
    let subject = clean_subject(rest);
    (!subject.is_empty()).then_some(subject)
}

/// Where the article or adjectives before the noun at `at` begin ("a cute logo" → "a").
fn article_start(text: &str, at: usize) -> usize {
    let before = &text[..at];
    for article in [" a ", " an ", " the ", " some ", " my ", " our "] {
        if let Some(i) = before.rfind(article) {
            return i + 1;
        }
    }
    for article in ["a ", "an ", "the ", "some "] {
        if before.starts_with(article) {
            return 0;
        }
    }
    at
}

/// Byte index of `word` as a whole word in `text`.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text[from..].find(word) {
        let at = from + i;
        let ok_before = at == 0 || !text.as_bytes()[at - 1].is_ascii_alphanumeric();
        let end = at + word.len();
        let ok_after = word.ends_with(' ') || end >= text.len() || !text.as_bytes()[end].is_ascii_alphanumeric();
        if ok_before && ok_after {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// "draw me a spaceship" → "a spaceship" when `text` starts with a picture verb used as a request.
fn picture_verb_request(text: &str) -> Option<String> {
    // "(would you mind) drawing a hedgehog": the gerund asks too, when an object follows.
    let gerunds =
        [("drawing ", "draw"), ("painting ", "paint"), ("sketching ", "sketch"), ("illustrating ", "illustrate")];
    let (verb, rest) = match gerunds.iter().find(|(g, _)| text.starts_with(g)) {
        Some((g, v)) if !text[g.len()..].starts_with("of ") => (*v, &text[g.len()..]),
        _ => {
            let verb = PICTURE_VERBS.iter().find(|v| text.starts_with(*v) && boundary_after(text, v.len()))?;
            (*verb, &text[verb.len()..])
        }
    };
    let rest = rest.trim_start();
    let rest = rest.strip_prefix("me ").or_else(|| rest.strip_prefix("us ")).unwrap_or(rest).trim_start();
    if rest.is_empty() || FIGURATIVE_OBJECTS.iter().any(|f| rest.starts_with(f)) {
        return None;
    }
    // "picture" as a verb needs an article after it ("picture a castle"), else it is a noun.
    if verb == "picture" && !["a ", "an ", "the ", "this", "that", "it"].iter().any(|a| rest.starts_with(a)) {
        return None;
    }
    if rest.starts_with("it") || rest.starts_with("that") || rest.starts_with("this") {
        return None; // deictic: the context rule's business
    }
    let subject = subject_after_noun(rest).unwrap_or_else(|| clean_subject(rest));
    // "draw a picture" names no subject: nothing to draw yet.
    let bare_noun = PICTURE_NOUNS
        .iter()
        .any(|n| subject == *n || subject.strip_prefix("a ").or_else(|| subject.strip_prefix("an ")) == Some(n));
    (!subject.is_empty() && !bare_noun).then_some(subject)
}

/// A request that names a picture: "can you create an image of a cat", "I'd love a picture of
/// a foggy harbor", "a painting of a ship please".
fn picture_noun_request(text: &str) -> Option<String> {
    let subject = subject_after_noun(text)?;
    let noun_at = PICTURE_NOUNS.iter().filter_map(|n| find_word(text, n)).min()?;
    let before = &text[..noun_at];
    let asked = MAKE_VERBS.iter().any(|v| find_word(before, v).is_some())
        || WISHES.iter().any(|w| find_word(before, w).is_some())
        || before.trim().is_empty()
        || ["a", "an", "one", "another", "a quick", "a nice", "a cool", "a new"].contains(&before.trim());
    asked.then_some(subject)
}

impl Intent {
    /// The rules' answer as the classifier sees it (a feature).
    pub fn label(&self, message: &str) -> &'static str {
        match self {
            Intent::Image { .. } => "image",
            Intent::Context => "context",
            Intent::Refine { .. } => "refine",
            Intent::None if ruled_out(message) => "ruled-out",
            Intent::None => "none",
        }
    }
}

/// What `message` asks for, given whether the thread has talked about something and whether it
/// has an image to change.
pub fn classify(message: &str, has_conversation: bool, has_image: bool) -> Intent {
    let text = normalise(message);
    let text = strip_openers(&text);
    if text.is_empty() {
        return Intent::None;
    }
    let asked = strip_asks(text);
    // About what was just discussed, or the last image again.
    let is_context =
        |t: &str| CONTEXT_REQUESTS.iter().any(|c| t == *c || (t.starts_with(c) && context_tail_ok(&t[c.len()..])));
    if is_context(text) || is_context(asked) {
        return match (has_conversation, has_image) {
            (true, _) => Intent::Context,
            (false, true) => Intent::Refine { change: String::new() },
            (false, false) => Intent::None,
        };
    }
    if is_ruled_out(text, asked) {
        return Intent::None;
    }
    if has_image {
        if let Some(change) = refinement(asked) {
            return Intent::Refine { change };
        }
    }
    if let Some(subject) = picture_verb_request(asked) {
        return Intent::Image { subject };
    }
    if let Some(subject) = picture_noun_request(asked) {
        return Intent::Image { subject };
    }
    if let Some(subject) = show_me_request(asked) {
        return Intent::Image { subject };
    }
    Intent::None
}

/// Questions about drawing and text requests ("how do I draw…", "describe a sunset"): the
/// negatives the rules are certain of, which no learned guess overrides.
fn is_ruled_out(text: &str, asked: &str) -> bool {
    // "how about red instead?", "how would it look at night?": wishes, not questions.
    const WISHES: &[&str] = &[
        "how about",
        "how would it look",
        "how would that look",
        "how would this look",
        "how would they look",
        "is there a way to make",
    ];
    if starts_with_any(text, WISHES).is_some() || starts_with_any(asked, WISHES).is_some() {
        return false;
    }
    // "oh my god, please make a picture of two otters", "i like it, draw it": a remark first,
    // then a request of its own.
    if text.split([',', '.', '!', ':', ';', '?', '—']).skip(1).any(later_request) {
        return false;
    }
    starts_with_any(asked, NOT_REQUESTS).is_some()
        || has_phrase(text, "how to")
        || has_phrase(text, "learn to")
        || has_phrase(text, "tips")
}

/// A clause after the first that asks for a picture by itself ("draw it", "sketch it out",
/// "please make a picture of …").
fn later_request(clause: &str) -> bool {
    let clause = strip_asks(strip_openers(clause.trim()));
    let verb = PICTURE_VERBS.iter().find(|v| clause.starts_with(*v) && boundary_after(clause, v.len()));
    let deictic = verb.is_some_and(|v| {
        let rest = clause[v.len()..].trim_start();
        ["it", "that", "this", "one", "them"].iter().any(|d| rest.starts_with(d) && boundary_after(rest, d.len()))
    });
    deictic || picture_verb_request(clause).is_some() || picture_noun_request(clause).is_some()
}

/// Whether the rules are certain `message` asks for no image (see [`is_ruled_out`]).
pub fn ruled_out(message: &str) -> bool {
    let text = normalise(message);
    let text = strip_openers(&text);
    is_ruled_out(text, strip_asks(text))
}

/// "show me a hamster astronaut": showing a thing (not how, where or why) is drawing it.
fn show_me_request(text: &str) -> Option<String> {
    let rest = [
        "show me ",
        "let me see ",
        "i'd like to see ",
        "i want to see ",
        "i'd love to see ",
        "i wanna see ",
        "can i see ",
        "could i see ",
        "let's see ",
    ]
    .iter()
    .find_map(|lead| text.strip_prefix(lead))?;
    if !["a ", "an ", "some ", "two ", "three ", "a few "].iter().any(|a| rest.starts_with(a)) {
        return None;
    }
    let subject = clean_subject(rest);
    (subject.split_whitespace().count() >= 2).then_some(subject)
}

/// After a context phrase only a few courtesy words may follow ("let's see it, please").
fn context_tail_ok(tail: &str) -> bool {
    let tail = tail.trim_matches([' ', ',', '!', '?', '.']);
    ["", "please", "for me", "now", "then", "already", "in action", "for real", "as an image", "as a picture"]
        .contains(&tail)
}

/// The change a refinement asks for ("make it more vibrant" → "more vibrant").
fn refinement(text: &str) -> Option<String> {
    if REMARKS.iter().any(|r| text.starts_with(r) && boundary_after(text, r.len())) && !text.contains(" but ") {
        return None;
    }
    let n = starts_with_any(text, REFINE_LEADS)?;
    let lead = text[..n].trim();
    let mut change = match lead {
        // These leads are part of the change itself.
        "more" | "less" | "with" | "without" | "in a" | "as a" | "in the style of" | "at night" | "at sunset"
        | "at dawn" | "at dusk" | "in winter" | "in summer" | "in autumn" | "in spring" | "in watercolor"
        | "bigger" | "smaller" | "brighter" | "darker" | "warmer" | "cooler" | "softer" | "sharper"
        | "more vibrant" | "less busy" | "from above" | "from below" | "closer" | "further away" | "zoomed" | "add"
        | "remove" | "replace" | "swap" | "put" | "zoom" | "crop" | "brighten" | "darken" | "recolor" | "recolour"
        | "get rid of" | "lose the" | "keep" | "only" | "instead" | "this time" => text.to_string(),
        // "change the sky to purple": the change keeps its object.
        "change the" | "change its" | "turn the" => format!("the {}", text[n..].trim()),
        _ => text[n..].trim().to_string(),
    };
    let fillers = [
        "image but ",
        "picture but ",
        "thing but ",
        "one but ",
        "again but ",
        "again, but ",
        "again ",
        "but ",
        "now ",
        "just ",
        "please ",
        "a bit ",
        "a little ",
    ];
    loop {
        let before = change.len();
        for filler in fillers {
            if let Some(rest) = change.strip_prefix(filler) {
                change = rest.to_string();
            }
        }
        if change.len() == before {
            break;
        }
    }
    Some(clean_subject(&change))
}

#[cfg(test)]
mod tests;
