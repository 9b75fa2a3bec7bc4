//! `/gallery/{id}`: one image full size, with its prompts, the parameters card, its lineage
//! (the versions it came from and those made from it, as a tree to walk), Download, Share
//! (links that can be revoked) and Delete. Plain forms, so it all works before hydration.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::job_card::{srcset, ParamsCard};
use super::{auth_pages::Landing, layout::ChatLayout, viewer_resource};
use crate::api::load_image;
use crate::gallery::ImageDetail;
use crate::protocol::{ImageId, Variant};

#[component]
pub fn ImagePage() -> impl IntoView {
    let viewer = viewer_resource();
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok()).map(ImageId);
    let detail = Resource::new(id, |id| async move {
        match id {
            Some(id) => load_image(id).await,
            None => Ok(None),
        }
    });
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let user = viewer.await.ok().flatten();
                let detail = detail.await.ok().flatten();
                match (user, detail) {
                    (None, _) => view! { <Landing/> }.into_any(),
                    (Some(user), Some(detail)) => view! { <ChatLayout user><ImageView detail/></ChatLayout> }.into_any(),
                    (Some(user), None) => view! {
                        <ChatLayout user>
                            <p class="notice" role="alert">"This image does not exist, or it is not yours."</p>
                        </ChatLayout>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ImageView(detail: ImageDetail) -> impl IntoView {
    let ImageDetail { image, job, thread, thread_title, lineage, shares, origin } = detail;
    let id = image.id;
    let tree = lineage
        .into_iter()
        .map(|node| {
            let current = node.image == Some(id) || (node.job == job.id && node.image.is_none());
            let indent = format!("padding-left: {}rem", node.depth.min(12));
            let label = node.prompt.clone();
            view! {
                <li style=indent class:current=current>
                    {match (node.image, current) {
                        (_, true) => view! { <strong aria-current="page">{label}</strong> }.into_any(),
                        (Some(image), false) => view! { <a href=format!("/gallery/{image}")>{label}</a> }.into_any(),
                        (None, false) => view! { <span class="muted">{label} " (no image)"</span> }.into_any(),
                    }}
                </li>
            }
        })
        .collect_view();
    let links = shares
        .into_iter()
        .map(|token| {
            let href = format!("{origin}/s/{token}");
            view! {
                <li>
                    <a href=href.clone()>{href.clone()}</a>
                    <form method="post" action=format!("/shares/{token}/revoke")>
                        <input type="hidden" name="image" value=id.to_string()/>
                        <button type="submit" class="secondary">"Stop sharing"</button>
                    </form>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="image-page">
            <p><a href="/gallery">"← Gallery"</a> " · " <a href=format!("/threads/{thread}#job-{}", job.id)>{format!("In “{thread_title}”")}</a></p>
            <figure class="full-image">
                <a href=image.url(Variant::Full)>
                    <img
                        src=image.url(image.largest())
                        srcset=srcset(&image)
                        sizes="(min-width: 760px) 48rem, 94vw"
                        width=image.width.to_string()
                        height=image.height.to_string()
                        alt=job.enhanced_prompt.clone()
                    />
                </a>
            </figure>
            <div class="image-actions">
                <a href=image.url(Variant::Full) download=format!("easel-{id}.png")>"Download"</a>
                <form method="post" action=format!("/images/{id}/share")>
                    <button type="submit" class="secondary">"Share"</button>
                </form>
                <form method="post" action=format!("/images/{id}/delete")>
                    <button type="submit" class="danger">"Delete image"</button>
                </form>
            </div>
            <h2 id="share">"Share links"</h2>
            <ul class="share-links">{links}</ul>
            <h2>"Prompts"</h2>
            <dl class="prompts">
                <dt>"You asked for"</dt>
                <dd>{job.prompt.clone()}</dd>
                <dt>"Sent to the provider"</dt>
                <dd>{job.enhanced_prompt.clone()}</dd>
                {job.revised_prompt.clone().map(|r| view! { <dt>"The provider's revision"</dt><dd>{r}</dd> })}
            </dl>
            <h2>"Settings"</h2>
            <ParamsCard job=job.clone()/>
            <h2>"Versions"</h2>
            <ul class="lineage-tree" aria-label="Versions">{tree}</ul>
        </section>
    }
}
