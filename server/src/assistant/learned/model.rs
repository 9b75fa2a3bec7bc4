//! Multinomial logistic regression over hashed features: three classes (image, refine,
//! none), one weight per feature and class. Trained by stochastic gradient descent in a fixed,
//! seeded order with weight averaging, so the same corpus always gives the same bytes.
//! Weights are little-endian `f32`s: the three biases, then `DIM` rows of three.
//!
//! Pure std, no crate imports: `build.rs` includes this file to train at compile time.

use super::features::DIM;

pub const CLASSES: usize = 3;
/// Bytes of a weights file.
pub const BYTES: usize = (CLASSES + DIM * CLASSES) * 4;

/// One labelled example: its feature indices and its class (0 image, 1 refine, 2 none).
pub struct Example {
    pub features: Vec<u32>,
    pub class: usize,
}

/// Training settings; the defaults are what the committed corpus is trained with.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub epochs: u32,
    pub learning_rate: f32,
    pub l2: f32,
    pub seed: u64,
    /// How much more a mistake on a "none" example counts: a wrong image costs the user money
    /// and surprise, a missed one only a rephrasing.
    pub none_weight: f32,
}

impl Default for Options {
    fn default() -> Self {
        Options { epochs: 25, learning_rate: 2.0, l2: 1e-5, seed: 0x5eed_ea5e, none_weight: 1.5 }
    }
}

fn weight(bytes: &[u8], i: usize) -> f32 {
    let at = i * 4;
    bytes.get(at..at + 4).map_or(0.0, |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Class probabilities for `features` under the weights in `bytes`.
pub fn predict(bytes: &[u8], features: &[u32]) -> [f32; CLASSES] {
    let scale = 1.0 / (features.len().max(1) as f32).sqrt();
    let mut scores = [0.0f32; CLASSES];
    for (c, score) in scores.iter_mut().enumerate() {
        *score = weight(bytes, c);
        for f in features {
            *score += scale * weight(bytes, CLASSES + (*f as usize) * CLASSES + c);
        }
    }
    softmax(scores)
}

fn softmax(scores: [f32; CLASSES]) -> [f32; CLASSES] {
    let max = scores.iter().copied().fold(f32::MIN, f32::max);
    let exp = scores.map(|s| (s - max).exp());
    let sum: f32 = exp.iter().sum();
    exp.map(|e| e / sum)
}

/// A small deterministic generator for the shuffle (no `rand` needed, same on every machine).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Trains on `examples` and returns the weights file.
pub fn train(examples: &[Example], options: Options) -> Vec<u8> {
    let n = CLASSES + DIM * CLASSES;
    let mut w = vec![0.0f32; n];
    // Averaged weights generalise better than the last ones: sum of weights over updates.
    let mut sum = vec![0.0f64; n];
    let mut last_touch = vec![0u64; n];
    let mut step: u64 = 0;
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut state = options.seed | 1;
    for epoch in 0..options.epochs {
        for i in (1..order.len()).rev() {
            order.swap(i, (next(&mut state) % (i as u64 + 1)) as usize);
        }
        let rate = options.learning_rate / (1.0 + epoch as f32 * 0.2);
        for &e in &order {
            let example = &examples[e];
            let scale = 1.0 / (example.features.len().max(1) as f32).sqrt();
            let mut scores = [0.0f32; CLASSES];
            for (c, score) in scores.iter_mut().enumerate() {
                *score = w[c];
                for f in &example.features {
                    *score += scale * w[CLASSES + (*f as usize) * CLASSES + c];
                }
            }
            let p = softmax(scores);
            step += 1;
            let weight = if example.class == CLASSES - 1 { options.none_weight } else { 1.0 };
            for (c, p) in p.iter().enumerate() {
                let target = if c == example.class { 1.0 } else { 0.0 };
                let grad = (p - target) * weight;
                let mut touch = |k: usize, w: &mut [f32], delta: f32| {
                    sum[k] += f64::from(w[k]) * (step - last_touch[k]) as f64;
                    last_touch[k] = step;
                    w[k] -= delta;
                };
                touch(c, &mut w, rate * grad);
                for f in &example.features {
                    let k = CLASSES + (*f as usize) * CLASSES + c;
                    let delta = rate * (grad * scale + options.l2 * w[k]);
                    touch(k, &mut w, delta);
                }
            }
        }
    }
    let total = step.max(1) as f64;
    let mut out = Vec::with_capacity(n * 4);
    for k in 0..n {
        let averaged = (sum[k] + f64::from(w[k]) * (step - last_touch[k]) as f64) / total;
        out.extend_from_slice(&(averaged as f32).to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples() -> Vec<Example> {
        (0..60u32).map(|i| Example { features: vec![i % 3 * 7 + 1, 1000 + i], class: (i % 3) as usize }).collect()
    }

    #[test]
    fn it_learns_separable_classes_and_is_deterministic() {
        let weights = train(&examples(), Options::default());
        assert_eq!(weights.len(), BYTES);
        for (class, feature) in [(0usize, 1u32), (1, 8), (2, 15)] {
            let p = predict(&weights, &[feature]);
            let best = (0..CLASSES).max_by(|a, b| p[*a].total_cmp(&p[*b])).unwrap_or(0);
            assert_eq!(best, class, "{p:?}");
        }
        assert_eq!(train(&examples(), Options::default()), weights, "same data, same weights");
    }

    #[test]
    fn probabilities_sum_to_one_and_missing_weights_are_zero() {
        let p = predict(&[], &[1, 2, 3]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((p[0] - 1.0 / 3.0).abs() < 1e-6);
    }
}
