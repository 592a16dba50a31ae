//! Hand-written SVG charts: no script, no fonts or styles fetched, readable
//! offline and in print. Each kind of chart is its own module; they share
//! the [`Frame`] (plot area, grid, axes with labelled ticks, legend) and the
//! [`axis`] scales.
//!
//! Every data mark carries `class="data"` and a `data-series` attribute, so
//! a test can tell that a chart drew its data.

pub mod axis;
pub mod bar;
pub mod cdf;
pub mod hbar;
pub mod line;
pub mod scatter;

use axis::Axis;
use std::fmt::Write as _;

/// Colours of series, in order (Okabe and Ito's palette, safe for colour
/// blindness).
const PALETTE: [&str; 6] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"];
/// Dash patterns of line series, in order, so lines stay apart in grey print.
const DASHES: [&str; 4] = ["", "6 3", "2 3", "8 3 2 3"];

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 360.0;
const LEFT: f64 = 76.0;
const RIGHT: f64 = 20.0;
const BOTTOM: f64 = 56.0;
const LEGEND_ROW: f64 = 20.0;
/// Approximate width of one character of 12 px text.
const CHAR_W: f64 = 6.8;

/// One named series of points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its name in the legend.
    pub name: String,
    /// Its points, in data units (`x` is a category index on categorical axes).
    pub points: Vec<(f64, f64)>,
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Line,
    Swatch,
}

/// The colour of series `i`.
fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// The dash pattern of line series `i`.
fn dash(i: usize) -> &'static str {
    DASHES[i % DASHES.len()]
}

/// Escapes text for SVG and HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The plot area of one chart: its axes, its legend, and the mapping from
/// data to pixels.
struct Frame {
    x: Axis,
    y: Axis,
    left: f64,
    top: f64,
    legend: Vec<(String, f64, f64)>,
}

impl Frame {
    /// A frame whose legend lists `names` (laid out in rows above the plot).
    fn new(x: Axis, y: Axis, names: &[&str]) -> Self {
        Self::with_left(x, y, names, LEFT)
    }

    /// A frame whose plot starts `left` pixels in (room for long labels).
    fn with_left(x: Axis, y: Axis, names: &[&str], left: f64) -> Self {
        let (mut cx, mut row, mut legend) = (LEFT, 0.0, Vec::new());
        for name in names {
            let w = 28.0 + CHAR_W * name.chars().count() as f64 + 18.0;
            if cx + w > WIDTH - RIGHT && cx > LEFT {
                cx = LEFT;
                row += 1.0;
            }
            legend.push((name.to_string(), cx, 14.0 + row * LEGEND_ROW));
            cx += w;
        }
        let rows = if names.is_empty() { 0.0 } else { row + 1.0 };
        Self { x, y, left, top: 16.0 + rows * LEGEND_ROW, legend }
    }

    fn plot_w(&self) -> f64 {
        WIDTH - self.left - RIGHT
    }

    fn plot_h(&self) -> f64 {
        HEIGHT - self.top - BOTTOM
    }

    /// Pixel x of a data x.
    fn px(&self, x: f64) -> f64 {
        self.left + self.x.fraction(x).clamp(0.0, 1.0) * self.plot_w()
    }

    /// Pixel y of a data y.
    fn py(&self, y: f64) -> f64 {
        self.top + (1.0 - self.y.fraction(y).clamp(0.0, 1.0)) * self.plot_h()
    }

    /// Opens the SVG and draws the grid, axes, tick labels, axis labels and
    /// the legend; the caller adds the data and closes with `</svg>`.
    fn open(&self, title: &str, mark: Mark) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart" font-family="sans-serif" font-size="12"><title>{}</title>"#,
            escape(title)
        );
        let (left, bottom, right) = (self.left, self.top + self.plot_h(), self.left + self.plot_w());
        for (v, label) in self.y.ticks() {
            let y = self.py(v);
            if self.y.is_numeric() {
                let _ = write!(s, r##"<line x1="{left}" x2="{right}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/>"##);
            }
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
                left - 6.0,
                y + 4.0,
                escape(&label)
            );
        }
        for (v, label) in self.x.ticks() {
            let x = self.px(v);
            if self.x.is_numeric() {
                let _ = write!(s, r##"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{bottom:.1}" stroke="#eee"/>"##, self.top);
            }
            let _ = write!(
                s,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{bottom:.1}" y2="{:.1}" stroke="#333"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"##,
                bottom + 5.0,
                bottom + 18.0,
                escape(&label)
            );
        }
        let _ = write!(
            s,
            r##"<path d="M{left},{:.1}V{bottom:.1}H{right}" fill="none" stroke="#333"/><text x="{:.1}" y="{:.1}" text-anchor="middle" class="axis-label">{}</text><text transform="translate(16,{:.1}) rotate(-90)" text-anchor="middle" class="axis-label">{}</text>"##,
            self.top,
            left + self.plot_w() / 2.0,
            HEIGHT - 10.0,
            escape(&self.x.label),
            self.top + self.plot_h() / 2.0,
            escape(&self.y.label)
        );
        s.push_str(r#"<g class="legend">"#);
        for (i, (name, x, y)) in self.legend.iter().enumerate() {
            let key = match mark {
                Mark::Line => format!(
                    r#"<line x1="{x}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2.5" stroke-dasharray="{}"/>"#,
                    x + 22.0,
                    y - 4.0,
                    y - 4.0,
                    colour(i),
                    dash(i)
                ),
                Mark::Swatch => format!(r#"<rect x="{x}" y="{:.1}" width="18" height="10" fill="{}"/>"#, y - 9.0, colour(i)),
            };
            let _ = write!(s, r#"{key}<text x="{:.1}" y="{y:.1}">{}</text>"#, x + 28.0, escape(name));
        }
        s.push_str("</g>");
        s
    }
}
