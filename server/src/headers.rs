//! Security headers on every response (J1, K5, C3): a Content Security Policy that lets
//! only our own files and the hydration script (by its per-response nonce) run, no framing,
//! no MIME sniffing, no referrer to other sites, and `Secure` session cookies whenever the
//! page was reached over HTTPS, even when the operator did not say so.
//!
//! Leptos's axum integration makes a nonce for every page render and puts it on each inline
//! script it writes (the hydration loader, streamed resources); [`policy`] with it is the
//! policy naming that nonce, set by the page handler while it renders. Everything else
//! (files, images, server functions, errors) gets the policy without a nonce, which runs no
//! script at all but our own files.

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// The policy of a response: a rendered page's inline scripts run with its `nonce`; without
/// one, no inline script runs at all. Inline style *attributes* are allowed on a page (a
/// progress bar's width is rendered on the server), inline style elements never.
/// `wasm-unsafe-eval` lets the page compile its own WebAssembly. While `cargo leptos watch`
/// runs, its reload socket (another port) may be reached too.
pub fn policy(nonce: Option<&str>) -> String {
    let (scripts, style_attributes, reload) = match nonce {
        Some(nonce) => (
            format!(" 'nonce-{nonce}'"),
            " style-src-attr 'unsafe-inline';",
            if std::env::var_os("LEPTOS_WATCH").is_some() { " ws:" } else { "" },
        ),
        None => (String::new(), "", ""),
    };
    format!(
        "default-src 'self'; script-src 'self'{scripts} 'wasm-unsafe-eval'; style-src 'self';{style_attributes} \
         img-src 'self' data: blob:; connect-src 'self'{reload}; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// [`policy`] without a nonce, made once.
fn file_policy() -> HeaderValue {
    static POLICY: std::sync::OnceLock<HeaderValue> = std::sync::OnceLock::new();
    POLICY
        .get_or_init(|| HeaderValue::from_str(&policy(None)).unwrap_or(HeaderValue::from_static("default-src 'self'")))
        .clone()
}

/// Whether the browser reached us over HTTPS: its `Origin` (sent with every POST, where
/// cookies are set) or a proxy's `X-Forwarded-Proto`. A forged header only makes a cookie
/// stricter, never weaker.
pub(crate) fn over_https(headers: &HeaderMap) -> bool {
    let says = |name: &str, prefix: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with(prefix))
    };
    says("origin", "https://") || says("x-forwarded-proto", "https")
}

/// Adds the headers to every response, and `Secure` to the cookies of one reached over HTTPS.
pub async fn secure(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let https = state.settings.secure_cookies || over_https(req.headers());
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    let set = |headers: &mut HeaderMap, name: HeaderName, value: &'static str| {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    };
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert_with(file_policy);
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "same-origin");
    set(headers, HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    set(headers, HeaderName::from_static("cross-origin-resource-policy"), "same-origin");
    if https {
        set(headers, header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
        let cookies: Vec<HeaderValue> = headers.get_all(header::SET_COOKIE).iter().cloned().collect();
        if !cookies.is_empty() {
            headers.remove(header::SET_COOKIE);
            for cookie in cookies {
                headers.append(header::SET_COOKIE, with_secure(cookie));
            }
        }
    }
    res
}

fn with_secure(cookie: HeaderValue) -> HeaderValue {
    let Ok(text) = cookie.to_str() else { return cookie };
    let secure = text.split(';').any(|part| part.trim().eq_ignore_ascii_case("secure"));
    match secure {
        true => cookie,
        false => HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or(cookie),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_set_over_https_is_secure_once() {
        let plain = HeaderValue::from_static("id=abc; HttpOnly; SameSite=Lax; Path=/");
        assert_eq!(with_secure(plain).to_str().ok(), Some("id=abc; HttpOnly; SameSite=Lax; Path=/; Secure"));
        let already = HeaderValue::from_static("id=abc; Secure; HttpOnly");
        assert_eq!(with_secure(already.clone()), already);
        let mut h = HeaderMap::new();
        assert!(!over_https(&h));
        h.insert("origin", HeaderValue::from_static("https://easel.example"));
        assert!(over_https(&h));
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(over_https(&h));
    }

    #[test]
    fn the_page_policy_names_its_nonce_and_allows_no_other_inline_script() {
        let p = policy(Some("abc123"));
        assert!(p.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval';"));
        let script = p.split(';').find(|d| d.trim().starts_with("script-src")).unwrap_or_default();
        assert!(!script.contains("unsafe-inline"), "{script}");
        assert!(p.contains("frame-ancestors 'none'"));
    }
}
