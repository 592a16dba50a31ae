//! Axes: a scale from data to a fraction of the plot, its ticks and their
//! labels. Every chart positions marks through an [`Axis`], so scales and
//! tick labels look the same everywhere.

/// How values map onto an axis.
#[derive(Debug, Clone, PartialEq)]
pub enum Scale {
    /// Linear from `min` to `max`.
    Linear {
        /// Lowest value shown.
        min: f64,
        /// Highest value shown.
        max: f64,
    },
    /// `log10(1 + v)` from 0 to `max`: zero stays on the axis, and values
    /// over several decades stay readable (waits, runtimes).
    Log1p {
        /// Highest value shown.
        max: f64,
    },
    /// `log10(v)` from `min` to `max`, both powers of ten (runtimes
    /// against predictions).
    Log {
        /// Lowest value shown.
        min: f64,
        /// Highest value shown.
        max: f64,
    },
    /// Named categories, one band each.
    Category(Vec<String>),
}

/// An axis: its label (with the unit) and its scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Label with unit, e.g. `wait (s, log scale)`.
    pub label: String,
    /// The scale.
    pub scale: Scale,
}

impl Axis {
    /// A linear axis from `min` to a round number at or above `max`.
    pub fn linear(label: &str, min: f64, max: f64) -> Self {
        let max = if max > min { max } else { min + 1.0 };
        let step = nice_step(max - min);
        let (min, max) = ((min / step).floor() * step, (max / step).ceil() * step);
        Self { label: label.to_string(), scale: Scale::Linear { min, max } }
    }

    /// A `log10(1 + v)` axis from 0 to the next power of ten at or above `max`.
    pub fn log1p(label: &str, max: f64) -> Self {
        let decades = max.max(1.0).log10().ceil().max(1.0);
        Self { label: label.to_string(), scale: Scale::Log1p { max: 10f64.powf(decades) } }
    }

    /// A `log10` axis over whole decades covering `[min, max]` (`min > 0`).
    pub fn log(label: &str, min: f64, max: f64) -> Self {
        let lo = min.max(f64::MIN_POSITIVE).log10().floor();
        let hi = max.max(min).log10().ceil().max(lo + 1.0);
        Self { label: label.to_string(), scale: Scale::Log { min: 10f64.powf(lo), max: 10f64.powf(hi) } }
    }

    /// A categorical axis.
    pub fn categories(label: &str, names: Vec<String>) -> Self {
        Self { label: label.to_string(), scale: Scale::Category(names) }
    }

    /// Where `v` falls, as a fraction of the axis length (0 at the start).
    pub fn fraction(&self, v: f64) -> f64 {
        match &self.scale {
            Scale::Linear { min, max } => (v - min) / (max - min),
            Scale::Log1p { max } => v.max(0.0).ln_1p() / max.ln_1p(),
            Scale::Log { min, max } => (v.max(*min).ln() - min.ln()) / (max.ln() - min.ln()),
            Scale::Category(names) => (v + 0.5) / names.len().max(1) as f64,
        }
    }

    /// The width of one category band as a fraction of the axis (1 for
    /// numeric scales).
    pub fn band(&self) -> f64 {
        match &self.scale {
            Scale::Category(names) => 1.0 / names.len().max(1) as f64,
            _ => 1.0,
        }
    }

    /// Ticks: values (in data units, category index for categories) and
    /// their labels.
    pub fn ticks(&self) -> Vec<(f64, String)> {
        match &self.scale {
            Scale::Linear { min, max } => {
                let step = nice_step(max - min);
                let n = ((max - min) / step).round() as usize;
                (0..=n).map(|i| min + i as f64 * step).map(|v| (v, number(v))).collect()
            }
            Scale::Log1p { max } => {
                let decades = max.log10().round() as i32;
                std::iter::once((0.0, "0".to_string()))
                    .chain((0..=decades).map(|d| 10f64.powi(d)).map(|v| (v, number(v))))
                    .collect()
            }
            Scale::Log { min, max } => {
                let (lo, hi) = (min.log10().round() as i32, max.log10().round() as i32);
                (lo..=hi).map(|d| 10f64.powi(d)).map(|v| (v, number(v))).collect()
            }
            Scale::Category(names) => names.iter().enumerate().map(|(i, n)| (i as f64, n.clone())).collect(),
        }
    }

    /// True for axes whose ticks deserve grid lines.
    pub fn is_numeric(&self) -> bool {
        !matches!(self.scale, Scale::Category(_))
    }
}

/// A step of 1, 2 or 5 times a power of ten giving about five ticks.
fn nice_step(span: f64) -> f64 {
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    // A hair of tolerance, so that 100.000001 still steps by 20.
    let unit = raw / mag - 1e-9;
    mag * if unit <= 1.0 {
        1.0
    } else if unit <= 2.0 {
        2.0
    } else if unit <= 5.0 {
        5.0
    } else {
        10.0
    }
}

/// A tick label: short, with `k`/`M` above ten thousand.
pub fn number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_string() } else { s.to_string() }
}

/// A unit for durations up to `max_s` seconds: its divisor and its name.
pub fn time_unit(max_s: f64) -> (f64, &'static str) {
    if max_s >= 2.0 * 86_400.0 {
        (86_400.0, "days")
    } else if max_s >= 2.0 * 3600.0 {
        (3600.0, "h")
    } else if max_s >= 120.0 {
        (60.0, "min")
    } else {
        (1.0, "s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_axes_round_outwards_to_nice_ticks() {
        let a = Axis::linear("x", 0.0, 87.0);
        assert_eq!(a.scale, Scale::Linear { min: 0.0, max: 100.0 });
        let labels: Vec<String> = a.ticks().into_iter().map(|t| t.1).collect();
        assert_eq!(labels, ["0", "20", "40", "60", "80", "100"]);
        assert_eq!(a.fraction(50.0), 0.5);
    }

    #[test]
    fn log_axes_keep_zero_and_label_decades() {
        let a = Axis::log1p("wait (s)", 4321.0);
        let labels: Vec<String> = a.ticks().into_iter().map(|t| t.1).collect();
        assert_eq!(labels, ["0", "1", "10", "100", "1000", "10k"]);
        assert_eq!((a.fraction(0.0), a.fraction(10_000.0)), (0.0, 1.0));
    }

    #[test]
    fn log_axes_span_whole_decades() {
        let a = Axis::log("runtime (s)", 0.3, 42.0);
        assert_eq!(a.scale, Scale::Log { min: 0.1, max: 100.0 });
        let labels: Vec<String> = a.ticks().into_iter().map(|t| t.1).collect();
        assert_eq!(labels, ["0.1", "1", "10", "100"]);
        assert!((a.fraction(10.0) - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn categories_centre_in_bands_and_units_fit() {
        let a = Axis::categories("user", vec!["a".into(), "b".into()]);
        assert_eq!((a.fraction(0.0), a.fraction(1.0), a.band()), (0.25, 0.75, 0.5));
        assert_eq!(number(12_500.0), "12.5k");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(time_unit(30.0).1, "s");
        assert_eq!(time_unit(7200.0).1, "h");
    }
}
