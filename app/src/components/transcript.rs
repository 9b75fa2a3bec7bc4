//! The `role="log"` transcript: stored messages, then the user's messages still in flight.

use leptos::prelude::*;

use super::job_card::JobCard;
use super::Outbound;
use crate::chat_state::Pending;
use crate::protocol::{ChatMessage, ClientMsg, LoadOlder, Role, ThreadId};

#[component]
pub fn Transcript(
    thread: ThreadId,
    messages: Signal<Vec<ChatMessage>>,
    pending: Signal<Vec<Pending>>,
    /// Earlier messages exist than the first shown: a button fetches the page before it.
    has_older: Signal<bool>,
) -> impl IntoView {
    let empty = move || messages.with(Vec::is_empty) && pending.with(Vec::is_empty);
    let log = NodeRef::<leptos::html::Section>::new();
    // Keep the newest message in view as messages arrive or grow, not when an earlier page is
    // put in front (browser only: effects do not run on the server).
    Effect::new(move |_| {
        messages.with(|m| m.last().map(|m| (m.id, m.text.len())));
        pending.track();
        if let Some(el) = log.get() {
            el.set_scroll_top(el.scroll_height());
        }
    });
    let outbound = use_context::<Outbound>();
    let load_older = move |_| {
        if let (Some(outbound), Some(before_seq)) = (&outbound, messages.with(|m| m.first().map(|m| m.seq))) {
            outbound.send(ClientMsg::LoadOlder(LoadOlder { thread_id: thread, before_seq }));
        }
    };
    view! {
        <section node_ref=log role="log" aria-label="Transcript" aria-live="polite" class="transcript">
            <Show when=move || has_older.get()>
                <button type="button" class="secondary load-older" on:click=load_older.clone()>"Load earlier messages"</button>
            </Show>
            <Show when=empty>
                <p class="muted">"No messages yet. Say hello."</p>
            </Show>
            // Keyed by the job's state and the text's length too, so a message re-renders when
            // its job moves on or a streamed reply grows.
            <For
                each=move || messages.get()
                key=|m| (m.id, m.text.len(), m.job.as_ref().map(|j| (j.status, j.stage, j.images.first().map(|i| i.id))))
                children=|m| view! { <MessageItem message=m/> }
            />
            <For
                each=move || pending.get()
                key=|p| (p.client_id.clone(), p.error.clone())
                children=|p| {
                    let busy = p.error.is_none().to_string();
                    view! {
                    <article class="message user pending" aria-busy=busy>
                        <p class="body">{p.text}</p>
                        {match p.error {
                            Some(e) => view! { <p role="alert" class="alert">{e}</p> }.into_any(),
                            None => view! { <p class="muted">"Sending…"</p> }.into_any(),
                        }}
                    </article>
                    }
                }
            />
        </section>
    }
}

#[component]
fn MessageItem(message: ChatMessage) -> impl IntoView {
    let (class, author) = match message.role {
        Role::User => ("message user", "You"),
        Role::Assistant => ("message assistant", "Easel"),
    };
    let body = match message.job {
        Some(job) => view! { <JobCard job/> }.into_any(),
        // A streamed reply before its first words.
        None if message.text.is_empty() => view! { <p class="body muted" aria-busy="true">"…"</p> }.into_any(),
        None => view! { <p class="body">{message.text}</p> }.into_any(),
    };
    view! {
        <article class=class aria-label=format!("{author}, message {}", message.seq)>
            <p class="author">{author}</p>
            {body}
        </article>
    }
}
