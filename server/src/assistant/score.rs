//! Running the assistant over someone's messages, and scoring it against labels.
//!
//! Input: JSON lines `{"id", "history": [{"role": "user"|"assistant", "text"}], "message"}`
//! (an assistant turn that produced an image reads `[image: …]`), optionally with
//! `"expect": "image"|"refine"|"none"`. Output per line: `{"id", "decision", "prompt"}`.
//! "Wants an image" is `image` or `refine`; precision and recall are measured for it.

use app::protocol::Role;
use serde::{Deserialize, Serialize};

use super::learned::features::features;
use super::learned::model::{self, Example};
use super::learned::Classifier;
use super::prompt::classifier_context;
use super::{plan, plan_with, Decision, Turn};

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

fn history_of(input: &Line) -> Result<Vec<Turn>, String> {
    let mut history = Vec::with_capacity(input.history.len());
    for t in &input.history {
        let role = match t.role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => return Err(format!("role must be \"user\" or \"assistant\", not {other:?}")),
        };
        history.push(Turn { role, text: t.text.clone() });
    }
    Ok(history)
}

/// Decides one input line; the error names what is wrong with it.
pub fn decide(line: &str) -> Result<(Line, Answer), String> {
    let input: Line = serde_json::from_str(line).map_err(|e| format!("not a valid input line: {e}"))?;
    let history = history_of(&input)?;
    let p = plan(&history, &input.message);
    let prompt = (p.decision != Decision::None).then_some(p.prompt);
    let answer = Answer { id: input.id.clone(), decision: p.decision.as_str(), prompt };
    Ok((input, answer))
}

const LABELS: [&str; 3] = ["image", "refine", "none"];

/// A labelled message, read for training or scoring.
pub struct Labelled {
    pub history: Vec<Turn>,
    pub message: String,
    /// 0 image, 1 refine, 2 none.
    pub class: usize,
}

/// Reads labelled JSON lines; every line must carry `expect`.
pub fn read_labelled(text: &str) -> Result<Vec<Labelled>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let input: Line = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        let expect = input.expect.as_deref().unwrap_or_default();
        let class =
            LABELS.iter().position(|l| *l == expect).ok_or_else(|| format!("line {}: expect {expect:?}", n + 1))?;
        out.push(Labelled { history: history_of(&input)?, message: input.message, class });
    }
    Ok(out)
}

fn example(l: &Labelled) -> Example {
    let context = classifier_context(&l.history, &l.message);
    Example { features: features(&l.message, &context), class: l.class }
}

/// How a scoring run is set up.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scoring {
    /// `(accept, veto)` instead of the built-in thresholds.
    pub thresholds: Option<(f32, f32)>,
    /// Print each wrong decision to stderr.
    pub show_misses: bool,
}

/// Trains on `train` and scores the whole decision (rules and classifier) on `test`.
pub fn train_and_score(train: &[&Labelled], test: &[&Labelled], scoring: Scoring) -> Confusion {
    let examples: Vec<Example> = train.iter().map(|l| example(l)).collect();
    let weights = model::train(&examples, model::Options::default());
    let mut classifier = Classifier::new(&weights);
    if let Some((accept, veto)) = scoring.thresholds {
        (classifier.accept, classifier.veto) = (accept, veto);
    }
    score_with(&classifier, test, scoring.show_misses)
}

/// The decision's confusion on `lines` with `classifier`; with `show_misses`, each wrong
/// decision is printed to stderr (to read what the classifier gets wrong).
pub fn score_with(classifier: &Classifier<'_>, lines: &[&Labelled], show_misses: bool) -> Confusion {
    let show = show_misses;
    let mut confusion = Confusion::default();
    for l in lines {
        let decided = plan_with(classifier, &l.history, &l.message).decision;
        let d = [Decision::Image, Decision::Refine, Decision::None].iter().position(|x| *x == decided).unwrap_or(2);
        confusion.0[l.class][d] += 1;
        if show && d != l.class {
            let context = classifier_context(&l.history, &l.message);
            let p = classifier.probabilities(&l.message, &context);
            eprintln!(
                "expected {} got {}: {:?} (history {}, rules {}, p {:.2}/{:.2}/{:.2})",
                LABELS[l.class],
                LABELS[d],
                l.message,
                l.history.len(),
                context.rule,
                p[0],
                p[1],
                p[2]
            );
        }
    }
    confusion
}

/// `folds`-fold cross-validation over `lines` (every `folds`-th line in a fold, so each fold
/// mixes every source file); the folds' confusions added up.
pub fn cross_validate(lines: &[Labelled], folds: usize, scoring: Scoring) -> Confusion {
    let folds = folds.max(2);
    let mut total = Confusion::default();
    for k in 0..folds {
        let train: Vec<&Labelled> = lines.iter().enumerate().filter(|(i, _)| i % folds != k).map(|(_, l)| l).collect();
        let test: Vec<&Labelled> = lines.iter().enumerate().filter(|(i, _)| i % folds == k).map(|(_, l)| l).collect();
        let c = train_and_score(&train, &test, scoring);
        for (row, add) in total.0.iter_mut().zip(c.0) {
            for (cell, a) in row.iter_mut().zip(add) {
                *cell += a;
            }
        }
    }
    total
}

/// Counts by (expected, decided), in the order image, refine, none.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Confusion(pub [[u32; 3]; 3]);

impl Confusion {
    pub fn add(&mut self, expected: &str, decided: &str) -> Result<(), String> {
        let index = |l: &str| LABELS.iter().position(|x| *x == l).ok_or_else(|| format!("unknown label {l:?}"));
        self.0[index(expected)?][index(decided)?] += 1;
        Ok(())
    }

    /// Share of messages given their exact class (image, refine or none).
    pub fn accuracy(&self) -> f64 {
        let total: u32 = self.0.iter().flatten().sum();
        let right = self.0[0][0] + self.0[1][1] + self.0[2][2];
        if total == 0 {
            1.0
        } else {
            f64::from(right) / f64::from(total)
        }
    }

    /// Share of the `none` messages kept as none.
    pub fn negatives_kept(&self) -> f64 {
        let row = self.0[2];
        let total = row.iter().sum::<u32>();
        if total == 0 {
            1.0
        } else {
            f64::from(row[2]) / f64::from(total)
        }
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
            "\n\"Wants an image\" (image or refine): precision {:.3}, recall {:.3}, over {} messages; \
             3-class accuracy {:.3}; negatives kept {:.3}.\n",
            self.precision(),
            self.recall(),
            self.0.iter().flatten().sum::<u32>(),
            self.accuracy(),
            self.negatives_kept()
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
