//! `/settings`: the user's defaults for the composer's row (shape and quality). A plain
//! form posting to the server's `/settings`, so it works before hydration; the outcome
//! comes back as `?done=` or `?error=`. The thread's memory and the row apply on top.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{auth_pages::Landing, layout::ChatLayout, viewer_resource};
use crate::api::load_preferences;
use crate::protocol::{AspectRatio, Preferences, Quality};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let viewer = viewer_resource();
    let preferences = Resource::new(|| (), |_| load_preferences());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let user = viewer.await.ok().flatten();
                let preferences = preferences.await.ok().flatten().unwrap_or_default();
                match user {
                    None => view! { <Landing/> }.into_any(),
                    Some(user) => view! { <ChatLayout user><SettingsForm preferences/></ChatLayout> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SettingsForm(preferences: Preferences) -> impl IntoView {
    let query = use_query_map();
    let saved = move || query.read().get("done").is_some();
    let error = move || {
        query.read().get("error").map(|e| match e.as_str() {
            "invalid" => "Those settings are not ones Easel knows; please pick from the lists.",
            "email" => "That email address does not look right; please check it.",
            _ => "The settings could not be saved. Please try again.",
        })
    };
    // Every quality any engine may take; an engine without the chosen one uses its own.
    let qualities = [Quality::Low, Quality::Medium, Quality::High, Quality::XHigh, Quality::Max];
    view! {
        <section class="settings">
            <h1>"Settings"</h1>
            {move || error().map(|e| view! { <p role="alert" class="alert">{e}</p> })}
            {move || saved().then(|| view! { <p role="status" class="notice">"Settings saved."</p> })}
            <form method="post" action="/settings" class="auth-form">
                <label>
                    "Default aspect ratio"
                    <select name="aspect">
                        {AspectRatio::ALL.into_iter().map(|a| view! {
                            <option value=a.id() selected=a == preferences.aspect>{a.label()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    "Default quality"
                    <select name="quality">
                        <option value="" selected=preferences.quality.is_none()>"The engine's default"</option>
                        {qualities.into_iter().map(|q| view! {
                            <option value=q.as_str() selected=preferences.quality == Some(q)>{q.label()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    "Email"
                    <input type="email" name="email" autocomplete="email" maxlength="254" value=preferences.email.clone().unwrap_or_default()/>
                </label>
                <p class="muted">
                    "Optional: one email when you have used 80 % of an hour's, a day's or a month's images, and one when a limit or your spending budget is reached."
                </p>
                <p class="muted">
                    "Words in a message (\"wide\", \"in watercolor\") and the row above the message box still win."
                </p>
                <button type="submit">"Save settings"</button>
            </form>
        </section>
    }
}
