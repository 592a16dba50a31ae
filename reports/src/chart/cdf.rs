//! The cumulative distribution of a duration (waits) per series: x on a
//! `log10(1 + v)` scale in seconds, y the percentage of jobs.

use super::axis::Axis;
use super::{Series, line};

/// An SVG CDF of `series`, whose points are (seconds, fraction in [0, 1]).
pub fn render(title: &str, x_label: &str, series: &[Series]) -> String {
    let max = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).fold(1.0, f64::max);
    let percent: Vec<Series> = series
        .iter()
        .map(|s| Series { name: s.name.clone(), points: s.points.iter().map(|&(x, f)| (x, 100.0 * f)).collect() })
        .collect();
    line::render(title, Axis::log1p(x_label, max), Axis::linear("jobs (%)", 0.0, 100.0), &percent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cdf_spans_zero_to_one_hundred_percent() {
        let s = Series { name: "fcfs".into(), points: vec![(0.0, 0.0), (50.0, 0.5), (900.0, 1.0)] };
        let svg = render("waits", "wait (s, log scale)", &[s]);
        assert!(svg.contains(">jobs (%)</text>") && svg.contains(">1000</text>") && svg.contains(">100</text>"));
        assert_eq!(svg.matches(r#"class="data""#).count(), 1);
    }
}
