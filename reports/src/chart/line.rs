//! Line charts: one polyline per series over numeric axes (utilisation and
//! queue length over time, and the CDF through [`super::cdf`]).

use super::axis::Axis;
use super::{Frame, Mark, Series, colour, dash, escape};
use std::fmt::Write as _;

/// An SVG line chart of `series` over the axes `x` and `y`.
pub fn render(title: &str, x: Axis, y: Axis, series: &[Series]) -> String {
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    let frame = Frame::new(x, y, &names);
    let mut svg = frame.open(title, Mark::Line);
    for (i, s) in series.iter().enumerate() {
        let mut d = String::new();
        for (k, (x, y)) in s.points.iter().filter(|(x, y)| x.is_finite() && y.is_finite()).enumerate() {
            let _ = write!(d, "{}{:.1},{:.1}", if k == 0 { "M" } else { "L" }, frame.px(*x), frame.py(*y));
        }
        let _ = write!(
            svg,
            r#"<path class="data" data-series="{}" d="{d}" fill="none" stroke="{}" stroke-width="2" stroke-dasharray="{}" stroke-linejoin="round"/>"#,
            escape(&s.name),
            colour(i),
            dash(i)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_chart_draws_each_series_with_a_legend_and_labelled_axes() {
        let series = vec![
            Series { name: "a".into(), points: vec![(0.0, 0.0), (10.0, 5.0)] },
            Series { name: "b & c".into(), points: vec![(0.0, 1.0), (f64::NAN, 2.0), (10.0, 2.0)] },
        ];
        let svg = render("t", Axis::linear("time (s)", 0.0, 10.0), Axis::linear("queue (jobs)", 0.0, 5.0), &series);
        assert_eq!(svg.matches(r#"class="data""#).count(), 2);
        assert!(svg.contains(r#"data-series="b &amp; c""#));
        assert!(svg.contains(">time (s)</text>") && svg.contains(">queue (jobs)</text>"));
        assert!(svg.contains(r#"d="M76.0,"#), "{svg}");
        assert!(!svg.contains("NaN"));
    }
}
