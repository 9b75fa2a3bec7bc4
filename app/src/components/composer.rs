//! The message box. Hydrated, it queues the text in the tab's outbox and sends it over the
//! socket (resent after a reconnect until the server echoes it); before hydration or without
//! JavaScript it is a plain form post.

use leptos::prelude::*;

use super::attach::AttachButton;
use super::image_row::{use_row, ImageRow};
use super::{is_online, new_client_id, quota_bar::QuotaBar, use_chat_state, Outbound};
use crate::protocol::{ThreadId, MAX_MESSAGE_CHARS};

#[component]
pub fn Composer(id: ThreadId) -> impl IntoView {
    let state = use_chat_state();
    let outbound = expect_context::<Outbound>();
    // Uncontrolled: the text lives in the textarea itself, read on submit and cleared after.
    // A bound value would be reset by hydration and wipe what was typed before it.
    let input = NodeRef::<leptos::html::Textarea>::new();
    let row = use_row();

    let submit = move || {
        let Some(el) = input.get_untracked() else { return };
        let body = el.value();
        if body.trim().is_empty() {
            return;
        }
        let options = row.map(|r| r.take()).unwrap_or_default();
        let frame = state.try_update(|s| s.queue_send(id, new_client_id(), body, options));
        if let (Some(frame), true) = (frame, is_online(state)) {
            outbound.send(frame);
        }
        el.set_value("");
    };
    let on_submit = {
        let submit = submit.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            submit();
        }
    };
    // A picture dropped on the composer, or pasted into it, is attached.
    let on_drop = move |ev: leptos::ev::DragEvent| {
        #[cfg(feature = "hydrate")]
        {
            let files = super::attach::picture_files(ev.data_transfer().and_then(|d| d.files()));
            if let (Some(row), false) = (row, files.is_empty()) {
                ev.prevent_default();
                super::attach::attach_files(row, files);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    let on_paste = move |ev: leptos::ev::ClipboardEvent| {
        #[cfg(feature = "hydrate")]
        {
            let files = super::attach::picture_files(ev.clipboard_data().and_then(|d| d.files()));
            if let (Some(row), false) = (row, files.is_empty()) {
                ev.prevent_default();
                super::attach::attach_files(row, files);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            submit();
        }
    };

    view! {
        <div class="composer-dock">
            <QuotaBar/>
            <ImageRow/>
            <form
                class="composer"
                method="post"
                action=format!("/threads/{id}/messages")
                on:submit=on_submit
                on:drop=on_drop
                on:dragover=|ev: leptos::ev::DragEvent| ev.prevent_default()
                on:paste=on_paste
            >
                {row.map(|row| view! { <AttachButton row/> })}
                <label for="composer-text" class="visually-hidden">"Message"</label>
                <textarea
                    id="composer-text"
                    name="text"
                    rows="2"
                    placeholder="Message Easel…"
                    maxlength=MAX_MESSAGE_CHARS.to_string()
                    node_ref=input
                    on:keydown=on_keydown
                ></textarea>
                <button type="submit">"Send"</button>
            </form>
        </div>
    }
}
