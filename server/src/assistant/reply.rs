//! What the assistant says to a message that asks for no image when no language model is
//! configured: a short, useful answer about what it can do, said once rather than after
//! every message (it stays quiet while its last word in the thread is still this help).

use app::protocol::Role;

use super::intent::normalise;
use super::Turn;

pub const GREETING: &str = "Hello! I make images. Tell me what you'd like to see, for example \
\"draw me a red fox in the snow\", then change it by talking: \"make it more vibrant\", \"now at night\".";

pub const HELP: &str = "I make images from what you write. Ask plainly (\"draw me a lighthouse at dusk\", \
\"I'd love a picture of a foggy harbor\") or use /imagine. After describing an idea, say \"show me what that \
would look like\". Change the last image with \"make it more vibrant\" or \"same image but in watercolor\". \
A style or shape you ask for (\"in watercolor\", \"wide\") stays until you change it; add --raw to send your \
words exactly as typed.";

pub const NUDGE: &str = "I can only make images here (no chat model is configured). Describe something to see, \
like \"draw me a cozy cabin in the snow\", or type \"help\" for more.";

const REPLIES: [&str; 3] = [GREETING, HELP, NUDGE];

/// One of these replies (no context to draw from).
pub fn is_canned(text: &str) -> bool {
    REPLIES.contains(&text)
}

/// The reply to a message that asked for no image; `None` to stay quiet.
pub fn offline_reply(history: &[Turn], message: &str) -> Option<&'static str> {
    let text = normalise(message);
    let asks_help =
        ["help", "what can you do", "how does this work", "how do i use this", "what do you do", "commands"]
            .iter()
            .any(|h| text == *h || text.starts_with(&format!("{h} ")) || text.ends_with(h));
    if asks_help {
        return Some(HELP);
    }
    let last_word = history.iter().rev().find(|t| t.role == Role::Assistant).map(|t| t.text.as_str());
    if last_word.is_some_and(|w| REPLIES.contains(&w)) {
        return None;
    }
    let greeting = ["hi", "hello", "hey", "good morning", "good evening", "good afternoon", "hiya", "howdy"]
        .iter()
        .any(|g| text == *g || text.starts_with(&format!("{g} ")) || text.starts_with(&format!("{g},")));
    Some(if greeting { GREETING } else { NUDGE })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(text: &str) -> Turn {
        Turn { role: Role::Assistant, text: text.into() }
    }

    #[test]
    fn help_is_given_once_and_again_when_asked() {
        assert_eq!(offline_reply(&[], "hello there"), Some(GREETING));
        assert_eq!(offline_reply(&[], "what's the capital of France?"), Some(NUDGE));
        assert_eq!(offline_reply(&[said(NUDGE)], "and of Spain?"), None, "no repeating");
        assert_eq!(offline_reply(&[said(NUDGE)], "help"), Some(HELP), "asked for");
        assert_eq!(offline_reply(&[said("[image: a fox]")], "thanks!"), Some(NUDGE));
    }
}
