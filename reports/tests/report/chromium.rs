//! The HTML report opened in a real headless Chromium: every chart renders
//! with data, the console stays clean, and a screenshot is saved for a
//! person to look at. Without Chromium the test says `skipped` and passes,
//! unless `FORESIGHT_REQUIRE_CHROMIUM=1` (as `.ci/run` sets).

use super::browser::{check_page, chromium, out_dir};
use super::fixture::evidence;

#[test]
fn the_html_report_renders_every_chart_in_chromium() {
    let Some(bin) = chromium() else { return };
    let page = out_dir().join("report.html");
    foresight_reports::write_comparison(&evidence(), &page).unwrap();
    check_page(&bin, &page, 9);
}

#[test]
fn the_model_report_renders_every_chart_in_chromium() {
    let Some(bin) = chromium() else { return };
    let page = out_dir().join("model.html");
    foresight_reports::write_model("Runtime models: fixture", &super::model::evaluations(), &page).unwrap();
    let html = check_page(&bin, &page, 6);
    for series in ["alice", "user_mean_log_runtime", "forecaster", "seasonal-naive (a week before)"] {
        assert!(html.contains(series), "{series} is missing from the rendered model report");
    }
}

#[test]
fn the_shadow_report_renders_every_chart_in_chromium() {
    let Some(bin) = chromium() else { return };
    let page = out_dir().join("shadow.html");
    foresight_reports::write_shadow(&super::shadow::evidence(), &page).unwrap();
    let html = check_page(&bin, &page, 3);
    for series in [r#"data-series="cycles""#, r#"data-series="mean absolute error""#, r#"data-series="candidate minus actual""#] {
        assert!(html.contains(series), "{series} is missing from the rendered shadow report");
    }
}
