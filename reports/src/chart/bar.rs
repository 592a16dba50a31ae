//! Grouped bar charts: one group per category, one bar per series in each
//! (bounded slowdown by class, mean wait per user). Values may be negative;
//! the value axis always includes zero.

use super::axis::Axis;
use super::{Frame, Mark, Series, colour, escape};
use std::fmt::Write as _;

/// An SVG grouped bar chart. `series[i].points` are `(category index,
/// value)`; `categories` names the groups.
pub fn render(title: &str, x_label: &str, categories: Vec<String>, y_label: &str, series: &[Series]) -> String {
    let values = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).filter(|v| v.is_finite());
    let (lo, hi) = values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    let frame = Frame::new(Axis::categories(x_label, categories), Axis::linear(y_label, lo, hi), &names);
    let mut svg = frame.open(title, Mark::Swatch);
    let band = frame.x.band() * frame.plot_w();
    let width = 0.8 * band / series.len().max(1) as f64;
    let zero = frame.py(0.0);
    for (i, s) in series.iter().enumerate() {
        for &(cat, v) in s.points.iter().filter(|p| p.1.is_finite()) {
            let x = frame.px(cat) - 0.4 * band + i as f64 * width;
            let y = frame.py(v);
            let _ = write!(
                svg,
                r#"<rect class="data" data-series="{}" x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {}</title></rect>"#,
                escape(&s.name),
                y.min(zero),
                (width - 1.0).max(1.0),
                (y - zero).abs().max(0.5),
                colour(i),
                escape(&s.name),
                super::axis::number(v)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_grow_from_zero_both_ways() {
        let s = Series { name: "x".into(), points: vec![(0.0, 3.0), (1.0, -2.0)] };
        let svg = render("t", "user", vec!["a".into(), "b".into()], "change (%)", &[s]);
        assert_eq!(svg.matches(r#"<rect class="data""#).count(), 2);
        assert!(svg.contains(">a</text>") && svg.contains(">-2</text>"), "{svg}");
    }
}
