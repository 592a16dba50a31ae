//! Tests of the exposition: what the library writes for the values, and
//! that label values are escaped.

use super::*;

#[test]
fn renders_text_exposition() {
    let m = Metrics::default();
    m.update(|v| {
        v.queue_depth = 7;
        v.cycle_latency.observe(0.002);
        bump(&mut v.decisions, "fallback");
        bump(&mut v.decisions, "fallback");
        v.breaker_state = 2;
        v.finished_jobs = 4;
        v.last_cycle_unix_s = 1.5;
    });
    let text = m.render();
    assert!(text.contains("# TYPE foresight_queue_depth gauge\nforesight_queue_depth 7\n"), "{text}");
    assert!(text.contains("foresight_cycle_latency_seconds_bucket{le=\"0.001\"} 0\n"), "{text}");
    assert!(text.contains("foresight_cycle_latency_seconds_bucket{le=\"0.0025\"} 1\n"), "{text}");
    assert!(text.contains("foresight_cycle_latency_seconds_bucket{le=\"+Inf\"} 1\n"), "{text}");
    assert!(text.contains("foresight_cycle_latency_seconds_count 1\n"), "{text}");
    assert!(text.contains("# TYPE foresight_decisions_total counter\n"), "{text}");
    assert!(text.contains("foresight_decisions_total{source=\"fallback\"} 2\n"), "{text}");
    assert!(text.contains("foresight_breaker_state 2\n"), "{text}");
    assert!(text.contains("foresight_finished_jobs_total 4\n"), "{text}");
    assert!(text.contains("foresight_last_cycle_timestamp_seconds 1.5\n"), "{text}");
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert_eq!(line.split(' ').count(), 2, "sample line `{line}`");
    }
}

#[test]
fn label_values_are_escaped() {
    let m = Metrics::default();
    m.update(|v| bump(&mut v.fallbacks, "say \"no\"\\\nthen"));
    let text = m.render();
    assert!(text.contains("foresight_fallbacks_total{reason=\"say \\\"no\\\"\\\\\\nthen\"} 1\n"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("foresight_fallbacks_total")).count(), 1, "one line: {text}");
}

#[test]
fn bump_counts_by_label() {
    let mut map = BTreeMap::new();
    for label in ["a", "b", "a"] {
        bump(&mut map, label);
    }
    assert_eq!(map, BTreeMap::from([("a".to_string(), 2), ("b".to_string(), 1)]));
}
