//! What an administrator configures for an AUTOMATIC1111 / Forge engine, read from the
//! environment once by [`crate::config`]. The engine's own defaults (sampler, steps) differ
//! between versions and forks, so every generation sends all of them explicitly.

use std::fmt;
use std::time::Duration;

/// How to reach one AUTOMATIC1111-compatible engine and what each generation asks of it.
#[derive(Clone, PartialEq)]
pub struct A1111Settings {
    /// `A1111_URL`, e.g. `http://127.0.0.1:7860` (no trailing slash).
    pub base_url: String,
    /// `A1111_AUTH` (`user:pass`, the engine's `--api-auth`), sent as HTTP basic
    /// authentication; never logged (see the `Debug` impl).
    pub auth: Option<(String, String)>,
    /// `A1111_STEPS`: sampler steps per image (default 30).
    pub steps: u32,
    /// `A1111_CFG`: how closely the image follows the prompt (default 7).
    pub cfg_scale: f32,
    /// `A1111_SAMPLER`: the sampler's name as the engine lists it (default `Euler a`).
    pub sampler: String,
    /// `A1111_CHECKPOINT`: the model to load for our jobs (`sd_model_checkpoint`); none
    /// uses whatever the engine has loaded.
    pub checkpoint: Option<String>,
    /// `A1111_NEGATIVE_PROMPT` (default empty).
    pub negative_prompt: String,
    /// `A1111_POLL_MS`: how often progress is asked for while a job runs (default 500).
    pub poll_interval: Duration,
    /// `A1111_TIMEOUT_SECS`: how long one generation may take (default 600, and the runner
    /// caps it at [`MAX_DEADLINE`](crate::providers::MAX_DEADLINE)).
    pub timeout: Duration,
}

impl A1111Settings {
    /// The defaults for an engine at `base_url` (tests, and the base of [`Self::from_env`]).
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim().trim_end_matches('/').to_string(),
            auth: None,
            steps: 30,
            cfg_scale: 7.0,
            sampler: "Euler a".into(),
            checkpoint: None,
            negative_prompt: String::new(),
            poll_interval: Duration::from_millis(500),
            timeout: Duration::from_secs(600),
        }
    }

    /// `None` when `A1111_URL` is not set (the provider is not configured); an error naming
    /// the variable when one is set but unusable.
    pub fn from_env(var: &dyn Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let set = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let Some(url) = set("A1111_URL") else { return Ok(None) };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("A1111_URL must be an http:// or https:// address, not {url:?}"));
        }
        let mut s = Self::new(url);
        if let Some(auth) = set("A1111_AUTH") {
            let (user, pass) = auth.split_once(':').ok_or("A1111_AUTH must be user:password")?;
            s.auth = Some((user.to_string(), pass.to_string()));
        }
        if let Some(v) = set("A1111_STEPS") {
            s.steps = v
                .parse()
                .ok()
                .filter(|n| (1..=500).contains(n))
                .ok_or("A1111_STEPS must be a number of steps from 1 to 500")?;
        }
        if let Some(v) = set("A1111_CFG") {
            s.cfg_scale = v
                .parse::<f32>()
                .ok()
                .filter(|c| c.is_finite() && (1.0..=30.0).contains(c))
                .ok_or("A1111_CFG must be a number from 1 to 30")?;
        }
        if let Some(v) = set("A1111_SAMPLER") {
            s.sampler = v;
        }
        s.checkpoint = set("A1111_CHECKPOINT");
        if let Some(v) = var("A1111_NEGATIVE_PROMPT") {
            s.negative_prompt = v.trim().to_string();
        }
        if let Some(v) = set("A1111_POLL_MS") {
            let ms = v
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms >= 10)
                .ok_or("A1111_POLL_MS must be a whole number of milliseconds, at least 10")?;
            s.poll_interval = Duration::from_millis(ms);
        }
        if let Some(v) = set("A1111_TIMEOUT_SECS") {
            let secs = v
                .parse::<u64>()
                .ok()
                .filter(|s| *s > 0)
                .ok_or("A1111_TIMEOUT_SECS must be a whole number of seconds")?;
            s.timeout = Duration::from_secs(secs);
        }
        Ok(Some(s))
    }
}

impl fmt::Debug for A1111Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("A1111Settings")
            .field("base_url", &self.base_url)
            .field("auth", &if self.auth.is_some() { "(set)" } else { "(none)" })
            .field("steps", &self.steps)
            .field("cfg_scale", &self.cfg_scale)
            .field("sampler", &self.sampler)
            .field("checkpoint", &self.checkpoint)
            .field("negative_prompt", &self.negative_prompt)
            .field("poll_interval", &self.poll_interval)
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Option<A1111Settings>, String> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        A1111Settings::from_env(&|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn no_url_means_not_configured() {
        assert_eq!(from(&[("A1111_STEPS", "20")]), Ok(None));
        assert_eq!(from(&[("A1111_URL", "  ")]), Ok(None));
    }

    #[test]
    fn a_url_alone_gives_the_defaults() {
        let s = from(&[("A1111_URL", "http://127.0.0.1:7860/")]).expect("valid").expect("configured");
        assert_eq!(s, A1111Settings::new("http://127.0.0.1:7860"));
        assert_eq!(s.base_url, "http://127.0.0.1:7860");
        assert_eq!((s.steps, s.cfg_scale, s.sampler.as_str()), (30, 7.0, "Euler a"));
        assert_eq!((s.poll_interval, s.timeout), (Duration::from_millis(500), Duration::from_secs(600)));
        assert_eq!((s.auth, s.checkpoint, s.negative_prompt.as_str()), (None, None, ""));
    }

    #[test]
    fn every_variable_is_read() {
        let s = from(&[
            ("A1111_URL", "https://sd.example:7860"),
            ("A1111_AUTH", "ada:se:cret"),
            ("A1111_STEPS", "20"),
            ("A1111_CFG", "5.5"),
            ("A1111_SAMPLER", "DPM++ 2M"),
            ("A1111_CHECKPOINT", "sdxl.safetensors"),
            ("A1111_NEGATIVE_PROMPT", "blurry"),
            ("A1111_POLL_MS", "250"),
            ("A1111_TIMEOUT_SECS", "120"),
        ])
        .expect("valid")
        .expect("configured");
        assert_eq!(s.auth, Some(("ada".into(), "se:cret".into())));
        assert_eq!((s.steps, s.cfg_scale, s.sampler.as_str()), (20, 5.5, "DPM++ 2M"));
        assert_eq!((s.checkpoint.as_deref(), s.negative_prompt.as_str()), (Some("sdxl.safetensors"), "blurry"));
        assert_eq!((s.poll_interval, s.timeout), (Duration::from_millis(250), Duration::from_secs(120)));
    }

    #[test]
    fn bad_values_name_their_variable() {
        let url = ("A1111_URL", "http://localhost:7860");
        for (name, value) in [
            ("A1111_STEPS", "many"),
            ("A1111_STEPS", "0"),
            ("A1111_CFG", "NaN"),
            ("A1111_POLL_MS", "1"),
            ("A1111_TIMEOUT_SECS", "-5"),
            ("A1111_AUTH", "no-colon"),
        ] {
            let error = from(&[url, (name, value)]).expect_err("refused");
            assert!(error.starts_with(name), "{name}={value}: {error}");
        }
        assert!(from(&[("A1111_URL", "localhost:7860")]).expect_err("refused").starts_with("A1111_URL"));
    }

    #[test]
    fn debug_hides_the_credentials() {
        let mut s = A1111Settings::new("http://localhost:7860");
        s.auth = Some(("ada".into(), "hunter2".into()));
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("ada"), "{shown}");
        assert!(shown.contains("(set)"));
    }
}
