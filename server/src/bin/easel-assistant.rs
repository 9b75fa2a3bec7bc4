//! Runs the assistant's decisions over JSON lines from stdin; see `docs/assistant.md`.
//!
//! `cargo run -q -p server --bin easel-assistant < messages.jsonl > decisions.jsonl`
//! writes `{"id", "decision", "prompt"}` per line. Lines that carry `"expect"` are also
//! scored: the confusion table and precision/recall go to stderr. A line that cannot be read
//! is answered with `{"line", "error"}` and the rest go on.

use std::io::{BufRead, Write};

use server::assistant::score::{decide, Confusion};

fn main() -> std::io::Result<()> {
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
