//! Static files and pages served like a production site.
//!
//! The front end's files (`/pkg`: the WASM, its JavaScript glue, the stylesheet) are served
//! from their brotli or gzip forms where the release build made them (`cargo leptos build
//! --release --precompress`), and cached for good when their names carry a content hash
//! (`hash-files`: a new build has new names, so a cached file can never be stale). Without a
//! hash they are revalidated on every load (a 304 when unchanged). Pages and JSON are
//! compressed as they are sent; HTML is never cached, since it is the user's own.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

/// The front end's directory, with its precompressed forms.
pub fn pkg_service(site_root: &str, pkg_dir: &str) -> ServeDir {
    ServeDir::new(format!("{site_root}/{pkg_dir}")).precompressed_br().precompressed_gzip()
}

/// Compression for what is made per request: pages, server functions, JSON. Images (the
/// default predicate skips `image/*`), zips and tiny bodies are sent as they are; the
/// WebSocket is not under this layer (its frames are small and latency-bound).
pub fn compression() -> CompressionLayer<impl Predicate> {
    let predicate = DefaultPredicate::new().and(NotForContentType::const_new("application/zip"));
    CompressionLayer::new().br(true).gzip(true).compress_when(predicate)
}

const FOREVER: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";
const PAGE: &str = "private, no-cache";

/// Sets `Cache-Control` where a handler did not; `pkg` is where the front end's files are
/// served (`/pkg/`, from cargo-leptos' `site-pkg-dir`).
pub async fn cache_control(State(pkg): State<Arc<str>>, req: Request, next: Next) -> Response {
    let pkg_file = req.uri().path().strip_prefix(&*pkg).map(str::to_string);
    let mut res = next.run(req).await;
    if res.headers().contains_key(header::CACHE_CONTROL) {
        return res;
    }
    let html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    let policy = match pkg_file {
        Some(name) if res.status().is_success() && is_hashed(&name) => FOREVER,
        Some(_) => REVALIDATE,
        None if html => PAGE,
        None => return res,
    };
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    res
}

/// Whether a file name carries a content hash as cargo-leptos writes it: `easel.<hash>.wasm`,
/// the hash at least 10 characters of URL-safe base64.
fn is_hashed(name: &str) -> bool {
    let parts: Vec<&str> = name.rsplit('/').next().unwrap_or(name).split('.').collect();
    parts.len() >= 3
        && parts[1..parts.len() - 1].iter().any(|p| {
            p.len() >= 10
                    && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    // The split loader's placeholder name in a build without hashes.
                    && !p.bytes().all(|b| b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_are_told_apart() {
        assert!(is_hashed("easel.Zm9vYmFyYmF6cXV4.wasm"));
        assert!(is_hashed("easel.a1B2-c3_D4e5.js"));
        assert!(!is_hashed("easel.wasm"));
        assert!(!is_hashed("easel_bg.wasm"));
        assert!(!is_hashed("easel.min.js"), "a short middle part is not a hash");
        assert!(!is_hashed("__wasm_split.______________________.js"), "the unhashed split loader");
        assert!(is_hashed("__wasm_split.Zm9vYmFyYmF6cXV4.js"));
    }
}
