//! The demand section of the model report: the jobs submitted per hour in
//! the test window against the forecaster (a day ahead) and the
//! seasonal-naive forecast (the same hour a week before, or a day before
//! when there is no week of history), with each forecast's error over the
//! whole window. Too short a window is said in words, not drawn.

use crate::chart::axis::Axis;
use crate::chart::{Series, line};
use crate::doc::{Block, Table};
use foresight_models::demand::{DemandForecast, DemandHour, Quantity};

/// The section's blocks.
pub fn blocks(d: &DemandForecast) -> Vec<Block> {
    let what = match d.quantity {
        Quantity::Jobs => "jobs submitted",
        Quantity::CpuHours => "CPU hours requested",
        Quantity::GpuHours => "GPU hours requested",
    };
    let mut blocks = vec![Block::Para(format!(
        "The {what} per hour from the hour of the split on (the model's test window: {}), after {} of history, against forecasts made a day ahead from what was known then.",
        hours(d.test_hours),
        hours(d.history_hours)
    ))];
    if let Some(note) = &d.note {
        blocks.push(Block::Para(format!("Note: {note}")));
    }
    let mut t = Table::new(&["measure", "value"]);
    t.row(vec!["hours of history".into(), d.history_hours.to_string()]);
    t.row(vec!["hours in the test window".into(), d.test_hours.to_string()]);
    t.row(vec!["hours drawn".into(), d.hours.len().to_string()]);
    if let Some(m) = &d.metrics {
        t.row(vec![format!("forecaster: mean absolute error ({what} per hour)"), format!("{:.3}", m.mae)]);
        t.row(vec!["seasonal-naive, a week before: mean absolute error".into(), format!("{:.3}", m.mae_seasonal_naive_week)]);
        t.row(vec!["seasonal-naive, a day before: mean absolute error".into(), format!("{:.3}", m.mae_seasonal_naive_day)]);
    }
    if d.hours.len() < 2 {
        blocks.push(Block::Para(format!(
            "The test window has {}: too few to draw ({} that hour).",
            hours(d.hours.len()),
            d.hours.iter().map(|h| format!("{} {what}", h.actual)).collect::<Vec<_>>().join(", ")
        )));
        blocks.push(Block::Table(t));
        return blocks;
    }
    let days = d.hours.len() > 72;
    let x = |h: &DemandHour| if days { h.hour as f64 / 24.0 } else { h.hour as f64 };
    let pick = |name: &str, f: &dyn Fn(&DemandHour) -> Option<f64>| Series {
        name: name.to_string(),
        points: d.hours.iter().filter_map(|h| f(h).map(|v| (x(h), v))).collect(),
    };
    let naive = if d.hours.iter().any(|h| h.seasonal_naive_week.is_some()) {
        pick("seasonal-naive (a week before)", &|h| h.seasonal_naive_week)
    } else {
        pick("seasonal-naive (a day before)", &|h| h.seasonal_naive_day)
    };
    let series: Vec<Series> = [pick("actual", &|h| Some(h.actual)), pick("forecaster", &|h| h.forecast), naive]
        .into_iter()
        .filter(|s| !s.points.is_empty())
        .collect();
    let top = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(1.0, f64::max);
    let end = d.hours.last().map_or(1.0, x);
    let caption = format!("{what} per hour in the test window: actual against the forecasts", what = capitalised(what));
    let x_axis = Axis::linear(if days { "days since the split" } else { "hours since the split" }, 0.0, end);
    let svg = line::render(&caption, x_axis, Axis::linear(&format!("{what} per hour"), 0.0, top), &series);
    blocks.push(Block::Figure { caption, svg, table: t });
    blocks
}

/// `n` hours, in words.
fn hours(n: usize) -> String {
    if n == 1 { "1 hour".into() } else { format!("{n} hours") }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}
