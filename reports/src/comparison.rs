//! The policy comparison report: the verdict, the metrics table, the
//! wait-time CDF, bounded slowdown by runtime class and job size, per-user
//! winners and losers, and utilisation and queue length over time. Every
//! number comes from the [`Evidence`]; this module only lays it out.

use crate::chart::axis::{Axis, time_unit};
use crate::chart::{Series, bar, cdf, line};
use crate::doc::{Block, Doc, Table};
use foresight_simulator::evidence::{ClassStat, Evidence, Outcome, RunEvidence, human_duration};

/// Users shown in the winners-and-losers chart and table (the rest are in
/// the JSON).
const MAX_USERS: usize = 20;

/// The report as a document.
pub fn doc(e: &Evidence) -> Doc {
    let (base, cand) = (&e.runs[e.baseline], &e.runs[e.candidate]);
    let mut blocks = vec![
        Block::Verdict(e.verdict.sentence.clone()),
        Block::Para(format!(
            "Trace {}: {} jobs replayed on {}. Baseline: {}. Candidate: {}.",
            e.trace, e.jobs, e.cluster, base.label, cand.label
        )),
        Block::Heading("Metrics".into()),
        Block::Table(metrics(e)),
        Block::Heading("Who waits how long".into()),
        wait_cdf(e),
        Block::Heading("Slowdown by runtime and size".into()),
        classes(e, "Average bounded slowdown by runtime class", "runtime class", |r| &r.bsld_by_runtime),
        classes(e, "Average bounded slowdown by job size", &format!("job size ({})", e.resource), |r| &r.bsld_by_size),
        Block::Heading("Winners and losers".into()),
        users(e),
        Block::Heading("Utilisation and queue over time".into()),
        timeline(e, true),
        timeline(e, false),
    ];
    blocks.extend(crate::prediction::blocks(e));
    if !e.notes.is_empty() {
        blocks.push(Block::Heading("Notes".into()));
        blocks.push(Block::List(e.notes.clone()));
    }
    if !e.timings.is_empty() {
        let steps: Vec<String> = e.timings.iter().map(|t| format!("{} {:.2} s", t.step, t.seconds)).collect();
        blocks.push(Block::Timings(format!("Produced in: {}.", steps.join(", "))));
    }
    Doc { title: e.title.clone(), blocks }
}

fn metrics(e: &Evidence) -> Table {
    let mut t = Table::new(&[
        "run",
        "mean wait",
        "median wait",
        "p95 wait",
        "p99 wait",
        "avg bsld",
        "max bsld",
        "utilisation (%)",
        "killed",
        "backfilled",
    ]);
    for r in &e.runs {
        let s = &r.report.summary;
        t.row(vec![
            role(e, r),
            human_duration(s.mean_wait_s),
            human_duration(s.median_wait_s),
            human_duration(s.p95_wait_s),
            human_duration(s.p99_wait_s),
            format!("{:.2}", s.avg_bsld),
            format!("{:.1}", s.max_bsld),
            format!("{:.1}", 100.0 * s.cpu_utilisation.max(s.gpu_utilisation)),
            s.killed.to_string(),
            s.backfilled.to_string(),
        ]);
    }
    t
}

/// A run's label, marked when it is the baseline or the candidate.
fn role(e: &Evidence, r: &RunEvidence) -> String {
    let i = e.runs.iter().position(|x| std::ptr::eq(x, r));
    match i {
        Some(i) if i == e.baseline => format!("{} (baseline)", r.label),
        Some(i) if i == e.candidate => format!("{} (candidate)", r.label),
        _ => r.label.clone(),
    }
}

fn run_header(e: &Evidence, first: &[&str]) -> Table {
    let mut header: Vec<&str> = first.to_vec();
    header.extend(e.runs.iter().map(|r| r.label.as_str()));
    Table::new(&header)
}

fn wait_cdf(e: &Evidence) -> Block {
    let series: Vec<Series> = e
        .runs
        .iter()
        .map(|r| Series { name: r.label.clone(), points: r.wait_cdf.iter().map(|p| (p.wait_s, p.fraction)).collect() })
        .collect();
    let caption = "Wait-time CDF: share of jobs that waited at most a given time";
    let svg = cdf::render(caption, "wait (seconds, log scale)", &series);
    let mut t = run_header(e, &["quantile of wait"]);
    for (i, q) in e.runs[0].wait_quantiles.iter().enumerate() {
        let mut row = vec![if q.fraction >= 1.0 { "max".to_string() } else { format!("p{:.0}", 100.0 * q.fraction) }];
        row.extend(e.runs.iter().map(|r| r.wait_quantiles.get(i).map_or("-".into(), |p| human_duration(p.wait_s))));
        t.row(row);
    }
    Block::Figure { caption: caption.into(), svg, table: t }
}

fn classes(e: &Evidence, caption: &str, x_label: &str, pick: impl Fn(&RunEvidence) -> &Vec<ClassStat>) -> Block {
    let names: Vec<String> = pick(&e.runs[0]).iter().map(|c| c.class.clone()).collect();
    let series: Vec<Series> = e
        .runs
        .iter()
        .map(|r| {
            let points = pick(r).iter().enumerate().filter(|(_, c)| c.jobs > 0).map(|(i, c)| (i as f64, c.mean_bsld)).collect();
            Series { name: r.label.clone(), points }
        })
        .collect();
    let svg = bar::render(caption, x_label, names, "average bounded slowdown (ratio, 1 = no wait)", &series);
    let mut t = run_header(e, &[x_label, "jobs"]);
    for (i, c) in pick(&e.runs[0]).iter().enumerate() {
        let mut row = vec![c.class.clone(), c.jobs.to_string()];
        row.extend(e.runs.iter().map(|r| pick(r).get(i).filter(|c| c.jobs > 0).map_or("-".into(), |c| format!("{:.2}", c.mean_bsld))));
        t.row(row);
    }
    Block::Figure { caption: caption.into(), svg, table: t }
}

fn users(e: &Evidence) -> Block {
    let mut shown: Vec<_> = e.users.iter().collect();
    shown.sort_by(|a, b| {
        let d = |u: &&foresight_simulator::evidence::GroupDelta| u.candidate_mean_wait_s - u.baseline_mean_wait_s;
        d(a).total_cmp(&d(b)).then_with(|| a.name.cmp(&b.name))
    });
    if shown.len() > MAX_USERS {
        let n = shown.len();
        shown = shown[..MAX_USERS / 2].iter().chain(&shown[n - MAX_USERS / 2..]).copied().collect();
    }
    let max = shown.iter().map(|u| u.baseline_mean_wait_s.max(u.candidate_mean_wait_s)).fold(0.0, f64::max);
    let (div, unit) = time_unit(max);
    let (base, cand) = (&e.runs[e.baseline].label, &e.runs[e.candidate].label);
    let series = vec![
        Series { name: base.clone(), points: shown.iter().enumerate().map(|(i, u)| (i as f64, u.baseline_mean_wait_s / div)).collect() },
        Series { name: cand.clone(), points: shown.iter().enumerate().map(|(i, u)| (i as f64, u.candidate_mean_wait_s / div)).collect() },
    ];
    let caption = if e.users.len() > shown.len() {
        format!("Mean wait per user: the {} biggest winners and losers of {}", shown.len(), e.users.len())
    } else {
        "Mean wait per user, baseline against candidate".to_string()
    };
    let names = shown.iter().map(|u| u.name.clone()).collect();
    let svg = bar::render(&caption, "user", names, &format!("mean wait ({unit})"), &series);
    let mut t = Table::new(&["user", "jobs", "baseline mean wait", "candidate mean wait", "change (%)", "outcome"]);
    for u in &shown {
        let outcome = match u.outcome {
            Outcome::Better => "better",
            Outcome::Worse => "worse",
            Outcome::Unchanged => "unchanged",
        };
        t.row(vec![
            u.name.clone(),
            u.jobs.to_string(),
            human_duration(u.baseline_mean_wait_s),
            human_duration(u.candidate_mean_wait_s),
            format!("{:+.1}", u.change_pct),
            outcome.into(),
        ]);
    }
    Block::Figure { caption, svg, table: t }
}

fn timeline(e: &Evidence, utilisation: bool) -> Block {
    let end = e.runs.iter().filter_map(|r| r.timeline.t_s.last().map(|t| t + r.timeline.bin_s / 2.0)).fold(0.0, f64::max);
    let (div, unit) = time_unit(end);
    let pick = |r: &RunEvidence| if utilisation { r.timeline.utilisation.iter().map(|u| 100.0 * u).collect::<Vec<_>>() } else { r.timeline.queue_len.clone() };
    let series: Vec<Series> = e
        .runs
        .iter()
        .map(|r| Series { name: r.label.clone(), points: r.timeline.t_s.iter().map(|t| t / div).zip(pick(r)).collect() })
        .collect();
    let top = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(1.0, f64::max);
    let top = if utilisation { 100.0 } else { top };
    let x = Axis::linear(&format!("time since first submission ({unit})"), 0.0, end / div);
    let (caption, y_label, header) = if utilisation {
        (format!("{} in use over time", e.resource), format!("{} in use (%)", e.resource), "mean utilisation (%)")
    } else {
        ("Queue length over time".to_string(), "jobs waiting".to_string(), "peak queue length (jobs)")
    };
    let svg = line::render(&caption, x, Axis::linear(&y_label, 0.0, top), &series);
    let mut t = Table::new(&["run", header]);
    for r in &e.runs {
        let v = if utilisation { 100.0 * r.timeline.mean_utilisation } else { r.timeline.peak_queue_len };
        t.row(vec![r.label.clone(), format!("{v:.1}")]);
    }
    Block::Figure { caption, svg, table: t }
}
