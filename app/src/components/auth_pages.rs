//! Sign-up, log-in and the visitor's landing page. The forms post to the server's `/auth/*`
//! routes, so they work before (and without) hydration; a refusal comes back as `?error=`.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::auth_form::AuthProblem;

/// What a visitor sees at `/`.
#[component]
pub fn Landing() -> impl IntoView {
    view! {
        <main class="landing">
            <h1>"Easel"</h1>
            <p>"Chat with an assistant that makes images. Your threads follow you across every tab."</p>
            <p class="landing-actions">
                <a class="button" href="/signup">"Sign up"</a>
                <a class="button secondary" href="/login">"Log in"</a>
            </p>
        </main>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    view! {
        <AccountForm
            title="Log in"
            action="/auth/login"
            password_autocomplete="current-password"
            other_href="/signup"
            other_text="No account yet? Sign up"
        />
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    view! {
        <AccountForm
            title="Sign up"
            action="/auth/signup"
            password_autocomplete="new-password"
            other_href="/login"
            other_text="Have an account? Log in"
        />
    }
}

#[component]
fn AccountForm(
    title: &'static str,
    action: &'static str,
    password_autocomplete: &'static str,
    other_href: &'static str,
    other_text: &'static str,
) -> impl IntoView {
    let query = use_query_map();
    let problem = move || query.read().get("error").and_then(|c| AuthProblem::from_code(&c));
    // The initial value only (an attribute, not a property): hydration must never wipe what
    // someone typed before the page became interactive.
    let username = query.read_untracked().get("username").unwrap_or_default();
    view! {
        <main class="auth">
            <h1>{title}</h1>
            {move || problem().map(|p| view! { <p role="alert" class="alert">{p.message()}</p> })}
            <form method="post" action=action class="auth-form">
                <label>
                    "Username"
                    <input name="username" autocomplete="username" required minlength="3" maxlength="32" value=username/>
                </label>
                <label>
                    "Password"
                    <input name="password" type="password" autocomplete=password_autocomplete required minlength="8" maxlength="128"/>
                </label>
                <button type="submit">{title}</button>
            </form>
            <p><a href=other_href>{other_text}</a></p>
        </main>
    }
}
