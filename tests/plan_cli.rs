//! End-to-end tests of `foresight plan` on the KTH-SP2 log: the
//! recommendation agrees with the size-against-wait curve it prints and
//! writes, the same seed gives the same plan, the report opens in headless
//! Chromium, bad targets and sizes are refused with exit code 2, and the
//! backtest's needs are those of real replays (checked here by replaying a
//! period's jobs again) and its naive planner plans last period's need.
//! Skipped when the dataset is missing.

#[path = "../reports/tests/report/browser.rs"]
mod browser;
mod common;

use common::{foresight, stderr, stdout};
use foresight_core::Job;
use foresight_datasets::shared::dataset_or_skip;
use foresight_simulator::plan::{PlanOptions, Target, replay_metric, resize};
use foresight_simulator::{RunSpec, WorkloadOptions};
use std::path::Path;

const KTH: &str = "pwa-kth-sp2/KTH-SP2-1996-2.1-cln.swf.gz";

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).expect("the JSON file was written")).expect("the file is JSON")
}

fn plan_kth(kth: &Path, out: &Path, more: &[&str]) -> (serde_json::Value, String) {
    let mut args =
        vec!["plan", s(kth), "--horizon", "2d", "--target", "p95-wait=1h", "--seeds", "2", "--seed", "5", "--out", s(out)];
    args.extend(more);
    let o = foresight(&args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    (read_json(&out.join("plan.json")), stdout(&o))
}

#[test]
fn plan_on_kth_recommends_the_smallest_size_of_its_curve_that_meets_the_target() {
    let Some(kth) = dataset_or_skip(KTH) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (plan, printed) = plan_kth(&kth, dir.path(), &[]);
    let rec = plan["recommended"].as_u64().expect("a recommended size");
    let synthetic = plan["synthetic"].as_u64().expect("the synthetic workloads' size");
    let correction = plan["correction"].as_f64().unwrap();
    assert_eq!(
        rec,
        ((synthetic as f64 * correction).ceil() as u64).max(plan["fits_from"].as_u64().unwrap()),
        "the recommendation is the synthetic size corrected, never below the largest synthetic job"
    );
    assert!(!plan["calibration"].as_array().unwrap().is_empty(), "the bias was measured on earlier periods");
    let limit = plan["target"]["limit"].as_f64().unwrap();
    assert_eq!(limit, 3600.0);
    assert!(printed.contains(&format!("Recommended: {rec} nodes")), "{printed}");
    assert!(printed.contains("<- recommended"), "{printed}");
    let curve = plan["curve"].as_array().unwrap();
    let upper = |size: u64| {
        let p =
            curve.iter().find(|p| p["size"].as_u64() == Some(size)).unwrap_or_else(|| panic!("{size} on the curve"));
        p["at_upper"].as_f64().unwrap_or(f64::INFINITY)
    };
    assert!(upper(synthetic) <= limit, "the synthetic size meets the target on the curve");
    assert!(upper(synthetic - 1) > limit, "one node fewer does not");
    assert!(upper(rec) <= limit || rec < synthetic, "so does the recommendation when larger");
    assert_eq!(plan["today"].as_u64(), Some(100), "KTH-SP2's 100 nodes");
    assert!(plan["classes"].as_array().unwrap().len() > 1, "k-means found several classes");
    let o = &plan["outlook"];
    assert_eq!(o["work"].as_array().unwrap().len(), 48);
    assert!(o["upper_factor"].as_f64().unwrap() >= o["lower_factor"].as_f64().unwrap());
    let today_meets = plan["missed_from_day"].is_null();
    assert_eq!(today_meets, printed.contains("meet it"), "{printed}");
    assert!(rec <= 100 || !today_meets, "today's size is said to miss when it is below the recommendation");
    for ext in ["html", "md"] {
        assert!(dir.path().join("plan").with_extension(ext).exists());
    }

    // the same seed, the same plan
    let again = tempfile::tempdir().unwrap();
    assert_eq!(plan_kth(&kth, again.path(), &[]).0, plan);

    // the page renders its two charts in Chromium
    let Some(bin) = browser::chromium() else { return };
    let page = browser::out_dir().join("plan.html");
    std::fs::copy(dir.path().join("plan.html"), &page).unwrap();
    let html = browser::check_page(&bin, &page, 2);
    for series in ["forecast", "upper quantile (90th percentile)", "target (p95-wait"] {
        assert!(html.contains(series), "{series} is missing from the rendered plan");
    }
}

#[test]
fn a_plan_by_group_forecasts_each_tenant_and_keeps_the_whole_clusters_totals() {
    let Some(kth) = dataset_or_skip(KTH) else { return };
    let (whole_dir, split_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (w, _) = plan_kth(&kth, whole_dir.path(), &[]);
    let (p, printed) = plan_kth(&kth, split_dir.path(), &["--by", "group", "--tenants", "4"]);
    assert!(w["outlook"].get("split").is_none(), "no split unless asked");
    let (o, wo) = (&p["outlook"], &w["outlook"]);
    for total in ["work", "jobs", "upper_factor", "lower_factor"] {
        assert_eq!(o[total], wo[total], "the split changes the mix, not the whole cluster's {total}");
    }
    assert!(o["method"].as_str().unwrap().contains("split by group: each of 5 tenants"), "{}", o["method"]);
    let split = &o["split"];
    let names: Vec<&str> = split["tenants"]["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert_eq!(names.len(), 5, "the 4 largest groups and the rest: {names:?}");
    assert_eq!(names[4], "(other)");
    let outlooks = split["outlooks"].as_array().unwrap();
    let recent: Vec<f64> = outlooks.iter().map(|t| t["recent_work"].as_f64().unwrap()).collect();
    for (t, n) in outlooks.iter().zip(&names) {
        assert_eq!(t["name"].as_str(), Some(*n));
        assert_eq!(t["work"].as_array().unwrap().len(), 48, "{n}: one forecast per hour of the horizon");
    }
    let seen: f64 = wo["recent_work"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).sum();
    assert!((recent.iter().sum::<f64>() - seen).abs() < 1e-6 * seen.max(1.0), "the tenants' pasts add up to the whole's");
    assert!(printed.contains("Recommended:"), "{printed}");
    let md = std::fs::read_to_string(split_dir.path().join("plan.md")).unwrap();
    assert!(md.contains("## Demand by group") && md.contains("| (other) |"), "{md}");
}

#[test]
fn bad_targets_and_sizes_are_refused_with_exit_code_2() {
    let Some(kth) = dataset_or_skip(KTH) else { return };
    for (args, says) in [
        (vec!["--target", "p50-wait=1h"], "unknown metric `p50-wait`"),
        (vec!["--target", "p95-wait=soon"], "bad value `soon`"),
        (vec!["--sizes", "90..80"], "the range's start is past its end"),
        (vec!["--horizon", "0d"], "expected a positive duration"),
        (vec!["--level", "0.3"], "expected a quantile level"),
        (vec!["--by", "tenant"], "`tenant`: expected a tenant key"),
    ] {
        let mut full = vec!["plan", s(&kth)];
        full.extend(args.iter());
        let o = foresight(&full);
        assert_eq!(o.status.code(), Some(2), "{full:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{full:?}: {}", stderr(&o));
    }
}

#[test]
fn the_backtest_scores_plans_against_needs_found_by_real_replays() {
    let Some(kth) = dataset_or_skip(KTH) else { return };
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "plan",
        s(&kth),
        "--backtest",
        "--horizon",
        "7d",
        "--dev-fraction",
        "0.15",
        "--seeds",
        "1",
        "--calibration",
        "2",
        "--out",
        s(dir.path()),
    ];
    let o = foresight(&args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    assert!(stdout(&o).contains("| plan |"), "{}", stdout(&o));
    let b = read_json(&dir.path().join("backtest.json"));
    let periods = b["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 7, "15% of KTH-SP2's 48 weeks");
    let planned: Vec<&serde_json::Value> = periods.iter().filter(|p| !p["sizes"][0].is_null()).collect();
    assert!(planned.len() >= 3, "weeks 3 to 6 are planned");
    for p in &planned {
        let k = p["index"].as_u64().unwrap() as usize;
        let last_need = periods[k - 1]["need"].as_u64().unwrap().max(1);
        assert_eq!(p["sizes"][1]["size"].as_u64(), Some(last_need), "the naive planner plans last week's need");
    }
    // the report's Markdown, whole: integers and sums of replayed needs
    let md = std::fs::read_to_string(dir.path().join("backtest.md")).unwrap();
    insta::assert_snapshot!("plan_backtest_kth_first_weeks", md);
    let scores = b["scores"].as_array().unwrap();
    assert_eq!(scores.len(), 3);
    assert_eq!(scores[0]["periods"].as_u64(), Some(planned.len() as u64));

    // a week's need is the smallest size its real jobs meet the target on:
    // replayed again here, it meets at the need and misses one node below
    let table = foresight_datasets::read_trace(&kth, &Default::default()).unwrap().table;
    let mut jobs: Vec<Job> = table.jobs.clone();
    jobs.sort_by(|a, b| a.submit_s.total_cmp(&b.submit_s));
    let base = table.meta.default_cluster().unwrap();
    let opts = PlanOptions {
        target: "p95-wait=1h".parse::<Target>().unwrap(),
        run: RunSpec::new("easy"),
        seeds: vec![0],
        classes: 8,
        window_s: 28.0 * 86_400.0,
        sizes: vec![],
        calibration_periods: 0,
        correction_level: 0.5,
        workload: WorkloadOptions { max_request_s: table.meta.max_runtime_s, ..WorkloadOptions::default() },
    };
    let p = planned[planned.len() - 1];
    let start = p["start_s"].as_f64().unwrap();
    let week: Vec<Job> =
        jobs.iter().filter(|j| j.submit_s >= start && j.submit_s < start + 7.0 * 86_400.0).cloned().collect();
    assert_eq!(week.len() as u64, p["jobs"].as_u64().unwrap());
    let need = p["need"].as_u64().unwrap() as u32;
    let at = |n: u32| replay_metric(&week, &resize(&base, n), &opts).unwrap().0;
    assert!(at(need) <= 3600.0, "the week meets the target at its need");
    assert!(at(need - 1) > 3600.0, "and misses it one node below");
    let today = p["at_today"].as_f64().unwrap_or(f64::INFINITY);
    assert_eq!(at(100), today, "the value at today's size is the replay's");
}
