//! "Edit area": paint the part of an image to change, with a mouse or a finger, over the
//! image itself. Strokes are kept in image pixels (so the mask fits the image whatever its
//! size on screen), drawn again on every change (Undo and Clear are a redraw), and on Apply
//! sent as a PNG to `/uploads?kind=mask`; the row then names the image and its mask.
//! A second finger on the canvas ends painting: pinch and pan belong to the browser
//! (`touch-action: pinch-zoom`), never to the brush.

use leptos::prelude::*;

use super::image_row::Row;
use crate::protocol::{ImageId, ImageInfo};

/// One stroke: its brush width and its points, in image pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Stroke {
    pub size: f64,
    pub points: Vec<(f64, f64)>,
}

/// The painter's state, pure: which pointers are down and what has been painted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Canvas {
    pub strokes: Vec<Stroke>,
    pointers: Vec<i32>,
    /// The pointer painting the last stroke, while it is down.
    painting: Option<i32>,
}

impl Canvas {
    pub fn down(&mut self, pointer: i32, at: (f64, f64), size: f64) {
        self.pointers.push(pointer);
        if self.pointers.len() == 1 {
            self.strokes.push(Stroke { size, points: vec![at] });
            self.painting = Some(pointer);
        } else if self.painting.take().is_some() {
            // A second finger: a pinch or a pan, not a brush stroke.
            self.strokes.pop();
        }
    }

    /// `true` when the point was painted (the canvas needs drawing).
    pub fn moved(&mut self, pointer: i32, at: (f64, f64)) -> bool {
        match (self.painting, self.strokes.last_mut()) {
            (Some(p), Some(stroke)) if p == pointer => {
                stroke.points.push(at);
                true
            }
            _ => false,
        }
    }

    pub fn up(&mut self, pointer: i32) {
        self.pointers.retain(|p| *p != pointer);
        if self.painting == Some(pointer) {
            self.painting = None;
        }
    }

    pub fn undo(&mut self) {
        self.strokes.pop();
        self.painting = None;
    }

    pub fn clear(&mut self) {
        self.strokes.clear();
        self.painting = None;
    }
}

#[component]
pub fn MaskPainter(image: ImageInfo, row: Row) -> impl IntoView {
    let canvas_ref = NodeRef::<leptos::html::Canvas>::new();
    let state = RwSignal::new(Canvas::default());
    let brush = RwSignal::new(48.0f64);
    let busy = RwSignal::new(false);
    let (width, height) = (image.width.max(1), image.height.max(1));
    let src = image.url(image.largest());
    let id = image.id;

    // Every change redraws the strokes.
    Effect::new(move |_| {
        let strokes = state.with(|s| s.strokes.clone());
        draw(canvas_ref, &strokes);
    });
    let at = move |ev: &leptos::ev::PointerEvent| -> (f64, f64) { to_image(canvas_ref, ev, (width, height)) };
    let on_down = move |ev: leptos::ev::PointerEvent| {
        ev.prevent_default();
        let point = at(&ev);
        state.update(|s| s.down(ev.pointer_id(), point, brush.get_untracked()));
    };
    let on_move = move |ev: leptos::ev::PointerEvent| {
        let point = at(&ev);
        let mut drew = false;
        state.update_untracked(|s| drew = s.moved(ev.pointer_id(), point));
        if drew {
            state.notify();
        }
    };
    let on_up = move |ev: leptos::ev::PointerEvent| state.update(|s| s.up(ev.pointer_id()));
    let apply = move |_| {
        if state.with_untracked(|s| s.strokes.is_empty()) {
            row.problem.set(Some("Paint the area to change first, or press Cancel.".into()));
            return;
        }
        busy.set(true);
        send_mask(canvas_ref, id, row, busy);
    };
    view! {
        <div class="mask-painter" role="dialog" aria-label="Edit area" aria-modal="true">
            <p class="muted">"Paint over what should change. Two fingers zoom and pan."</p>
            <div class="mask-stage">
                <img src=src alt="The image to change" width=width.to_string() height=height.to_string()/>
                <canvas
                    node_ref=canvas_ref
                    width=width.to_string()
                    height=height.to_string()
                    aria-label="Paint the area to change"
                    on:pointerdown=on_down
                    on:pointermove=on_move
                    on:pointerup=on_up
                    on:pointercancel=on_up
                    on:pointerleave=on_up
                ></canvas>
            </div>
            <div class="mask-controls">
                <label>
                    "Brush size"
                    <input
                        type="range"
                        min="4"
                        max="256"
                        prop:value=move || brush.get().to_string()
                        on:input=move |ev| brush.set(event_target_value(&ev).parse().unwrap_or(48.0))
                    />
                </label>
                <button type="button" class="secondary" on:click=move |_| state.update(Canvas::undo)>"Undo"</button>
                <button type="button" class="secondary" on:click=move |_| state.update(Canvas::clear)>"Clear"</button>
                <button type="button" on:click=apply disabled=move || busy.get()>"Apply"</button>
                <button type="button" class="secondary" on:click=move |_| row.painting.set(None)>"Cancel"</button>
            </div>
        </div>
    }
}

/// Where a pointer is, in the image's pixels.
#[cfg(feature = "hydrate")]
fn to_image(
    canvas: NodeRef<leptos::html::Canvas>,
    ev: &leptos::ev::PointerEvent,
    (width, height): (u32, u32),
) -> (f64, f64) {
    let Some(el) = canvas.get_untracked() else { return (0.0, 0.0) };
    let rect = el.get_bounding_client_rect();
    let (w, h) = (rect.width().max(1.0), rect.height().max(1.0));
    let x = (f64::from(ev.client_x()) - rect.left()) / w * f64::from(width);
    let y = (f64::from(ev.client_y()) - rect.top()) / h * f64::from(height);
    (x.clamp(0.0, f64::from(width)), y.clamp(0.0, f64::from(height)))
}

#[cfg(not(feature = "hydrate"))]
fn to_image(_: NodeRef<leptos::html::Canvas>, _: &leptos::ev::PointerEvent, _: (u32, u32)) -> (f64, f64) {
    (0.0, 0.0)
}

#[cfg(not(feature = "hydrate"))]
fn draw(_: NodeRef<leptos::html::Canvas>, _: &[Stroke]) {}

#[cfg(not(feature = "hydrate"))]
fn send_mask(_: NodeRef<leptos::html::Canvas>, _: ImageId, _: Row, _: RwSignal<bool>) {}

/// The strokes, painted half-opaque so the image shows through (more than half: the server
/// reads an alpha of 128 or more as painted).
#[cfg(feature = "hydrate")]
fn draw(canvas: NodeRef<leptos::html::Canvas>, strokes: &[Stroke]) {
    use leptos::wasm_bindgen::JsCast;
    let Some(el) = canvas.get_untracked() else { return };
    let Ok(Some(ctx)) = el.get_context("2d") else { return };
    let Ok(ctx) = ctx.dyn_into::<web_sys::CanvasRenderingContext2d>() else { return };
    ctx.clear_rect(0.0, 0.0, f64::from(el.width()), f64::from(el.height()));
    ctx.set_stroke_style_str("rgba(255, 40, 90, 0.6)");
    ctx.set_fill_style_str("rgba(255, 40, 90, 0.6)");
    ctx.set_line_cap("round");
    ctx.set_line_join("round");
    for stroke in strokes {
        ctx.set_line_width(stroke.size);
        ctx.begin_path();
        if let [(x, y)] = stroke.points[..] {
            let _ = ctx.arc(x, y, stroke.size / 2.0, 0.0, std::f64::consts::TAU);
            ctx.fill();
            continue;
        }
        for (i, (x, y)) in stroke.points.iter().enumerate() {
            if i == 0 {
                ctx.move_to(*x, *y);
            } else {
                ctx.line_to(*x, *y);
            }
        }
        ctx.stroke();
    }
}

/// Sends the canvas as a PNG mask for `image`; the row names it on success.
#[cfg(feature = "hydrate")]
fn send_mask(canvas: NodeRef<leptos::html::Canvas>, image: ImageId, row: Row, busy: RwSignal<bool>) {
    let Some(el) = canvas.get_untracked() else { return };
    let Ok(url) = el.to_data_url_with_type("image/png") else { return };
    let bytes = super::attach::data_url_bytes(&url);
    leptos::task::spawn_local(async move {
        let path = format!("/uploads?kind=mask&for={image}");
        match super::attach::upload(&path, super::attach::Body::Bytes(bytes)).await {
            Ok(mask) => {
                row.set_mask(mask.id);
                row.problem.set(None);
                row.painting.set(None);
                super::job_card::focus_composer();
            }
            Err(problem) => row.problem.set(Some(problem)),
        }
        busy.set(false);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_finger_paints_and_a_second_one_does_not() {
        let mut c = Canvas::default();
        c.down(1, (10.0, 10.0), 20.0);
        assert!(c.moved(1, (20.0, 10.0)));
        c.up(1);
        assert_eq!(c.strokes.len(), 1);
        assert_eq!(c.strokes[0].points, vec![(10.0, 10.0), (20.0, 10.0)]);
        // A pinch: the first finger starts a stroke, the second takes it back.
        c.down(2, (50.0, 50.0), 20.0);
        c.down(3, (80.0, 80.0), 20.0);
        assert!(!c.moved(2, (60.0, 60.0)) && !c.moved(3, (90.0, 90.0)));
        c.up(2);
        c.up(3);
        assert_eq!(c.strokes.len(), 1, "the pinch painted nothing");
        c.down(4, (1.0, 1.0), 8.0);
        c.up(4);
        c.undo();
        assert_eq!(c.strokes.len(), 1);
        c.clear();
        assert!(c.strokes.is_empty());
    }
}
