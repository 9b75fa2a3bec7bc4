//! Runs the assistant's decisions over JSON lines from stdin; see `docs/assistant.md`.
//!
//! `cargo run -q -p server --bin easel-assistant < messages.jsonl > decisions.jsonl`
//! writes `{"id", "decision", "prompt"}` per line. Lines that carry `"expect"` are also
//! scored: the confusion table and precision/recall go to stderr. A line that cannot be read
//! is answered with `{"line", "error"}` and the rest go on.
//!
//! `easel-assistant --cross-validate [FILES…]` trains and scores the classifier in five folds
//! over labelled files (by default the training corpus `build.rs` learns from) and prints the
//! confusion table of the whole decision, rules and classifier together
//! (`EASEL_THRESHOLDS=accept,veto` tries other thresholds, `EASEL_SHOW_MISSES=1` prints the
//! misses). `easel-assistant --compare FILE` scores a labelled file with the rules alone and
//! with the classifier (for a held-out set, once).

use std::io::{BufRead, Write};

use server::assistant::learned::Classifier;
use server::assistant::score::{cross_validate, decide, read_labelled, score_with, Confusion, Scoring};

/// The training corpus, as `build.rs` reads it (relative to the `server` package; the list is
/// `build.rs`'s own).
const TRAIN: &str = env!("EASEL_INTENT_TRAIN");

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--cross-validate") {
        return cross(&args[1..]);
    }
    if let (Some("--compare"), Some(file)) = (args.first().map(String::as_str), args.get(1)) {
        return compare(file);
    }
    match run() {
        // The reader stopped early (`| head`): not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn run() -> std::io::Result<()> {
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut confusion = Confusion::default();
    let mut labelled = 0;
    for (n, line) in stdin.lock().lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match decide(&line) {
            Ok((input, answer)) => {
                if let Some(expect) = &input.expect {
                    match confusion.add(expect, answer.decision) {
                        Ok(()) => labelled += 1,
                        Err(e) => eprintln!("line {}: {e}", n + 1),
                    }
                }
                writeln!(out, "{}", serde_json::to_string(&answer).unwrap_or_default())?;
            }
            Err(e) => writeln!(out, "{}", serde_json::json!({ "line": n + 1, "error": e }))?,
        }
    }
    out.flush()?;
    if labelled > 0 {
        eprint!("{}", confusion.report());
    }
    Ok(())
}

fn cross(files: &[String]) -> std::io::Result<()> {
    let root = env!("CARGO_MANIFEST_DIR");
    let files: Vec<String> = match files.is_empty() {
        true => TRAIN.split(',').map(|f| format!("{root}/{f}")).collect(),
        false => files.to_vec(),
    };
    let mut lines = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)?;
        let read = read_labelled(&text).map_err(|e| std::io::Error::other(format!("{file}: {e}")))?;
        eprintln!("{file}: {} labelled messages", read.len());
        lines.extend(read);
    }
    // EASEL_THRESHOLDS=accept,veto tries other thresholds than the built-in ones.
    let thresholds = std::env::var("EASEL_THRESHOLDS").ok().and_then(|t| {
        let (a, v) = t.split_once(',')?;
        Some((a.trim().parse().ok()?, v.trim().parse().ok()?))
    });
    let scoring = Scoring { thresholds, show_misses: std::env::var_os("EASEL_SHOW_MISSES").is_some() };
    let confusion = cross_validate(&lines, 5, scoring);
    println!("5-fold cross-validation over {} messages\n\n{}", lines.len(), confusion.report());
    Ok(())
}

/// Scores a labelled file twice: the rules alone (the classifier never consulted), then the
/// rules with the built-in classifier.
fn compare(file: &str) -> std::io::Result<()> {
    let text = std::fs::read_to_string(file)?;
    let lines = read_labelled(&text).map_err(|e| std::io::Error::other(format!("{file}: {e}")))?;
    let refs: Vec<_> = lines.iter().collect();
    let show = std::env::var_os("EASEL_SHOW_MISSES").is_some();
    let mut rules_only = Classifier::builtin();
    (rules_only.accept, rules_only.veto) = (f32::INFINITY, f32::INFINITY);
    println!("{file}, rules alone:\n\n{}", score_with(&rules_only, &refs, false).report());
    println!("{file}, rules and classifier:\n\n{}", score_with(&Classifier::builtin(), &refs, show).report());
    Ok(())
}
