//! Paints a [`Scene`] into pixels: sky, lights, land or sea, subjects, weather, then style.
//! Deterministic for a scene and a size; shapes vary with the scene's seed.

use image::{Rgb, RgbImage};

use super::scene::{Rgb as Colour, Scene, Style, Subject, TimeOfDay, Weather};

/// xorshift64*: a few lines, stable forever, enough for scattering stars and windows.
struct Rand(u64);

impl Rand {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A float in [0, 1).
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

fn mix(a: Colour, b: Colour, t: f32) -> Colour {
    let t = t.clamp(0.0, 1.0);
    let ch = |i: usize| (f32::from(a[i]) * (1.0 - t) + f32::from(b[i]) * t).round() as u8;
    [ch(0), ch(1), ch(2)]
}

fn sky_colours(time: TimeOfDay) -> (Colour, Colour) {
    match time {
        TimeOfDay::Dawn => ([96, 112, 182], [250, 186, 150]),
        TimeOfDay::Day => ([64, 136, 228], [182, 216, 246]),
        TimeOfDay::Sunset => ([58, 40, 112], [250, 128, 60]),
        TimeOfDay::Night => ([6, 9, 28], [28, 38, 78]),
    }
}

fn put(img: &mut RgbImage, x: i64, y: i64, c: Colour) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, Rgb(c));
    }
}

fn blend(img: &mut RgbImage, x: u32, y: u32, c: Colour, t: f32) {
    let p = img.get_pixel(x, y).0;
    img.put_pixel(x, y, Rgb(mix(p, c, t)));
}

fn disc(img: &mut RgbImage, cx: f32, cy: f32, r: f32, c: Colour, glow: bool) {
    let reach = if glow { r * 2.2 } else { r };
    let (x0, x1) = ((cx - reach).max(0.0) as u32, (cx + reach).min(img.width() as f32 - 1.0) as u32);
    let (y0, y1) = ((cy - reach).max(0.0) as u32, (cy + reach).min(img.height() as f32 - 1.0) as u32);
    for y in y0..=y1 {
        for x in x0..=x1 {
            let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
            if d <= r {
                img.put_pixel(x, y, Rgb(c));
            } else if glow && d < reach {
                blend(img, x, y, c, 0.45 * (1.0 - (d - r) / (reach - r)));
            }
        }
    }
}

/// Paints `scene` at `width` × `height`.
pub fn paint(scene: &Scene, width: u32, height: u32) -> RgbImage {
    let (w, h) = (width.max(8), height.max(8));
    let (wf, hf) = (w as f32, h as f32);
    let mut rand = Rand(scene.seed | 1);
    let mut img = RgbImage::new(w, h);
    let horizon = (hf * 0.62) as u32;
    let night = scene.time == TimeOfDay::Night;

    // Sky, tinted by a named colour and dimmed by bad weather.
    let (top, mut bottom) = sky_colours(scene.time);
    if let Some(accent) = scene.accent {
        bottom = mix(bottom, accent, 0.45);
    }
    let overcast = matches!(scene.weather, Weather::Cloudy | Weather::Rain | Weather::Storm | Weather::Snow);
    for y in 0..horizon {
        let mut c = mix(top, bottom, y as f32 / horizon as f32);
        if overcast {
            let grey = if scene.weather == Weather::Storm { [70, 72, 80] } else { [150, 152, 160] };
            c = mix(c, grey, 0.55);
        }
        for x in 0..w {
            img.put_pixel(x, y, Rgb(c));
        }
    }

    if scene.has(Subject::Stars) {
        for _ in 0..(wf * hf * 0.0025) as u32 {
            let (x, y) = ((rand.unit() * wf) as i64, (rand.unit() * horizon as f32) as i64);
            put(&mut img, x, y, mix([200, 210, 255], [255, 255, 255], rand.unit()));
        }
    }
    let r = wf.min(hf) * 0.075;
    if scene.has(Subject::Sun) {
        let (y, c) = match scene.time {
            TimeOfDay::Sunset | TimeOfDay::Dawn => (horizon as f32 - r * 0.6, [255, 150, 70]),
            TimeOfDay::Night => (horizon as f32 + r * 2.0, [255, 150, 70]), // set: below the horizon
            TimeOfDay::Day => (hf * 0.18, [255, 244, 200]),
        };
        disc(&mut img, wf * 0.68, y, r, scene.accent.map_or(c, |a| mix(c, a, 0.3)), true);
    }
    if scene.has(Subject::Moon) {
        disc(&mut img, wf * 0.24, hf * 0.2, r * 0.8, [236, 236, 220], night);
    }
    if overcast || scene.weather == Weather::Cloudy {
        for _ in 0..6 {
            let (cx, cy) = (rand.unit() * wf, rand.unit() * horizon as f32 * 0.6);
            let shade = if scene.weather == Weather::Storm { [90, 92, 100] } else { [225, 228, 235] };
            for k in 0..4 {
                disc(&mut img, cx + k as f32 * r * 0.9, cy + (k % 2) as f32 * r * 0.3, r * 0.9, shade, false);
            }
        }
    }

    // Mountains: two ridges of summed sines, the far one paler.
    if scene.has(Subject::Mountains) {
        for (layer, (amp, shade)) in [(0.34f32, 0.35f32), (0.22, 0.6)].iter().enumerate() {
            let phase = rand.unit() * std::f32::consts::TAU;
            let base = mix(bottom, [30, 40, 50], *shade);
            let colour = if scene.weather == Weather::Snow { mix(base, [245, 245, 250], 0.6) } else { base };
            for x in 0..w {
                let t = x as f32 / wf * (3.0 + layer as f32 * 2.0);
                let ridge = 0.55 + 0.3 * (t + phase).sin() + 0.15 * (t * 2.7 + phase * 1.3).sin();
                let peak = horizon as f32 - amp * hf * ridge;
                for y in peak.max(0.0) as u32..horizon {
                    img.put_pixel(x, y, Rgb(colour));
                }
            }
        }
    }

    // Below the horizon: sea reflecting the sky, or land.
    for y in horizon..h {
        let depth = (y - horizon) as f32 / (hf - horizon as f32);
        let c = if scene.has(Subject::Sea) {
            let sea = mix(mix(bottom, [20, 70, 120], 0.5), [10, 30, 60], depth);
            if (y + (rand.next() % 3) as u32).is_multiple_of(7) {
                mix(sea, bottom, 0.5)
            } else {
                sea
            }
        } else if scene.weather == Weather::Snow {
            mix([236, 238, 245], [200, 205, 220], depth)
        } else {
            mix(mix([70, 130, 60], bottom, 0.2), [30, 60, 30], depth)
        };
        for x in 0..w {
            img.put_pixel(x, y, Rgb(if night { mix(c, [5, 8, 20], 0.55) } else { c }));
        }
    }

    if scene.has(Subject::City) {
        let mut x = 0.0;
        while x < wf {
            let bw = wf * (0.04 + rand.unit() * 0.06);
            let bh = hf * (0.12 + rand.unit() * 0.3);
            let top_y = horizon as f32 - bh;
            let body = if night { [18, 20, 34] } else { mix([60, 64, 80], bottom, 0.25) };
            for yy in top_y.max(0.0) as u32..horizon {
                for xx in x as u32..((x + bw) as u32).min(w) {
                    let lit =
                        (night || scene.time == TimeOfDay::Sunset) && xx % 6 < 2 && yy % 8 < 3 && rand.unit() < 0.5;
                    img.put_pixel(xx, yy, Rgb(if lit { [255, 214, 120] } else { body }));
                }
            }
            x += bw + wf * 0.005;
        }
    }
    if scene.has(Subject::Lighthouse) {
        let (lx, lw, lh) = (wf * 0.2, wf * 0.045, hf * 0.3);
        for y in (horizon as f32 - lh) as u32..horizon + 2 {
            for x in (lx - lw / 2.0) as u32..(lx + lw / 2.0) as u32 {
                let band = (((y as f32 - (horizon as f32 - lh)) / (lh / 5.0)) as u32).is_multiple_of(2);
                put(&mut img, i64::from(x), i64::from(y), if band { [235, 235, 235] } else { [200, 40, 40] });
            }
        }
        let lamp_y = horizon as f32 - lh - lw * 0.4;
        disc(&mut img, lx, lamp_y, lw * 0.5, [255, 236, 150], night || scene.time == TimeOfDay::Sunset);
    }
    if scene.has(Subject::Trees) {
        let mut x = rand.unit() * wf * 0.05;
        while x < wf {
            let th = hf * (0.12 + rand.unit() * 0.1);
            let base = hf * (0.9 + rand.unit() * 0.08);
            let green =
                if night { [10, 30, 20] } else { mix([30, 100, 50], scene.accent.unwrap_or([30, 100, 50]), 0.2) };
            for y in (base - th).max(0.0) as u32..(base as u32).min(h) {
                let half = (y as f32 - (base - th)) / th * th * 0.3;
                for xx in (x - half).max(0.0) as u32..((x + half) as u32).min(w) {
                    img.put_pixel(xx, y, Rgb(green));
                }
            }
            x += wf * (0.06 + rand.unit() * 0.08);
        }
    }

    // Weather over everything.
    match scene.weather {
        Weather::Rain | Weather::Storm => {
            for _ in 0..(wf * hf * 0.004) as u32 {
                let (x, y) = (rand.unit() * wf, rand.unit() * hf);
                for k in 0..(hf * 0.03) as i64 {
                    let (px, py) = (x as i64 + k / 3, y as i64 + k);
                    if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                        blend(&mut img, px as u32, py as u32, [200, 210, 230], 0.5);
                    }
                }
            }
        }
        Weather::Snow => {
            for _ in 0..(wf * hf * 0.003) as u32 {
                let (x, y) = ((rand.unit() * wf) as i64, (rand.unit() * hf) as i64);
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    put(&mut img, x + dx, y + dy, [250, 250, 255]);
                }
            }
        }
        Weather::Fog => {
            for y in 0..h {
                let t = 0.65 - ((y as f32 - horizon as f32).abs() / hf) * 0.8;
                for x in 0..w {
                    blend(&mut img, x, y, [205, 208, 212], t.max(0.15));
                }
            }
        }
        Weather::Clear | Weather::Cloudy => {}
    }

    apply_style(&mut img, scene, &mut rand);
    img
}

fn apply_style(img: &mut RgbImage, scene: &Scene, rand: &mut Rand) {
    let accent = scene.accent.unwrap_or([255, 40, 200]);
    for p in img.pixels_mut() {
        let [r, g, b] = p.0;
        let luma = 0.3 * f32::from(r) + 0.59 * f32::from(g) + 0.11 * f32::from(b);
        p.0 = match scene.style {
            Style::Plain => p.0,
            Style::Pastel => mix(p.0, [250, 246, 242], 0.45),
            Style::Vibrant => {
                let boost = |c: u8| (luma + (f32::from(c) - luma) * 1.6).clamp(0.0, 255.0) as u8;
                [boost(r), boost(g), boost(b)]
            }
            Style::Neon => {
                // Dark scene, bright things glow in the accent and cyan.
                let dark = mix(p.0, [8, 4, 24], 0.7);
                if luma > 170.0 {
                    mix(accent, [255, 255, 255], 0.25)
                } else if luma > 110.0 {
                    mix(dark, [40, 230, 255], 0.5)
                } else {
                    dark
                }
            }
            Style::Watercolor => {
                let paper = mix(p.0, [246, 238, 222], 0.3);
                let grain = (rand.unit() - 0.5) * 18.0;
                let ch = |c: u8| (f32::from(c) + grain).clamp(0.0, 255.0) as u8;
                [ch(paper[0]), ch(paper[1]), ch(paper[2])]
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean(img: &RgbImage) -> [f32; 3] {
        let n = (img.width() * img.height()) as f32;
        let mut sum = [0f32; 3];
        for p in img.pixels() {
            for (s, c) in sum.iter_mut().zip(p.0) {
                *s += f32::from(c);
            }
        }
        sum.map(|s| s / n)
    }

    fn brightness(prompt: &str) -> f32 {
        mean(&paint(&Scene::from_prompt(prompt), 96, 96)).iter().sum::<f32>() / 3.0
    }

    #[test]
    fn the_same_scene_paints_the_same_pixels() {
        let s = Scene::from_prompt("a lighthouse at dusk");
        assert_eq!(paint(&s, 64, 64), paint(&s, 64, 64));
    }

    #[test]
    fn night_is_darker_than_day() {
        assert!(brightness("mountains at night") + 40.0 < brightness("mountains at noon"));
    }

    #[test]
    fn pastel_is_lighter_and_neon_is_darker() {
        let plain = brightness("a city by the sea");
        assert!(brightness("a pastel city by the sea") > plain + 20.0);
        assert!(brightness("a neon city by the sea") < plain - 20.0);
    }

    #[test]
    fn a_named_colour_tints_the_picture() {
        let plain = mean(&paint(&Scene::from_prompt("a sunny sky over hills"), 96, 96));
        let red = mean(&paint(&Scene::from_prompt("a red sky over hills"), 96, 96));
        assert!(red[0] - red[2] > plain[0] - plain[2] + 15.0, "{plain:?} vs {red:?}");
    }

    #[test]
    fn subjects_change_the_picture() {
        let base = paint(&Scene::from_prompt("a quiet evening"), 64, 64);
        for prompt in ["a quiet evening with a city", "a quiet evening by the sea", "a quiet evening forest"] {
            assert_ne!(paint(&Scene::from_prompt(prompt), 64, 64), base, "{prompt}");
        }
    }

    #[test]
    fn odd_sizes_do_not_panic() {
        for (w, h) in [(1, 1), (8, 300), (301, 9), (0, 0)] {
            let img = paint(&Scene::from_prompt("storm over a snowy city with trees and a lighthouse"), w, h);
            assert!(img.width() >= 8 && img.height() >= 8);
        }
    }
}
