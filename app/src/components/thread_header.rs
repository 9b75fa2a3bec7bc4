//! A thread's title with Rename and Delete. Both go over the socket, so every tab of the
//! user sees the change; a delete asks for confirmation first.

use leptos::prelude::*;

use super::{use_chat_state, Outbound};
use crate::protocol::{ClientMsg, DeleteThread, RenameThread, ThreadId, MAX_TITLE_CHARS};

#[component]
pub fn ThreadHeader(id: ThreadId, title: Signal<String>) -> impl IntoView {
    // Stored so the handlers below are `Copy` and can live in the re-rendering branches.
    let outbound = StoredValue::new(expect_context::<Outbound>());
    let state = use_chat_state();
    let editing = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let draft = RwSignal::new(String::new());

    let start_rename = move |_| {
        draft.set(title.get_untracked());
        editing.set(true);
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let new_title = draft.get_untracked().trim().to_string();
        if !new_title.is_empty() {
            outbound.with_value(|o| o.send(ClientMsg::RenameThread(RenameThread { thread_id: id, title: new_title })));
        }
        editing.set(false);
    };
    let delete = move |_| {
        state.update(|s| {
            s.deleted.insert(id);
        });
        outbound.with_value(|o| o.send(ClientMsg::DeleteThread(DeleteThread { thread_id: id })));
    };

    view! {
        <header class="thread-header">
            <Show
                when=move || editing.get()
                fallback=move || view! {
                    <h1>{move || title.get()}</h1>
                    <div class="thread-actions">
                        <button type="button" class="secondary" on:click=start_rename>"Rename"</button>
                        <a class="button-link" href=format!("/threads/{id}/export.zip") download="">"Export images"</a>
                        <form method="post" action=format!("/threads/{id}/share")>
                            <button type="submit" class="secondary">"Share thread"</button>
                        </form>
                        <Show
                            when=move || confirming.get()
                            fallback=move || view! {
                                <button type="button" class="secondary" on:click=move |_| confirming.set(true)>"Delete"</button>
                            }
                        >
                            <span>"Delete this thread?"</span>
                            <button type="button" class="danger" on:click=delete>"Confirm delete"</button>
                            <button type="button" class="secondary" on:click=move |_| confirming.set(false)>"Keep"</button>
                        </Show>
                    </div>
                }
            >
                <form class="rename" on:submit=save>
                    <label>
                        "Thread title"
                        <input
                            maxlength=MAX_TITLE_CHARS.to_string()
                            prop:value=move || draft.get()
                            on:input=move |ev| draft.set(event_target_value(&ev))
                        />
                    </label>
                    <button type="submit">"Save"</button>
                    <button type="button" class="secondary" on:click=move |_| editing.set(false)>"Cancel"</button>
                </form>
            </Show>
        </header>
    }
}
