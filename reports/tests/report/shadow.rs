//! The shadow report from a fixed summary: its Markdown snapshot, and what
//! it says when a log holds too little to draw.

use foresight_reports::shadow::{CdfPoint, ErrorBucket, ShadowEvidence};

/// A shadow run of ten cycles, six finished jobs over three minutes.
pub fn evidence() -> ShadowEvidence {
    let deltas = [-120.0, -30.0, 0.0, 0.0, 15.0, 60.0];
    let n = deltas.len() as f64;
    let cdf = deltas
        .iter()
        .enumerate()
        .flat_map(|(i, &d)| [CdfPoint { value_s: d, fraction: i as f64 / n }, CdfPoint { value_s: d, fraction: (i + 1) as f64 / n }])
        .collect();
    let bucket = |from: f64, jobs: usize, abs: f64, signed: f64| ErrorBucket { from_unix_s: from, jobs, mean_abs_error_s: abs, mean_error_s: signed };
    ShadowEvidence {
        title: "Shadow mode: decisions.log".into(),
        log: "decisions.log".into(),
        cycles: 10,
        candidate_cycles: 8,
        fallback_cycles: 2,
        agreeing_cycles: 6,
        agreement: Some(0.75),
        finished_jobs: 7,
        predicted_jobs: 6,
        mean_abs_error_s: Some(20.0),
        bucket_s: 60.0,
        error_over_time: vec![bucket(1_700_000_000.0, 2, 30.0, 10.0), bucket(1_700_000_060.0, 3, 15.0, -5.0), bucket(1_700_000_120.0, 1, 15.0, 15.0)],
        counterfactual_s: deltas.iter().enumerate().map(|(i, &d)| (format!("j{i}"), d)).collect(),
        counterfactual_cdf: cdf,
        counterfactual_quantiles: vec![CdfPoint { value_s: -120.0, fraction: 0.0 }, CdfPoint { value_s: 0.0, fraction: 0.5 }, CdfPoint { value_s: 60.0, fraction: 1.0 }],
        mean_counterfactual_s: Some(-12.5),
        breaker_openings: 1,
        outages: 0,
        interval_jobs: 5,
        interval_coverage: Some(0.8),
        acting: None,
    }
}

#[test]
fn the_acting_side_is_reported_when_the_controller_acted() {
    let acting = foresight_reports::shadow::ActingEvidence {
        actions_taken: 12,
        actions_failed: 1,
        approvals: 2,
        overrides: 1,
        decided_jobs: 9,
        decision_delay_p50_s: Some(0.4),
        decision_delay_p99_s: Some(1.2),
        ..Default::default()
    };
    let r = foresight_reports::render_shadow(&ShadowEvidence { acting: Some(acting), ..evidence() }).unwrap();
    assert!(r.markdown.contains("Acting: advise and enforce"), "{}", r.markdown);
    assert!(r.markdown.contains("12 actions on Slurm took effect, 1 failed"), "{}", r.markdown);
    assert!(r.markdown.contains("median 0.4 s, p99 1.2 s"), "{}", r.markdown);
    assert!(!foresight_reports::render_shadow(&evidence()).unwrap().markdown.contains("Acting"));
}

#[test]
fn shadow_markdown() {
    let r = foresight_reports::render_shadow(&evidence()).unwrap();
    assert_eq!(r.html.matches("<svg").count(), 3);
    let back: ShadowEvidence = serde_json::from_str(&r.json).unwrap();
    assert_eq!(back, evidence());
    insta::assert_snapshot!(r.markdown);
}

#[test]
fn an_empty_log_says_there_is_nothing_to_draw() {
    let e = ShadowEvidence { title: "Shadow mode: empty".into(), log: "empty.log".into(), bucket_s: 60.0, ..Default::default() };
    let r = foresight_reports::render_shadow(&e).unwrap();
    assert_eq!(r.html.matches("<svg").count(), 1, "only the decisions chart");
    assert!(r.markdown.contains("too few to draw") && r.markdown.contains("nothing to draw"), "{}", r.markdown);
    assert!(r.markdown.contains("agreed with the baseline in n/a") && !r.html.contains("NaN"));
    assert!(!r.markdown.contains("interval"), "said only when predictions had intervals");
}

#[test]
fn evidence_written_before_intervals_reads_without_them() {
    let mut json: serde_json::Value = serde_json::to_value(evidence()).unwrap();
    let o = json.as_object_mut().unwrap();
    o.remove("interval_jobs");
    o.remove("interval_coverage");
    let back: ShadowEvidence = serde_json::from_value(json).unwrap();
    assert_eq!((back.interval_jobs, back.interval_coverage), (0, None));
}
