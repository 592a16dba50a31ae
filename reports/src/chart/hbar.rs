//! Horizontal bar charts: one row per category, listed top to bottom, one
//! bar per series in each (feature importances, accuracy per user). Long
//! category names get a wider left margin, up to a limit, and are cut with
//! an ellipsis beyond it.

use super::axis::Axis;
use super::{Frame, Mark, Series, colour, escape};
use std::fmt::Write as _;

/// Characters of a category name shown before it is cut.
const MAX_LABEL: usize = 34;
/// Approximate width of one character of an 11 px tick label.
const TICK_CHAR_W: f64 = 6.2;

/// An SVG horizontal bar chart. `categories` are listed from the top;
/// `series[i].points` are `(category index, value)`; the value axis runs
/// along the bottom and includes zero.
pub fn render(title: &str, categories: Vec<String>, x_label: &str, series: &[Series]) -> String {
    let values = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).filter(|v| v.is_finite());
    let (lo, hi) = values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let labels: Vec<String> = categories.iter().rev().map(|c| cut(c)).collect();
    let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64;
    let left = (30.0 + TICK_CHAR_W * widest).max(76.0);
    let n = categories.len();
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    let frame = Frame::with_left(Axis::linear(x_label, lo, hi), Axis::categories("", labels), &names, left);
    let mut svg = frame.open(title, Mark::Swatch);
    let band = frame.y.band() * frame.plot_h();
    let height = 0.8 * band / series.len().max(1) as f64;
    let zero = frame.px(0.0);
    for (i, s) in series.iter().enumerate() {
        for &(cat, v) in s.points.iter().filter(|p| p.1.is_finite() && p.0 >= 0.0 && (p.0 as usize) < n) {
            // Category 0 is drawn at the top: the axis lists them reversed.
            let y = frame.py((n - 1) as f64 - cat) - 0.4 * band + i as f64 * height;
            let x = frame.px(v);
            let _ = write!(
                svg,
                r#"<rect class="data" data-series="{}" x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {}</title></rect>"#,
                escape(&s.name),
                x.min(zero),
                (x - zero).abs().max(0.5),
                (height - 1.0).max(1.0),
                colour(i),
                escape(&categories[cat as usize]),
                super::axis::number(v)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// `name`, cut to [`MAX_LABEL`] characters with an ellipsis.
fn cut(name: &str) -> String {
    if name.chars().count() <= MAX_LABEL {
        name.to_string()
    } else {
        name.chars().take(MAX_LABEL - 1).chain(std::iter::once('…')).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_category_is_on_top_and_long_names_are_cut() {
        let long = "a_feature_with_a_name_far_too_long_to_print_whole".to_string();
        let s = Series { name: "gain".into(), points: vec![(0.0, 5.0), (1.0, 1.0)] };
        let svg = render("t", vec!["top".into(), long], "importance", &[s]);
        assert_eq!(svg.matches(r#"<rect class="data""#).count(), 2);
        let y = |name: &str| {
            let at = svg.find(&format!("<title>{name}")).unwrap();
            let rect = &svg[svg[..at].rfind("<rect").unwrap()..at];
            let y = &rect[rect.find(" y=\"").unwrap() + 4..];
            y[..y.find('"').unwrap()].parse::<f64>().unwrap()
        };
        assert!(y("top") < y("a_feature"), "{svg}");
        assert!(svg.contains("a_feature_with_a_name_far_too_lon…</text>") && svg.contains(">importance</text>"));
        assert!(!svg.contains("NaN"));
    }
}
