//! The WASM entry point: everything else lives in `app`, so this crate only hydrates.

// The view types of `app` nest deeper than the default limit when the release profile
// (fat LTO, opt-level z) resolves them here: without this `cargo leptos build --release` stops
// with "queries overflow the depth limit".
#![recursion_limit = "512"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // A marker for tests (and styles) that the page is now interactive.
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "");
    }
}
