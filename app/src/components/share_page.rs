//! `/s/{token}`: what a share link shows anyone, signed in or not: the shared images and
//! their prompts, nothing else of the account, with OpenGraph tags so chat apps preview it.
//! A revoked or unknown link says so.

use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_params_map;

use crate::api::load_share;
use crate::gallery::SharedView;
use crate::protocol::Variant;

#[component]
pub fn SharePage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let shared = Resource::new(token, load_share);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match shared.await.ok().flatten() {
                    Some(view) => view! { <Shared view/> }.into_any(),
                    None => view! {
                        <main class="shared">
                            <p class="notice" role="alert">"This link does not work: it was never made, or its owner stopped sharing."</p>
                        </main>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Shared(view: SharedView) -> impl IntoView {
    let origin = view.origin.clone();
    let og_image = view.images.first().map(|(image, _)| format!("{origin}{}", view.image_url(image, image.largest())));
    let title = if view.title.is_empty() { "Shared from Easel".to_string() } else { view.title.clone() };
    let figures = view
        .images
        .iter()
        .map(|(image, prompt)| {
            let src = view.image_url(image, image.largest());
            let full = view.image_url(image, Variant::Full);
            view! {
                <figure>
                    <a href=full>
                        <img src=src width=image.width.to_string() height=image.height.to_string() alt=prompt.clone()/>
                    </a>
                    <figcaption>{prompt.clone()}</figcaption>
                </figure>
            }
        })
        .collect_view();
    view! {
        <Title text=title.clone()/>
        <Meta property="og:title" content=title.clone()/>
        <Meta property="og:type" content="website"/>
        <Meta property="og:url" content=format!("{origin}/s/{}", view.token)/>
        {og_image.map(|src| view! { <Meta property="og:image" content=src/> })}
        <Meta name="twitter:card" content="summary_large_image"/>
        <main class="shared">
            <h1>{title}</h1>
            <div class="shared-images">{figures}</div>
            <p class="muted">"Made with " <a href="/">"Easel"</a>"."</p>
        </main>
    }
}
