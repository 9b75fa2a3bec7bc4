//! What a request asks for once the asking is trimmed off, for messages the classifier took
//! as requests but the rules found no subject in: "cna u drwa a lighthouse in a storm plz" →
//! "a lighthouse in a storm". Word lists cover the corpus's languages; misspellings within one
//! edit (a swap counts as one) of the longer words still match.

use super::features::{self, Context};

/// Words that only ask, in the languages the corpus covers, with their common misspellings
/// matched by edit distance.
const ASKING: &[&str] = &[
    "can",
    "cna",
    "cn",
    "culd",
    "wld",
    "could",
    "cud",
    "would",
    "wud",
    "will",
    "you",
    "u",
    "ya",
    "pls",
    "plz",
    "please",
    "pleas",
    "me",
    "us",
    "i",
    "i'd",
    "id",
    "i'm",
    "im",
    "want",
    "wanna",
    "need",
    "like",
    "love",
    "make",
    "create",
    "generate",
    "draw",
    "paint",
    "sketch",
    "render",
    "illustrate",
    "design",
    "do",
    "show",
    "give",
    "get",
    "picture",
    "image",
    "pic",
    "photo",
    "drawing",
    "painting",
    "illustration",
    "art",
    "artwork",
    "wallpaper",
    "of",
    "ok",
    "okay",
    "so",
    "hey",
    "hi",
    "yo",
    "now",
    "just",
    "quick",
    "quickly",
    "some",
    "another",
    "new",
    "an",
    "one",
    "see",
    "let",
    "let's",
    "lets",
    "to",
    "have",
    "hav",
    "gimme",
    "sum",
    "kindly",
    "maybe",
    "try",
    "and",
    "then",
    "next",
    "anyway",
    "also",
    "fais",
    "moi",
    "une",
    "un",
    "voudrais",
    "dessine",
    "dessiner",
    "puedes",
    "dibujar",
    "dibuja",
    "hazme",
    "haz",
    "una",
    "imagen",
    "imagem",
    "bild",
    "ein",
    "eine",
    "zeichne",
    "mal",
    "mir",
    "desenhe",
    "faça",
    "crie",
    "disegna",
    "fammi",
    "immagine",
    "teken",
    "maak",
    "afbeelding",
    "d'un",
    "d'une",
    "de",
    "di",
    "von",
    "por",
    "favor",
];

/// Words that name or ask for a picture, in the languages the corpus covers.
#[rustfmt::skip]
const CUES: &[&str] = &[
    "img", "illus", "pfp", "thumbnail", "graphic", "mascot", "concept", "kép", "🎨", "🖼", "fais", "drw", "darw",
    "dwar", "shw", "draw", "paint", "sketch", "picture", "pic", "pics", "image", "images", "photo", "render",
    "illustrate", "illustration", "generate", "create", "make", "design", "imagine", "show", "see", "visualize",
    "visualise", "look", "wallpaper", "logo", "poster", "art", "artwork", "drawing", "painting", "portrait", "icon",
    "avatar", "meme", "cartoon", "comic", "sticker", "banner", "cover", "/imagine", "imagen", "imagem", "bild",
    "immagine", "afbeelding", "dessine", "dessin", "dibuja", "dibujo", "zeichne", "desenhe", "desenho", "disegna",
    "disegno", "teken", "foto", "peinture", "pinta", "male", "mostra", "muestra", "zeig", "montre",
];

/// Pointers that, after a described idea, ask to see it ("do it", "that one!").
const DEICTIC: &[&str] = &["it", "that", "this", "one", "her", "him", "them", "those", "these"];

/// Whether a message the rules did not take as a request has any sign of one: a picture word
/// (misspelt by one letter at most), or a pointer at an idea just described. A learned guess
/// without such a sign ("two", "I'm thinking of a treehouse village") is not acted on.
pub fn has_cue(message: &str, context: &Context) -> bool {
    let tokens = features::tokens(message);
    let asks_for_text = context.answered && asks_for_text(&tokens);
    // "now a knight guarding a bridge", "next: a bear doing yoga": the next picture.
    let next = tokens.windows(2).any(|w| {
        matches!(w[0].as_str(), "now" | "next" | "nxt" | "ahora" | "maintenant" | "jetzt" | "adesso" | "agora" | "nu")
            && matches!(
                w[1].as_str(),
                "a" | "an"
                    | "the"
                    | "one"
                    | "my"
                    | "his"
                    | "her"
                    | "do"
                    | "un"
                    | "una"
                    | "ein"
                    | "eine"
                    | "een"
                    | "um"
                    | "uma"
                    | "le"
                    | "la"
            )
    });
    let lower = message.to_lowercase();
    next || INSIDE.iter().any(|w| lower.contains(w))
        || tokens.iter().any(|t| {
            CUES.contains(&t.as_str())
            || (t.chars().count() >= 5 && STEMS.iter().any(|s| t.starts_with(s)))
            || (t.chars().count() >= 4 && CUES.iter().any(|c| c.len() >= 4 && edit_distance_at_most_one(t, c)))
            // After an answer in words that asked for more words, "that" is the answer ("put
            // that in a table").
            || (context.has_conversation && !asks_for_text && DEICTIC.contains(&t.as_str()))
        })
}

/// Words of a task done in words: after an answer, "shorter pls", "make it rhyme" or "put that
/// in a table" changes the answer, not a picture.
#[rustfmt::skip]
const TEXT_TASKS: &[&str] = &[
    "shorter", "longer", "rhyme", "table", "list", "tweet", "code", "version", "summary", "summarize",
    "summarise", "bullet", "bullets", "paragraph", "essay", "poem", "email", "translate", "quiz", "explain",
    "rewrite", "simpler", "formal", "casual", "funnier", "words", "sentence", "story", "joke", "recipe", "plan",
    "script", "song", "lyrics", "bio", "title", "names", "spell", "pronounce", "example", "steps",
];

/// Whether the message asks for something written (see [`TEXT_TASKS`]).
pub fn asks_for_text(tokens: &[String]) -> bool {
    tokens.iter().any(|t| TEXT_TASKS.contains(&t.as_str()))
}

/// Beginnings of picture verbs and nouns in the corpus's other languages, whatever their
/// ending ("dibújame", "generiere", "plaatje", "ilustração").
#[rustfmt::skip]
const STEMS: &[&str] = &[
    "dibuj", "dibúj", "dessin", "desenh", "disegn", "zeichn", "tekenin", "generier", "erstell", "ilustr", "illustr",
    "plaatj", "montre", "mostr", "muestr", "hintergrund", "fondo", "pintur", "immagin", "un'immag", "diping",
    "rita", "tegn", "billed", "bilde", "piirr", "kuva", "narysuj", "obraz", "nakresl", "obrázek", "obrázk",
    "gambar", "resim", "resmi", "görsel", "çiz", "desene", "imagin", "poză", "rajzol", "képet", "vẽ",
];

/// Picture words in scripts whose words are not split by spaces, or by endings: found inside
/// the message.
#[rustfmt::skip]
const INSIDE: &[&str] = &[
    "描", "絵", "画", "图", "圖", "그려", "그림", "이미지", "нарису", "намалю", "изображ", "зображ", "картин",
    "ζωγράφ", "εικόν", "चित्र", "तस्वीर", "ارسم", "صورة", "צייר", "תמונה",
];

/// Words at the end that only thank or soften.
const TAIL: &[&str] = &[
    "please", "pls", "plz", "thanks", "thx", "ty", "thank", "now", "for", "me", "asap", "merci", "image", "pic",
    "picture",
];

/// Pronouns and pointers: a request made of these only points at the conversation.
const POINTERS: &[&str] =
    &["it", "that", "this", "those", "these", "them", "her", "him", "one", "the", "thing", "idea", "same", "lol"];

pub(super) fn edit_distance_at_most_one(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let (mut i, mut j, mut edits) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            i += 1;
            j += 1;
            continue;
        }
        edits += 1;
        if edits > 1 {
            return false;
        }
        // A swap of two neighbours ("drwa") counts as one edit.
        if i + 1 < a.len() && j + 1 < b.len() && a[i] == b[j + 1] && a[i + 1] == b[j] {
            i += 2;
            j += 2;
        } else if a.len() > b.len() {
            i += 1;
        } else if b.len() > a.len() {
            j += 1;
        } else {
            i += 1;
            j += 1;
        }
    }
    edits + (a.len() - i) + (b.len() - j) <= 1
}

fn is_asking(word: &str) -> bool {
    ASKING.contains(&word)
        || (word.chars().count() >= 4 && ASKING.iter().any(|a| a.len() >= 4 && edit_distance_at_most_one(word, a)))
}

/// The words of a request without the asking around them: "cna u drwa a lighthouse in a
/// storm plz" → "a lighthouse in a storm". Empty when only pointers remain ("draw that one!").
pub fn subject_of_request(message: &str) -> String {
    let words: Vec<String> = features::tokens(message)
        .into_iter()
        .filter(|t| t.chars().any(char::is_alphanumeric) && !t.starts_with('/'))
        .collect();
    let article = |w: &str| matches!(w, "a" | "an" | "the");
    let mut start = 0;
    loop {
        if start < words.len() && is_asking(&words[start]) && !article(&words[start]) {
            start += 1;
        } else if start + 1 < words.len() && article(&words[start]) && is_asking(&words[start + 1]) {
            // "a picture of a fox": the article before the picture noun goes with it.
            start += 2;
        } else {
            break;
        }
    }
    let mut end = words.len();
    while end > start && TAIL.contains(&words[end - 1].as_str()) {
        end -= 1;
    }
    // "put together an image of a shark": what follows the picture noun is the subject.
    let nouns =
        ["image", "picture", "pic", "photo", "drawing", "painting", "illustration", "sketch", "render", "imagen"];
    let joints = ["of", "showing", "depicting", "with", "de", "di", "von", "van", "d'un", "d'une"];
    if let Some(i) = (start..end.saturating_sub(2)).find(|&i| {
        let noun = words[i].as_str();
        (nouns.contains(&noun) || nouns.iter().any(|n| n.len() >= 5 && edit_distance_at_most_one(noun, n)))
            && joints.contains(&words[i + 1].as_str())
    }) {
        start = i + 2;
    }
    let subject = &words[start..end];
    if subject.iter().all(|w| POINTERS.contains(&w.as_str()) || ["a", "an"].contains(&w.as_str())) {
        return String::new();
    }
    subject.join(" ")
}

/// What a refinement changes, without the asking: "could you make it a bit darker?" →
/// "a bit darker"; "what if it were winter?" → "winter".
pub fn change_of_request(message: &str) -> String {
    let words: Vec<String> =
        features::tokens(message).into_iter().filter(|t| t.chars().any(char::is_alphanumeric)).collect();
    let leads = [
        "can", "could", "would", "will", "you", "u", "please", "pls", "plz", "make", "it", "what", "if", "were", "was",
        "how", "about", "perhaps", "maybe", "any", "chance", "the", "i'd", "id", "like", "love", "want", "now", "ok",
        "okay", "hmm", "but", "and", "try", "let's", "lets", "is", "be", "instead",
    ];
    let mut start = 0;
    while start + 1 < words.len() && leads.contains(&words[start].as_str()) {
        start += 1;
    }
    let mut end = words.len();
    while end > start + 1 && TAIL.contains(&words[end - 1].as_str()) {
        end -= 1;
    }
    words[start..end].join(" ")
}

#[cfg(test)]
mod tests;
