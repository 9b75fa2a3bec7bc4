//! What the user may still generate, just above the composer: the tightest window's
//! "3 of 10 daily generations left", a countdown while a cooldown runs, and the 80 % notice.
//! The numbers arrive over the socket whenever they change; the countdown ticks locally from
//! the moment they arrived, so it needs no clock agreement with the server.

use leptos::prelude::*;

use super::use_chat_state;
use crate::protocol::{dollars, wait_phrase, QuotaView};

#[component]
pub fn QuotaBar() -> impl IntoView {
    let state = use_chat_state();
    let quota = Memo::new(move |_| state.with(|s| s.quota.clone()));
    let cooldown_left = cooldown_countdown(quota);

    move || {
        quota.get().map(|q| {
            let spend = format!("{} of {} monthly budget used", dollars(q.spent_micros), dollars(q.spend_cap_micros));
            let summary = q.summary();
            let notice = q.notice();
            view! {
                <div class="quota">
                    <p class="quota-left" role="status" title=spend>
                        {summary}
                        {move || {
                            let left = cooldown_left.get();
                            (left > 0).then(|| view! { <span class="quota-wait">" · next image in " {wait_phrase(left)}</span> })
                        }}
                    </p>
                    {notice.map(|n| view! { <p class="quota-notice" role="note">{n}</p> })}
                </div>
            }
        })
    }
}

/// Milliseconds of cooldown left, ticking down every second in the browser.
fn cooldown_countdown(quota: Memo<Option<QuotaView>>) -> ReadSignal<i64> {
    let (left, set_left) = signal(0i64);
    #[cfg(feature = "hydrate")]
    {
        use std::time::Duration;
        let handle = StoredValue::new(None::<IntervalHandle>);
        Effect::new(move |_| {
            let total = quota.with(|q| q.as_ref().map_or(0, |q| q.cooldown_ms));
            if let Some(h) = handle.get_value() {
                h.clear();
            }
            set_left.set(total);
            if total <= 0 {
                return;
            }
            let started = js_sys::Date::now();
            let tick = move || {
                let elapsed = (js_sys::Date::now() - started) as i64;
                set_left.set((total - elapsed).max(0));
            };
            handle.set_value(set_interval_with_handle(tick, Duration::from_millis(500)).ok());
        });
        on_cleanup(move || {
            if let Some(h) = handle.get_value() {
                h.clear();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (quota, set_left);
    left
}
