//! The front end's files and pages as a browser gets them (issue 14): `/pkg` files from their
//! precompressed forms, hashed names cached for good and the others revalidated (304), pages
//! compressed on the fly and never cached, images never recompressed.

use std::io::Write;

use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, IF_MODIFIED_SINCE, LAST_MODIFIED, VARY};

use crate::helpers::{spawn_app_with, test_db};

const WASM: &[u8] = b"\0asm\x01\0\0\0 stand-in for the front end";

fn client() -> reqwest::Client {
    // No automatic decompression: the test reads the encodings as sent.
    reqwest::Client::builder().no_gzip().no_brotli().build().expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn front_end_files_come_precompressed_and_hashed_names_are_cached_for_good() {
    let site = tempfile::tempdir().expect("dir");
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).expect("pkg");
    let hashed = "easel.q1W2e3R4t5Y6u7I8.wasm";
    std::fs::write(pkg.join(hashed), WASM).expect("wasm");
    let brotli = {
        let mut out = Vec::new();
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 9, 22);
        writer.write_all(WASM).expect("compress");
        drop(writer);
        out
    };
    std::fs::write(pkg.join(format!("{hashed}.br")), &brotli).expect("br");
    std::fs::write(pkg.join("easel.css"), "body { color: black }\n".repeat(20)).expect("css");
    let root = site.path().to_string_lossy().into_owned();
    let app = spawn_app_with(test_db().await, move |s| s.leptos.site_root = root.into()).await;
    let http = client();

    let res =
        http.get(app.url(&format!("/pkg/{hashed}"))).header(ACCEPT_ENCODING, "br, gzip").send().await.expect("get");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[CONTENT_ENCODING], "br");
    assert_eq!(res.headers()[CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert_eq!(res.headers()["content-type"], "application/wasm");
    assert_eq!(res.bytes().await.expect("body").as_ref(), brotli.as_slice(), "the precompressed file itself");
    let plain = http.get(app.url(&format!("/pkg/{hashed}"))).send().await.expect("get");
    assert!(plain.headers().get(CONTENT_ENCODING).is_none(), "a client without brotli gets the file");
    assert_eq!(plain.bytes().await.expect("body").as_ref(), WASM);

    // A name without a hash may change under the same name: revalidated, 304 when unchanged.
    let css = http.get(app.url("/pkg/easel.css")).send().await.expect("get");
    assert_eq!(css.headers()[CACHE_CONTROL], "no-cache");
    let modified = css.headers()[LAST_MODIFIED].clone();
    let again = http.get(app.url("/pkg/easel.css")).header(IF_MODIFIED_SINCE, modified).send().await.expect("get");
    assert_eq!(again.status(), 304);

    // A page: compressed as sent, never cached.
    let page = http.get(app.url("/login")).header(ACCEPT_ENCODING, "gzip").send().await.expect("get");
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()[CONTENT_ENCODING], "gzip");
    assert_eq!(page.headers()[CACHE_CONTROL], "private, no-cache");
    assert!(page.headers().get_all(VARY).iter().any(|v| v.to_str().is_ok_and(|v| v.contains("accept-encoding"))));
    let body = page.bytes().await.expect("body");
    let mut html = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(body.as_ref()), &mut html).expect("gzip");
    assert!(html.contains("<html"), "{html}");
    let health = http.get(app.url("/healthz")).header(ACCEPT_ENCODING, "gzip").send().await.expect("get");
    assert!(health.headers().get(CONTENT_ENCODING).is_none());
}
