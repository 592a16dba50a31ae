//! Issue 7: on `h100-jobs`, trained on the first 70% of jobs by submission
//! time and tested on the rest, the median absolute percentage error of
//! runtime is at most 30% (the users' 20 s limit is off by a factor of
//! about 40).

use foresight_datasets::embedded::{h100_jobs, h100_telemetry};
use foresight_models::evaluate::train_and_evaluate;
use foresight_models::history::job_telemetry;
use foresight_models::{ModelKind, SplitOptions};

fn report(label: &str, e: &foresight_models::Evaluation) {
    println!(
        "h100-jobs {label} {}: MdAPE {:.1}% (requested {:.1}%, easy++ {:.1}%), accuracy {:.2}, under {:.0}%, n={} trained on {}",
        e.model,
        e.runtime.mdape * 100.0,
        e.requested.mdape * 100.0,
        e.easy_plus_plus.mdape * 100.0,
        e.runtime.accuracy,
        e.runtime.under_rate * 100.0,
        e.runtime.n,
        e.train_jobs
    );
}

/// Model choices are made on the development part (the first 70%, split
/// again 70/30 by time); the held-out 30% is only scored, once, by `auto`.
#[test]
fn h100_runtime_mdape_is_at_most_30_percent() {
    let mut table = h100_jobs().expect("the embedded jobs read").table;
    let telemetry = job_telemetry(&h100_telemetry().expect("the embedded telemetry reads").0);
    let mut dev = table.clone();
    dev.jobs.sort_by(|a, b| a.submit_s.total_cmp(&b.submit_s));
    dev.jobs.truncate(dev.jobs.len() * 7 / 10);
    for kind in [ModelKind::Gbt, ModelKind::GbtUnder, ModelKind::Linear, ModelKind::LinearByName, ModelKind::Hybrid, ModelKind::Auto] {
        let (_, e) = train_and_evaluate(&dev, kind, &telemetry, SplitOptions::default()).expect("trains");
        report("development", &e);
    }
    table.jobs.sort_by(|a, b| a.submit_s.total_cmp(&b.submit_s));
    let (_, e) = train_and_evaluate(&table, ModelKind::Auto, &telemetry, SplitOptions::default()).expect("trains");
    report("held-out", &e);
    assert!(e.runtime.mdape <= 0.30, "MdAPE {}", e.runtime.mdape);
    assert!(e.runtime.mdape < e.requested.mdape && e.runtime.mdape < e.easy_plus_plus.mdape);
}
