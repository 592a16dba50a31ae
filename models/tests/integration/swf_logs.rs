//! Issue 7 on the two SWF logs (KTH-SP2, CEA-Curie sample): the demand
//! forecaster against seasonal-naive, the failure/time-out classifier
//! against the user-history baseline, and offline runtime metrics against
//! the requested time and EASY++, all split by time (70/30).

use foresight_datasets::{ReadOptions, read_trace, require_dataset};
use foresight_models::demand::{Quantity, evaluate as evaluate_demand, hourly};
use foresight_models::evaluate::train_and_evaluate;
use foresight_models::features::calendar_offset;
use foresight_models::history::JobTelemetry;
use foresight_models::{ModelKind, SplitOptions};

fn check(relative: &str, path: &std::path::Path) {
    let table = read_trace(path, &ReadOptions::default()).expect("the log reads").table;
    let offset = calendar_offset(&table.meta);
    for q in [Quantity::Jobs, Quantity::CpuHours] {
        let m = evaluate_demand(&hourly(&table.jobs, q, offset, |_| true), 0.7).expect("long enough");
        println!(
            "{relative} demand {q:?}: MAE {:.3} vs seasonal-naive week {:.3}, day {:.3} ({} test hours)",
            m.mae, m.mae_seasonal_naive_week, m.mae_seasonal_naive_day, m.test_hours
        );
        assert!(m.mae < m.mae_seasonal_naive_week, "{q:?}: {m:?}");
    }
    let (_, e) = train_and_evaluate(&table, ModelKind::GbtMedian, &JobTelemetry::new(), SplitOptions::default()).expect("trains");
    let (r, q, u) = (&e.runtime, &e.requested, &e.easy_plus_plus);
    println!(
        "{relative} runtime {}: MAE {:.0} s, MdAPE {:.0}%, accuracy {:.2}, under {:.0}% | requested: {:.0} s, {:.0}%, {:.2}, {:.0}% | easy++: {:.0} s, {:.0}%, {:.2}, {:.0}%",
        e.model, r.mae_s, r.mdape * 100.0, r.accuracy, r.under_rate * 100.0,
        q.mae_s, q.mdape * 100.0, q.accuracy, q.under_rate * 100.0,
        u.mae_s, u.mdape * 100.0, u.accuracy, u.under_rate * 100.0,
    );
    assert!(r.mae_s < q.mae_s && r.mae_s < u.mae_s);
    let c = e.classifier.expect("both classes in training");
    println!("{relative} failure/time-out: AUC {:.3} vs user-history {:.3} ({} jobs, {:.1}% positive)", c.auc, c.baseline_auc, c.n, c.positive_rate * 100.0);
    assert!(c.auc > 0.5);
}

#[test]
fn kth_demand_classifier_and_runtime_beat_their_baselines() {
    let path = require_dataset!("pwa-kth-sp2/KTH-SP2-1996-2.1-cln.swf.gz");
    check("KTH-SP2", &path);
}

#[test]
fn curie_demand_classifier_and_runtime_beat_their_baselines() {
    let path = require_dataset!("pwa-cea-curie-sample/CEA-Curie-sample.swf.gz");
    check("CEA-Curie", &path);
}
