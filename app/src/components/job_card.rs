//! An image job inside an assistant message: live progress with Cancel while it runs, the
//! image (with `srcset`, a link to the full size and the prompts) when it is done, a
//! readable failure with Retry when retrying makes sense.

use leptos::prelude::*;

use super::{use_chat_state, Outbound};
use crate::protocol::{
    elapsed_text, CancelJob, ClientMsg, ImageInfo, JobId, JobStage, JobStatus, JobView, ProviderKind, RetryJob, Variant,
};

#[component]
pub fn JobCard(job: JobView) -> impl IntoView {
    match job.status {
        JobStatus::Running => view! { <RunningJob job/> }.into_any(),
        JobStatus::Complete => match job.image.clone() {
            Some(image) => view! { <FinishedImage job image/> }.into_any(),
            None => view! { <p role="alert" class="alert">"The image is missing."</p> }.into_any(),
        },
        JobStatus::Failed | JobStatus::Interrupted | JobStatus::Cancelled => view! { <EndedJob job/> }.into_any(),
    }
}

#[component]
fn RunningJob(job: JobView) -> impl IntoView {
    let state = use_chat_state();
    let outbound = StoredValue::new(expect_context::<Outbound>());
    let id = job.id;
    let (stage, subject) = (job.stage, job.subject.clone());
    let progress = move || state.with(|s| s.progress.get(&id).cloned());
    let percent = move || progress().map_or(stage.percent(), |p| p.percent);
    let detail = move || progress().map_or_else(|| stage.describe(&subject), |p| p.detail);
    let preview = move || progress().and_then(|p| p.preview);
    // Generating without step counts (OpenAI, compatible servers): the bar cannot say how far
    // along it is, so it moves on its own while the elapsed time shows it is alive.
    let indeterminate = move || {
        progress().map_or(stage, |p| p.stage) == JobStage::Generating && progress().and_then(|p| p.steps).is_none()
    };
    let elapsed = elapsed_since(job.started_at);
    let cancel = move |_| outbound.with_value(|o| o.send(ClientMsg::CancelJob(CancelJob { job_id: id })));
    view! {
        <div class="job running">
            <p class="job-status">{detail.clone()}</p>
            <p class="job-elapsed muted">{move || elapsed.get().map(|ms| format!("{} elapsed", elapsed_text(ms)))}</p>
            <div
                class="progress"
                class:indeterminate=indeterminate
                role="progressbar"
                aria-label="Image progress"
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=move || percent().to_string()
                aria-valuetext=detail
            >
                <div class="progress-bar" style:width=move || format!("{}%", percent())></div>
            </div>
            {move || preview().map(|n| view! {
                <img class="preview" src=format!("/jobs/{id}/preview?n={n}") alt="Preview, still in progress" width="192" height="192"/>
            })}
            <button type="button" class="secondary" on:click=cancel>"Cancel"</button>
        </div>
    }
}

/// Milliseconds since `started_at` (Unix ms), ticking every second in the browser; `None`
/// on the server and before the first tick, so the server's page and hydration agree.
fn elapsed_since(started_at: Option<i64>) -> ReadSignal<Option<i64>> {
    let (elapsed, set_elapsed) = signal(None::<i64>);
    #[cfg(feature = "hydrate")]
    if let Some(start) = started_at {
        use std::time::Duration;
        let tick = move || set_elapsed.set(Some((js_sys::Date::now() as i64 - start).max(0)));
        if let Ok(handle) = set_interval_with_handle(tick, Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (started_at, set_elapsed);
    elapsed
}

fn srcset(image: &ImageInfo) -> String {
    image.variants.iter().map(|w| format!("{} {w}w", image.url(Variant::Width(*w)))).collect::<Vec<_>>().join(", ")
}

#[component]
fn FinishedImage(job: JobView, image: ImageInfo) -> impl IntoView {
    let made_by = if job.provider == ProviderKind::Builtin {
        "Made offline by the built-in renderer".to_string()
    } else {
        format!("Made by {} ({})", job.provider.name(), job.model)
    };
    let lineage = job.refines.map(|earlier| view! { <Lineage earlier/> });
    view! {
        <figure class="job image" id=format!("job-{}", job.id)>
            <a href=image.url(Variant::Full) target="_blank" rel="noopener">
                <img
                    src=image.url(image.largest())
                    srcset=srcset(&image)
                    sizes="(min-width: 760px) 36rem, 88vw"
                    width=image.width.to_string()
                    height=image.height.to_string()
                    alt=job.enhanced_prompt.clone()
                />
            </a>
            <figcaption>{made_by}</figcaption>
            {lineage}
            <details class="prompts">
                <summary>"Prompts"</summary>
                <dl>
                    <dt>"You asked for"</dt>
                    <dd>{job.prompt.clone()}</dd>
                    <dt>"Sent to the provider"</dt>
                    <dd>{job.enhanced_prompt.clone()}</dd>
                    {job.revised_prompt.clone().map(|r| view! { <dt>"The provider's revision"</dt><dd>{r}</dd> })}
                </dl>
            </details>
        </figure>
    }
}

/// "Refines: a red fox in the snow", linking to the image it changed.
#[component]
fn Lineage(earlier: JobId) -> impl IntoView {
    let state = use_chat_state();
    let prompt = move || {
        state.with(|s| {
            s.logs
                .values()
                .flat_map(|l| l.messages.iter())
                .find_map(|m| m.job.as_ref().filter(|j| j.id == earlier).map(|j| j.enhanced_prompt.clone()))
        })
    };
    view! {
        <p class="lineage">
            "Refines "
            <a href=format!("#job-{earlier}")>{move || prompt().unwrap_or_else(|| "an earlier image".into())}</a>
        </p>
    }
}

#[component]
fn EndedJob(job: JobView) -> impl IntoView {
    let outbound = StoredValue::new(expect_context::<Outbound>());
    let id: JobId = job.id;
    let retry = move |_| outbound.with_value(|o| o.send(ClientMsg::RetryJob(RetryJob { job_id: id })));
    let (text, can_retry) = match (&job.status, &job.error) {
        (JobStatus::Cancelled, _) => ("Generation cancelled.".to_string(), true),
        (_, Some(e)) => (e.message.clone(), e.retryable),
        (_, None) => ("Generation failed, please try again.".to_string(), true),
    };
    let is_alert = job.status != JobStatus::Cancelled;
    view! {
        <div class="job ended">
            {if is_alert {
                view! { <p role="alert" class="alert">{text}</p> }.into_any()
            } else {
                view! { <p class="muted">{text}</p> }.into_any()
            }}
            <Show when=move || can_retry>
                <button type="button" on:click=retry>"Retry"</button>
            </Show>
        </div>
    }
}
