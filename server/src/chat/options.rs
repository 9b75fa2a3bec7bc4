//! The composer row's settings meet the message's words, the thread's memory and the user's
//! defaults. Words win over the row ("wide" in the message, whatever the row says), the row
//! over the thread's memory, the memory over the defaults. What an engine cannot do is left
//! out (a seed it ignores, a quality it lacks, a 16:9 frame it cannot make becomes 3:2).
//! [`resolve`] is pure; [`Chat::start_for`] reads what feeds it.

use app::protocol::*;

use super::{Chat, ChatError};
use crate::assistant::style::{self, has_phrase, Aspect};
use crate::assistant::{self, Turn};
use crate::jobs::JobRequest;
use crate::providers::Capabilities;

/// The frame a text names: "16:9" and "9:16" the custom shapes, the assistant's words the
/// classic ones.
pub fn ratio_in(text: &str) -> Option<AspectRatio> {
    let lower = text.to_lowercase();
    if has_phrase(&lower, "16:9") {
        return Some(AspectRatio::Wide);
    }
    if has_phrase(&lower, "9:16") {
        return Some(AspectRatio::Tall);
    }
    style::aspect_in(text).map(|a| match a {
        Aspect::Square => AspectRatio::Square,
        Aspect::Wide => AspectRatio::Landscape,
        Aspect::Tall => AspectRatio::Portrait,
    })
}

fn style_aspect(ratio: AspectRatio) -> Aspect {
    match ratio {
        AspectRatio::Square => Aspect::Square,
        AspectRatio::Landscape | AspectRatio::Wide => Aspect::Wide,
        AspectRatio::Portrait | AspectRatio::Tall => Aspect::Tall,
    }
}

/// Which image of several a message names: "the second one", "image 3", "#2", "the last".
pub fn ordinal_in(text: &str) -> Option<Ordinal> {
    let lower = text.to_lowercase();
    const WORDS: [(&str, usize); 4] = [("first", 0), ("second", 1), ("third", 2), ("fourth", 3)];
    for (word, i) in WORDS {
        if has_phrase(&lower, word) {
            return Some(Ordinal::Nth(i));
        }
    }
    for (i, short) in ["1st", "2nd", "3rd", "4th"].into_iter().enumerate() {
        if has_phrase(&lower, short) {
            return Some(Ordinal::Nth(i));
        }
    }
    for lead in ["image ", "picture ", "number ", "no. ", "#"] {
        for n in 1..=usize::from(MAX_IMAGES_PER_REQUEST) {
            if has_phrase(&lower, &format!("{lead}{n}")) {
                return Some(Ordinal::Nth(n - 1));
            }
        }
    }
    (has_phrase(&lower, "the last one") || has_phrase(&lower, "the last image")).then_some(Ordinal::Last)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ordinal {
    Nth(usize),
    Last,
}

impl Ordinal {
    pub fn pick<T>(self, items: &[T]) -> Option<&T> {
        match self {
            Self::Nth(i) => items.get(i),
            Self::Last => items.last(),
        }
    }
}

/// The parameters of the job a message asks for, and its prompt with the shape it will have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub params: JobParams,
    pub prompt: String,
}

/// What the user said of the picture.
#[derive(Debug, Clone, Copy)]
pub struct Said<'a> {
    /// This message.
    pub words: &'a str,
    /// The shape a chat model read in them (its tool call's `size`), which counts as words.
    pub shape: Option<AspectRatio>,
    /// The thread's user messages before it, oldest first.
    pub earlier: &'a [&'a str],
    /// The shape of the image a refinement changes: kept unless asked otherwise.
    pub changing: Option<AspectRatio>,
}

/// What this message asks for; `prompt` is what the assistant built (left as written when
/// `raw`).
pub fn resolve(
    options: &ImageOptions,
    preferences: &Preferences,
    caps: &Capabilities,
    said: Said<'_>,
    prompt: &str,
    raw: bool,
) -> Resolved {
    let remembered = said.earlier.iter().rev().find_map(|t| ratio_in(t));
    let words = ratio_in(said.words).or(said.shape);
    let mut aspect = words.or(options.aspect).or(said.changing).or(remembered).unwrap_or(preferences.aspect);
    if aspect.custom() && !caps.custom_sizes {
        aspect = if aspect == AspectRatio::Wide { AspectRatio::Landscape } else { AspectRatio::Portrait };
    }
    let quality = options.quality.or(preferences.quality).filter(|q| caps.qualities.contains(q));
    let (width, height) = aspect.size();
    let params = JobParams {
        aspect,
        width,
        height,
        quality,
        count: options.images(),
        seed: options.seed.filter(|_| caps.seed),
        steps: None,
        source: options.source,
        mask: options.mask.filter(|_| options.source.is_some()),
        references: if options.source.is_some() { options.references.clone() } else { Vec::new() },
    };
    let prompt = if raw { prompt.to_string() } else { style::with_aspect(prompt, style_aspect(aspect)) };
    Resolved { params, prompt }
}

/// "Built-in renderer" from "built-in renderer", for the start of a sentence.
fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// How the job's prompt was made.
pub(super) struct Asked<'a> {
    /// The user's words for the picture.
    pub original: &'a str,
    /// What the assistant built from them.
    pub enhanced: &'a str,
    /// The job whose image it changes, as the assistant read the thread.
    pub refines: Option<JobId>,
    pub raw: bool,
    /// The shape a chat model's tool call named.
    pub shape: Option<AspectRatio>,
}

impl Chat {
    /// Starts the image `message` asks for with the row's settings it was sent with. A named
    /// image (a Refine button, "the second one") is the one changed, whichever job made it.
    pub(super) async fn start_for(
        &self,
        user: UserId,
        message: &ChatMessage,
        turns: &[Turn],
        asked: Asked<'_>,
    ) -> Result<(), ChatError> {
        let mut options = self.store.message_options(user, message.id).await?;
        let preferences = self.store.preferences(user).await?;
        let mut refines = asked.refines;
        let mut enhanced = asked.enhanced.to_string();
        // The shape of a picture the user sent, which its edit keeps.
        let mut sent_shape = None;
        if let Some(image) = options.source {
            // Checked when the message was stored; the image may have been deleted since.
            let Some((made_by, width, height)) = self.store.image_origin(user, image).await? else {
                return self.say(user, message.thread_id, "That image is no longer available.").await;
            };
            match made_by {
                Some(job) => {
                    if let Some((job, _)) = self.store.job(user, job).await? {
                        refines = Some(job.id);
                        if !asked.raw {
                            enhanced = assistant::prompt::refine_named(turns, &job.enhanced_prompt, &message.text);
                        }
                    }
                }
                // A picture the user sent: their words are the change.
                None => {
                    if !asked.raw {
                        enhanced = assistant::prompt::refine_named(turns, "", &message.text);
                    }
                    sent_shape = Some(AspectRatio::nearest(width, height));
                }
            }
        } else if let (Some(job), Some(ordinal)) = (refines, ordinal_in(&message.text)) {
            // "Make the second one bluer": one image of several.
            if let Some((view, _)) = self.store.job(user, job).await? {
                options.source = ordinal.pick(&view.images).map(|i| i.id);
            }
        }
        let provider = self.jobs.engine(options.engine).clone();
        // What the engine cannot do is said before anything is sent (or counted).
        let caps = provider.capabilities();
        let name = capitalized(provider.kind().name());
        if options.source.is_some() && refines.is_none() && !caps.edit {
            let text =
                format!("{name} cannot change a picture you send; choose another model in the row, such as OpenAI.");
            return self.say(user, message.thread_id, &text).await;
        }
        if !options.references.is_empty() && options.source.is_some() && !caps.references {
            let text =
                format!("{name} takes one picture at a time; attach one, or choose another model, such as OpenAI.");
            return self.say(user, message.thread_id, &text).await;
        }
        if options.mask.is_some() && options.source.is_some() && !caps.mask {
            let text =
                format!("{name} cannot change just a painted area; choose another model, or send without the area.");
            return self.say(user, message.thread_id, &text).await;
        }
        let earlier: Vec<&str> = turns.iter().filter(|t| t.role == Role::User).map(|t| t.text.as_str()).collect();
        // A refinement keeps the shape of the image it changes, an edit that of the picture.
        let changing = match refines {
            Some(job) => self.store.job(user, job).await?.map(|(j, _)| crate::jobs::params_of(&j).aspect),
            None => sent_shape,
        };
        let said = Said { words: &message.text, shape: asked.shape, earlier: &earlier, changing };
        let resolved = resolve(&options, &preferences, &provider.capabilities(), said, &enhanced, asked.raw);
        let request = JobRequest {
            prompt: asked.original,
            enhanced: &resolved.prompt,
            refines,
            params: resolved.params,
            engine: Some(provider.kind()),
        };
        self.start_image(user, message.thread_id, &request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(custom_sizes: bool, qualities: &'static [Quality], seed: bool) -> Capabilities {
        Capabilities { custom_sizes, qualities, seed, ..Capabilities::default() }
    }

    const ALL: &[Quality] = &[Quality::Low, Quality::Medium, Quality::High, Quality::Auto];

    fn said<'a>(words: &'a str, earlier: &'a [&'a str]) -> Said<'a> {
        Said { words, shape: None, earlier, changing: None }
    }

    fn run(options: &ImageOptions, prefs: &Preferences, words: &str, earlier: &[&str], prompt: &str) -> Resolved {
        resolve(options, prefs, &caps(true, ALL, true), said(words, earlier), prompt, false)
    }

    #[test]
    fn words_win_over_the_row_which_wins_over_memory_and_defaults() {
        let portrait = ImageOptions { aspect: Some(AspectRatio::Portrait), ..Default::default() };
        let prefs = Preferences { aspect: AspectRatio::Wide, quality: Some(Quality::High), email: None };
        // The words say wide: the row's portrait loses.
        let r = run(&portrait, &prefs, "a wide valley", &[], "a wide valley");
        assert_eq!(r.params.aspect, AspectRatio::Landscape);
        // No words: the row wins over the thread's memory, and the memory's phrase goes.
        let r = run(&portrait, &prefs, "a fox", &["make it wide"], "a fox, wide composition");
        assert_eq!((r.params.aspect, r.prompt.as_str()), (AspectRatio::Portrait, "a fox, tall composition"));
        // No row: the memory wins over the defaults.
        let r = run(&ImageOptions::default(), &prefs, "a fox", &["make it wide"], "a fox, wide composition");
        assert_eq!(r.params.aspect, AspectRatio::Landscape);
        // A refinement keeps the shape of the image it changes, over the memory.
        let changing = Said { changing: Some(AspectRatio::Tall), ..said("darker", &["make it wide"]) };
        let r = resolve(&ImageOptions::default(), &prefs, &caps(true, ALL, true), changing, "a fox, darker", false);
        assert_eq!(r.params.aspect, AspectRatio::Tall);
        // Nothing said anywhere: the defaults.
        let r = run(&ImageOptions::default(), &prefs, "a fox", &[], "a fox");
        assert_eq!((r.params.aspect, r.params.quality), (AspectRatio::Wide, Some(Quality::High)));
        assert_eq!((r.params.width, r.params.height), (1792, 1008));
        assert_eq!(r.prompt, "a fox, wide composition");
    }

    #[test]
    fn engines_get_only_what_they_take() {
        let asked = ImageOptions {
            aspect: Some(AspectRatio::Tall),
            quality: Some(Quality::High),
            count: 3,
            seed: Some(7),
            ..Default::default()
        };
        let plain =
            resolve(&asked, &Preferences::default(), &caps(false, &[], false), said("a fox", &[]), "a fox", false);
        assert_eq!(plain.params.aspect, AspectRatio::Portrait, "no custom sizes: the classic shape");
        assert_eq!((plain.params.quality, plain.params.seed, plain.params.count), (None, None, 3));
        let raw = resolve(&asked, &Preferences::default(), &caps(true, ALL, true), said("a fox", &[]), "a fox", true);
        // A chat model's reading of the words counts as words.
        let model = Said { shape: Some(AspectRatio::Landscape), ..said("a shark", &[]) };
        let read = resolve(
            &ImageOptions::default(),
            &Preferences::default(),
            &caps(true, ALL, true),
            model,
            "a shark, wide composition",
            false,
        );
        assert_eq!((read.params.aspect, read.prompt.as_str()), (AspectRatio::Landscape, "a shark, wide composition"));
        assert_eq!((raw.prompt.as_str(), raw.params.seed), ("a fox", Some(7)), "raw prompts are sent as written");
        assert_eq!(ratio_in("a poster in 9:16"), Some(AspectRatio::Tall));
    }

    #[test]
    fn ordinals_pick_one_image_of_several() {
        let images = [10, 11, 12];
        let pick = |t: &str| ordinal_in(t).and_then(|o| o.pick(&images).copied());
        assert_eq!(pick("make the second one bluer"), Some(11));
        assert_eq!(pick("image 3 but at night"), Some(12));
        assert_eq!(pick("#1 with a moon"), Some(10));
        assert_eq!(pick("the last one, darker"), Some(12));
        assert_eq!(pick("the fourth"), None, "there are three");
        assert_eq!(pick("make it bluer"), None);
    }
}
