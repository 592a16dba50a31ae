//! The model report: runtime models scored on the jobs after their
//! training window (as `foresight_models::Evaluation` holds them), each
//! beside the user's requested time and EASY++ on the same jobs: the
//! metrics, accuracy and under-prediction rate as bars, calibration
//! (median predicted against median actual runtime per quintile) on
//! log-log axes, accuracy per user against EASY++'s, the feature
//! importances of the model that has them, hourly arrivals against the
//! demand forecasts ([`crate::demand`]), the runtime interval's coverage
//! against its nominal level (overall and by quartile of the estimate), and
//! the failure classifier's AUC.
//!
//! Per-job points are not in an evaluation; the comparison report's
//! prediction-quality section draws per-job estimates from a replay.

use crate::chart::{Series, bar, hbar, scatter};
use crate::doc::{Block, Doc, Table};
use foresight_models::Evaluation;
use foresight_models::metrics::RuntimeMetrics;

/// Users drawn in the per-user chart (the rest of the evaluation's are in
/// the table and the JSON).
const MAX_USERS_DRAWN: usize = 15;
/// Features drawn in the importance chart (the rest are in the JSON).
const MAX_FEATURES: usize = 15;

/// The evaluations, best first (lowest median error; ties keep their order).
fn ranked(evals: &[Evaluation]) -> Vec<&Evaluation> {
    let mut v: Vec<&Evaluation> = evals.iter().collect();
    v.sort_by(|a, b| a.runtime.mdape.total_cmp(&b.runtime.mdape));
    v
}

/// The report of `evals` as a document.
pub fn doc(title: &str, evals: &[Evaluation]) -> Doc {
    let mut blocks = Vec::new();
    if let Some(best) = ranked(evals).first() {
        blocks.push(Block::Verdict(format!(
            "{} predicts runtimes with a median error of {:.0}% on {} jobs it never saw (EASY++ {:.0}%, requested time {:.0}%); {:.0}% of jobs run longer than predicted.",
            best.model,
            100.0 * best.runtime.mdape,
            best.runtime.n,
            100.0 * best.easy_plus_plus.mdape,
            100.0 * best.requested.mdape,
            100.0 * best.runtime.under_rate
        )));
    }
    let mut t = Table::new(&[
        "model",
        "predictor",
        "jobs",
        "MAE (s)",
        "MdAPE (%)",
        "accuracy (1 = perfect)",
        "under-predicted (%)",
    ]);
    for e in evals {
        for (name, m) in rows(e) {
            t.row(vec![
                e.model.clone(),
                name.to_string(),
                m.n.to_string(),
                format!("{:.1}", m.mae_s),
                format!("{:.1}", 100.0 * m.mdape),
                format!("{:.3}", m.accuracy),
                format!("{:.1}", 100.0 * m.under_rate),
            ]);
        }
    }
    blocks.extend([Block::Heading("Runtime predictions on the test jobs".into()), Block::Table(t)]);
    blocks
        .push(metric_bars(evals, "Accuracy: mean of min(p, r) / max(p, r)", "accuracy (1 = perfect)", |m| m.accuracy));
    blocks.push(metric_bars(
        evals,
        "Under-prediction rate: jobs that ran longer than predicted",
        "jobs under-predicted (%)",
        |m| 100.0 * m.under_rate,
    ));
    blocks.push(Block::Heading("Calibration".into()));
    blocks.push(calibration(evals));
    if evals.iter().any(|e| e.interval.is_some()) {
        blocks.push(Block::Heading("Runtime intervals".into()));
        blocks.extend(intervals(evals));
    }
    if let Some(best) = ranked(evals).into_iter().find(|e| !e.by_user.is_empty()) {
        blocks.extend([Block::Heading("Accuracy per user".into()), users(best)]);
    }
    if let Some(e) = ranked(evals).into_iter().find(|e| !e.importances.is_empty()) {
        blocks.extend([Block::Heading("Feature importances".into()), importances(e)]);
    }
    if let Some(d) = evals.iter().find_map(|e| e.demand.as_ref()) {
        blocks.push(Block::Heading("Demand forecast".into()));
        blocks.extend(crate::demand::blocks(d));
    }
    let classifiers: Vec<_> = evals.iter().filter_map(|e| e.classifier.as_ref().map(|c| (e, c))).collect();
    if !classifiers.is_empty() {
        let mut t = Table::new(&["model", "jobs", "failed or timed out (%)", "AUC", "user-history AUC"]);
        for (e, c) in classifiers {
            t.row(vec![
                e.model.clone(),
                c.n.to_string(),
                format!("{:.1}", 100.0 * c.positive_rate),
                format!("{:.3}", c.auc),
                format!("{:.3}", c.baseline_auc),
            ]);
        }
        blocks.extend([Block::Heading("Failure and time-out classifier".into()), Block::Table(t)]);
    }
    Doc { title: title.to_string(), blocks }
}

/// The intervals' coverage: one row per model, then one per quartile of
/// the estimate.
fn intervals(evals: &[Evaluation]) -> Vec<Block> {
    let mut t = Table::new(&[
        "model",
        "nominal (%)",
        "calibration jobs",
        "test jobs",
        "inside (%)",
        "below (%)",
        "above (%)",
        "median width (hi/lo)",
    ]);
    let mut q = Table::new(&["model", "estimates (s)", "jobs", "inside (%)"]);
    for e in evals {
        let Some(c) = &e.interval else { continue };
        t.row(vec![
            e.model.clone(),
            format!("{:.0}", 100.0 * c.nominal),
            c.calibration_jobs.to_string(),
            c.n.to_string(),
            format!("{:.1}", 100.0 * c.coverage),
            format!("{:.1}", 100.0 * c.below),
            format!("{:.1}", 100.0 * c.above),
            format!("{:.2}", c.median_ratio),
        ]);
        for b in &c.by_quartile {
            q.row(vec![
                e.model.clone(),
                format!("{:.1} to {:.1}", b.min_estimate_s, b.max_estimate_s),
                b.n.to_string(),
                format!("{:.1}", 100.0 * b.coverage),
            ]);
        }
    }
    vec![
        Block::Para(
            "Each prediction's interval is where its runtime should fall at the nominal coverage; \"inside\" is how often it did on the test jobs, with the jobs that ran shorter (below) or longer (above); the second table splits it by quartile of the estimate, shortest first.".into(),
        ),
        Block::Table(t),
        Block::Table(q),
    ]
}

/// The model and its two baselines, named.
fn rows(e: &Evaluation) -> [(&str, &RuntimeMetrics); 3] {
    [(e.model.as_str(), &e.runtime), ("easy++", &e.easy_plus_plus), ("requested", &e.requested)]
}

fn metric_bars(evals: &[Evaluation], caption: &str, y_label: &str, value: impl Fn(&RuntimeMetrics) -> f64) -> Block {
    let names: Vec<String> = evals.iter().map(|e| e.model.clone()).collect();
    let series: Vec<Series> = ["model", "easy++", "requested"]
        .iter()
        .enumerate()
        .map(|(k, name)| Series {
            name: name.to_string(),
            points: evals.iter().enumerate().map(|(i, e)| (i as f64, value(rows(e)[k].1))).collect(),
        })
        .collect();
    let svg = bar::render(caption, "model evaluated", names, y_label, &series);
    let mut t = Table::new(&["model", "model itself", "easy++", "requested"]);
    for e in evals {
        let mut row = vec![e.model.clone()];
        row.extend(rows(e).iter().map(|(_, m)| format!("{:.3}", value(m))));
        t.row(row);
    }
    Block::Figure { caption: caption.into(), svg, table: t }
}

fn calibration(evals: &[Evaluation]) -> Block {
    let caption = "Calibration: median actual against median predicted runtime, per quintile of prediction (log-log)";
    let series: Vec<Series> = evals
        .iter()
        .map(|e| Series {
            name: e.model.clone(),
            points: e.runtime.calibration.iter().map(|b| (b.median_predicted_s, b.median_actual_s)).collect(),
        })
        .collect();
    let svg = scatter::render(
        caption,
        "median predicted runtime (s, log scale)",
        "median actual runtime (s, log scale)",
        &series,
    );
    let mut t = Table::new(&["model", "quintile", "jobs", "median predicted (s)", "median actual (s)"]);
    for e in evals {
        for (i, b) in e.runtime.calibration.iter().enumerate() {
            t.row(vec![
                e.model.clone(),
                (i + 1).to_string(),
                b.n.to_string(),
                format!("{:.1}", b.median_predicted_s),
                format!("{:.1}", b.median_actual_s),
            ]);
        }
    }
    Block::Figure { caption: caption.into(), svg, table: t }
}

fn users(e: &Evaluation) -> Block {
    let drawn = &e.by_user[..e.by_user.len().min(MAX_USERS_DRAWN)];
    let caption = format!(
        "Accuracy per user (1 = perfect): {} against EASY++, the {} users with the most test jobs",
        e.model,
        drawn.len()
    );
    let series = vec![
        Series {
            name: e.model.clone(),
            points: drawn.iter().enumerate().map(|(i, u)| (i as f64, u.model.accuracy)).collect(),
        },
        Series {
            name: "easy++".into(),
            points: drawn.iter().enumerate().map(|(i, u)| (i as f64, u.easy_plus_plus.accuracy)).collect(),
        },
    ];
    let names = drawn.iter().map(|u| u.user.clone()).collect();
    let svg = hbar::render(&caption, names, "accuracy (1 = perfect)", &series);
    let mut t = Table::new(&[
        "user",
        "jobs",
        "accuracy",
        "MdAPE (%)",
        "under-predicted (%)",
        "easy++ accuracy",
        "easy++ MdAPE (%)",
        "easy++ under-predicted (%)",
    ]);
    for u in &e.by_user {
        let (m, b) = (&u.model, &u.easy_plus_plus);
        t.row(vec![
            u.user.clone(),
            u.jobs.to_string(),
            format!("{:.3}", m.accuracy),
            format!("{:.1}", 100.0 * m.mdape),
            format!("{:.1}", 100.0 * m.under_rate),
            format!("{:.3}", b.accuracy),
            format!("{:.1}", 100.0 * b.mdape),
            format!("{:.1}", 100.0 * b.under_rate),
        ]);
    }
    Block::Figure { caption, svg, table: t }
}

fn importances(e: &Evaluation) -> Block {
    let shown = &e.importances[..e.importances.len().min(MAX_FEATURES)];
    let caption = format!(
        "Feature importances of {}: the {} most important of {} features",
        e.model,
        shown.len(),
        e.importances.len()
    );
    let series = [Series {
        name: e.model.clone(),
        points: shown.iter().enumerate().map(|(i, f)| (i as f64, f.importance)).collect(),
    }];
    let svg = hbar::render(
        &caption,
        shown.iter().map(|f| f.feature.clone()).collect(),
        "importance (share: tree gain, or |standardised coefficient| for linear)",
        &series,
    );
    let mut t = Table::new(&["feature", "importance"]);
    for f in shown {
        t.row(vec![f.feature.clone(), significant(f.importance)]);
    }
    Block::Figure { caption, svg, table: t }
}

/// `v` with four significant digits (importances span many magnitudes).
fn significant(v: f64) -> String {
    let digits = if v == 0.0 { 0 } else { (3 - v.abs().log10().floor() as i32).max(0) as usize };
    format!("{v:.digits$}")
}
