//! End-to-end: `foresight demo` on the embedded dataset writes a report a
//! newcomer can open, and `foresight report` and `compare --report` render
//! the same evidence again.

use std::path::Path;
use std::process::{Command, Output};

fn foresight(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_foresight")).args(args).current_dir(dir).output().expect("the foresight binary runs")
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn demo_with_no_arguments_writes_the_report_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let text = ok(&foresight(&["demo"], dir.path()));
    assert!(text.contains("report: foresight-demo/report.html"), "{text}");
    assert!(text.lines().next().unwrap().contains("cuts mean wait by"), "{text}");
    let out = dir.path().join("foresight-demo");
    for file in ["jobs.parquet", "report.html", "report.md", "report.json"] {
        assert!(out.join(file).is_file(), "{file} is missing");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 9, "nine charts");

    let again = ok(&foresight(&["report", "foresight-demo/report.json", "-o", "again/report.html"], dir.path()));
    assert!(again.contains("report: again/report.html"), "{again}");
    let md = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap();
    assert_eq!(md("again/report.md"), md("foresight-demo/report.md"), "the same evidence renders the same report");
}

#[test]
fn compare_report_writes_html_markdown_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/data/h100-jobs/jobs.csv");
    let args = ["compare", jobs.to_str().unwrap(), "--policies", "fcfs,sjf", "--load-factor", "2", "--report", "r/cmp.html"];
    let text = ok(&foresight(&args, dir.path()));
    assert!(text.contains("report: r/cmp.html") && text.contains("sjf"), "{text}");
    let md = std::fs::read_to_string(dir.path().join("r/cmp.md")).unwrap();
    assert!(md.starts_with("# Policy comparison: fcfs vs sjf\n\n**SJF with user-history predictions "), "{md}");
    assert!(dir.path().join("r/cmp.json").is_file());

    let one = foresight(&["compare", jobs.to_str().unwrap(), "--policies", "fcfs", "--report", "x.html"], dir.path());
    assert!(!one.status.success());
    assert!(String::from_utf8_lossy(&one.stderr).contains("at least two policies"));
}
