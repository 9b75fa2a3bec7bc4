//! The WASM entry point: everything else lives in `app`, so this crate only hydrates.

// The view types of `app` nest deeper than the default limit when the release profile
// (fat LTO, opt-level z) resolves them here: without this `cargo leptos build --release` stops
// with "queries overflow the depth limit".
#![recursion_limit = "512"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Lazy: the admin, gallery and settings pages come in their own WASM chunks (app's lazy
    // routes), so hydration is async: it waits for the chunk of the page it starts on. What
    // `hydrate_lazy` does, with the marker set once hydration has finished.
    wasm_bindgen_futures::spawn_local(async {
        let body = leptos::prelude::document().body();
        let Some(body) = body else { return };
        leptos::mount::hydrate_from_async(body.clone(), app::App).await.forget();
        // A marker for tests (and styles) that the page is now interactive.
        let _ = body.set_attribute("data-hydrated", "");
    });
}
