//! The model report from a fixed evaluation: its Markdown snapshot.

use foresight_models::Evaluation;
use foresight_models::demand::{DemandForecast, DemandHour, DemandMetrics, Quantity};
use foresight_models::evaluate::FeatureImportance;
use foresight_models::interval::{CoverageBin, IntervalCoverage};
use foresight_models::metrics::{CalibrationBin, ErrorSummary, RuntimeMetrics, UserAccuracy};

/// Metrics with calibration bins scaled by `bias` (1 is calibrated).
fn metrics(mdape: f64, accuracy: f64, under_rate: f64, bias: f64) -> RuntimeMetrics {
    let calibration = [1.0, 3.0, 10.0, 30.0, 100.0]
        .iter()
        .map(|&p| CalibrationBin { n: 20, median_predicted_s: p, median_actual_s: p / bias })
        .collect();
    RuntimeMetrics { n: 100, mae_s: 12.5 * mdape, mdape, accuracy, under_rate, calibration }
}

/// Three users, the model better than EASY++ for two of them.
fn users() -> Vec<UserAccuracy> {
    let e = |accuracy: f64, mdape: f64, under_rate: f64| ErrorSummary { accuracy, mdape, under_rate };
    vec![
        UserAccuracy { user: "alice".into(), jobs: 50, model: e(0.8, 0.2, 0.4), easy_plus_plus: e(0.5, 0.7, 0.5) },
        UserAccuracy { user: "bob".into(), jobs: 30, model: e(0.6, 0.5, 0.5), easy_plus_plus: e(0.4, 0.9, 0.3) },
        UserAccuracy { user: "carol".into(), jobs: 20, model: e(0.5, 0.6, 0.6), easy_plus_plus: e(0.55, 0.5, 0.35) },
    ]
}

/// Two days of a daily cycle after three weeks of history.
fn demand() -> DemandForecast {
    let hours = (0..48usize)
        .map(|h| {
            let busy = (8..18).contains(&(h % 24));
            let actual = if busy { 10.0 } else { 2.0 } + (h % 3) as f64;
            DemandHour {
                hour: h,
                actual,
                forecast: Some(if busy { 11.0 } else { 2.5 }),
                seasonal_naive_week: Some(if busy { 9.0 } else { 3.0 }),
                seasonal_naive_day: Some(actual + 1.0),
            }
        })
        .collect();
    DemandForecast {
        quantity: Quantity::Jobs,
        first_hour: 480_000,
        history_hours: 504,
        test_hours: 48,
        hours,
        metrics: Some(DemandMetrics {
            train_hours: 336,
            test_hours: 48,
            mae: 1.0,
            mae_seasonal_naive_week: 1.5,
            mae_seasonal_naive_day: 1.0,
        }),
        note: None,
    }
}

/// Two models scored on the same 100 jobs; the first has importances.
pub fn evaluations() -> Vec<Evaluation> {
    let eval = |model: &str, m: RuntimeMetrics| Evaluation {
        model: model.into(),
        split_s: 3600.0,
        train_jobs: 100,
        runtime: m,
        requested: metrics(9.0, 0.1, 0.02, 10.0),
        easy_plus_plus: metrics(0.8, 0.45, 0.4, 1.5),
        classifier: None,
        by_user: users(),
        demand: Some(demand()),
        importances: Vec::new(),
        interval: None,
    };
    let mut gbt = eval("gbt", metrics(0.35, 0.7, 0.45, 1.1));
    gbt.interval = Some(IntervalCoverage {
        nominal: 0.8,
        calibration_jobs: 40,
        n: 100,
        coverage: 0.78,
        below: 0.09,
        above: 0.13,
        median_ratio: 12.5,
        by_quartile: [(10.0, 60.0, 0.84), (61.0, 600.0, 0.8), (610.0, 3000.0, 0.72), (3100.0, 86400.0, 0.76)]
            .iter()
            .map(|&(min_estimate_s, max_estimate_s, coverage)| CoverageBin {
                n: 25,
                min_estimate_s,
                max_estimate_s,
                coverage,
            })
            .collect(),
    });
    gbt.importances =
        [("user_mean_log_runtime", 120.5), ("req_time_s", 40.25), ("name_token:train", 7.0), ("hour_of_day", 0.5)]
            .iter()
            .map(|&(feature, importance)| FeatureImportance { feature: feature.into(), importance })
            .collect();
    vec![gbt, eval("linear", metrics(0.5, 0.6, 0.5, 0.8))]
}

#[test]
fn model_markdown() {
    let r = foresight_reports::render_model("Runtime models: fixture", &evaluations()).unwrap();
    assert_eq!(r.html.matches("<svg").count(), 6);
    assert!(r.json.contains("\"gbt\"") && r.json.contains("\"by_user\"") && r.json.contains("\"seasonal_naive_week\""));
    insta::assert_snapshot!(r.markdown);
}

#[test]
fn evaluations_written_before_the_new_sections_still_read_and_render() {
    let mut old: serde_json::Value = serde_json::to_value(&evaluations()[1]).unwrap();
    for key in ["by_user", "demand", "importances", "interval"] {
        old.as_object_mut().unwrap().remove(key);
    }
    let e: Evaluation = serde_json::from_value(old).unwrap();
    assert!(e.by_user.is_empty() && e.demand.is_none() && e.importances.is_empty() && e.interval.is_none());
    let r = foresight_reports::render_model("old", &[e]).unwrap();
    assert_eq!(r.html.matches("<svg").count(), 3);
    assert!(
        !r.markdown.contains("## Accuracy per user")
            && !r.markdown.contains("## Runtime intervals")
            && !r.html.contains("NaN")
    );
}

#[test]
fn a_demand_window_of_one_hour_is_said_not_drawn() {
    let mut e = evaluations().remove(0);
    let d = e.demand.as_mut().unwrap();
    d.hours.truncate(1);
    d.test_hours = 1;
    d.metrics = None;
    d.note = Some("1 hour of history before the test window; the forecaster needs 336.".into());
    let r = foresight_reports::render_model("short", &[e]).unwrap();
    assert_eq!(r.html.matches("<svg").count(), 5, "no demand chart");
    assert!(
        r.markdown.contains("too few to draw (2 jobs submitted that hour)")
            && r.markdown.contains("Note: 1 hour of history"),
        "{}",
        r.markdown
    );
    assert!(!r.html.contains("NaN"));
}
