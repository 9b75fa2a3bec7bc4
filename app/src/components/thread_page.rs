//! `/threads/{id}`: one thread. The server renders its messages from [`load_thread`]; once
//! hydrated, the tab's live state takes over and the page follows every change.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::image_row::Row;
use super::{
    auth_pages::Landing, composer::Composer, is_online, layout::ChatLayout, thread_header::ThreadHeader,
    transcript::Transcript, use_chat_state, viewer_resource, Outbound,
};
use crate::api::load_thread;
use crate::protocol::{ClientMsg, OpenThread, ThreadHistory, ThreadId};

#[component]
pub fn ThreadPage() -> impl IntoView {
    let params = use_params_map();
    let thread_id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok()).map(ThreadId);
    let viewer = viewer_resource();
    let initial = Resource::new(thread_id, |id| async move {
        match id {
            Some(id) => load_thread(id).await,
            None => Ok(None),
        }
    });

    let state = use_chat_state();
    let outbound = expect_context::<Outbound>();
    Effect::new(move |_| {
        let Some(id) = thread_id() else { return };
        state.update(|s| s.open = Some(id));
        if is_online(state) {
            let after_seq = state.with_untracked(|s| s.logs.get(&id).map(|l| l.last_seq()));
            outbound.send(ClientMsg::OpenThread(OpenThread { thread_id: id, after_seq }));
        }
    });

    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let user = viewer.await.ok().flatten();
                let thread = initial.await.ok().flatten();
                match (user, thread) {
                    (None, _) => view! { <Landing/> }.into_any(),
                    (Some(user), Some(history)) => view! {
                        <ChatLayout user><ThreadView history/></ChatLayout>
                    }.into_any(),
                    (Some(user), None) => view! {
                        <ChatLayout user>
                            <p class="notice" role="alert">"This thread does not exist, or it is not yours."</p>
                        </ChatLayout>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The thread itself: live state when the tab has it, else what the server rendered.
#[component]
fn ThreadView(history: ThreadHistory) -> impl IntoView {
    let state = use_chat_state();
    let id = history.thread.id;
    let initial_title = history.thread.title.clone();
    let title = Signal::derive(move || {
        state.with(|s| s.summary(id).map(|t| t.title.clone())).unwrap_or_else(|| initial_title.clone())
    });
    let initial_messages = history.messages;
    let messages = Signal::derive(move || {
        state.with(|s| s.logs.get(&id).map(|l| l.messages.clone())).unwrap_or_else(|| initial_messages.clone())
    });
    let initial_older = history.has_older;
    let has_older =
        Signal::derive(move || state.with(|s| s.logs.get(&id).map(|l| l.has_older)).unwrap_or(initial_older));
    let pending = Signal::derive(move || state.with(|s| s.pending_in(id)));
    let deleted = move || state.with(|s| s.deleted.contains(&id));
    // The composer's row, which the images' Refine and Reuse settings buttons also set.
    provide_context(Row::new());
    view! {
        <Show when=move || !deleted() fallback=|| view! { <p class="notice" role="alert">"This thread was deleted."</p> }>
            <div class="thread">
                <ThreadHeader id title/>
                <Transcript thread=id messages pending has_older/>
                <Composer id/>
            </div>
        </Show>
    }
}
