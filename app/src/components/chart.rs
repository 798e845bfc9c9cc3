//! Charts drawn as SVG in the page itself: rendered on the server, so they
//! need no JavaScript and no charting library in the bundle. Each has a
//! text title for screen readers and its figures in a table beneath.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One bar or point: what it stands for and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    pub label: String,
    pub value: i64,
}

/// The drawing's size in SVG units; it scales to the column's width.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
/// Room for the value axis on the left and the labels below.
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 40.0;
const TOP: f64 = 16.0;

/// The top of the value axis: the largest value rounded up to 1, 2 or 5
/// times a power of ten, so the axis reads cleanly; 1 for an all-zero set.
pub fn axis_top(points: &[Point]) -> i64 {
    let largest = points.iter().map(|p| p.value).max().unwrap_or(0).max(1);
    let mut step = 1_i64;
    loop {
        for factor in [1, 2, 5] {
            if step.saturating_mul(factor) >= largest {
                return step.saturating_mul(factor);
            }
        }
        step = step.saturating_mul(10);
    }
}

/// Where a value falls on the vertical axis.
fn y_of(value: i64, top: i64) -> f64 {
    let plot = HEIGHT - TOP - BOTTOM;
    TOP + plot - plot * (value.max(0) as f64) / (top as f64)
}

/// Which labels to print along the bottom so they do not overlap: every
/// one up to 12, then every n-th.
fn label_every(count: usize) -> usize {
    count.div_ceil(12).max(1)
}

/// A bar chart of `points`, with its title as heading and accessible name.
#[component]
pub fn BarChart(
    /// The chart's heading, e.g. "Registrations per week".
    title: String,
    /// A stable id prefix for the heading and table.
    id: String,
    /// What the values count, e.g. "registrations".
    unit: String,
    points: Vec<Point>,
) -> impl IntoView {
    let top = axis_top(&points);
    let count = points.len().max(1);
    let slot = (WIDTH - LEFT) / count as f64;
    let every = label_every(points.len());
    let bars = points
        .iter()
        .enumerate()
        .map(|(index, point)| {
            let x = LEFT + slot * index as f64 + slot * 0.15;
            let y = y_of(point.value, top);
            let height = (HEIGHT - BOTTOM - y).max(0.0);
            let tip = format!("{}: {} {}", point.label, point.value, unit);
            let label = (index % every == 0).then(|| {
                view! {
                    <text
                        x=format!("{:.1}", x + slot * 0.35)
                        y=format!("{:.1}", HEIGHT - BOTTOM + 16.0)
                        text-anchor="middle"
                        class="chart-label"
                    >
                        {point.label.clone()}
                    </text>
                }
            });
            view! {
                <rect
                    x=format!("{x:.1}")
                    y=format!("{y:.1}")
                    width=format!("{:.1}", slot * 0.7)
                    height=format!("{height:.1}")
                    class="chart-bar"
                >
                    <title>{tip}</title>
                </rect>
                {label}
            }
        })
        .collect_view();
    view! {
        <ChartFrame title id unit top points>
            {bars}
        </ChartFrame>
    }
}

/// A line chart of `points` (a level over time).
#[component]
pub fn LineChart(title: String, id: String, unit: String, points: Vec<Point>) -> impl IntoView {
    let top = axis_top(&points);
    let count = points.len();
    let step = if count > 1 {
        (WIDTH - LEFT - 16.0) / (count - 1) as f64
    } else {
        0.0
    };
    let every = label_every(count);
    let coordinates: Vec<(f64, f64)> = points
        .iter()
        .enumerate()
        .map(|(index, point)| (LEFT + 8.0 + step * index as f64, y_of(point.value, top)))
        .collect();
    let line = coordinates
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ");
    let marks = points
        .iter()
        .zip(&coordinates)
        .enumerate()
        .map(|(index, (point, (x, y)))| {
            let tip = format!("{}: {} {}", point.label, point.value, unit);
            let label = (index % every == 0).then(|| {
                view! {
                    <text
                        x=format!("{x:.1}")
                        y=format!("{:.1}", HEIGHT - BOTTOM + 16.0)
                        text-anchor="middle"
                        class="chart-label"
                    >
                        {point.label.clone()}
                    </text>
                }
            });
            view! {
                <circle cx=format!("{x:.1}") cy=format!("{y:.1}") r="3.5" class="chart-point">
                    <title>{tip}</title>
                </circle>
                {label}
            }
        })
        .collect_view();
    view! {
        <ChartFrame title id unit top points>
            <polyline points=line class="chart-line" fill="none" />
            {marks}
        </ChartFrame>
    }
}

/// The axes, heading and figures table around a chart's marks.
#[component]
fn ChartFrame(
    title: String,
    id: String,
    unit: String,
    top: i64,
    points: Vec<Point>,
    children: Children,
) -> impl IntoView {
    let heading_id = format!("{id}-title");
    let empty = points.is_empty();
    let rows = points
        .into_iter()
        .map(|point| {
            view! {
                <tr>
                    <th scope="row">{point.label}</th>
                    <td>{point.value}</td>
                </tr>
            }
        })
        .collect_view();
    let middle = top / 2;
    view! {
        <figure class="chart" data-testid=id.clone()>
            <figcaption id=heading_id.clone()>{title.clone()}</figcaption>
            {if empty {
                view! { <p>"Nothing to show yet."</p> }.into_any()
            } else {
                view! {
                    <svg
                        viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                        role="img"
                        aria-labelledby=heading_id
                        class="chart-drawing"
                    >
                        <line
                            x1=LEFT
                            y1=HEIGHT - BOTTOM
                            x2=WIDTH
                            y2=HEIGHT - BOTTOM
                            class="chart-axis"
                        />
                        <line
                            x1=LEFT
                            y1=format!("{:.1}", y_of(middle, top))
                            x2=WIDTH
                            y2=format!("{:.1}", y_of(middle, top))
                            class="chart-grid"
                        />
                        <line x1=LEFT y1=TOP x2=WIDTH y2=TOP class="chart-grid" />
                        <text x=LEFT - 6.0 y=TOP + 4.0 text-anchor="end" class="chart-label">
                            {top}
                        </text>
                        <text
                            x=LEFT - 6.0
                            y=format!("{:.1}", y_of(middle, top) + 4.0)
                            text-anchor="end"
                            class="chart-label"
                        >
                            {middle}
                        </text>
                        <text
                            x=LEFT - 6.0
                            y=HEIGHT - BOTTOM + 4.0
                            text-anchor="end"
                            class="chart-label"
                        >
                            "0"
                        </text>
                        {children()}
                    </svg>
                    <details>
                        <summary>"The figures"</summary>
                        <table class="data-table">
                            <thead>
                                <tr>
                                    <th scope="col">""</th>
                                    <th scope="col">{unit}</th>
                                </tr>
                            </thead>
                            <tbody>{rows}</tbody>
                        </table>
                    </details>
                }
                    .into_any()
            }}
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(values: &[i64]) -> Vec<Point> {
        values
            .iter()
            .map(|&value| Point {
                label: String::new(),
                value,
            })
            .collect()
    }

    #[test]
    fn the_axis_rounds_up_to_one_two_or_five() {
        assert_eq!(axis_top(&points(&[])), 1);
        assert_eq!(axis_top(&points(&[0, 0])), 1);
        assert_eq!(axis_top(&points(&[3])), 5);
        assert_eq!(axis_top(&points(&[7, 2])), 10);
        assert_eq!(axis_top(&points(&[11])), 20);
        assert_eq!(axis_top(&points(&[1300])), 2000);
        assert_eq!(axis_top(&points(&[50_000])), 50_000);
    }

    #[test]
    fn values_fall_inside_the_plot() {
        assert_eq!(y_of(0, 10), HEIGHT - BOTTOM);
        assert_eq!(y_of(10, 10), TOP);
        assert_eq!(y_of(-3, 10), HEIGHT - BOTTOM);
    }

    #[test]
    fn labels_thin_out_past_twelve() {
        assert_eq!(label_every(0), 1);
        assert_eq!(label_every(12), 1);
        assert_eq!(label_every(13), 2);
        assert_eq!(label_every(52), 5);
    }
}
