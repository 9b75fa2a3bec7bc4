//! `/gallery`: every image of the user, newest first, searchable by the words of its prompt
//! and filtered by thread, engine and date. A plain GET form and links, so it works before
//! hydration; "More images" pages on with the last image's id.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use super::job_card::srcset;
use super::{auth_pages::Landing, layout::ChatLayout, viewer_resource};
use crate::api::load_gallery;
use crate::gallery::{GalleryPage, GalleryQuery};
use crate::protocol::{civil_from_days, days_from_civil, ImageId, ProviderKind, ThreadId, Variant};

/// `2026-12-03` → days since 1970.
pub fn parse_day(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    ((1970..=9999).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d)).then(|| days_from_civil(y, m, d))
}

fn day_text(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// What the address asks for.
pub fn query_of(params: &ParamsMap) -> GalleryQuery {
    let get = |k: &str| params.get(k).filter(|v| !v.trim().is_empty());
    GalleryQuery {
        search: get("q").unwrap_or_default(),
        thread: get("thread").and_then(|t| t.parse().ok()).map(ThreadId),
        engine: get("engine").and_then(|e| ProviderKind::parse(&e)),
        since_day: get("since").and_then(|d| parse_day(&d)),
        until_day: get("until").and_then(|d| parse_day(&d)),
        before: get("before").and_then(|b| b.parse().ok()).map(ImageId),
    }
}

/// The address of `query`'s next page.
fn next_href(query: &GalleryQuery, before: ImageId) -> String {
    let mut parts = vec![];
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    if !query.search.is_empty() {
        parts.push(format!("q={}", enc(&query.search)));
    }
    if let Some(t) = query.thread {
        parts.push(format!("thread={t}"));
    }
    if let Some(e) = query.engine {
        parts.push(format!("engine={}", e.id()));
    }
    if let Some(d) = query.since_day {
        parts.push(format!("since={}", day_text(d)));
    }
    if let Some(d) = query.until_day {
        parts.push(format!("until={}", day_text(d)));
    }
    parts.push(format!("before={before}"));
    format!("/gallery?{}", parts.join("&"))
}

#[component]
pub fn GalleryPage() -> impl IntoView {
    let viewer = viewer_resource();
    let query = use_query_map();
    let page = Resource::new(move || query_of(&query.read()), load_gallery);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let user = viewer.await.ok().flatten();
                let found = page.await.ok().flatten().unwrap_or_default();
                match user {
                    None => view! { <Landing/> }.into_any(),
                    Some(user) => {
                        let asked = query_of(&query.read_untracked());
                        view! { <ChatLayout user><Gallery page=found asked/></ChatLayout> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn Gallery(page: GalleryPage, asked: GalleryQuery) -> impl IntoView {
    let params = use_query_map();
    let deleted = move || params.read().get("deleted").is_some();
    let empty = page.items.is_empty();
    let items = RwSignal::new(page.items);
    let next = RwSignal::new(page.next);
    let loading = RwSignal::new(false);
    let engines = [ProviderKind::Builtin, ProviderKind::OpenAi, ProviderKind::ComfyUi, ProviderKind::Automatic1111];
    let more_href = {
        let asked = asked.clone();
        move || next.get().map(|n| next_href(&asked, n))
    };
    // Scrolling near the end loads the next page in place (the link does it without scripts).
    let section = NodeRef::<leptos::html::Section>::new();
    let on_scroll = {
        let asked = asked.clone();
        move |_| {
            let Some(el) = section.get_untracked() else { return };
            let near_end = el.scroll_top() + el.client_height() + 600 >= el.scroll_height();
            let Some(before) = next.get_untracked().filter(|_| near_end && !loading.get_untracked()) else { return };
            loading.set(true);
            let query = GalleryQuery { before: Some(before), ..asked.clone() };
            leptos::task::spawn_local(async move {
                if let Ok(Some(page)) = load_gallery(query).await {
                    items.update(|i| i.extend(page.items));
                    next.set(page.next);
                }
                loading.set(false);
            });
        }
    };
    view! {
        <section class="gallery" node_ref=section on:scroll=on_scroll>
            <h1>"Gallery"</h1>
            {move || deleted().then(|| view! { <p role="status" class="notice">"Image deleted."</p> })}
            <form method="get" action="/gallery" class="gallery-search" role="search">
                <label>
                    "Search images"
                    <input type="search" name="q" value=asked.search.clone() maxlength="200"/>
                </label>
                <label>
                    "Thread"
                    <select name="thread">
                        <option value="">"All threads"</option>
                        {page.threads.into_iter().map(|(id, title)| view! {
                            <option value=id.to_string() selected=asked.thread == Some(id)>{title}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    "Engine"
                    <select name="engine">
                        <option value="">"Any engine"</option>
                        {engines.into_iter().map(|e| view! {
                            <option value=e.id() selected=asked.engine == Some(e)>{e.name()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>"From" <input type="date" name="since" value=asked.since_day.map(day_text)/></label>
                <label>"To" <input type="date" name="until" value=asked.until_day.map(day_text)/></label>
                <button type="submit">"Search"</button>
            </form>
            {empty.then(|| view! { <p class="muted">"No images here yet."</p> })}
            <ul class="gallery-grid">
                <For each=move || items.get() key=|item| item.image.id let:item>
                    <GalleryTile item/>
                </For>
            </ul>
            {move || more_href().map(|href| view! { <a class="more" href=href>"More images"</a> })}
        </section>
    }
}

#[component]
fn GalleryTile(item: crate::gallery::GalleryItem) -> impl IntoView {
    let image = item.image;
    let thumb = image.variants.first().map_or(Variant::Full, |w| Variant::Width(*w));
    view! {
        <li>
            <a href=format!("/gallery/{}", image.id)>
                <img
                    src=image.url(thumb)
                    srcset=srcset(&image)
                    sizes="(min-width: 760px) 12rem, 45vw"
                    width=image.width.to_string()
                    height=image.height.to_string()
                    loading="lazy"
                    alt=item.prompt
                />
            </a>
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_next_pages_keep_the_filters() {
        assert_eq!(parse_day("2026-12-03").map(day_text).as_deref(), Some("2026-12-03"));
        assert_eq!(parse_day("2026-13-01"), None);
        assert_eq!(parse_day("yesterday"), None);
        let q = GalleryQuery { search: "red fox&x".into(), engine: Some(ProviderKind::OpenAi), ..Default::default() };
        assert_eq!(next_href(&q, ImageId(40)), "/gallery?q=red%20fox%26x&engine=openai&before=40");
    }
}
