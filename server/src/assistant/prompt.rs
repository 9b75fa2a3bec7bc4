//! From a message and its thread to the prompt sent to the provider: the decision, the
//! user's own words, the enhanced prompt, and the picture's shape. Pure and deterministic.
//!
//! Enhancement is modest and visible: the thread's style and shape are added, a context
//! request is written from the recent conversation (newest first, bounded), a refinement is
//! the last image's prompt with the change applied. `--raw` sends the words exactly as typed.

use app::protocol::Role;

use super::image_command;
use super::intent::{classify, normalise, ruled_out, Intent};
use super::learned::features::Context;
use super::learned::{
    asks_for_text, change_of_request, has_change_cue, has_cue, subject_of_request, Class, Classifier,
};
use super::rewrite::apply_change;
use super::style::{style_in, Aspect, StyleMemory};

/// Characters of conversation a context prompt may use; older turns go first when it is full.
pub const CONTEXT_BUDGET: usize = 300;
/// Turns of conversation a context prompt looks back over.
pub const CONTEXT_TURNS: usize = 6;

/// One earlier turn of the thread. An assistant turn that made an image reads `[image: prompt]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub role: Role,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Image,
    Refine,
    None,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Refine => "refine",
            Self::None => "none",
        }
    }
}

/// What to do with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub decision: Decision,
    /// The user's words for the picture (the message without command or flag).
    pub original: String,
    /// What the provider is asked for (equal to `original` in raw mode).
    pub prompt: String,
    pub aspect: Aspect,
    pub raw: bool,
    /// The decision needs no second opinion: a command, a clear negative, or the rules and a
    /// confident classifier agreeing. A chat model decides the rest when there is one.
    pub certain: bool,
}

impl Plan {
    fn none(message: &str) -> Self {
        Plan {
            decision: Decision::None,
            original: message.trim().to_string(),
            prompt: String::new(),
            aspect: Aspect::Square,
            raw: false,
            certain: false,
        }
    }
}

/// The prompt of an image turn (`[image: a fox]` → `a fox`).
pub fn image_marker(text: &str) -> Option<&str> {
    text.trim().strip_prefix("[image:").and_then(|r| r.strip_suffix(']')).map(str::trim)
}

/// Removes a `--raw` flag; whether there was one.
fn take_raw(message: &str) -> (String, bool) {
    let words: Vec<&str> = message.split_whitespace().collect();
    let raw = words.iter().any(|w| w.eq_ignore_ascii_case("--raw"));
    let kept: Vec<&str> = words.into_iter().filter(|w| !w.eq_ignore_ascii_case("--raw")).collect();
    (kept.join(" "), raw)
}

/// Decides what `message` asks for, given the thread so far (oldest first).
pub fn plan(history: &[Turn], message: &str) -> Plan {
    plan_with(&Classifier::builtin(), history, message)
}

/// How sure a learned "image" must be when the message has no picture word at all.
const SURE: f32 = 0.9;

/// The rules' intent, with the classifier's say where the rules are not certain.
fn combine(
    classifier: &Classifier<'_>,
    rules: Intent,
    learned: (Class, f32),
    context: &Context,
    message: &str,
) -> Intent {
    let (has_conversation, has_image) = (context.has_conversation, context.has_image);
    let (accept, veto) = (classifier.accept, classifier.veto);
    match (rules, learned) {
        (Intent::None, _) if ruled_out(message) => Intent::None,
        // Both see a new image: the rules know its subject.
        (rules @ (Intent::Image { .. } | Intent::Context), (Class::Image, _)) => rules,
        (rules @ Intent::Refine { .. }, (Class::Refine, _)) => rules,
        // Without a picture word, only a confident guess is acted on ("next: a bear doing
        // yoga" after an image is; "two" or a described idea is not).
        // After an answer in words, "shorter pls" or "make it rhyme" edits the answer: a
        // picture needs a picture word.
        (_, (Class::Image, p))
            if p >= accept && ((p >= SURE && !answer_edit(message, context)) || has_cue(message, context)) =>
        {
            let subject = subject_of_request(message);
            match (subject.is_empty(), has_conversation, has_image) {
                (false, _, _) => Intent::Image { subject },
                (true, true, _) => Intent::Context,
                (true, false, true) => Intent::Refine { change: String::new() },
                (true, false, false) => Intent::None,
            }
        }
        // After an image most messages are reactions: a change needs a sign of one.
        (_, (Class::Refine, p)) if p >= accept && (p >= SURE || has_change_cue(message, context)) => {
            Intent::Refine { change: change_of_request(message) }
        }
        (_, (Class::None, p)) if p >= veto => Intent::None,
        (rules, _) => rules,
    }
}

/// After an answer in words, a message that asks for a task done in words changes the answer.
fn answer_edit(message: &str, context: &Context) -> bool {
    context.answered && asks_for_text(&super::learned::features::tokens(message))
}

/// The thread's state as the classifier sees it.
fn thread_context(history: &[Turn]) -> Context {
    Context::of(history.iter().map(|t| (t.role == Role::User, t.text.as_str())))
}

/// What the classifier is given for `message`: the thread's state and the rules' finding
/// (training and scoring use this; [`plan_with`] builds the same on its way).
pub fn classifier_context(history: &[Turn], message: &str) -> Context {
    let mut context = thread_context(history);
    context.rule = classify(message, context.has_conversation, context.has_image).label(message);
    context
}

/// [`plan`] with a given classifier (cross-validation trains its own).
pub fn plan_with(classifier: &Classifier<'_>, history: &[Turn], message: &str) -> Plan {
    let (message, raw) = take_raw(message);
    let last_image = history.iter().rposition(|t| t.role == Role::Assistant && image_marker(&t.text).is_some());
    let last_prompt = last_image.and_then(|i| image_marker(&history[i].text));
    let since_image = &history[last_image.map_or(0, |i| i + 1)..];
    // The thread's state, read once: the rules and the classifier see the same.
    let mut context = thread_context(history);
    let mut memory =
        StyleMemory::from_messages(history.iter().filter(|t| t.role == Role::User).map(|t| t.text.as_str()));
    memory.update(&message);

    if let Some(prompt) = image_command(&message) {
        let prompt = prompt.to_string();
        let enhanced = if raw { prompt.clone() } else { memory.apply(&prompt) };
        return Plan {
            decision: Decision::Image,
            original: prompt,
            prompt: enhanced,
            aspect: memory.aspect,
            raw,
            certain: true,
        };
    }
    let rules = classify(&message, context.has_conversation, context.has_image);
    context.rule = rules.label(&message);
    let learned = classifier.classify(&message, &context);
    let certain = match (&rules, learned) {
        (Intent::None, _) => ruled_out(&message),
        (Intent::Image { .. } | Intent::Context, (Class::Image, p)) | (Intent::Refine { .. }, (Class::Refine, p)) => {
            p >= SURE
        }
        _ => false,
    };
    let intent = combine(classifier, rules, learned, &context, &message);
    let original = message.trim().to_string();
    let (decision, prompt) = match intent {
        Intent::None => return Plan { certain, ..Plan::none(&message) },
        Intent::Image { subject } => (Decision::Image, if raw { original.clone() } else { memory.apply(&subject) }),
        Intent::Context => {
            let subject = conversation_subject(since_image);
            if subject.is_empty() {
                return Plan { certain, ..Plan::none(&message) };
            }
            (Decision::Image, if raw { original.clone() } else { memory.apply(&subject) })
        }
        Intent::Refine { change } => {
            let last = last_prompt.unwrap_or_default();
            let changed = apply_change(last, &change);
            (Decision::Refine, if raw { original.clone() } else { memory.apply(&changed) })
        }
    };
    Plan { decision, original, prompt, aspect: memory.aspect, raw, certain }
}

/// The prompt of a change to a named image (its Refine button, a picture attached) whose
/// prompt was `base`: the change `message` asks for, with the thread's style.
pub fn refine_named(history: &[Turn], base: &str, message: &str) -> String {
    let mut memory =
        StyleMemory::from_messages(history.iter().filter(|t| t.role == Role::User).map(|t| t.text.as_str()));
    memory.update(message);
    match base.trim().is_empty() {
        // A picture the user sent has no prompt: their words describe the change whole.
        true => memory.apply(message.trim()),
        false => memory.apply(&apply_change(base, &change_of_request(message))),
    }
}

/// `prompt` (written by a chat model's tool call) with the thread's style and shape, unless
/// the call named its own: a style the assistant knows replaces the remembered one, another
/// is added as it was written.
pub fn styled(history: &[Turn], message: &str, prompt: &str, style: Option<&str>, aspect: Option<Aspect>) -> String {
    let mut memory =
        StyleMemory::from_messages(history.iter().filter(|t| t.role == Role::User).map(|t| t.text.as_str()));
    memory.update(message);
    let mut prompt = prompt.trim().trim_end_matches(['.', '!', '?']).to_string();
    if let Some(style) = style {
        match style_in(style) {
            Some(known) => memory.style = Some(known),
            None if !prompt.to_lowercase().contains(&style.to_lowercase()) => {
                prompt.push_str(&format!(", in {style} style"));
            }
            None => {}
        }
    }
    if let Some(aspect) = aspect {
        memory.aspect = aspect;
    }
    memory.apply(&prompt)
}

/// Leads that carry no content when a turn is reused as a prompt.
const CHATTER: &[&str] = &[
    "i'm thinking of",
    "i am thinking of",
    "i was thinking of",
    "i'm thinking about",
    "i was thinking about",
    "what about",
    "how about",
    "imagine",
    "picture this:",
    "let's talk about",
    "tell me about",
    "i'm imagining",
    "i imagine",
    "what if there was",
    "what if there were",
    "what if",
    "there's this",
    "there is this",
    "so ",
    "i want",
    "i'd like",
    "maybe",
    "like ",
    "it's",
    "it is",
    "it has",
    "it would have",
    "with ",
];

/// What the conversation is about, newest turn first, within [`CONTEXT_BUDGET`].
pub fn conversation_subject(turns: &[Turn]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut used = 0;
    for turn in turns.iter().rev().take(CONTEXT_TURNS) {
        if image_marker(&turn.text).is_some() || super::reply::is_canned(&turn.text) {
            continue;
        }
        let mut text = normalise(&turn.text);
        // A turn that only asks to see it adds nothing.
        if matches!(classify(&text, true, false), Intent::Context) {
            continue;
        }
        for lead in CHATTER {
            if let Some(rest) = text.strip_prefix(lead) {
                text = rest.trim_start_matches([' ', ',', ':']).to_string();
            }
        }
        let text = text.trim().to_string();
        if text.split_whitespace().count() < 2 {
            continue;
        }
        let room = CONTEXT_BUDGET.saturating_sub(used);
        if room < 20 {
            break;
        }
        let piece: String = if text.chars().count() > room {
            let cut: String = text.chars().take(room).collect();
            cut.rsplit_once(' ').map_or(cut.clone(), |(head, _)| head.to_string())
        } else {
            text
        };
        used += piece.chars().count() + 2;
        parts.push(piece);
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(text: &str) -> Turn {
        Turn { role: Role::User, text: text.into() }
    }
    fn made(prompt: &str) -> Turn {
        Turn { role: Role::Assistant, text: format!("[image: {prompt}]") }
    }

    #[test]
    fn the_thread_style_is_carried_into_later_requests() {
        let history = [user("draw a fox in watercolor"), made("a fox, in watercolor style")];
        let p = plan(&history, "draw me a bear");
        assert_eq!((p.decision, p.prompt.as_str()), (Decision::Image, "a bear, in watercolor style"));
        assert_eq!(p.original, "draw me a bear");
    }

    #[test]
    fn raw_mode_sends_the_words_as_typed() {
        let history = [user("everything in cyberpunk please")];
        let p = plan(&history, "/imagine a quiet street --raw");
        assert_eq!((p.prompt.as_str(), p.raw), ("a quiet street", true));
        let p = plan(&history, "/imagine a quiet street");
        assert_eq!(p.prompt, "a quiet street, in cyberpunk style");
    }

    #[test]
    fn context_prompts_come_from_the_recent_conversation_and_stay_bounded() {
        let mut history = vec![user("I'm thinking of a treehouse village connected by rope bridges")];
        let p = plan(&history, "show me what that would look like");
        assert_eq!((p.decision, p.prompt.as_str()), (Decision::Image, "a treehouse village connected by rope bridges"));
        for i in 0..50 {
            history
                .push(user(&format!("and then there are lanterns number {i} glowing softly in the mist everywhere")));
        }
        let p = plan(&history, "let's see it");
        assert!(p.prompt.chars().count() <= CONTEXT_BUDGET + 40, "{}", p.prompt.len());
        assert!(p.prompt.starts_with("and then there are lanterns number 49"), "newest first: {}", p.prompt);
    }

    #[test]
    fn a_tool_call_keeps_the_threads_style_unless_it_names_its_own() {
        let history = [user("everything in watercolor please")];
        assert_eq!(
            styled(&history, "a fox?", "a fox in the snow.", None, None),
            "a fox in the snow, in watercolor style"
        );
        assert_eq!(
            styled(&history, "a fox?", "a fox", Some("pixel art"), Some(Aspect::Wide)),
            "a fox, in pixel art style, wide composition"
        );
        assert_eq!(styled(&[], "x", "a fox", Some("paper cut-out"), None), "a fox, in paper cut-out style");
        assert_eq!(styled(&[], "x", "a paper cut-out fox", Some("paper cut-out"), None), "a paper cut-out fox");
    }

    #[test]
    fn only_commands_clear_negatives_and_agreement_are_certain() {
        assert!(plan(&[], "/imagine a cat").certain);
        assert!(plan(&[], "how do I draw better hands?").certain);
        assert!(plan(&[], "draw me a red fox in the snow").certain);
        assert!(!plan(&[], "I keep wondering what a shark in a bathtub would look like").certain);
    }

    #[test]
    fn refinements_build_on_the_last_image() {
        let history = [user("draw a harbor at dusk"), made("a harbor at dusk")];
        assert_eq!(plan(&history, "make it more vibrant").prompt, "a harbor at dusk, more vibrant");
        assert_eq!(plan(&history, "now at night").prompt, "a harbor, at night");
        assert_eq!(plan(&history, "change the sky to purple").prompt, "a harbor at dusk, purple sky");
        let p = plan(&[user("a fox"), made("a fox, in anime style")], "same image but in watercolor style");
        assert_eq!((p.decision, p.prompt.as_str()), (Decision::Refine, "a fox, in watercolor style"));
        assert_eq!(plan(&[], "make it more vibrant").decision, Decision::None, "nothing to refine");
    }
}
