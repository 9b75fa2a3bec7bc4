//! Trains the assistant's intent classifier from the labelled corpus at compile time, so a
//! fresh clone needs nothing else and the weights can never drift from the corpus. The
//! held-out file (`tests/data/intent_heldout_3.jsonl`) is never read here.

#[path = "src/assistant/learned/features.rs"]
#[allow(dead_code)]
mod features;
#[path = "src/assistant/learned/model.rs"]
#[allow(dead_code)]
mod model;
/// The hand-written rules, whose answer is one of the classifier's features.
#[allow(dead_code)]
#[path = "src/assistant"]
mod rules {
    pub mod intent;
    #[rustfmt::skip]
    pub mod lexicon;
    pub mod style;
}

use std::path::Path;

/// The training corpus, in the repository.
const TRAIN: [&str; 8] = [
    "tests/data/intents.jsonl",
    "tests/data/intents_holdout.jsonl",
    "tests/data/intent_train_a.jsonl",
    "tests/data/intent_train_b.jsonl",
    "tests/data/intent_train_c.jsonl",
    "tests/data/intent_train_d.jsonl",
    // Held-out sets, each used once, then added to training.
    "tests/data/intent_heldout.jsonl",
    "tests/data/intent_heldout_2.jsonl",
];

fn main() {
    let code = [
        "src/assistant/learned/features.rs",
        "src/assistant/learned/model.rs",
        "src/assistant/intent.rs",
        "src/assistant/lexicon.rs",
        "src/assistant/style.rs",
    ];
    for file in TRAIN.iter().chain(&code) {
        println!("cargo:rerun-if-changed={file}");
    }
    let mut examples = Vec::new();
    for file in TRAIN {
        let Ok(text) = std::fs::read_to_string(file) else { continue };
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let value: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{file}:{}: not JSON: {e}", n + 1));
            let class = match value["expect"].as_str() {
                Some("image") => 0,
                Some("refine") => 1,
                Some("none") => 2,
                other => panic!("{file}:{}: expect must be image, refine or none, not {other:?}", n + 1),
            };
            let history = value["history"].as_array().cloned().unwrap_or_default();
            let turns: Vec<(bool, String)> = history
                .iter()
                .map(|t| (t["role"].as_str() == Some("user"), t["text"].as_str().unwrap_or_default().to_string()))
                .collect();
            let mut context = features::Context::of(turns.iter().map(|(u, t)| (*u, t.as_str())));
            let message = value["message"].as_str().unwrap_or_default();
            context.rule = rules::intent::classify(message, context.has_conversation, context.has_image).label(message);
            examples.push(model::Example { features: features::features(message, &context), class });
        }
    }
    let weights = model::train(&examples, model::Options::default());
    let out = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    std::fs::write(Path::new(&out).join("intent_weights.bin"), weights)
        .unwrap_or_else(|e| panic!("cannot write the classifier's weights: {e}"));
    println!("cargo:rustc-env=EASEL_INTENT_EXAMPLES={}", examples.len());
    // The same list for `easel-assistant --cross-validate`, so the two never differ.
    println!("cargo:rustc-env=EASEL_INTENT_TRAIN={}", TRAIN.join(","));
}
