//! Does a message ask for an image? Rules over the normalised text, in a fixed order:
//! an explicit command; a request about what the conversation established ("show me what
//! that would look like"); a change to the thread's last image ("make it more vibrant");
//! a plain-language request ("draw me a spaceship"); otherwise none. Questions about images
//! ("how do I draw better hands?"), text requests ("describe a sunset") and figurative uses
//! ("draw a conclusion") are ruled out explicitly.

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
    words.join(" ").trim_end_matches(['.', '!', '?', ' ', ',', ':', ';', ')', '(']).to_string()
}

/// Openers that carry no meaning for the request.
const OPENERS: &[&str] = &[
    "hey",
    "hi",
    "hello",
    "ok",
    "okay",
    "so",
    "please",
    "pls",
    "plz",
    "alright",
    "and",
    "also",
    "easel",
    "yes",
    "yeah",
    "great",
    "cool",
    "nice",
    "thanks",
    "thank you",
    "oh",
    "well",
    "hmm",
    "now",
    "ok,",
    "okay,",
    "then",
];

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

/// Nouns that name a picture.
const PICTURE_NOUNS: &[&str] = &[
    "image",
    "images",
    "picture",
    "pictures",
    "pic",
    "pics",
    "drawing",
    "drawings",
    "painting",
    "paintings",
    "illustration",
    "illustrations",
    "photo",
    "photos",
    "photograph",
    "portrait",
    "sketch",
    "render",
    "rendering",
    "artwork",
    "art piece",
    "piece of art",
    "wallpaper",
    "logo",
    "poster",
    "icon",
    "comic",
    "cartoon",
    "visual",
    "graphic",
    "mockup",
    "banner",
    "avatar",
    "sticker",
    "doodle",
    "scene",
    "landscape of",
    "concept art",
];

/// Picture nouns that are themselves the subject ("a logo for my bakery").
const SELF_SUBJECT_NOUNS: &[&str] =
    &["wallpaper", "logo", "poster", "icon", "banner", "avatar", "sticker", "mockup", "comic", "cartoon", "portrait"];

/// Verbs that only make sense for pictures when they are requests.
const PICTURE_VERBS: &[&str] =
    &["draw", "paint", "sketch", "illustrate", "render", "doodle", "depict", "visualize", "visualise", "picture"];

/// Verbs that make a picture when a picture noun follows.
const MAKE_VERBS: &[&str] = &[
    "create", "make", "generate", "produce", "design", "give", "show", "get", "do", "whip up", "craft", "send",
    "render", "paint", "draw",
];

/// Ways of asking: at the start of a request.
const ASKS: &[&str] = &[
    "can you",
    "could you",
    "would you",
    "will you",
    "can u",
    "could u",
    "would you please",
    "could you please",
    "can you please",
    "i want you to",
    "i'd like you to",
    "i would like you to",
    "i need you to",
    "go ahead and",
    "try to",
    "please",
    "would you mind",
    "could you maybe",
    "can you maybe",
];

/// Wishes that, with a picture noun, ask for one.
const WISHES: &[&str] = &[
    "i want",
    "i'd like",
    "i would like",
    "i'd love",
    "i would love",
    "i need",
    "can i get",
    "can i have",
    "could i get",
    "could i have",
    "may i have",
    "i'll take",
    "gimme",
    "give me",
    "show me",
    "send me",
    "let me see",
    "i wanna see",
    "i want to see",
    "i'd like to see",
    "i would like to see",
    "i'd love to see",
    "i'm looking for",
    "looking for",
];

/// Openings of questions and text requests: no image, whatever follows.
const NOT_REQUESTS: &[&str] = &[
    "how ",
    "why ",
    "what is",
    "what's",
    "what are",
    "what was",
    "what kind",
    "what type",
    "what format",
    "which ",
    "when ",
    "where ",
    "who ",
    "whose ",
    "is there",
    "are there",
    "is it",
    "is a ",
    "is an ",
    "is this",
    "is that",
    "are you",
    "are they",
    "do you",
    "does ",
    "did ",
    "do i",
    "should i",
    "explain",
    "describe",
    "tell me",
    "write",
    "list ",
    "summarize",
    "summarise",
    "translate",
    "teach me",
    "help me understand",
    "define",
    "compare",
    "i took",
    "i drew",
    "i painted",
    "i made",
    "i have",
    "i had",
    "i love",
    "i like",
    "i hate",
    "my ",
    "remind me",
    "suggest",
    "recommend",
    "give me an idea",
    "give me ideas",
    "give me some ideas",
    "give me tips",
    "give me advice",
    "what do you",
    "what should",
    "what would you",
    "can you explain",
    "can you describe",
    "can you tell",
    "could you explain",
    "could you describe",
    "could you tell",
    "can you write",
    "could you write",
    "can you help me",
    "could you help me",
    "can you teach",
    "can you suggest",
    "can you recommend",
    "can you list",
    "can you summarize",
    "can you translate",
    "can you see",
    "can you read",
    "can you analyze",
    "can you analyse",
    "can you look at",
    "can you check",
    "can you convert",
    "can you resize",
    "can you compress",
    "can you open",
];

/// Words after "draw"/"paint" that make it figurative or physical, not a picture.
const FIGURATIVE_OBJECTS: &[&str] = &[
    "conclusion",
    "conclusions",
    "the line",
    "a line under",
    "attention",
    "blood",
    "a bath",
    "bath",
    "breath",
    "a breath",
    "card",
    "cards",
    "a card",
    "lots",
    "straws",
    "a comparison",
    "comparisons",
    "inspiration",
    "a crowd",
    "crowds",
    "water",
    "money",
    "the curtains",
    "curtains",
    "a salary",
    "fire",
    "a blank",
    "on ",
    "up a plan",
    "up a contract",
    "up plans",
    "my house",
    "the house",
    "my room",
    "the room",
    "the walls",
    "my walls",
    "the fence",
    "my fence",
    "my nails",
    "nails",
    "the door",
    "my car",
    "the kitchen",
    "the ceiling",
    "the town red",
    "yourself",
    "myself",
    "with ",
    "from ",
    "a distinction",
    "parallels",
    "a parallel",
];

/// Questions and remarks that mean "show me that" about what was just discussed.
const CONTEXT_REQUESTS: &[&str] = &[
    "show me what that would look like",
    "show me what it would look like",
    "show me what this would look like",
    "what would that look like",
    "what would it look like",
    "what would this look like",
    "what does that look like",
    "what does it look like",
    "how would that look",
    "how would it look",
    "let's see it",
    "let's see that",
    "let's see this",
    "let's see what that looks like",
    "let me see it",
    "let me see that",
    "let me see what",
    "i want to see it",
    "i want to see that",
    "i'd like to see it",
    "i'd like to see that",
    "i'd love to see it",
    "i'd love to see that",
    "can i see it",
    "can i see that",
    "can you show me",
    "show me that",
    "show me it",
    "show it to me",
    "show me",
    "show that",
    "visualize it",
    "visualize that",
    "visualise it",
    "visualise that",
    "picture it",
    "picture that",
    "draw it",
    "draw that",
    "draw this",
    "paint it",
    "paint that",
    "paint this",
    "sketch it",
    "sketch that",
    "illustrate it",
    "illustrate that",
    "render it",
    "render that",
    "bring it to life",
    "bring that to life",
    "make an image of that",
    "make an image of it",
    "make a picture of that",
    "make a picture of it",
    "create an image of that",
    "create an image of it",
    "generate that",
    "generate it",
    "an image of that",
    "a picture of that",
    "image of that",
    "picture of that",
    "let's visualize it",
    "let's visualize that",
    "draw what you just described",
    "draw what we talked about",
    "paint what you described",
    "show me what you mean",
    "show me an example",
    "make it real",
    "go ahead and draw it",
    "do it",
];

/// Openings of a change to the last image.
const REFINE_LEADS: &[&str] = &[
    "make it",
    "make them",
    "make the",
    "make her",
    "make him",
    "make everything",
    "turn it",
    "turn the",
    "turn them",
    "change the",
    "change it",
    "change its",
    "add ",
    "remove ",
    "replace ",
    "swap ",
    "put ",
    "give it",
    "give the",
    "give them",
    "now ",
    "same ",
    "again",
    "try again",
    "redo",
    "do it again",
    "another one",
    "one more",
    "more ",
    "less ",
    "with ",
    "without ",
    "but ",
    "zoom",
    "crop",
    "brighten",
    "darken",
    "recolor",
    "recolour",
    "what about",
    "how about",
    "instead",
    "this time",
    "only ",
    "keep ",
    "lose the",
    "get rid of",
    "can you make it",
    "could you make it",
    "can you change",
    "could you change",
    "can you add",
    "could you add",
    "can you remove",
    "could you remove",
    "can you turn",
    "could you turn",
    "can you put",
    "could you put",
    "can you give it",
    "let's make it",
    "let's try",
    "let's add",
    "let's change",
    "i'd like it",
    "i want it",
    "i'd prefer it",
    "i prefer it",
    "try it",
    "do it in",
    "do it as",
    "do the same",
    "in watercolor",
    "as a",
    "in the style of",
    "in a ",
    "at night",
    "at sunset",
    "at dawn",
    "at dusk",
    "in winter",
    "in summer",
    "in autumn",
    "in spring",
    "bigger",
    "smaller",
    "brighter",
    "darker",
    "warmer",
    "cooler",
    "softer",
    "sharper",
    "more vibrant",
    "less busy",
    "from above",
    "from below",
    "closer",
    "further away",
    "zoomed",
];

/// Remarks about the last image that change nothing.
const REMARKS: &[&str] = &[
    "thanks",
    "thank you",
    "love it",
    "i love it",
    "nice",
    "great",
    "wow",
    "cool",
    "awesome",
    "perfect",
    "beautiful",
    "amazing",
    "that's",
    "it's",
    "it is",
    "looks",
    "haha",
    "lol",
    "ok",
    "okay",
    "good",
    "excellent",
    "not bad",
    "so pretty",
    "gorgeous",
    "stunning",
];

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
    (!subject.is_empty()).then_some(subject)
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

/// What `message` asks for, given whether the thread has talked about something and whether it
/// has an image to change.
pub fn classify(message: &str, has_conversation: bool, has_image: bool) -> Intent {
    let text = normalise(message);
    let text = strip_openers(&text);
    if text.is_empty() {
        return Intent::None;
    }
    // About what was just discussed, or the last image again.
    if CONTEXT_REQUESTS.iter().any(|c| text == *c || (text.starts_with(c) && context_tail_ok(&text[c.len()..]))) {
        return match (has_conversation, has_image) {
            (true, _) => Intent::Context,
            (false, true) => Intent::Refine { change: String::new() },
            (false, false) => Intent::None,
        };
    }
    let asked = strip_asks(text);
    if starts_with_any(text, NOT_REQUESTS).is_some() || starts_with_any(asked, NOT_REQUESTS).is_some() {
        return Intent::None;
    }
    if has_phrase(text, "how to") || has_phrase(text, "learn to") || has_phrase(text, "tips") {
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
    Intent::None
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
mod tests {
    use super::*;

    fn image(s: &str) -> Intent {
        Intent::Image { subject: s.into() }
    }

    #[test]
    fn plain_requests_name_their_subject() {
        assert_eq!(classify("Can you create an image of a cat?", false, false), image("a cat"));
        assert_eq!(classify("draw me a spaceship", false, false), image("a spaceship"));
        assert_eq!(classify("I'd love a picture of a foggy harbor", false, false), image("a foggy harbor"));
        assert_eq!(classify("make me a logo for my bakery", false, false), image("a logo for my bakery"));
        assert_eq!(
            classify("Hey, could you please paint a sunset over the sea for me?", false, false),
            image("a sunset over the sea")
        );
    }

    #[test]
    fn questions_text_and_figures_of_speech_are_not_requests() {
        for text in [
            "how do I draw better hands?",
            "what is an image format?",
            "describe a sunset to me",
            "let's draw a conclusion",
            "can you make images?",
            "I took a picture of my cat",
            "give me an idea for a painting",
            "I want to paint my room blue",
        ] {
            assert_eq!(classify(text, false, false), Intent::None, "{text}");
        }
    }

    #[test]
    fn context_and_refinement_depend_on_the_thread() {
        assert_eq!(classify("show me what that would look like", true, false), Intent::Context);
        assert_eq!(classify("show me what that would look like", false, false), Intent::None);
        assert_eq!(classify("make it more vibrant", false, true), Intent::Refine { change: "more vibrant".into() });
        assert_eq!(classify("make it more vibrant", false, false), Intent::None);
        assert_eq!(
            classify("change the sky to purple", false, true),
            Intent::Refine { change: "the sky to purple".into() }
        );
        assert_eq!(classify("thanks, I love it!", false, true), Intent::None);
    }
}
