//! What the classifier sees of a message and its thread: hashed word and character n-grams
//! (so typos and inflections still share most of their features: "pictuer" and "picture"
//! share `<pi`, `pic`, `ict`…), the first words, the question mark, the length, and the
//! thread's state (is there an image, was the last turn one, has something been described
//! since). Words are also crossed with the thread's state, so "darker" can mean a refinement
//! only when there is an image to darken.
//!
//! Pure std, no crate imports: `build.rs` includes this file to train at compile time.

/// Feature indices are hashed into `DIM` buckets.
pub const DIM_BITS: u32 = 17;
pub const DIM: usize = 1 << DIM_BITS;

/// The thread, as far as the decision needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Context {
    /// The thread has an image to change.
    pub has_image: bool,
    /// The assistant's last turn was an image.
    pub last_is_image: bool,
    /// The user described something since the last image (or since the start).
    pub has_conversation: bool,
    /// The assistant's last turn asked or offered something ("Want me to draw it?", "the
    /// night one or the day one?"): a bare "yes please" or "the second" answers it.
    pub offered: bool,
    /// The assistant's last turn answered in words (a chat model's reply, not an image nor an
    /// offer): the next message is most often a follow-up ("and of Spain?", "thanks, that
    /// helps"), which describes nothing to draw.
    pub answered: bool,
    /// What the hand-written rules said (`image`, `context`, `refine`, `none`, `ruled-out`):
    /// the classifier learns how far to trust them, phrasing by phrasing.
    pub rule: &'static str,
}

/// The prompt of an image turn (`[image: a fox]` → `a fox`).
fn image_marker(text: &str) -> Option<&str> {
    text.trim().strip_prefix("[image:").and_then(|r| r.strip_suffix(']')).map(str::trim)
}

impl Context {
    /// The thread's state from its turns, oldest first: `(is_user, text)`.
    pub fn of<'a>(turns: impl IntoIterator<Item = (bool, &'a str)>) -> Self {
        let turns: Vec<(bool, &str)> = turns.into_iter().collect();
        let is_image = |(user, text): &(bool, &str)| !user && image_marker(text).is_some();
        let last_image = turns.iter().rposition(is_image);
        let since = &turns[last_image.map_or(0, |i| i + 1)..];
        let offered = turns.iter().rev().find(|(user, _)| !user).is_some_and(|(_, text)| {
            let t = text.to_lowercase();
            image_marker(text).is_none()
                && (t.trim_end().ends_with('?')
                    || ["want me to", "shall i", "should i", "would you like", "which one", "or the"]
                        .iter()
                        .any(|p| t.contains(p)))
        });
        let answered = !offered
            && turns.last().is_some_and(|(user, text)| {
                !user && image_marker(text).is_none() && text.split_whitespace().count() >= 3
            });
        Context {
            rule: "",
            offered,
            answered,
            has_image: last_image.is_some(),
            last_is_image: turns.iter().rev().find(|(user, _)| !user).is_some_and(is_image),
            has_conversation: since.iter().any(|(_, t)| image_marker(t).is_none() && t.split_whitespace().count() >= 2),
        }
    }
}

/// FNV-1a, 64 bits: stable across platforms and releases, unlike `DefaultHasher`.
fn hash(parts: &[&str]) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0x1f;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in part.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    (h >> (64 - DIM_BITS)) as u32
}

/// Lower-cased words (letters, digits, inner apostrophes), a command (`/imagine`) kept whole,
/// each emoji or other symbol its own token, `?` and `!` kept as tokens.
pub fn tokens(message: &str) -> Vec<String> {
    let text = message.to_lowercase().replace(['’', '‘', '`'], "'");
    let mut out = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<String>| {
        let w = word.trim_matches('\'');
        if !w.is_empty() {
            out.push(w.to_string());
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() || c == '\'' || (c == '/' && word.is_empty()) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            if c == '?' || c == '!' || (!c.is_whitespace() && !c.is_ascii_punctuation() && !c.is_alphanumeric()) {
                // Variation selectors and joiners carry no meaning of their own.
                if !matches!(c, '\u{fe0f}' | '\u{200d}') {
                    out.push(c.to_string());
                }
            }
        }
    }
    flush(&mut word, &mut out);
    out
}

fn length_bucket(words: usize) -> &'static str {
    match words {
        0..=1 => "1",
        2 => "2",
        3 => "3",
        4..=6 => "4-6",
        7..=12 => "7-12",
        _ => "13+",
    }
}

/// The hashed, de-duplicated, sorted feature indices of `message` in `context`.
pub fn features(message: &str, context: &Context) -> Vec<u32> {
    let tokens = tokens(message);
    let words: Vec<&str> = tokens.iter().map(String::as_str).filter(|t| t.chars().any(char::is_alphanumeric)).collect();
    let mut f = Vec::with_capacity(64 + tokens.len() * 24);
    let image = if context.has_image { "img" } else { "noimg" };
    let last = if context.last_is_image { "last" } else { "notlast" };
    let conv = if context.has_conversation { "conv" } else { "noconv" };
    f.push(hash(&["bias"]));
    f.push(hash(&["ctx", image]));
    f.push(hash(&["ctx", last]));
    f.push(hash(&["ctx", conv]));
    f.push(hash(&["ctx", image, conv]));
    let offered = if context.offered { "offered" } else { "notoffered" };
    f.push(hash(&["ctx", offered]));
    let answered = if context.answered { "answered" } else { "notanswered" };
    f.push(hash(&["ctx", answered]));
    f.push(hash(&["ctx", answered, image]));
    // Only what the rules found: their "none" is mostly "did not recognise", and as a feature
    // it drowns the words that should decide those messages.
    if !context.rule.is_empty() && context.rule != "none" {
        f.push(hash(&["rule", context.rule]));
        f.push(hash(&["rule", context.rule, image]));
        f.push(hash(&["rule", context.rule, conv]));
    }
    let len = length_bucket(words.len());
    f.push(hash(&["len", len]));
    f.push(hash(&["len", len, image]));
    f.push(hash(&["len", len, conv]));
    f.push(hash(&["len", len, offered]));
    f.push(hash(&["len", len, answered]));
    if tokens.last().is_some_and(|t| t == "?") {
        f.push(hash(&["ends?"]));
        f.push(hash(&["ends?", image]));
    }
    if let Some(first) = words.first() {
        f.push(hash(&["first", first]));
        f.push(hash(&["first", first, image]));
        f.push(hash(&["first", first, conv]));
        f.push(hash(&["first", first, offered]));
        f.push(hash(&["first", first, answered]));
    }
    if words.len() >= 2 {
        f.push(hash(&["first2", words[0], words[1]]));
    }
    if let Some(last) = words.last() {
        f.push(hash(&["lastw", last]));
    }
    for token in &tokens {
        f.push(hash(&["w", token]));
        f.push(hash(&["w", token, image]));
        f.push(hash(&["w", token, conv]));
        if context.answered {
            f.push(hash(&["w", token, answered]));
        }
    }
    for pair in words.windows(2) {
        f.push(hash(&["b", pair[0], pair[1]]));
        f.push(hash(&["b", pair[0], pair[1], image]));
    }
    for triple in words.windows(3) {
        f.push(hash(&["t", triple[0], triple[1], triple[2]]));
    }
    for word in &words {
        let padded: Vec<char> = format!("<{word}>").chars().collect();
        for n in 3..=5 {
            for gram in padded.windows(n) {
                let gram: String = gram.iter().collect();
                f.push(hash(&["c", &gram]));
                if n == 4 {
                    f.push(hash(&["c", &gram, image]));
                }
            }
        }
    }
    f.sort_unstable();
    f.dedup();
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_commands_emoji_and_question_marks() {
        assert_eq!(tokens("OK so /imagine a Cat!! 🎨"), ["ok", "so", "/imagine", "a", "cat", "!", "!", "🎨"]);
        assert_eq!(tokens("can’t you draw it?"), ["can't", "you", "draw", "it", "?"]);
        assert_eq!(tokens("  "), Vec::<String>::new());
    }

    #[test]
    fn a_typo_shares_most_character_grams_with_the_word() {
        let ctx = Context::default();
        let a = features("picture", &ctx);
        let b = features("pictuer", &ctx);
        let shared = a.iter().filter(|i| b.contains(i)).count();
        assert!(shared * 3 >= a.len(), "{shared} of {} shared", a.len());
    }

    #[test]
    fn the_context_reads_the_thread() {
        let thread = [(true, "a fox please"), (false, "[image: a fox]"), (true, "nice")];
        let c = Context::of(thread);
        assert!(c.has_image && c.last_is_image && !c.has_conversation);
        let c = Context::of([(true, "I'm planning a poster for a jazz night"), (false, "Sounds fun!")]);
        assert!(!c.has_image && !c.last_is_image && c.has_conversation && !c.answered);
        let c = Context::of([(true, "capital of France?"), (false, "Paris is the capital.")]);
        assert!(c.answered && !c.offered);
        let c = Context::of([(true, "a fox"), (false, "Want me to draw it in the snow?")]);
        assert!(c.offered && !c.answered);
        assert_eq!(Context::of([]), Context::default());
    }

    #[test]
    fn the_thread_changes_the_features() {
        let none = features("darker", &Context::default());
        let with_image = features("darker", &Context { has_image: true, last_is_image: true, ..Context::default() });
        assert_ne!(none, with_image);
        assert!(none.iter().all(|i| (*i as usize) < DIM));
        assert_eq!(features("darker", &Context::default()), none, "deterministic");
    }
}
