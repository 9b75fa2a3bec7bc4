//! An image job inside an assistant message: live progress with Cancel while it runs, the
//! image (with `srcset`, a link to the full size and the prompts) when it is done, a
//! readable failure with Retry when retrying makes sense.

use leptos::prelude::*;

use super::image_row::use_row;
use super::{is_online, new_client_id, use_chat_state, Outbound};
use crate::protocol::{
    dollars, elapsed_text, CancelJob, ClientMsg, ImageInfo, JobId, JobStage, JobStatus, JobView, ProviderKind,
    RetryJob, ThreadId, Variant,
};

#[component]
pub fn JobCard(job: JobView) -> impl IntoView {
    match job.status {
        JobStatus::Running => view! { <RunningJob job/> }.into_any(),
        JobStatus::Complete if job.images.is_empty() => {
            view! { <p class="muted">"This image was deleted."</p> }.into_any()
        }
        JobStatus::Complete => view! { <FinishedJob job/> }.into_any(),
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

pub(crate) fn srcset(image: &ImageInfo) -> String {
    image.variants.iter().map(|w| format!("{} {w}w", image.url(Variant::Width(*w)))).collect::<Vec<_>>().join(", ")
}

#[component]
fn FinishedJob(job: JobView) -> impl IntoView {
    let made_by = if job.provider == ProviderKind::Builtin {
        "Made offline by the built-in renderer".to_string()
    } else {
        format!("Made by {} ({})", job.provider.name(), job.model)
    };
    let lineage = job.refines.map(|earlier| view! { <Lineage earlier/> });
    let count = job.images.len();
    let images = job.images.iter().enumerate().map(|(index, image)| {
        view! { <JobImage job=job.clone() image=image.clone() index count/> }
    });
    let images = images.collect_view();
    let many = count > 1;
    let anchor = format!("job-{}", job.id);
    let (asked, sent, revised) = (job.prompt.clone(), job.enhanced_prompt.clone(), job.revised_prompt.clone());
    view! {
        <figure class="job finished" id=anchor>
            <div class="image-grid" class:many=many>{images}</div>
            <figcaption class="made-by">{made_by}</figcaption>
            {lineage}
            <JobActions job=job.clone()/>
            <details class="prompts">
                <summary>"Prompts and settings"</summary>
                <dl>
                    <dt>"You asked for"</dt>
                    <dd>{asked}</dd>
                    <dt>"Sent to the provider"</dt>
                    <dd>{sent}</dd>
                    {revised.map(|r| view! { <dt>"The provider's revision"</dt><dd>{r}</dd> })}
                </dl>
                <ParamsCard job/>
            </details>
        </figure>
    }
}

/// One image of a job: opens full size, with Refine (names it for the next message) and
/// Download.
#[component]
fn JobImage(job: JobView, image: ImageInfo, index: usize, count: usize) -> impl IntoView {
    let row = use_row();
    // One of several says which: "a fox (2 of 3)"; a single image is named by its prompt alone.
    let alt = match count {
        1 => job.enhanced_prompt.clone(),
        _ => format!("{} ({} of {count})", job.enhanced_prompt, index + 1),
    };
    let label = match count {
        1 => format!("Changing: {}", job.subject),
        _ => format!("Changing image {} of {count}: {}", index + 1, job.subject),
    };
    let for_row = image.clone();
    let sizes = if count > 1 { "(min-width: 760px) 18rem, 44vw" } else { "(min-width: 760px) 36rem, 88vw" };
    let refine = {
        let (image, label) = (for_row.clone(), label.clone());
        move |_| {
            if let Some(row) = row {
                row.refine(image.clone(), label.clone());
                focus_composer();
            }
        }
    };
    let edit_area = move |_| {
        if let Some(row) = row {
            row.refine(for_row.clone(), label.clone());
            row.painting.set(Some(for_row.clone()));
        }
    };
    view! {
        <div class="job-image">
            <a href=image.url(Variant::Full) target="_blank" rel="noopener">
                <img
                    src=image.url(image.largest())
                    srcset=srcset(&image)
                    sizes=sizes
                    width=image.width.to_string()
                    height=image.height.to_string()
                    alt=alt
                />
            </a>
            <div class="image-actions">
                <button type="button" class="secondary" on:click=refine>"Refine"</button>
                <button type="button" class="secondary" on:click=edit_area>"Edit area"</button>
                <a href=image.url(Variant::Full) download=format!("easel-{}.png", image.id)>"Download"</a>
            </div>
        </div>
    }
}

/// Reuse settings (the job's into the row, seed included) and More like this (the same
/// prompt and settings again, with a new seed).
#[component]
fn JobActions(job: JobView) -> impl IntoView {
    let state = use_chat_state();
    let outbound = StoredValue::new(expect_context::<Outbound>());
    let row = use_row();
    let params = job.params.clone();
    let engine = job.provider;
    let reuse = {
        let params = params.clone();
        move |_| {
            if let (Some(row), Some(p)) = (row, &params) {
                row.options.set(p.options(engine, true));
                focus_composer();
            }
        }
    };
    let thread = StoredValue::new(None::<ThreadId>);
    let job_id = job.id;
    let prompt = format!("/imagine {}", job.enhanced_prompt);
    let again = move |_| {
        let options = params.as_ref().map(|p| p.options(engine, false)).unwrap_or_default();
        let Some(thread_id) = thread.get_value().or_else(|| state.with_untracked(|s| thread_of(s, job_id))) else {
            return;
        };
        thread.set_value(Some(thread_id));
        let frame = state.try_update(|s| s.queue_send(thread_id, new_client_id(), prompt.clone(), options));
        if let (Some(frame), true) = (frame, is_online(state)) {
            outbound.with_value(|o| o.send(frame));
        }
    };
    view! {
        <div class="job-actions">
            <button type="button" class="secondary" on:click=reuse disabled=job.params.is_none()>"Reuse settings"</button>
            <button type="button" class="secondary" on:click=again>"More like this"</button>
        </div>
    }
}

/// The thread holding `job`, from the tab's logs.
fn thread_of(state: &crate::chat_state::ChatState, job: JobId) -> Option<ThreadId> {
    state
        .logs
        .iter()
        .find_map(|(id, log)| log.messages.iter().any(|m| m.job.as_ref().is_some_and(|j| j.id == job)).then_some(*id))
}

/// What a job was made with: engine, model, size, quality, seed, steps and cost.
#[component]
pub(crate) fn ParamsCard(job: JobView) -> impl IntoView {
    let cost = match job.cost_micros {
        Some(m) => dollars(m),
        None if job.provider == ProviderKind::Builtin => dollars(0),
        None => "not recorded".to_string(),
    };
    let p = job.params.clone();
    view! {
        <dl class="params">
            <dt>"Engine"</dt>
            <dd>{job.provider.name()}</dd>
            <dt>"Model"</dt>
            <dd>{job.model.clone()}</dd>
            {p.clone().map(|p| view! {
                <dt>"Size"</dt>
                <dd>{format!("{} × {} ({})", p.width, p.height, p.aspect.label())}</dd>
                <dt>"Quality"</dt>
                <dd>{p.quality.map_or("default", |q| q.label())}</dd>
                <dt>"Images"</dt>
                <dd>{p.count.max(1)}</dd>
            })}
            {p.as_ref().and_then(|p| p.seed).map(|s| view! { <dt>"Seed"</dt><dd>{s}</dd> })}
            {p.as_ref().and_then(|p| p.steps).map(|s| view! { <dt>"Steps"</dt><dd>{s}</dd> })}
            <dt>"Cost"</dt>
            <dd>{cost}</dd>
        </dl>
    }
}

/// Puts the cursor in the message box (after Refine or Reuse settings).
pub(crate) fn focus_composer() {
    #[cfg(feature = "hydrate")]
    if let Some(el) = leptos::prelude::document().get_element_by_id("composer-text") {
        use leptos::wasm_bindgen::JsCast;
        if let Ok(el) = el.dyn_into::<web_sys::HtmlElement>() {
            let _ = el.focus();
        }
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
