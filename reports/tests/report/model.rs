//! The model report from a fixed evaluation: its Markdown snapshot.

use foresight_models::Evaluation;
use foresight_models::metrics::{CalibrationBin, RuntimeMetrics};

/// Metrics with calibration bins scaled by `bias` (1 is calibrated).
fn metrics(mdape: f64, accuracy: f64, under_rate: f64, bias: f64) -> RuntimeMetrics {
    let calibration = [1.0, 3.0, 10.0, 30.0, 100.0]
        .iter()
        .map(|&p| CalibrationBin { n: 20, median_predicted_s: p, median_actual_s: p / bias })
        .collect();
    RuntimeMetrics { n: 100, mae_s: 12.5 * mdape, mdape, accuracy, under_rate, calibration }
}

/// Two models scored on the same 100 jobs.
pub fn evaluations() -> Vec<Evaluation> {
    let eval = |model: &str, m: RuntimeMetrics| Evaluation {
        model: model.into(),
        split_s: 3600.0,
        train_jobs: 100,
        runtime: m,
        requested: metrics(9.0, 0.1, 0.02, 10.0),
        easy_plus_plus: metrics(0.8, 0.45, 0.4, 1.5),
        classifier: None,
    };
    vec![eval("gbt", metrics(0.35, 0.7, 0.45, 1.1)), eval("linear", metrics(0.5, 0.6, 0.5, 0.8))]
}

#[test]
fn model_markdown() {
    let r = foresight_reports::render_model("Runtime models: fixture", &evaluations()).unwrap();
    assert!(r.html.matches("<svg").count() == 3 && r.json.contains("\"gbt\""));
    insta::assert_snapshot!(r.markdown);
}
