//! End-to-end tests of traces in the shapes real archives have: SWF logs
//! that record no start times, a zone string that contradicts the
//! deprecated offset, runs that would replay no job (simulate, compare,
//! sweep), and a model trained
//! on one file of a cluster's log scored on the next file.

mod common;

use common::{foresight, stderr, stdout};
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// An archive-style header and jobs whose wait is -1 (no start time
/// recorded) while submit time, run time and processors are known; the
/// requested time is -1 on two of them.
const NO_WAIT: &str = include_str!("../datasets/test_data/no-wait.swf");

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_log_without_start_times_is_inspected_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(dir.path(), "no-wait.swf", NO_WAIT);
    let out = foresight(&["inspect", s(&log)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let body = text.lines().skip(1).collect::<Vec<_>>().join("\n");
    insta::assert_snapshot!(body);

    let out = foresight(&["simulate", s(&log), "--policy", "fcfs"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(": 3 jobs on 128 nodes"), "{}", stdout(&out));
    assert!(stdout(&out).contains("3 ended"), "{}", stdout(&out));

    // A model needs to know when each job ended; the log does not say.
    let out = foresight(&["train", s(&log), "-o", s(&dir.path().join("m.json"))]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("3 of 3 jobs have a run time but no start time"), "{}", stderr(&out));
}

#[test]
fn simulate_compare_and_sweep_refuse_a_run_that_replays_no_job() {
    let dir = tempfile::tempdir().unwrap();
    // The same jobs with the run time unknown as well: none can be replayed.
    let never: String = NO_WAIT
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split_whitespace().collect();
            if !l.starts_with(';') {
                f[3] = "-1";
            }
            f.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let log = write(dir.path(), "never-ran.swf", &never);
    for cmd in [
        &["simulate", s(&log)][..],
        &["compare", s(&log), "--policies", "fcfs,easy"],
        &["sweep", s(&log), "--policies", "fcfs,easy", "--load-factors", "1,2"],
    ] {
        let out = foresight(cmd);
        assert_eq!(out.status.code(), Some(2), "{cmd:?}: {}", stdout(&out));
        assert!(
            stderr(&out).contains("0 of 3 jobs can be replayed: 3 have no run time (never ran)"),
            "{}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty(), "no table of zeros: {}", stdout(&out));
    }
    // The sweep names the cluster on which nothing can be replayed.
    let out = foresight(&["sweep", s(&log), "--policies", "fcfs"]);
    assert!(stderr(&out).contains("cluster `trace`: 0 of 3 jobs"), "{}", stderr(&out));
}

#[test]
fn the_zone_string_decides_the_sites_offset_over_the_deprecated_time_zone() {
    let dir = tempfile::tempdir().unwrap();
    // SDSC-SP2's header (US/Pacific), with TimeZone misstated as 3600.
    let log = write(
        dir.path(),
        "pacific.swf",
        "; UnixStartTime: 893466664\n; TimeZone: 3600\n; TimeZoneString: US/Pacific\n; StartTime: Fri Apr 24 18:11:04 PDT 1998\n; MaxProcs: 8\n\
         1 0 10 60 1 -1 -1 1 3600 -1 1 1 1 -1 -1 -1 -1 -1\n",
    );
    let out = foresight(&["inspect", s(&log)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("epoch       1998-04-25 01:11:04 UTC (site time zone US/Pacific, UTC-7.0 h)"), "{text}");
}

/// The embedded H100 log split in two files at the median submission, as
/// a cluster's log is kept month by month.
fn split_h100(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let text = std::fs::read_to_string("datasets/data/h100-jobs/jobs.csv").unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let col = header.split(',').position(|c| c == "submit_ts").unwrap();
    let mut rows: Vec<(f64, &str)> = lines.map(|l| (l.split(',').nth(col).unwrap().parse().unwrap(), l)).collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (first, second) = rows.split_at(rows.len() / 2);
    let file = |name: &str, rows: &[(f64, &str)]| {
        let body: Vec<&str> = std::iter::once(header).chain(rows.iter().map(|r| r.1)).collect();
        write(dir, name, &(body.join("\n") + "\n"))
    };
    (file("november-a.csv", first), file("november-b.csv", second))
}

#[test]
fn a_model_trained_on_one_file_is_evaluated_on_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = split_h100(dir.path());
    let model = dir.path().join("m.json");
    let out = foresight(&["train", s(&a), "-o", s(&model)]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = foresight(&["evaluate", s(&b), "--model", s(&model)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("trained on 132 finished jobs; tested on 132"), "every job of b is after a: {text}");
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    // Trained on all of a, calibrated on its last 20 % by time: the
    // interval's coverage on b is printed beside the point metrics.
    assert!(text.contains("(nominal 80 %, calibrated on 27 jobs): "), "{text}");
    assert!(text.contains("coverage by quartile of the estimate:"), "{text}");

    // A model file written before intervals were kept still evaluates,
    // without an interval, and its JSON has none.
    let mut no_interval: serde_json::Value = serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
    assert!(no_interval.as_object_mut().unwrap().remove("interval").is_some());
    let older = dir.path().join("no-interval.json");
    std::fs::write(&older, serde_json::to_vec(&no_interval).unwrap()).unwrap();
    let json = dir.path().join("e.json");
    let out = foresight(&["evaluate", s(&b), "--model", s(&older), "--json", s(&json)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("interval"), "{}", stdout(&out));
    let e: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(e.to_string().contains("\"mdape\"") && !e.to_string().contains("\"interval\""), "{e}");

    // The whole log overlaps the window: said, and only the rest is scored.
    let out = foresight(&["evaluate", "datasets/data/h100-jobs/jobs.csv", "--model", s(&model)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("warning: datasets/data/h100-jobs/jobs.csv overlaps the model's training window on "),
        "{err}"
    );
    assert!(
        err.contains(
            "132 of its finished jobs were submitted inside it and are not scored; the 132 submitted after it are"
        ),
        "{err}"
    );
    assert!(stdout(&out).contains("tested on 132"), "{}", stdout(&out));

    // A file written before the window was kept in Unix time, by a model
    // trained on every job: its end is unknown, so it is refused, exit 2.
    let mut old: serde_json::Value = serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
    let training = old["training"].as_object_mut().unwrap();
    assert!(training["split_s"].is_null() && training["end_unix_s"].is_number(), "{training:?}");
    training.retain(|k, _| !k.ends_with("_unix_s"));
    let old_model = dir.path().join("old.json");
    std::fs::write(&old_model, serde_json::to_vec(&old).unwrap()).unwrap();
    let out = foresight(&["evaluate", s(&b), "--model", s(&old_model)]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("does not say when its training window ended"), "{}", stderr(&out));

    // The training file itself: nothing after the window, exit 2 saying so.
    let out = foresight(&["evaluate", s(&a), "--model", s(&model)]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("none is left to score"), "{}", stderr(&out));
}
