//! Scatter plots on log-log axes (predicted against actual runtime), with
//! the diagonal where a perfect prediction would fall.

use super::axis::Axis;
use super::{Frame, Mark, Series, colour, escape};
use std::fmt::Write as _;

/// An SVG log-log scatter plot of `series` (points in seconds, both > 0).
pub fn render(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let values = series.iter().flat_map(|s| s.points.iter().flat_map(|p| [p.0, p.1])).filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (1.0, 10.0) };
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    let frame = Frame::new(Axis::log(x_label, lo, hi), Axis::log(y_label, lo, hi), &names);
    let mut svg = frame.open(title, Mark::Swatch);
    let (a, b) = match frame.x.scale {
        super::axis::Scale::Log { min, max } => (min, max),
        _ => (lo, hi),
    };
    let _ = write!(
        svg,
        r##"<line class="reference" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#888" stroke-dasharray="4 4"><title>perfect prediction</title></line>"##,
        frame.px(a),
        frame.py(a),
        frame.px(b),
        frame.py(b)
    );
    for (i, s) in series.iter().enumerate() {
        let _ = write!(svg, r#"<g class="data" data-series="{}" fill="{}" fill-opacity="0.55">"#, escape(&s.name), colour(i));
        for &(x, y) in s.points.iter().filter(|(x, y)| *x > 0.0 && *y > 0.0 && x.is_finite() && y.is_finite()) {
            let _ = write!(svg, r#"<circle cx="{:.1}" cy="{:.1}" r="2.5"/>"#, frame.px(x), frame.py(y));
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_land_on_log_axes_beside_the_diagonal() {
        let s = Series { name: "model".into(), points: vec![(1.0, 2.0), (10.0, 8.0), (0.0, 1.0)] };
        let svg = render("p", "predicted runtime (s, log)", "actual runtime (s, log)", &[s]);
        assert_eq!(svg.matches("<circle").count(), 2, "a zero cannot sit on a log axis");
        assert!(svg.contains(r#"class="reference""#) && svg.contains(">predicted runtime (s, log)</text>"));
    }
}
