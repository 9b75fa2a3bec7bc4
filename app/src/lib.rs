//! Easel's isomorphic crate: the wire protocol both sides speak, the tab's state reducer,
//! and the Leptos pages, rendered on the server and hydrated in the browser.
//!
//! Server-only glue sits in [`ssr`] (behind the `ssr` feature); browser-only code (the
//! socket loop) sits in `live` (behind `hydrate`).

#![recursion_limit = "256"]

pub mod admin;
pub mod api;
pub mod auth_form;
pub mod chat_state;
pub mod components;
pub mod gallery;
#[cfg(feature = "hydrate")]
mod live;
pub mod protocol;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    lazy_route, path, Lazy, LazyRoute, SsrMode,
};

use chat_state::ChatState;
use components::{
    account_page::AccountPage, admin_page::AdminPage, auth_pages::*, gallery_page::GalleryPage, home::HomePage,
    image_page::ImagePage, settings_page::SettingsPage, share_page::SharePage, thread_page::ThreadPage,
};

/// The HTML document around the app; used by the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                // The stylesheet by its content-hashed name when the build wrote one
                // (`hash-files`): served `immutable`, so its name must change with it.
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The whole app. One [`ChatState`] per tab, shared with every component as context.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(RwSignal::new(ChatState::default()));
    provide_context(components::Outbound::default());

    view! {
        <Title text="Easel"/>
        // Async SSR: the server sends each page complete, so it reads the same with JavaScript
        // off; out-of-order streaming would need a script to put the resolved parts in place.
        <Router>
            <Routes fallback=|| view! { <p class="notice">"Page not found."</p> }>
                <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                <Route path=path!("/signup") view=SignupPage ssr=SsrMode::Async/>
                <Route path=path!("/threads/:id") view=ThreadPage ssr=SsrMode::Async/>
                <Route path=path!("/admin") view={Lazy::<AdminRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/account") view={Lazy::<AccountRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/settings") view={Lazy::<SettingsRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/gallery") view={Lazy::<GalleryRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/gallery/:id") view={Lazy::<ImageRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/s/:token") view={Lazy::<ShareRoute>::new()} ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}

/// Pages most visits never open ship in their own WASM chunks (`cargo leptos build --split`),
/// fetched when the route is first visited: the chat page's bundle carries only the chat.
macro_rules! lazy_page {
    ($route:ident, $page:ident) => {
        struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page/> }.into_any()
            }
        }
    };
}

lazy_page!(AdminRoute, AdminPage);
lazy_page!(AccountRoute, AccountPage);
lazy_page!(SettingsRoute, SettingsPage);
lazy_page!(GalleryRoute, GalleryPage);
lazy_page!(ImageRoute, ImagePage);
lazy_page!(ShareRoute, SharePage);
