//! The admin's daily trend: one bar per UTC day for the last 30 days, drawn as SVG so it
//! needs no script and scales with the page. Each bar carries its numbers as a tooltip, and
//! the same numbers are listed in a table for screen readers.

use leptos::prelude::*;

use crate::admin::{bars, short_date, DayPoint, CHART_H, CHART_W};
use crate::protocol::dollars;

#[component]
pub fn SpendChart(days: Vec<DayPoint>) -> impl IntoView {
    let max = days.iter().map(|d| d.spent).max().unwrap_or(0);
    let total_images: i64 = days.iter().map(|d| d.images).sum();
    let first = days.first().map(|d| short_date(d.day)).unwrap_or_default();
    let last = days.last().map(|d| short_date(d.day)).unwrap_or_default();
    let label = format!("Daily image spend from {first} to {last}; highest day {}", dollars(max));
    let rows = days.clone();
    view! {
        <figure class="chart">
            <svg
                role="img"
                aria-label=label
                viewBox=format!("0 0 {CHART_W} {}", CHART_H + 22.0)
                preserveAspectRatio="none"
            >
                <line class="axis" x1="0" y1=CHART_H x2=CHART_W y2=CHART_H/>
                {bars(&days)
                    .into_iter()
                    .map(|b| {
                        let tip = format!(
                            "{}: {} images, {}",
                            short_date(b.point.day),
                            b.point.images,
                            dollars(b.point.spent)
                        );
                        view! {
                            <rect class="bar" x=b.x y=b.y width=b.width height=b.height>
                                <title>{tip}</title>
                            </rect>
                        }
                    })
                    .collect_view()}
                <text class="tick" x="0" y=CHART_H + 16.0>{first}</text>
                <text class="tick" x=CHART_W y=CHART_H + 16.0 text-anchor="end">{last}</text>
            </svg>
            <figcaption>
                {format!("Last 30 days: {total_images} images; highest day {}.", dollars(max))}
            </figcaption>
            <details class="chart-data">
                <summary>"Daily numbers"</summary>
                <table>
                    <thead><tr><th scope="col">"Day"</th><th scope="col">"Images"</th><th scope="col">"Spend"</th></tr></thead>
                    <tbody>
                        {rows
                            .into_iter()
                            .rev()
                            .filter(|d| d.images > 0 || d.spent > 0)
                            .map(|d| view! {
                                <tr><td>{short_date(d.day)}</td><td>{d.images}</td><td>{dollars(d.spent)}</td></tr>
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </details>
        </figure>
    }
}
