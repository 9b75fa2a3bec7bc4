//! `/`: the landing page for visitors, the thread list and an invitation for users.

use leptos::prelude::*;

use super::{auth_pages::Landing, layout::ChatLayout, use_chat_state, viewer_resource};

#[component]
pub fn HomePage() -> impl IntoView {
    let viewer = viewer_resource();
    let state = use_chat_state();
    Effect::new(move |_| state.update(|s| s.open = None));
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match viewer.await {
                    Ok(Some(user)) => view! {
                        <ChatLayout user>
                            <section class="empty-state">
                                <h1>"Start a conversation"</h1>
                                <p>"Pick a thread on the left, or press New chat."</p>
                            </section>
                        </ChatLayout>
                    }.into_any(),
                    _ => view! { <Landing/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
