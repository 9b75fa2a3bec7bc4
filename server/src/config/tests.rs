//! Reading the providers' settings: what is offered, in which order, and what is refused.

use super::*;
use crate::providers::catalogue::DEFAULT_MODEL;

fn read(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Settings::from_vars(LeptosOptions::builder().output_name("easel").build(), &move |name| {
        pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
}

fn kinds(settings: &Settings) -> Vec<ProviderKind> {
    settings.images.providers.iter().map(ProviderChoice::kind).collect()
}

#[test]
fn with_nothing_set_the_built_in_renderer_is_offered_alone() {
    let settings = read(&[]).expect("defaults");
    assert_eq!(kinds(&settings), [ProviderKind::Builtin]);
    assert_eq!(settings.images.job_timeout, None, "each provider's own deadline");
}

#[test]
fn every_configured_provider_is_offered_with_a_current_openai_model() {
    let settings = read(&[
        ("OPENAI_API_KEY", "sk-x"),
        ("COMFYUI_URL", "http://127.0.0.1:8188"),
        ("A1111_URL", "http://127.0.0.1:7860"),
    ])
    .expect("settings");
    assert_eq!(
        kinds(&settings),
        [ProviderKind::OpenAi, ProviderKind::ComfyUi, ProviderKind::Automatic1111, ProviderKind::Builtin]
    );
    let Some(ProviderChoice::OpenAi(openai)) = settings.images.providers.first() else { panic!("openai first") };
    assert_eq!(openai.model, DEFAULT_MODEL);
}

#[test]
fn the_administrator_picks_and_orders_the_offered_providers_and_the_default() {
    let settings = read(&[
        ("OPENAI_API_KEY", "sk-x"),
        ("COMFYUI_URL", "http://127.0.0.1:8188"),
        ("EASEL_PROVIDERS", "comfyui, builtin"),
        ("EASEL_DEFAULT_PROVIDER", "builtin"),
    ])
    .expect("settings");
    assert_eq!(kinds(&settings), [ProviderKind::ComfyUi, ProviderKind::Builtin]);
    assert_eq!(settings.images.default_provider, Some(ProviderKind::Builtin));
}

#[test]
fn unknown_or_unconfigured_providers_are_refused_by_name() {
    let unknown = read(&[("EASEL_PROVIDERS", "midjourney")]).map(|_| ()).expect_err("unknown");
    assert!(unknown.to_string().contains("midjourney"), "{unknown}");
    let missing = read(&[("EASEL_PROVIDERS", "a1111")]).map(|_| ()).expect_err("not configured");
    assert!(missing.to_string().contains("a1111 is not configured"), "{missing}");
    assert!(read(&[("EASEL_DEFAULT_PROVIDER", "dalle")]).is_err());
}

#[test]
fn credentials_in_an_engine_url_are_refused_before_they_reach_a_log() {
    for name in ["COMFYUI_URL", "A1111_URL", "OPENAI_BASE_URL", "CHAT_BASE_URL"] {
        let error = read(&[(name, "https://user:secret@engine.example/")]).map(|_| ()).expect_err("refused");
        assert!(error.to_string().starts_with(name) && !error.to_string().contains("secret"), "{error}");
    }
    // An @ after the host (a path or query) is not a credential.
    assert!(read(&[("COMFYUI_URL", "http://127.0.0.1:8188/api?x=a@b")]).is_ok());
}

#[test]
fn deadlines_are_whole_seconds_above_zero_and_at_most_ten_minutes() {
    assert!(read(&[("EASEL_JOB_TIMEOUT_SECS", "0")]).is_err());
    assert!(read(&[("EASEL_JOB_TIMEOUT_SECS", "soon")]).is_err());
    let long = read(&[("EASEL_JOB_TIMEOUT_SECS", "86400")]).expect("capped");
    assert_eq!(long.images.job_timeout, Some(MAX_DEADLINE));
    let capped = read(&[("OPENAI_API_KEY", "k"), ("OPENAI_TIMEOUT_SECS", "99999999999")]).expect("capped");
    let Some(ProviderChoice::OpenAi(openai)) = capped.images.providers.first() else { panic!("openai") };
    assert_eq!(openai.request_timeout, MAX_DEADLINE);
}

#[test]
fn token_prices_can_be_overridden() {
    let settings = read(&[("EASEL_TOKEN_PRICES", "gpt-image-2=1/2/3")]).expect("settings");
    let usage =
        crate::providers::pricing::Usage { input_tokens: 0, output_tokens: 1_000_000, input_tokens_details: None };
    assert_eq!(settings.images.prices.cost_micros("gpt-image-2", Some(usage)), Some(3_000_000));
    assert!(read(&[("EASEL_TOKEN_PRICES", "gpt-image-2=free")]).is_err());
}

#[test]
fn the_chat_model_is_configured_with_its_limits_and_prices() {
    assert!(read(&[]).expect("settings").chat_model.is_none());
    let s = read(&[
        ("CHAT_MODEL", "gpt-5-mini"),
        ("OPENAI_API_KEY", "sk"),
        ("CHAT_TIMEOUT_SECS", "30"),
        ("CHAT_FIRST_TOKEN_SECS", "5"),
        ("CHAT_MAX_REPLY_TOKENS", "400"),
        ("CHAT_TOKEN_PRICES", "input=0.25,output=2"),
    ])
    .expect("settings");
    let chat = s.chat_model.expect("a chat model");
    assert_eq!((chat.model.as_str(), chat.api_key.as_str()), ("gpt-5-mini", "sk"));
    assert_eq!((chat.timeout.as_secs(), chat.first_token_timeout.as_secs(), chat.max_reply_tokens), (30, 5, 400));
    assert_eq!((chat.rates.input, chat.rates.output), (250_000, 2_000_000));
    for bad in [("CHAT_MAX_REPLY_TOKENS", "0"), ("CHAT_TOKEN_PRICES", "input=cheap"), ("CHAT_FIRST_TOKEN_SECS", "0")] {
        assert!(read(&[("CHAT_MODEL", "m"), bad]).is_err(), "{bad:?}");
    }
}

#[test]
fn the_shutdown_grace_is_whole_seconds_and_bounded() {
    assert_eq!(read(&[]).expect("settings").images.shutdown_grace, Duration::from_secs(30));
    assert_eq!(read(&[("EASEL_SHUTDOWN_GRACE_SECS", "0")]).expect("settings").images.shutdown_grace, Duration::ZERO);
    assert_eq!(read(&[("EASEL_SHUTDOWN_GRACE_SECS", "99999")]).expect("settings").images.shutdown_grace, MAX_DEADLINE);
    assert!(read(&[("EASEL_SHUTDOWN_GRACE_SECS", "soon")]).is_err());
}
