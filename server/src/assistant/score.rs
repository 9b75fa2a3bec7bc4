//! Running the assistant over someone's messages, and scoring it against labels.
//!
//! Input: JSON lines `{"id", "history": [{"role": "user"|"assistant", "text"}], "message"}`
//! (an assistant turn that produced an image reads `[image: …]`), optionally with
//! `"expect": "image"|"refine"|"none"`. Output per line: `{"id", "decision", "prompt"}`.
//! "Wants an image" is `image` or `refine`; precision and recall are measured for it.

use app::protocol::Role;
use serde::{Deserialize, Serialize};

use super::{plan, Decision, Turn};

#[derive(Debug, Deserialize)]
struct InTurn {
    role: String,
    text: String,
}

#[derive(Debug, Deserialize)]
pub struct Line {
    pub id: serde_json::Value,
    #[serde(default)]
    history: Vec<InTurn>,
    pub message: String,
    #[serde(default)]
    pub expect: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Answer {
    pub id: serde_json::Value,
    pub decision: &'static str,
    pub prompt: Option<String>,
}

/// Decides one input line; the error names what is wrong with it.
pub fn decide(line: &str) -> Result<(Line, Answer), String> {
    let input: Line = serde_json::from_str(line).map_err(|e| format!("not a valid input line: {e}"))?;
    let mut history = Vec::with_capacity(input.history.len());
    for t in &input.history {
        let role = match t.role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => return Err(format!("role must be \"user\" or \"assistant\", not {other:?}")),
        };
        history.push(Turn { role, text: t.text.clone() });
    }
    let p = plan(&history, &input.message);
    let prompt = (p.decision != Decision::None).then_some(p.prompt);
    let answer = Answer { id: input.id.clone(), decision: p.decision.as_str(), prompt };
    Ok((input, answer))
}

const LABELS: [&str; 3] = ["image", "refine", "none"];

/// Counts by (expected, decided), in the order image, refine, none.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Confusion(pub [[u32; 3]; 3]);

impl Confusion {
    pub fn add(&mut self, expected: &str, decided: &str) -> Result<(), String> {
        let index = |l: &str| LABELS.iter().position(|x| *x == l).ok_or_else(|| format!("unknown label {l:?}"));
        self.0[index(expected)?][index(decided)?] += 1;
        Ok(())
    }

    fn wants(&self) -> (u32, u32, u32) {
        let m = &self.0;
        let tp = m[0][0] + m[0][1] + m[1][0] + m[1][1];
        let fp = m[2][0] + m[2][1];
        let fn_ = m[0][2] + m[1][2];
        (tp, fp, fn_)
    }

    /// Of the messages taken as wanting an image, the share that did.
    pub fn precision(&self) -> f64 {
        let (tp, fp, _) = self.wants();
        if tp + fp == 0 {
            1.0
        } else {
            f64::from(tp) / f64::from(tp + fp)
        }
    }

    /// Of the messages that wanted an image, the share taken as such.
    pub fn recall(&self) -> f64 {
        let (tp, _, fn_) = self.wants();
        if tp + fn_ == 0 {
            1.0
        } else {
            f64::from(tp) / f64::from(tp + fn_)
        }
    }

    /// A Markdown table, expected by row and decided by column, with precision and recall.
    pub fn report(&self) -> String {
        let mut out = String::from("| expected \\ decided | image | refine | none |\n|---|---:|---:|---:|\n");
        for (i, label) in LABELS.iter().enumerate() {
            let r = self.0[i];
            out.push_str(&format!("| {label} | {} | {} | {} |\n", r[0], r[1], r[2]));
        }
        out.push_str(&format!(
            "\n\"Wants an image\" (image or refine): precision {:.3}, recall {:.3}, over {} messages.\n",
            self.precision(),
            self.recall(),
            self.0.iter().flatten().sum::<u32>()
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_decided_and_bad_lines_say_why() {
        let (_, a) =
            decide(r#"{"id": 1, "history": [], "message": "draw me a spaceship"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((a.decision, a.prompt.as_deref()), ("image", Some("a spaceship")));
        assert!(decide("{").is_err());
        let e = decide(r#"{"id": 1, "history": [{"role": "bot", "text": "x"}], "message": "x"}"#).err();
        assert!(e.is_some_and(|e| e.contains("role must be")));
    }

    #[test]
    fn precision_and_recall_count_refinements_as_wanting_an_image() {
        let mut c = Confusion::default();
        for (e, d) in [("image", "image"), ("refine", "image"), ("none", "refine"), ("image", "none"), ("none", "none")]
        {
            c.add(e, d).unwrap_or_else(|e| panic!("{e}"));
        }
        assert!((c.precision() - 2.0 / 3.0).abs() < 1e-9);
        assert!((c.recall() - 2.0 / 3.0).abs() < 1e-9);
        assert!(c.add("maybe", "none").is_err());
    }
}
