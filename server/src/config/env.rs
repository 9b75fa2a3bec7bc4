//! Groups of settings read from the environment: the chat model, quotas, the image
//! providers, and the checks their values share.

use super::*;

/// `CHAT_MODEL` turns the chat model on; it is reached at `CHAT_BASE_URL` (else
/// `OPENAI_BASE_URL`, else OpenAI) with `CHAT_API_KEY` (else `OPENAI_API_KEY`).
pub(super) fn chat_model_from_env(
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ChatModelSettings>, ConfigError> {
    let Some(model) = var("CHAT_MODEL") else { return Ok(None) };
    let base_url = var("CHAT_BASE_URL")
        .or_else(|| var("OPENAI_BASE_URL"))
        .unwrap_or_else(|| "https://api.openai.com/v1".to_string());
    let api_key = var("CHAT_API_KEY").or_else(|| var("OPENAI_API_KEY")).unwrap_or_default();
    let mut settings = ChatModelSettings::new(base_url, api_key, model);
    if var("CHAT_TIMEOUT_SECS").is_some() {
        settings.timeout = deadline_secs(var, "CHAT_TIMEOUT_SECS")?;
    }
    if var("CHAT_FIRST_TOKEN_SECS").is_some() {
        settings.first_token_timeout = deadline_secs(var, "CHAT_FIRST_TOKEN_SECS")?;
    }
    if let Some(v) = var("CHAT_MAX_REPLY_TOKENS") {
        settings.max_reply_tokens =
            v.trim().parse().ok().filter(|n| (16..=100_000).contains(n)).ok_or(ConfigError::ChatReplyTokens)?;
    }
    settings.rates =
        TokenRates::parse(&var("CHAT_TOKEN_PRICES").unwrap_or_default()).map_err(ConfigError::ChatPrices)?;
    settings.max_concurrent = count(var, "CHAT_MAX_CONCURRENT", settings.max_concurrent as u32)? as usize;
    Ok(Some(settings))
}

pub(super) fn quotas_from_env(var: &dyn Fn(&str) -> Option<String>) -> Result<QuotaSettings, ConfigError> {
    let tier = |name: &'static str, defaults: Limits| {
        defaults.with_spec(&var(name).unwrap_or_default()).map_err(|e| ConfigError::Quota(name, e))
    };
    let usd = |name: &'static str| match var(name) {
        Some(v) => {
            let d: f64 = v
                .trim()
                .parse()
                .ok()
                .filter(|d: &f64| d.is_finite() && (0.0..1e12).contains(d))
                .ok_or(ConfigError::Dollars(name))?;
            Ok(Some((d * 1e6).round() as i64))
        }
        None => Ok(None),
    };
    Ok(QuotaSettings {
        policies: Policies {
            free: tier("EASEL_QUOTA_FREE", Limits::FREE)?,
            premium: tier("EASEL_QUOTA_PREMIUM", Limits::PREMIUM)?,
        },
        admins: var("EASEL_ADMINS")
            .map(|v| v.split(',').map(|a| a.trim().to_lowercase()).filter(|a| !a.is_empty()).collect())
            .unwrap_or_default(),
        spend_alert_micros: usd("EASEL_SPEND_ALERT_USD")?,
        spend_cap_micros: usd("EASEL_SPEND_CAP_USD")?,
    })
}

/// An interval must be more than zero (a timer of zero would spin).
pub(super) fn positive(d: Duration, name: &'static str) -> Result<Duration, ConfigError> {
    if d.is_zero() {
        return Err(ConfigError::Deadline(name));
    }
    Ok(d)
}

/// A deadline in whole seconds, more than zero, at most [`MAX_DEADLINE`].
pub(super) fn deadline_secs(var: &dyn Fn(&str) -> Option<String>, name: &'static str) -> Result<Duration, ConfigError> {
    let secs = var(name).unwrap_or_default().trim().parse::<u64>().map_err(|_| ConfigError::NotSeconds(name))?;
    match secs {
        0 => Err(ConfigError::Deadline(name)),
        s => Ok(Duration::from_secs(s).min(MAX_DEADLINE)),
    }
}

/// Credentials written into an engine's URL would be logged with it, and the WebSocket
/// handshake would not send them: refused, with what to do instead.
pub(super) fn check_no_credentials(
    var: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<(), ConfigError> {
    let Some(url) = var(name) else { return Ok(()) };
    let authority = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest).split(['/', '?', '#']).next();
    match authority.is_some_and(|a| a.contains('@')) {
        true => Err(ConfigError::CredentialsInUrl(name)),
        false => Ok(()),
    }
}

/// Every configured provider, then `EASEL_PROVIDERS` picks and orders those offered.
pub(super) fn providers_from_env(var: &dyn Fn(&str) -> Option<String>) -> Result<Vec<ProviderChoice>, ConfigError> {
    for name in ["OPENAI_BASE_URL", "COMFYUI_URL", "A1111_URL", "CHAT_BASE_URL"] {
        check_no_credentials(var, name)?;
    }
    let mut configured = Vec::new();
    if let Some(openai) = openai_from_env(var)? {
        configured.push(ProviderChoice::OpenAi(openai));
    }
    if let Some(comfy) = ComfyUiSettings::from_env(var).map_err(ConfigError::Provider)? {
        configured.push(ProviderChoice::ComfyUi(comfy));
    }
    if let Some(a1111) = A1111Settings::from_env(var).map_err(ConfigError::Provider)? {
        configured.push(ProviderChoice::Automatic1111(a1111));
    }
    configured.push(ProviderChoice::Builtin);
    let Some(list) = var("EASEL_PROVIDERS") else { return Ok(configured) };
    let mut offered = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let kind =
            ProviderKind::parse(name).ok_or_else(|| ConfigError::UnknownProvider("EASEL_PROVIDERS", name.into()))?;
        let choice = configured
            .iter()
            .find(|c| c.kind() == kind)
            .ok_or(ConfigError::ProviderNotConfigured("EASEL_PROVIDERS", kind.id()))?;
        if !offered.iter().any(|c: &ProviderChoice| c.kind() == kind) {
            offered.push(choice.clone());
        }
    }
    Ok(offered)
}

/// `OPENAI_API_KEY` or `OPENAI_BASE_URL` configures the OpenAI-compatible provider; the
/// model, size, quality and number of previews come from `OPENAI_IMAGE_MODEL` (default
/// [`catalogue::DEFAULT_MODEL`](crate::providers::catalogue::DEFAULT_MODEL)),
/// `OPENAI_IMAGE_SIZE` (`1024x1024`), `OPENAI_IMAGE_QUALITY` and `OPENAI_PARTIAL_IMAGES` (2);
/// `OPENAI_TIMEOUT_SECS` is the deadline of a medium 1024² image (others scale from it);
/// `OPENAI_IMAGE_URL_HOSTS` names hosts an image link may reach over http or at a private
/// address (besides the server's own).
pub(super) fn openai_from_env(var: &dyn Fn(&str) -> Option<String>) -> Result<Option<OpenAiSettings>, ConfigError> {
    let key = var("OPENAI_API_KEY");
    let base = var("OPENAI_BASE_URL");
    if key.is_none() && base.is_none() {
        return Ok(None);
    }
    let partial_images = match var("OPENAI_PARTIAL_IMAGES") {
        Some(v) => v.trim().parse::<u8>().ok().filter(|n| *n <= 3).ok_or(ConfigError::PartialImages)?,
        None => 2,
    };
    let timeout = match var("OPENAI_TIMEOUT_SECS") {
        Some(_) => deadline_secs(var, "OPENAI_TIMEOUT_SECS")?,
        None => Duration::from_secs(120),
    };
    Ok(Some(OpenAiSettings {
        api_key: key.unwrap_or_default(),
        base_url: base.unwrap_or_else(|| "https://api.openai.com/v1".to_string()),
        model: var("OPENAI_IMAGE_MODEL").unwrap_or_else(|| crate::providers::catalogue::DEFAULT_MODEL.to_string()),
        size: var("OPENAI_IMAGE_SIZE").unwrap_or_else(|| "1024x1024".to_string()),
        quality: var("OPENAI_IMAGE_QUALITY"),
        partial_images,
        request_timeout: timeout,
        image_url_hosts: AllowedHosts::parse(&var("OPENAI_IMAGE_URL_HOSTS").unwrap_or_default())
            .map_err(ConfigError::UrlHosts)?,
    }))
}

/// A count above zero, or `default` when the variable is not set.
pub(super) fn count(
    var: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    default: u32,
) -> Result<u32, ConfigError> {
    match var(name) {
        Some(v) => v.trim().parse::<u32>().ok().filter(|n| *n > 0).ok_or(ConfigError::NotCount(name)),
        None => Ok(default),
    }
}
