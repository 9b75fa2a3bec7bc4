//! The learned half of the decision: a logistic-regression classifier over word and character
//! n-grams and the thread's state (see [`features`]), trained at compile time from the
//! labelled corpus in `server/tests/data/` (`build.rs`; the held-out file is never read
//! there). The rules stay where they are certain (commands, clear negatives); the classifier
//! decides what they miss: typos, chat spelling, fragments, other languages, short
//! refinements. When it asks for an image the rules found no subject for, the words around
//! the request are trimmed off (`request`).

mod change;
pub mod features;
pub mod model;
mod request;

pub use change::has_change_cue;
use features::Context;
pub use request::{asks_for_text, change_of_request, has_cue, subject_of_request};

/// The weights `build.rs` trained from the corpus.
static WEIGHTS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/intent_weights.bin"));

/// How many labelled messages the built-in weights were trained on.
pub const TRAINED_ON: &str = env!("EASEL_INTENT_EXAMPLES");

/// The classes, in the model's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Image,
    Refine,
    None,
}

/// A classifier over some weights: the built-in ones, or freshly trained (cross-validation).
#[derive(Clone, Copy)]
pub struct Classifier<'a> {
    weights: &'a [u8],
    /// A learned guess must be this sure to add a request the rules did not see.
    pub accept: f32,
    /// A learned "none" must be this sure to overrule a request the rules saw.
    pub veto: f32,
}

/// Chosen by cross-validation on the training corpus (`easel-assistant --cross-validate`).
const ACCEPT: f32 = 0.5;
const VETO: f32 = 0.5;

impl Classifier<'static> {
    pub fn builtin() -> Self {
        Classifier::new(WEIGHTS)
    }
}

impl<'a> Classifier<'a> {
    pub fn new(weights: &'a [u8]) -> Self {
        Classifier { weights, accept: ACCEPT, veto: VETO }
    }

    /// Probabilities of image, refine and none.
    pub fn probabilities(&self, message: &str, context: &Context) -> [f32; 3] {
        model::predict(self.weights, &features::features(message, context))
    }

    /// The most likely class that makes sense here (no refinement without an image), and its
    /// probability.
    pub fn classify(&self, message: &str, context: &Context) -> (Class, f32) {
        let [image, refine, none] = self.probabilities(message, context);
        let refine = if context.has_image { refine } else { 0.0 };
        if refine > image && refine > none {
            (Class::Refine, refine)
        } else if image > none {
            (Class::Image, image)
        } else {
            (Class::None, none)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_weights_were_trained_on_the_corpus() {
        assert!(TRAINED_ON.parse::<usize>().is_ok_and(|n| n >= 400), "{TRAINED_ON}");
        assert_eq!(WEIGHTS.len(), model::BYTES);
    }
}
