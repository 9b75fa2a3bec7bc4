//! The signed-in frame: top bar, the "Threads" navigation and the connection state.
//! It also starts the tab's socket (once per tab) when it first hydrates.

use leptos::prelude::*;
use leptos_router::components::A;

use super::{new_client_id, use_chat_state, Outbound};
use crate::api::list_threads;
use crate::chat_state::Connection;
use crate::protocol::{ClientMsg, CreateThread, UserInfo};

#[component]
pub fn ChatLayout(user: UserInfo, children: Children) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    crate::live::ensure_started(use_chat_state(), expect_context::<Outbound>(), leptos_router::hooks::use_navigate());
    view! {
        <div class="layout">
            <header class="topbar">
                <a class="brand" href="/">"Easel"</a>
                <ConnectionBanner/>
                {user.admin.then(|| view! { <a class="admin-link" href="/admin">"Admin"</a> })}
                <a class="gallery-link" href="/gallery">"Gallery"</a>
                <a class="settings-link" href="/settings">"Settings"</a>
                <a class="who" href="/account" title="Account">{user.username}</a>
                <form method="post" action="/auth/logout">
                    <button type="submit" class="secondary">"Log out"</button>
                </form>
            </header>
            <nav aria-label="Threads" class="sidebar">
                <NewChatButton/>
                <ThreadList/>
            </nav>
            <main class="main">{children()}</main>
        </div>
    }
}

/// Shown only while the socket is down after having been up.
#[component]
fn ConnectionBanner() -> impl IntoView {
    let state = use_chat_state();
    let text = move || match state.with(|s| s.connection) {
        Connection::Reconnecting => Some("Reconnecting…"),
        Connection::Restarting => Some("The server is restarting; this page will reconnect by itself."),
        Connection::Connecting | Connection::Online => None,
    };
    view! {
        <Show when=move || text().is_some()>
            <span role="status" class="connection">{text}</span>
        </Show>
    }
}

/// A form so it works before hydration (the server creates the thread and redirects);
/// once hydrated it goes over the socket and this tab opens the thread when it is echoed.
#[component]
fn NewChatButton() -> impl IntoView {
    let state = use_chat_state();
    let outbound = expect_context::<Outbound>();
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let client_id = new_client_id();
        state.update(|s| s.awaiting_create = Some(client_id.clone()));
        outbound.send(ClientMsg::CreateThread(CreateThread { client_id, title: None }));
    };
    view! {
        <form method="post" action="/threads" on:submit=create>
            <button type="submit" class="new-chat">"New chat"</button>
        </form>
    }
}

#[component]
fn ThreadList() -> impl IntoView {
    let state = use_chat_state();
    let initial = Resource::new(|| (), |_| list_threads());
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading threads…"</p> }>
            {move || Suspend::new(async move {
                let initial = initial.await.unwrap_or_default();
                let threads = move || state.with(|s| s.threads.clone()).unwrap_or_else(|| initial.clone());
                let listed = threads.clone();
                view! {
                    <Show when=move || !listed().is_empty() fallback=|| view! { <p class="muted">"No threads yet."</p> }>
                        <ul class="thread-list">
                            <For
                                each=threads.clone()
                                key=|t| (t.id, t.title.clone())
                                children=|t| view! {
                                    <li><A href=format!("/threads/{}", t.id)>{t.title}</A></li>
                                }
                            />
                        </ul>
                    </Show>
                }
            })}
        </Suspense>
    }
}
