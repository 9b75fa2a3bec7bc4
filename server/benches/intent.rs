//! Benchmark: what deciding one message costs, the whole decision (rules, features, the
//! classifier, the prompt) against the rules alone (the decision before the classifier),
//! over the 320 held-out messages, each decided 50 times; p50 and p99 per message.
//!
//! `cargo bench -p server --bench intent`

use std::time::{Duration, Instant};

use server::assistant::intent::classify;
use server::assistant::score::read_labelled;
use server::assistant::{plan, Turn};

const ROUNDS: usize = 50;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn measure(lines: &[(Vec<Turn>, String)], decide: impl Fn(&[Turn], &str) -> bool) -> (Duration, Duration, usize) {
    let mut times = Vec::with_capacity(lines.len() * ROUNDS);
    let mut wanted = 0;
    for _ in 0..ROUNDS {
        for (history, message) in lines {
            let start = Instant::now();
            let wants = std::hint::black_box(decide(history, message));
            times.push(start.elapsed());
            wanted += usize::from(wants);
        }
    }
    times.sort_unstable();
    (percentile(&times, 0.5), percentile(&times, 0.99), wanted / ROUNDS)
}

fn main() -> Result<(), String> {
    let text = include_str!("../tests/data/intent_heldout.jsonl");
    let lines: Vec<(Vec<Turn>, String)> = read_labelled(text)?.into_iter().map(|l| (l.history, l.message)).collect();
    let whole = measure(&lines, |h, m| plan(h, m).decision != server::assistant::Decision::None);
    let rules = measure(&lines, |h, m| {
        let has_image = h.iter().any(|t| server::assistant::image_marker(&t.text).is_some());
        !matches!(classify(m, !h.is_empty(), has_image), server::assistant::intent::Intent::None)
    });
    println!("| decision ({} messages × {ROUNDS}) | p50 | p99 | taken as requests |", lines.len());
    println!("|---|---:|---:|---:|");
    for (name, (p50, p99, n)) in [("rules + classifier (plan)", whole), ("rules alone (intent::classify)", rules)] {
        println!("| {name} | {:.1} µs | {:.1} µs | {n} |", p50.as_secs_f64() * 1e6, p99.as_secs_f64() * 1e6);
    }
    Ok(())
}
