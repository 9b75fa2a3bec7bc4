//! What an image cost, in millionths of a US dollar: from the provider's reported token
//! `usage` where it gives one (the 2.x GPT image models are priced per token), else from a
//! per-model price per image. Estimates made before a call come from the same table, so the
//! price shown and the spend reserved agree with what the ledger later records. Pure, with
//! checked arithmetic: a provider reporting absurd usage cannot overflow the ledger.

use std::collections::HashMap;

use super::catalogue::{self, Quality};

/// Token counts as the Images API reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: i64,
    #[serde(default)]
    pub output_tokens: i64,
    /// How the input splits into text and image tokens (edits send images).
    #[serde(default)]
    pub input_tokens_details: Option<InputDetails>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
pub struct InputDetails {
    #[serde(default)]
    pub text_tokens: i64,
    #[serde(default)]
    pub image_tokens: i64,
}

/// Micro-dollars per million tokens (so $1.25 per million is 1,250,000): text in, image in,
/// image out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPrice {
    pub input: i64,
    pub image_input: i64,
    pub output: i64,
}

/// OpenAI's published rates for gpt-image-2.6-sunburst (text in $5, image in $8, image out
/// $30 per million tokens). No other 2.x rates are published; they are assumed equal until
/// an operator overrides them with `EASEL_TOKEN_PRICES`.
const GPT_IMAGE_2: TokenPrice = TokenPrice { input: 5_000_000, image_input: 8_000_000, output: 30_000_000 };

/// Output tokens of one 1024×1024 image by quality, as gpt-image-1 documented them (low 272,
/// medium 1,056, high 4,160); the 2.x models report theirs in `usage`, which settles the
/// estimate. `xhigh` and `max` are assumed to double and quadruple `high`.
fn output_tokens_1mp(quality: Quality) -> i64 {
    match quality {
        Quality::Low => 272,
        Quality::Medium | Quality::Auto => 1_056,
        Quality::High => 4_160,
        Quality::XHigh => 8_320,
        Quality::Max => 16_640,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceTable {
    pub per_token: HashMap<String, TokenPrice>,
    /// Micro-dollars per image, for models without usage.
    pub per_image: HashMap<String, i64>,
}

impl Usage {
    /// Two requests' usage together (a request made one image at a time); saturating, as the
    /// numbers come from the provider.
    pub fn plus(self, other: Self) -> Self {
        let details = match (self.input_tokens_details, other.input_tokens_details) {
            (None, None) => None,
            (a, b) => {
                let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
                Some(InputDetails {
                    text_tokens: a.text_tokens.saturating_add(b.text_tokens),
                    image_tokens: a.image_tokens.saturating_add(b.image_tokens),
                })
            }
        };
        Self {
            input_tokens: self.input_tokens.saturating_add(other.input_tokens),
            output_tokens: self.output_tokens.saturating_add(other.output_tokens),
            input_tokens_details: details,
        }
    }
}

impl Default for PriceTable {
    fn default() -> Self {
        let per_token = catalogue::CURRENT.iter().map(|m| (m.id.to_string(), GPT_IMAGE_2)).collect();
        let per_image = HashMap::from([("scene-v1".to_string(), 0)]);
        Self { per_token, per_image }
    }
}

pub(crate) fn dollars_to_micros(text: &str, what: &str) -> Result<i64, String> {
    let dollars: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not {what}"))?;
    if !(0.0..=1000.0).contains(&dollars) {
        return Err(format!("{dollars} is not a sensible {what}"));
    }
    Ok((dollars * 1e6).round() as i64)
}

impl PriceTable {
    /// Adds `model=dollars` pairs (per image) from configuration, e.g. `my-model=0.02,x=0.1`.
    pub fn with_per_image(mut self, spec: &str) -> Result<Self, String> {
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (model, dollars) = pair.split_once('=').ok_or_else(|| format!("{pair:?} is not model=dollars"))?;
            self.per_image.insert(model.trim().to_string(), dollars_to_micros(dollars, "a price in dollars")?);
        }
        Ok(self)
    }

    /// Adds or overrides token rates, `model=text_in/image_in/image_out` in dollars per
    /// million tokens (`model=in/out` sets both inputs), e.g. `gpt-image-2.5-flare=5/8/30` or
    /// `cheap-model=0.5/1.25`.
    pub fn with_per_token(mut self, spec: &str) -> Result<Self, String> {
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (model, rates) = pair.split_once('=').ok_or_else(|| format!("{pair:?} is not model=in/out"))?;
            let rates: Vec<i64> = rates
                .split('/')
                .map(|r| dollars_to_micros(r, "a rate in dollars per million tokens"))
                .collect::<Result<_, _>>()?;
            let price = match rates[..] {
                [input, output] => TokenPrice { input, image_input: input, output },
                [input, image_input, output] => TokenPrice { input, image_input, output },
                _ => return Err(format!("{pair:?}: give in/out or in/image_in/out")),
            };
            self.per_token.insert(model.trim().to_string(), price);
        }
        Ok(self)
    }

    fn token_price(&self, model: &str) -> Option<&TokenPrice> {
        self.per_token.get(model).or_else(|| self.per_token.get(catalogue::alias_of(model)))
    }

    /// The cost of a request that made `images` images: its usage at the model's token rates
    /// (usage covers the whole request), else the per-image price times the images.
    pub fn cost_of(&self, model: &str, usage: Option<Usage>, images: usize) -> Option<i64> {
        let priced =
            usage.is_some_and(|u| u.input_tokens > 0 || u.output_tokens > 0) && self.token_price(model).is_some();
        match priced {
            true => self.cost_micros(model, usage),
            false => self.per_image.get(model)?.checked_mul(i64::try_from(images.max(1)).ok()?),
        }
    }

    /// The cost of one image; `None` when neither usage nor a price is known.
    pub fn cost_micros(&self, model: &str, usage: Option<Usage>) -> Option<i64> {
        match (usage, self.token_price(model)) {
            (Some(u), Some(p)) if u.input_tokens > 0 || u.output_tokens > 0 => {
                let (text, image) = match u.input_tokens_details {
                    Some(d) => (d.text_tokens.max(0), d.image_tokens.max(0)),
                    None => (u.input_tokens.max(0), 0),
                };
                let per_million = text
                    .checked_mul(p.input)?
                    .checked_add(image.checked_mul(p.image_input)?)?
                    .checked_add(u.output_tokens.max(0).checked_mul(p.output)?)?;
                Some(per_million.checked_add(500_000)? / 1_000_000)
            }
            _ => self.per_image.get(model).copied(),
        }
    }

    /// What an image of this size and quality is expected to cost before it is made: the
    /// per-image price, or the expected output tokens (scaled by area) at the model's rate.
    pub fn estimate_micros(&self, model: &str, quality: Option<Quality>, width: u32, height: u32) -> Option<i64> {
        self.estimate_request(model, quality, (width, height), 1)
    }

    /// The same for a request of `count` images: each adds its output, the prompt is read once.
    pub fn estimate_request(&self, model: &str, quality: Option<Quality>, size: (u32, u32), count: u8) -> Option<i64> {
        let (each, once) = self.estimate_parts(model, quality, size)?;
        each.checked_mul(i64::from(count.max(1)))?.checked_add(once)
    }

    /// An estimate in two parts, in micro-dollars: what each image adds, and what the request
    /// costs once (its prompt, under a hundred text tokens).
    pub fn estimate_parts(
        &self,
        model: &str,
        quality: Option<Quality>,
        (width, height): (u32, u32),
    ) -> Option<(i64, i64)> {
        if let Some(per_image) = self.per_image.get(model) {
            return Some((*per_image, 0));
        }
        let price = self.token_price(model)?;
        let area = (f64::from(width) * f64::from(height) / 1_048_576.0).max(0.25);
        let tokens = (output_tokens_1mp(quality.unwrap_or(Quality::Auto)) as f64 * area).round() as i64;
        let micros = |per_million: i64| per_million.checked_add(500_000).map(|v| v / 1_000_000);
        Some((micros(tokens.checked_mul(price.output)?)?, micros(100i64.checked_mul(price.input)?)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: i64, output: i64) -> Usage {
        Usage { input_tokens: input, output_tokens: output, input_tokens_details: None }
    }

    #[test]
    fn usage_of_current_models_is_priced_per_token() {
        let table = PriceTable::default();
        assert_eq!(table.cost_micros("gpt-image-2.5-flare", Some(usage(50, 1056))), Some(50 * 5 + 1056 * 30));
        // Dated snapshots are priced as their alias.
        assert_eq!(table.cost_micros("gpt-image-2.5-flare-2026-09-08", Some(usage(0, 100))), Some(3_000));
        let edit = Usage {
            input_tokens: 350,
            output_tokens: 1000,
            input_tokens_details: Some(InputDetails { text_tokens: 50, image_tokens: 300 }),
        };
        assert_eq!(table.cost_micros("gpt-image-2.6-sunburst", Some(edit)), Some(50 * 5 + 300 * 8 + 1000 * 30));
    }

    #[test]
    fn absurd_usage_cannot_overflow_the_ledger() {
        let table = PriceTable::default();
        assert_eq!(table.cost_micros("gpt-image-2", Some(usage(0, i64::MAX))), None);
        assert_eq!(table.cost_micros("gpt-image-2", Some(usage(-5, 10))), Some(300));
    }

    #[test]
    fn without_usage_the_per_image_price_applies() {
        let table = PriceTable::default().with_per_image("local-sd=0.002").expect("valid");
        assert_eq!(table.cost_micros("local-sd", None), Some(2_000));
        assert_eq!(table.cost_micros("local-sd", Some(Usage::default())), Some(2_000));
        assert_eq!(table.cost_micros("scene-v1", None), Some(0));
        assert_eq!(table.cost_micros("unknown", None), None);
        assert!(PriceTable::default().with_per_image("oops").is_err());
        assert!(PriceTable::default().with_per_image("m=-1").is_err());
    }

    #[test]
    fn operators_override_token_rates() {
        let table = PriceTable::default().with_per_token("gpt-image-2.5-flare=2/4/10, my-model=1/20").expect("valid");
        assert_eq!(table.cost_micros("gpt-image-2.5-flare", Some(usage(10, 100))), Some(10 * 2 + 100 * 10));
        assert_eq!(table.cost_micros("my-model", Some(usage(10, 100))), Some(10 + 100 * 20));
        // Fractional rates are kept: 1,000 tokens at $1.25 per million cost $0.00125.
        let cheap = PriceTable::default().with_per_token("cheap=0.5/1.25").expect("valid");
        assert_eq!(cheap.cost_micros("cheap", Some(usage(0, 1_000))), Some(1_250));
        assert_eq!(cheap.cost_micros("cheap", Some(usage(1_000, 0))), Some(500));
        assert!(PriceTable::default().with_per_token("x=1/2/3/4").is_err());
        assert!(PriceTable::default().with_per_token("x=cheap").is_err());
    }

    #[test]
    fn estimates_come_from_the_same_rates() {
        let table = PriceTable::default();
        let medium = table.estimate_micros("gpt-image-2.5-flare", Some(Quality::Medium), 1024, 1024).expect("known");
        assert_eq!(medium, 1_056 * 30 + 500);
        let high_4k = table.estimate_micros("gpt-image-2.5-flare", Some(Quality::High), 3840, 2160).expect("known");
        assert!(high_4k > 7 * medium, "4K at high quality costs far more: {high_4k} vs {medium}");
        // The estimate for a medium image equals the cost of the usage it predicts.
        assert_eq!(table.cost_micros("gpt-image-2.5-flare", Some(usage(100, 1_056))), Some(medium));
        assert_eq!(table.estimate_micros("scene-v1", None, 1024, 1024), Some(0));
        assert_eq!(table.estimate_micros("unknown", None, 1024, 1024), None);
        // Three images read one prompt: three outputs, one input.
        let three = table.estimate_request("gpt-image-2.5-flare", Some(Quality::Medium), (1024, 1024), 3);
        assert_eq!(three, Some(3 * 1_056 * 30 + 500));
        assert_eq!(table.cost_micros("gpt-image-2.5-flare", Some(usage(100, 3 * 1_056))), three);
    }
}
