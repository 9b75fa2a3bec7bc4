//! `/account`: change the password, or sign out on every device. Plain forms posting to the
//! server's `/auth/*` routes, so they work before hydration; the outcome comes back as
//! `?done=` or `?error=`.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{auth_pages::Landing, layout::ChatLayout, viewer_resource};
use crate::auth_form::AuthProblem;

#[component]
pub fn AccountPage() -> impl IntoView {
    let viewer = viewer_resource();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match viewer.await.ok().flatten() {
                    None => view! { <Landing/> }.into_any(),
                    Some(user) => view! { <ChatLayout user><AccountForms/></ChatLayout> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AccountForms() -> impl IntoView {
    let query = use_query_map();
    let problem = move || query.read().get("error").and_then(|c| AuthProblem::from_code(&c));
    let changed = move || query.read().get("done").is_some_and(|d| d == "password");
    view! {
        <section class="account">
            <h1>"Account"</h1>
            {move || problem().map(|p| view! { <p role="alert" class="alert">{p.message()}</p> })}
            {move || changed().then(|| view! {
                <p role="status" class="notice">"Password changed. Your other devices were signed out."</p>
            })}
            <h2>"Change password"</h2>
            <form method="post" action="/auth/password" class="auth-form">
                <label>
                    "Current password"
                    <input name="current" type="password" autocomplete="current-password" required maxlength="128"/>
                </label>
                <label>
                    "New password"
                    <input name="new" type="password" autocomplete="new-password" required minlength="8" maxlength="128"/>
                </label>
                <button type="submit">"Change password"</button>
            </form>
            <h2>"Devices"</h2>
            <p class="muted">"Signs this browser and every other one out, and closes their open tabs."</p>
            <form method="post" action="/auth/logout-everywhere">
                <button type="submit" class="secondary">"Sign out everywhere"</button>
            </form>
        </section>
    }
}
