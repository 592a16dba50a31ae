//! Snapshots of the Markdown report, with timings redacted.

use super::fixture::evidence;

#[test]
fn comparison_markdown() {
    let r = foresight_reports::render_comparison(&evidence()).unwrap();
    insta::assert_snapshot!(redact_timings(&r.markdown));
}

/// The report with its wall-clock timings line replaced.
fn redact_timings(md: &str) -> String {
    let lines = md.lines().map(|l| if l.starts_with("<sub>Produced in:") { "<sub>Produced in: [timings]</sub>" } else { l });
    lines.collect::<Vec<_>>().join("\n") + "\n"
}

#[test]
fn json_round_trips_through_a_file() {
    let e = evidence();
    let dir = tempfile::tempdir().unwrap();
    let written = foresight_reports::write_comparison(&e, &dir.path().join("report.html")).unwrap();
    assert_eq!(foresight_reports::read_evidence(&written.json).unwrap(), e);
    let md = std::fs::read_to_string(&written.markdown).unwrap();
    assert!(md.starts_with("# Policy comparison: fixture\n\n**"));
}

#[test]
fn a_file_that_is_not_evidence_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.json");
    std::fs::write(&path, "{\"reports\": []}").unwrap();
    let err = foresight_reports::read_evidence(&path).unwrap_err().to_string();
    assert!(err.contains("not a foresight results file"), "{err}");
}
