//! The assistant's rules, pure (no I/O): which messages ask for an image, of what, in which
//! style and shape, and what a refinement changes. `plan` is the entry point; `intent`
//! classifies by rules, `learned` by a classifier trained at compile time from the labelled
//! corpus (`server/tests/data/`), `style` remembers, `prompt` combines them and writes the
//! prompt. Scored on a held-out set without a server.

pub mod intent;
pub mod learned;
#[rustfmt::skip]
mod lexicon;
pub mod prompt;
pub mod reply;
mod rewrite;
pub mod score;
pub mod style;

pub use prompt::{image_marker, plan, plan_with, Decision, Plan, Turn};
pub use reply::offline_reply;
pub use style::Aspect;

/// Commands that ask for an image, with a space or the end after them.
const COMMANDS: [&str; 3] = ["/imagine", "/generate", "/draw"];

/// The prompt of an image command (`/imagine a lighthouse` → `a lighthouse`), at the start of
/// `text` or after a space ("ok so /imagine a cat"). A command with nothing after it is not a
/// request: there is nothing to draw.
pub fn image_command(text: &str) -> Option<&str> {
    let text = text.trim_start();
    command_at_start(text).or_else(|| text.match_indices(" /").find_map(|(i, _)| command_at_start(&text[i + 1..])))
}

fn command_at_start(text: &str) -> Option<&str> {
    COMMANDS.iter().find_map(|cmd| {
        let head = text.get(..cmd.len())?;
        let rest = &text[cmd.len()..];
        (head.eq_ignore_ascii_case(cmd) && (rest.is_empty() || rest.starts_with(char::is_whitespace)))
            .then(|| rest.trim())
            .filter(|p| !p.is_empty())
    })
}

const NOT_SUBJECTS: &[&str] = &[
    "a",
    "an",
    "the",
    "of",
    "at",
    "in",
    "on",
    "with",
    "by",
    "and",
    "for",
    "to",
    "over",
    "under",
    "from",
    "into",
    "my",
    "me",
    "some",
    "very",
    "big",
    "small",
    "little",
    "tiny",
    "huge",
    "beautiful",
    "cute",
    "old",
    "new",
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "white",
    "black",
    "golden",
    "gold",
    "silver",
    "dark",
    "bright",
    "neon",
    "pastel",
    "vibrant",
    "watercolor",
    "watercolour",
    "cyberpunk",
    "misty",
    "foggy",
    "snowy",
    "rainy",
    "stormy",
    "sunny",
    "quiet",
    "lonely",
    "giant",
    "ancient",
    "futuristic",
    "magical",
    "photo",
    "picture",
    "image",
    "painting",
    "drawing",
    "portrait",
];

/// Pronouns and filler a status line must never name ("Generating your i scene…").
const FILLERS: &[&str] = &[
    "i",
    "i'm",
    "im",
    "me",
    "you",
    "we",
    "they",
    "he",
    "she",
    "it",
    "its",
    "our",
    "your",
    "their",
    "his",
    "her",
    "this",
    "that",
    "these",
    "those",
    "there",
    "here",
    "what",
    "which",
    "who",
    "planning",
    "thinking",
    "think",
    "want",
    "wanted",
    "need",
    "like",
    "love",
    "would",
    "could",
    "should",
    "can",
    "will",
    "make",
    "made",
    "draw",
    "show",
    "see",
    "look",
    "looks",
    "imagine",
    "imagining",
    "something",
    "thing",
    "kind",
    "sort",
    "maybe",
    "just",
    "so",
    "ok",
    "okay",
    "well",
    "also",
    "about",
    "is",
    "are",
    "was",
    "be",
    "have",
    "has",
    "do",
    "did",
    "let's",
    "lets",
    "please",
    "one",
    "got",
];

/// A short name for what the prompt shows ("a lighthouse at dusk" → "lighthouse"), for status
/// lines like "Generating your lighthouse scene…".
pub fn subject_of(prompt: &str) -> String {
    prompt
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .find(|w| {
            let w = w.to_lowercase();
            w.chars().count() > 1 && !NOT_SUBJECTS.contains(&w.as_str()) && !FILLERS.contains(&w.as_str())
        })
        .map(|w| w.chars().take(32).collect::<String>().to_lowercase())
        .unwrap_or_else(|| "image".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_give_their_prompt() {
        assert_eq!(image_command("/imagine a lighthouse at dusk"), Some("a lighthouse at dusk"));
        assert_eq!(image_command("  /GENERATE   a red fox "), Some("a red fox"));
        assert_eq!(image_command("/draw\ta cat"), Some("a cat"));
        assert_eq!(image_command("ok so /imagine a cat"), Some("a cat"));
    }

    #[test]
    fn other_text_is_not_a_command() {
        for text in ["imagine a lighthouse", "/imagines", "/imagine", "/imagine   ", "hello/imagine x", "/help", ""] {
            assert_eq!(image_command(text), None, "{text:?}");
        }
    }

    #[test]
    fn the_subject_skips_articles_and_adjectives() {
        assert_eq!(subject_of("a lighthouse at dusk"), "lighthouse");
        assert_eq!(subject_of("Neon city skyline in the rain"), "city");
        assert_eq!(subject_of("a very big red"), "image");
        assert_eq!(subject_of("Élan vital"), "élan");
        // A context prompt written from the conversation names the thing, never a pronoun.
        let idea = "I'm planning a poster for a jazz festival: a rainy city street at night with neon signs";
        assert_eq!(subject_of(idea), "poster");
        assert_eq!(subject_of("what I want is a dragon"), "dragon");
    }
}

#[cfg(test)]
mod labelled {
    use super::score::{decide, Confusion};

    /// The held-out set (`intent_heldout_3.jsonl`, 400 messages written apart from the rules
    /// and the training corpus before the revision it measures, never trained on). Measured
    /// once, on 2026-12-02: precision 0.971, recall 0.932, 3-class accuracy 0.935. Fails below
    /// precision 0.96, recall 0.92 or accuracy 0.92: the recall target (0.95) is not
    /// met, and this guards what was reached (see `docs/assistant.md`).
    #[test]
    fn the_held_out_messages_keep_their_measured_score() {
        let data = include_str!("../tests/data/intent_heldout_3.jsonl");
        let mut confusion = Confusion::default();
        let mut wrong = Vec::new();
        for line in data.lines().filter(|l| !l.trim().is_empty()) {
            let (input, answer) = decide(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let expect = input.expect.clone().unwrap_or_default();
            confusion.add(&expect, answer.decision).unwrap_or_else(|e| panic!("{e}"));
            if expect != answer.decision {
                wrong.push(format!("{} expected {expect}, got {}: {}", input.id, answer.decision, input.message));
            }
        }
        let total: u32 = confusion.0.iter().flatten().sum();
        assert!(total >= 300, "at least 300 held-out messages, found {total}");
        println!("{}\n{}", confusion.report(), wrong.join("\n"));
        assert!(
            confusion.precision() >= 0.96 && confusion.recall() >= 0.92 && confusion.accuracy() >= 0.92,
            "{}\n{}",
            confusion.report(),
            wrong.join("\n")
        );
    }
}
