//! The words the intent rules match, kept apart from the rules so both stay readable.
//! All lower-case, as `intent::normalise` leaves messages. Not formatted by rustfmt: one
//! item per line would make the lists ten times longer.

/// Openers that carry no meaning for the request.
pub const OPENERS: &[&str] = &[
    "hey", "hi", "hello", "ok", "okay", "so", "please", "pls", "plz", "alright", "and", "also", "easel", "yes",
    "yeah", "great", "cool", "nice", "thanks", "thank you", "oh", "well", "hmm", "now", "ok,", "okay,", "then",
    "yo", "hey there", "right", "go on", "come on", "ok so", "so yeah", "um", "uh",
];

/// Nouns that name a picture.
pub const PICTURE_NOUNS: &[&str] = &[
    "image", "images", "picture", "pictures", "pic", "pics", "drawing", "drawings", "painting", "paintings",
    "illustration", "illustrations", "photo", "photos", "photograph", "portrait", "sketch", "render", "rendering",
    "artwork", "art piece", "piece of art", "wallpaper", "logo", "poster", "icon", "comic", "cartoon", "visual",
    "graphic", "mockup", "banner", "avatar", "sticker", "doodle", "scene", "landscape of", "concept art", "art",
];

/// Picture nouns that are themselves the subject ("a logo for my bakery").
pub const SELF_SUBJECT_NOUNS: &[&str] = &[
    "wallpaper", "logo", "poster", "icon", "banner", "avatar", "sticker", "mockup", "comic", "cartoon", "portrait",
];

/// Verbs that only make sense for pictures when they are requests.
pub const PICTURE_VERBS: &[&str] = &[
    "draw", "paint", "sketch", "illustrate", "render", "doodle", "depict", "visualize", "visualise", "picture",
];

/// Verbs that make a picture when a picture noun follows.
pub const MAKE_VERBS: &[&str] = &[
    "create", "make", "generate", "produce", "design", "give", "show", "get", "do", "whip up", "craft", "send",
    "render", "paint", "draw", "conjure", "conjure up", "have", "see",
];

/// Ways of asking: at the start of a request.
pub const ASKS: &[&str] = &[
    "can you", "could you", "would you", "will you", "can u", "could u", "would you please", "could you please",
    "can you please", "i want you to", "i'd like you to", "i would like you to", "i need you to", "go ahead and",
    "try to", "please", "would you mind", "could you maybe", "can you maybe", "mind", "any chance you could",
    "any chance you can", "is it possible to", "would it be possible to", "be a dear and", "feel free to",
];

/// Wishes that, with a picture noun, ask for one.
pub const WISHES: &[&str] = &[
    "i want", "i'd like", "i would like", "i'd love", "i would love", "i need", "can i get", "can i have",
    "could i get", "could i have", "may i have", "i'll take", "gimme", "give me", "show me", "send me",
    "let me see", "i wanna see", "i want to see", "i'd like to see", "i would like to see", "i'd love to see",
    "i'm looking for", "looking for", "i'd appreciate", "let's have", "let's get", "let's see", "how about",
    "what about",
    "i'm after", "i'm hoping for", "hoping for", "i'm in the mood for", "in the mood for", "i could use", "could use",
];

/// Openings of questions and text requests: no image, whatever follows.
pub const NOT_REQUESTS: &[&str] = &[
    "how ", "why ", "what is", "what's", "what are", "what was", "what kind", "what type", "what format", "which ",
    "when ", "where ", "who ", "whose ", "is there", "are there", "is it", "is a ", "is an ", "is this", "is that",
    "are you", "are they", "do you", "does ", "did ", "do i", "should i", "explain", "describe", "tell me", "write",
    "list ", "summarize", "summarise", "translate", "teach me", "help me understand", "define", "compare", "i took",
    "i drew", "i painted", "i made", "i have", "i had", "i love", "i like", "i hate", "my ", "remind me", "suggest",
    "recommend", "give me an idea", "give me ideas", "give me some ideas", "give me tips", "give me advice",
    "what do you", "what should", "what would you", "can you explain", "can you describe", "can you tell",
    "could you explain", "could you describe", "could you tell", "can you write", "could you write",
    "can you help me", "could you help me", "can you teach", "can you suggest", "can you recommend", "can you list",
    "can you summarize", "can you translate", "can you see", "can you read", "can you analyze", "can you analyse",
    "can you look at", "can you check", "can you convert", "can you resize", "can you compress", "can you open",
];

/// Words after "draw"/"paint" that make it figurative or physical, not a picture.
pub const FIGURATIVE_OBJECTS: &[&str] = &[
    "conclusion", "conclusions", "the line", "a line under", "attention", "blood", "a bath", "bath", "breath",
    "a breath", "card", "cards", "a card", "lots", "straws", "a comparison", "comparisons", "inspiration",
    "a crowd", "crowds", "water", "money", "the curtains", "curtains", "a salary", "fire", "a blank", "on ",
    "up a plan", "up a contract", "up plans", "my house", "the house", "my room", "the room", "the walls",
    "my walls", "the fence", "my fence", "my nails", "nails", "the door", "my car", "the kitchen", "the ceiling",
    "the town red", "yourself", "myself", "with ", "from ", "a distinction", "parallels", "a parallel", "into ",
    "in ", "out ", "away", "near", "closer", "back", "a picture of what",
];

/// Questions and remarks that mean "show me that" about what was just discussed.
pub const CONTEXT_REQUESTS: &[&str] = &[
    "show me what that would look like", "show me what it would look like", "show me what this would look like",
    "what would that look like", "what would it look like", "what would this look like", "what does that look like",
    "what does it look like", "how would that look", "how would it look", "let's see it", "let's see that",
    "let's see this", "let's see what that looks like", "let me see it", "let me see that", "let me see what",
    "i want to see it", "i want to see that", "i'd like to see it", "i'd like to see that", "i'd love to see it",
    "i'd love to see that", "can i see it", "can i see that", "can you show me", "show me that", "show me it",
    "show it to me", "show me", "show that", "visualize it", "visualize that", "visualise it", "visualise that",
    "picture it", "picture that", "draw it", "draw that", "draw this", "paint it", "paint that", "paint this",
    "sketch it", "sketch that", "illustrate it", "illustrate that", "render it", "render that", "bring it to life",
    "bring that to life", "make an image of that", "make an image of it", "make a picture of that",
    "make a picture of it", "create an image of that", "create an image of it", "generate that", "generate it",
    "an image of that", "a picture of that", "image of that", "picture of that", "let's visualize it",
    "let's visualize that", "draw what you just described", "draw what we talked about", "paint what you described",
    "show me what you mean", "show me an example", "make it real", "go ahead and draw it", "do it",
    "can we see it", "can we see that", "could we see it", "let's see", "go on, show me", "show us", "show us that", "let's have a look", "let me have a look", "i'd like to see what it looks like",
];

/// Openings of a change to the last image.
pub const REFINE_LEADS: &[&str] = &[
    "make it", "make them", "make the", "make her", "make him", "make everything", "turn it", "turn the",
    "turn them", "change the", "change it", "change its", "add ", "remove ", "replace ", "swap ", "put ", "give it",
    "give the", "give them", "now ", "same ", "again", "try again", "redo", "do it again", "another one",
    "one more", "more ", "less ", "with ", "without ", "but ", "zoom", "crop", "brighten", "darken", "recolor",
    "recolour", "what about", "how about", "instead", "this time", "only ", "keep ", "lose the", "get rid of",
    "can you make it", "could you make it", "can you change", "could you change", "can you add", "could you add",
    "can you remove", "could you remove", "can you turn", "could you turn", "can you put", "could you put",
    "can you give it", "let's make it", "let's try", "let's add", "let's change", "i'd like it", "i want it",
    "i'd prefer it", "i prefer it", "try it", "do it in", "do it as", "do the same", "in watercolor", "as a",
    "in the style of", "in a ", "at night", "at sunset", "at dawn", "at dusk", "in winter", "in summer",
    "in autumn", "in spring", "bigger", "smaller", "brighter", "darker", "warmer", "cooler", "softer", "sharper",
    "more vibrant", "less busy", "from above", "from below", "closer", "further away", "zoomed", "can it be",
    "could it be", "it should be", "it needs", "can we", "could we", "in the ", "during ", "under ", "on a ",
    "a bit", "a little", "slightly", "much more", "way more", "even more", "do another", "another with", "another but", "another version", "one more with",
];

/// Remarks about the last image that change nothing.
pub const REMARKS: &[&str] = &[
    "thanks", "thank you", "love it", "i love it", "nice", "great", "wow", "cool", "awesome", "perfect",
    "beautiful", "amazing", "that's", "it's", "it is", "looks", "haha", "lol", "ok", "okay", "good", "excellent",
    "not bad", "so pretty", "gorgeous", "stunning",
];
