//! What an image cost, in millionths of a US dollar: from the provider's reported token
//! `usage` where it gives one, else from a per-model price per image. Pure, so the quota
//! issue can trust the arithmetic; the tables are configuration (see `config`).

use std::collections::HashMap;

/// Token counts as the Images API reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: i64,
    #[serde(default)]
    pub output_tokens: i64,
}

/// Micro-dollars per token, input and output (= dollars per million tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPrice {
    pub input: i64,
    pub output: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceTable {
    pub per_token: HashMap<String, TokenPrice>,
    /// Micro-dollars per image, for models without usage.
    pub per_image: HashMap<String, i64>,
}

impl Default for PriceTable {
    /// OpenAI's published list prices for 1024×1024 at the time of writing.
    fn default() -> Self {
        let per_token = HashMap::from([("gpt-image-1".to_string(), TokenPrice { input: 5, output: 40 })]);
        let per_image = HashMap::from([
            ("gpt-image-1".to_string(), 42_000),
            ("dall-e-3".to_string(), 40_000),
            ("dall-e-2".to_string(), 20_000),
            ("scene-v1".to_string(), 0),
        ]);
        Self { per_token, per_image }
    }
}

impl PriceTable {
    /// Adds `model=dollars` pairs (per image) from configuration, e.g. `my-model=0.02,x=0.1`.
    pub fn with_per_image(mut self, spec: &str) -> Result<Self, String> {
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (model, dollars) = pair.split_once('=').ok_or_else(|| format!("{pair:?} is not model=dollars"))?;
            let dollars: f64 = dollars.trim().parse().map_err(|_| format!("{dollars:?} is not a price in dollars"))?;
            if !(0.0..=1000.0).contains(&dollars) {
                return Err(format!("{dollars} is not a sensible price per image"));
            }
            self.per_image.insert(model.trim().to_string(), (dollars * 1e6).round() as i64);
        }
        Ok(self)
    }

    /// The cost of one image; `None` when neither usage nor a price is known.
    pub fn cost_micros(&self, model: &str, usage: Option<Usage>) -> Option<i64> {
        match (usage, self.per_token.get(model)) {
            (Some(u), Some(p)) => Some(u.input_tokens.max(0) * p.input + u.output_tokens.max(0) * p.output),
            _ => self.per_image.get(model).copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_priced_per_token() {
        let table = PriceTable::default();
        let usage = Usage { input_tokens: 50, output_tokens: 1056 };
        assert_eq!(table.cost_micros("gpt-image-1", Some(usage)), Some(50 * 5 + 1056 * 40));
    }

    #[test]
    fn without_usage_the_per_image_price_applies() {
        let table = PriceTable::default();
        assert_eq!(table.cost_micros("dall-e-3", None), Some(40_000));
        assert_eq!(table.cost_micros("dall-e-3", Some(Usage::default())), Some(40_000));
        assert_eq!(table.cost_micros("scene-v1", None), Some(0));
        assert_eq!(table.cost_micros("unknown", None), None);
    }

    #[test]
    fn configured_prices_are_added_and_checked() {
        let table = PriceTable::default().with_per_image("local-sd=0.002, dall-e-3=0.08").expect("valid");
        assert_eq!(table.cost_micros("local-sd", None), Some(2_000));
        assert_eq!(table.cost_micros("dall-e-3", None), Some(80_000));
        assert!(PriceTable::default().with_per_image("oops").is_err());
        assert!(PriceTable::default().with_per_image("m=-1").is_err());
    }
}
