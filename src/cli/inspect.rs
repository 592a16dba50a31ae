//! `foresight inspect`: what a trace (or Parquet table) holds, in a few
//! lines a person reads at a glance, or as JSON.

use super::trace_args::{TraceArgs, report_skipped};
use clap::Args;
use foresight_datasets::summary::Summary;
use foresight_datasets::timefmt::format_utc;
use foresight_datasets::{Format, JobTable, detect, read_telemetry, telemetry};
use serde_json::json;
use std::fmt::Write;

/// Summarise a trace: jobs, users, time span, outcomes, estimate quality, load.
#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    trace: TraceArgs,
    /// Print the summary as JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let path = &args.trace.trace;
    let format = match args.trace.format {
        Some(f) => f,
        None => detect::detect(path)?,
    };
    if format == Format::Telemetry || (format == Format::Parquet && telemetry::parquet::is_telemetry(path)?) {
        let (table, skipped) = read_telemetry(path, &args.trace.options())?;
        report_skipped(path, &skipped);
        print!("{}", telemetry_text(&table));
        return Ok(());
    }
    let read = args.trace.load()?;
    let summary = Summary::of(&read.table);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary_json(&read.table, &summary))?);
    } else {
        print!("{}", summary_text(&read.table, &summary));
    }
    Ok(())
}

/// Thousands separators for counts.
pub fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration in the unit that reads best: seconds, minutes, hours or days.
pub fn human_duration(secs: f64) -> String {
    match secs.abs() {
        s if s < 120.0 => format!("{secs:.1} s"),
        s if s < 7200.0 => format!("{:.1} min", secs / 60.0),
        s if s < 172_800.0 => format!("{:.1} h", secs / 3600.0),
        _ => format!("{:.1} days", secs / 86_400.0),
    }
}

fn plural(n: u32, one: &str, many: &str) -> String {
    format!("{} {}", group_digits(u64::from(n)), if n == 1 { one } else { many })
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// The text summary.
pub fn summary_text(table: &JobTable, s: &Summary) -> String {
    let m = &table.meta;
    let mut o = String::new();
    let _ = writeln!(o, "trace       {} ({})", m.source, m.format);
    let mut machine = Vec::new();
    if let Some(c) = &m.computer {
        machine.push(c.clone());
    }
    if let Some(p) = m.capacity.cpus {
        machine.push(plural(p, "processor", "processors"));
    }
    if let Some(n) = m.capacity.nodes {
        machine.push(plural(n, "node", "nodes"));
    }
    if let Some(g) = m.capacity.gpus {
        machine.push(plural(g, "GPU", "GPUs"));
    }
    let machine = if machine.is_empty() { "capacity not stated in the trace".to_string() } else { machine.join(", ") };
    let _ = writeln!(o, "machine     {machine}");
    if let Some(epoch) = m.epoch_unix_s {
        let tz = match (&m.tz_name, m.tz_offset_s) {
            (Some(name), Some(off)) => format!(" (site time zone {name}, UTC{:+.1} h)", f64::from(off) / 3600.0),
            (None, Some(off)) => format!(" (site time zone UTC{:+.1} h)", f64::from(off) / 3600.0),
            _ => String::new(),
        };
        let _ = writeln!(o, "epoch       {} UTC{tz}", format_utc(epoch));
    }
    let _ = write!(o, "jobs        {} ({} ran", group_digits(s.jobs), group_digits(s.ran));
    if s.no_start > 0 {
        let _ = write!(o, "; {} with a run time but no start time, so no wait", group_digits(s.no_start));
    }
    let _ = writeln!(o, ")");
    let known = |n: u64| if n == 0 { "none in the trace".to_string() } else { group_digits(n) };
    let _ = writeln!(o, "users       {}", known(s.users));
    let _ = writeln!(o, "groups      {}", known(s.groups));
    let _ = writeln!(o, "queues      {}", known(s.queues));
    let _ = write!(o, "time span   submissions over {}", human_duration(s.last_submit_s - s.first_submit_s));
    if let Some(end) = s.last_end_s {
        let _ = write!(o, "; the last job ended {} after the first submission", human_duration(end - s.first_submit_s));
    }
    let _ = writeln!(o);
    let statuses: Vec<String> = s.status_counts.iter().map(|(st, n)| format!("{st} {}", group_digits(*n))).collect();
    let _ = writeln!(o, "status      {}", statuses.join(", "));
    let e = &s.estimates;
    if e.jobs > 0 {
        let _ = writeln!(
            o,
            "estimates   {} jobs with a requested time and a runtime: runtime/request median {:.2}, mean {:.2};",
            group_digits(e.jobs),
            e.median_ratio,
            e.mean_ratio
        );
        let _ = writeln!(
            o,
            "            {} used under half their request, {} under a tenth, {} ran past it; accuracy min/max {:.2}",
            pct(e.share_below_half),
            pct(e.share_below_tenth),
            pct(e.share_over_request),
            e.accuracy
        );
    } else {
        let _ = writeln!(o, "estimates   no job has both a requested time and a runtime");
    }
    if s.no_request == 0 {
        let _ = writeln!(o, "requests    every job has a requested time");
    } else {
        let _ = writeln!(o, "requests    {} of {} jobs have no requested time;", group_digits(s.no_request), group_digits(s.jobs));
        let _ = writeln!(o, "            {}", no_request_assumption(table, s));
    }
    let l = &s.load;
    let mut load = format!("{} CPU-hours", group_digits(l.cpu_hours.round() as u64));
    if l.gpu_hours > 0.0 {
        let _ = write!(load, ", {:.1} GPU-hours", l.gpu_hours);
    }
    load.push_str(" offered");
    match (l.cpu_load, l.gpu_load) {
        (None, None) => load.push_str("; capacity unknown, so no load figure"),
        (cpu, gpu) => {
            if let Some(c) = cpu {
                let _ = write!(load, "; {} of the processors over the submission span", pct(c));
            }
            if let Some(g) = gpu {
                let _ = write!(load, "; {} of the GPUs over the submission span", pct(g));
            }
        }
    }
    let _ = writeln!(o, "load        {load}");
    o
}

/// What the policies assume for jobs without a requested time, and why.
fn no_request_assumption(table: &JobTable, s: &Summary) -> String {
    if s.assumed_limit_s.is_infinite() {
        return "the policies see no limit for them: EASY cannot backfill them or reserve behind them".to_string();
    }
    let why = if table.meta.max_runtime_s.is_some() { "the header's MaxRuntime" } else { "the longest request in the trace" };
    format!(
        "the policies take each to ask for {} ({why}); none is killed at it",
        human_duration(s.assumed_limit_s)
    )
}

/// The JSON summary.
pub fn summary_json(table: &JobTable, s: &Summary) -> serde_json::Value {
    let e = &s.estimates;
    json!({
        "meta": table.meta,
        "jobs": s.jobs,
        "ran": s.ran,
        "ran_without_start": s.no_start,
        "no_request": s.no_request,
        "assumed_limit_s": s.assumed_limit_s.is_finite().then_some(s.assumed_limit_s),
        "users": s.users,
        "groups": s.groups,
        "queues": s.queues,
        "first_submit_s": s.first_submit_s,
        "last_submit_s": s.last_submit_s,
        "last_end_s": s.last_end_s,
        "status_counts": s.status_counts.iter().map(|(k, v)| (k.as_str(), *v)).collect::<std::collections::BTreeMap<_, _>>(),
        "estimates": {
            "jobs": e.jobs, "median_ratio": e.median_ratio, "mean_ratio": e.mean_ratio,
            "share_below_half": e.share_below_half, "share_below_tenth": e.share_below_tenth,
            "share_over_request": e.share_over_request, "accuracy": e.accuracy,
        },
        "load": { "cpu_hours": s.load.cpu_hours, "gpu_hours": s.load.gpu_hours, "cpu_load": s.load.cpu_load, "gpu_load": s.load.gpu_load },
    })
}

/// The text summary of a telemetry table.
fn telemetry_text(t: &telemetry::TelemetryTable) -> String {
    let mut o = String::new();
    let (lo, hi) = t.samples.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| (lo.min(s.ts_s), hi.max(s.ts_s)));
    let _ = writeln!(o, "telemetry   {} samples of {} metrics", group_digits(t.samples.len() as u64), t.metrics.len());
    if lo.is_finite() {
        let _ = writeln!(o, "time span   {} to {} UTC ({})", format_utc(lo), format_utc(hi), human_duration(hi - lo));
    }
    let jobs: std::collections::BTreeSet<&str> = t.samples.iter().filter_map(|s| s.job_id.as_deref()).collect();
    let _ = writeln!(o, "jobs        {} with samples", jobs.len());
    for m in &t.metrics {
        let v: Vec<f64> = t.samples.iter().filter(|s| &s.metric == m).map(|s| s.value).collect();
        let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let _ = writeln!(o, "  {m:<14} mean {mean:>9.1}  max {max:>9.1}");
    }
    o
}
