//! The prediction-quality section of the comparison report: each run's
//! runtime estimates against the runtimes the jobs then had, as a log-log
//! scatter, a histogram of error factors, and accuracy per user. The
//! oracle's perfect estimates are tabulated but not drawn.

use crate::chart::{Series, bar, scatter};
use crate::doc::{Block, Table};
use foresight_simulator::{Evidence, RunEvidence};

/// Users shown per chart (those with the most jobs; the rest are in the JSON).
const MAX_USERS: usize = 20;

/// The section's blocks.
pub fn blocks(e: &Evidence) -> Vec<Block> {
    let drawn: Vec<&RunEvidence> = e.runs.iter().filter(|r| r.report.predictor != "clairvoyant").collect();
    let mut summary = Table::new(&["run", "jobs", "accuracy (1 = perfect)", "under-predicted (%)"]);
    for r in &e.runs {
        let p = &r.predictions;
        summary.row(vec![r.label.clone(), p.jobs.to_string(), format!("{:.3}", p.accuracy), format!("{:.1}", 100.0 * p.under_rate)]);
    }
    vec![
        Block::Heading("Prediction quality".into()),
        Block::Para(
            "Each job's runtime estimate at submission against the runtime it then had. Accuracy is min(estimate, runtime) / max(estimate, runtime), averaged; an under-predicted job ran longer than its estimate (it keeps its limit: predictions never kill)."
                .into(),
        ),
        Block::Table(summary),
        scatter_figure(&drawn),
        factors(&drawn),
        users(&drawn),
    ]
}

fn scatter_figure(drawn: &[&RunEvidence]) -> Block {
    let caption = "Predicted against actual runtime (log-log; the dashed line is a perfect prediction)";
    let series: Vec<Series> = drawn.iter().map(|r| Series { name: r.label.clone(), points: r.predictions.scatter.clone() }).collect();
    let svg = scatter::render(caption, "predicted runtime (s, log scale)", "actual runtime (s, log scale)", &series);
    let mut t = Table::new(&["run", "points drawn"]);
    for r in drawn {
        t.row(vec![r.label.clone(), r.predictions.scatter.len().to_string()]);
    }
    Block::Figure { caption: caption.into(), svg, table: t }
}

fn factors(drawn: &[&RunEvidence]) -> Block {
    let caption = "Error factor: estimate divided by runtime (1-2x is a slight over-estimate)";
    let bins: Vec<String> = drawn.first().map_or(Vec::new(), |r| r.predictions.error_factors.iter().map(|b| b.bin.clone()).collect());
    let series: Vec<Series> = drawn
        .iter()
        .map(|r| Series {
            name: r.label.clone(),
            points: r.predictions.error_factors.iter().enumerate().map(|(i, b)| (i as f64, b.jobs as f64)).collect(),
        })
        .collect();
    let svg = bar::render(caption, "estimate / runtime", bins.clone(), "jobs", &series);
    let mut header = vec!["estimate / runtime"];
    header.extend(drawn.iter().map(|r| r.label.as_str()));
    let mut t = Table::new(&header);
    for (i, bin) in bins.iter().enumerate() {
        let mut row = vec![bin.clone()];
        row.extend(drawn.iter().map(|r| r.predictions.error_factors.get(i).map_or("-".into(), |b| b.jobs.to_string())));
        t.row(row);
    }
    Block::Figure { caption: caption.into(), svg, table: t }
}

fn users(drawn: &[&RunEvidence]) -> Block {
    let mut names: Vec<(&str, u64)> =
        drawn.first().map_or(Vec::new(), |r| r.predictions.by_user.iter().map(|u| (u.name.as_str(), u.jobs)).collect());
    names.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    names.truncate(MAX_USERS);
    let caption = "Accuracy per user (1 = perfect)";
    let find = |r: &RunEvidence, name: &str| r.predictions.by_user.iter().find(|u| u.name == name).cloned();
    let series: Vec<Series> = drawn
        .iter()
        .map(|r| Series {
            name: r.label.clone(),
            points: names.iter().enumerate().filter_map(|(i, (n, _))| find(r, n).map(|u| (i as f64, u.accuracy))).collect(),
        })
        .collect();
    let svg = bar::render(caption, "user", names.iter().map(|n| n.0.to_string()).collect(), "accuracy (1 = perfect)", &series);
    let mut header = vec!["user", "jobs"];
    let labels: Vec<String> = drawn.iter().map(|r| format!("{}: accuracy / under (%)", r.label)).collect();
    header.extend(labels.iter().map(String::as_str));
    let mut t = Table::new(&header);
    for (name, jobs) in &names {
        let mut row = vec![name.to_string(), jobs.to_string()];
        row.extend(drawn.iter().map(|r| find(r, name).map_or("-".into(), |u| format!("{:.3} / {:.1}", u.accuracy, 100.0 * u.under_rate))));
        t.row(row);
    }
    Block::Figure { caption: caption.into(), svg, table: t }
}
