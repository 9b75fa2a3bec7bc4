//! The composer's row of settings for the next image: shape, quality, how many, which
//! engine, a seed where the engine takes one, and the price before Send ("≈ $0.05") from the
//! server's rate table. A choice left on "Auto"/"Default" lets the message's words, the
//! thread's memory and the user's defaults decide (see the server's `chat::options`).
//! Job cards set the row too: Refine names the image to change, Reuse settings copies a job's.

use leptos::prelude::*;

use super::mask_painter::MaskPainter;
use super::use_chat_state;
use crate::protocol::{
    estimate_text, AspectRatio, ImageChoices, ImageId, ImageInfo, ImageOptions, ProviderKind, Quality, Variant,
    MAX_IMAGES_PER_REQUEST,
};

/// The mask painter in its own WASM chunk (`#[lazy]`, split by `cargo leptos build --split`):
/// most visits never paint, so the chat page's bundle does not carry it.
#[lazy]
fn mask_painter(image: ImageInfo, row: Row) -> AnyView {
    view! { <MaskPainter image row/> }.into_any()
}

/// The row's state for one thread page; job cards write it, the composer reads it on Send.
#[derive(Clone, Copy)]
pub struct Row {
    pub options: RwSignal<ImageOptions>,
    /// What the Refine chip says of the image named in `options.source`.
    pub source_label: RwSignal<Option<String>>,
    /// The named image itself, for its thumbnail and the mask painter.
    pub source: RwSignal<Option<ImageInfo>>,
    /// The image being painted on (the painter is open).
    pub painting: RwSignal<Option<ImageInfo>>,
    /// An upload's or a mask's refusal, said in the row.
    pub problem: RwSignal<Option<String>>,
}

impl Row {
    pub fn new() -> Self {
        Self {
            options: RwSignal::new(ImageOptions::default()),
            source_label: RwSignal::new(None),
            source: RwSignal::new(None),
            painting: RwSignal::new(None),
            problem: RwSignal::new(None),
        }
    }

    /// Names the image the next message changes (a new one forgets the painted area).
    pub fn refine(&self, image: ImageInfo, label: String) {
        self.options.update(|o| {
            o.source = Some(image.id);
            o.mask = None;
            o.references.clear();
        });
        self.source.set(Some(image));
        self.source_label.set(Some(label));
    }

    /// The area of the named image to change.
    pub fn set_mask(&self, mask: ImageId) {
        self.options.update(|o| o.mask = Some(mask));
    }

    /// Another picture sent along with the named one.
    pub fn add_reference(&self, image: ImageId) {
        self.options.update(|o| o.references.push(image));
    }

    pub fn clear_source(&self) {
        self.options.update(|o| {
            o.source = None;
            o.mask = None;
            o.references.clear();
        });
        self.source.set(None);
        self.source_label.set(None);
    }

    /// What to send now; the named image and its area are for one message only.
    pub fn take(&self) -> ImageOptions {
        let options = self.options.get_untracked();
        if options.source.is_some() {
            self.clear_source();
        }
        options
    }
}

impl Default for Row {
    fn default() -> Self {
        Self::new()
    }
}

pub(crate) fn use_row() -> Option<Row> {
    use_context::<Row>()
}

/// The shape the price is for: the one chosen, else the user's default.
fn shape_of(options: &ImageOptions, choices: &ImageChoices) -> AspectRatio {
    options.aspect.unwrap_or(choices.preferences.aspect)
}

#[component]
pub fn ImageRow() -> impl IntoView {
    let state = use_chat_state();
    let Some(row) = use_row() else { return ().into_any() };
    let choices = Memo::new(move |_| state.with(|s| s.choices.clone()));
    let options = row.options;
    let engine =
        Memo::new(move |_| choices.with(|c| c.as_ref().and_then(|c| c.engine(options.with(|o| o.engine)).cloned())));
    let price = move || {
        let (Some(c), Some(e)) = (choices.get(), engine.get()) else { return String::new() };
        let o = options.get();
        let quality = o.quality.or(c.preferences.quality);
        estimate_text(e.estimate(shape_of(&o, &c), quality, o.images()))
    };
    let left =
        move || state.with(|s| s.quota.as_ref().and_then(|q| q.tightest().map(|w| format!(" · {} left", w.left()))));
    let default_shape =
        move || choices.with(|c| c.as_ref().map_or("Square 1:1", |c| c.preferences.aspect.label())).to_string();
    let on_aspect = move |ev| {
        let v = event_target_value(&ev);
        options.update(|o| o.aspect = AspectRatio::parse(&v));
    };
    let on_quality = move |ev| {
        let v = event_target_value(&ev);
        options.update(|o| o.quality = Quality::parse(&v));
    };
    let on_count = move |ev| {
        let v = event_target_value(&ev);
        options.update(|o| o.count = v.parse().unwrap_or(1));
    };
    let on_engine = move |ev| {
        let v = event_target_value(&ev);
        options.update(|o| {
            o.engine = ProviderKind::parse(&v);
            // What the new engine lacks is not asked of it.
            o.quality = None;
            o.seed = None;
        });
    };
    let on_seed = move |ev| {
        let v = event_target_value(&ev);
        options.update(|o| o.seed = v.trim().parse().ok());
    };
    let selected_engine = move || engine.get().map(|e| e.kind.id().to_string()).unwrap_or_default();
    view! {
        <div class="image-row" role="group" aria-label="Image settings">
            {move || row.source_label.get().map(|label| {
                let thumb = row.source.get().map(|i| {
                    let v = i.variants.first().map_or(Variant::Full, |w| Variant::Width(*w));
                    view! { <img class="chip-thumb" src=i.url(v) alt="" width="32" height="32"/> }
                });
                let painted = options.with(|o| o.mask.is_some());
                let more = options.with(|o| o.references.len());
                view! {
                    <p class="refine-chip">
                        {thumb}
                        {label}
                        {(more > 0).then(|| format!(" + {more} more"))}
                        {painted.then_some(" · area painted")}
                        <button type="button" class="link" on:click=move |_| row.painting.set(row.source.get_untracked())>
                            "Edit area"
                        </button>
                        <button type="button" class="link" aria-label="Stop refining" on:click=move |_| row.clear_source()>
                            "×"
                        </button>
                    </p>
                }
            })}
            {move || {
                // Said before sending: an engine that cannot use what is attached.
                let (e, o) = (engine.get()?, options.get());
                let text = match (o.source.is_some(), o.mask.is_some()) {
                    (true, _) if !o.references.is_empty() && !e.references => {
                        format!("{} takes one picture at a time; choose another model.", e.kind.name())
                    }
                    (true, true) if !e.mask => format!("{} cannot change just a painted area; choose another model.", e.kind.name()),
                    (true, _) if !e.edit => format!("{} cannot change a picture; it would make a new one.", e.kind.name()),
                    _ => return None,
                };
                Some(view! { <p class="row-warning" role="note">{text}</p> })
            }}
            {move || row.problem.get().map(|p| view! { <p class="row-warning" role="alert">{p}</p> })}
            {move || row.painting.get().map(|image| Suspend::new(mask_painter(image, row)))}
            <label>
                "Aspect ratio"
                <select on:change=on_aspect prop:value=move || options.with(|o| o.aspect.map_or("", |a| a.id()).to_string())>
                    <option value="">{move || format!("Auto ({})", default_shape())}</option>
                    {move || engine.get().map(|e| e.aspects.iter().map(|a| view! {
                        <option value=a.id() selected=options.with_untracked(|o| o.aspect == Some(*a))>{a.label()}</option>
                    }).collect_view())}
                </select>
            </label>
            <label>
                "Quality"
                <select
                    on:change=on_quality
                    prop:value=move || options.with(|o| o.quality.map_or("", |q| q.as_str()).to_string())
                    disabled=move || engine.with(|e| e.as_ref().is_none_or(|e| e.qualities.is_empty()))
                >
                    <option value="">"Default"</option>
                    {move || engine.get().map(|e| e.qualities.iter().map(|q| view! {
                        <option value=q.as_str() selected=options.with_untracked(|o| o.quality == Some(*q))>{q.label()}</option>
                    }).collect_view())}
                </select>
            </label>
            <label>
                "Images"
                <select on:change=on_count prop:value=move || options.with(|o| o.images().to_string())>
                    {(1..=MAX_IMAGES_PER_REQUEST).map(|n| view! { <option value=n.to_string()>{n}</option> }).collect_view()}
                </select>
            </label>
            <label>
                "Model"
                <select on:change=on_engine prop:value=selected_engine>
                    {move || choices.get().map(|c| c.engines.iter().map(|e| {
                        let id = e.kind.id();
                        let chosen = engine.with_untracked(|x| x.as_ref().is_some_and(|x| x.kind == e.kind));
                        view! { <option value=id selected=chosen>{format!("{} ({})", e.kind.name(), e.model)}</option> }
                    }).collect_view())}
                </select>
            </label>
            {move || engine.get().filter(|e| e.seed).map(|_| view! {
                <label>
                    "Seed"
                    <input
                        type="number"
                        min="0"
                        inputmode="numeric"
                        placeholder="random"
                        on:change=on_seed
                        prop:value=move || options.with(|o| o.seed.map(|s| s.to_string()).unwrap_or_default())
                    />
                </label>
            })}
            <p class="price" aria-live="polite">{price}{left}</p>
        </div>
    }
    .into_any()
}
