//! `foresight log`: read a decision log, filter it, print it as text or
//! JSON lines, and say where a torn or damaged tail is.

use clap::Args;
use foresight_controller::log::frame::Tail;
use foresight_controller::log::{self, Filter};
use std::path::PathBuf;

/// Read and filter a decision log written by `foresight shadow`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// The log file (its rotated segments FILE.1, FILE.2, ... are read too).
    file: PathBuf,
    /// Only these kinds: start, cycle, finished, breaker, outage, model, stop.
    #[arg(long, value_delimiter = ',')]
    kind: Vec<String>,
    /// Only records about this job.
    #[arg(long)]
    job: Option<String>,
    /// Only records from this sequence number on.
    #[arg(long)]
    from_seq: Option<u64>,
    /// Only records written at or after this Unix time.
    #[arg(long)]
    since: Option<f64>,
    /// Only records written before this Unix time.
    #[arg(long)]
    until: Option<f64>,
    /// Print JSON lines instead of text.
    #[arg(long)]
    json: bool,
    /// Print the shadow summary (prediction error over time, agreement with
    /// the baseline, counterfactual starts) instead of the records.
    #[arg(long)]
    summary: bool,
    /// Width of the summary's error-over-time buckets, seconds.
    #[arg(long, default_value_t = 60.0)]
    bucket_s: f64,
    /// Fail (exit 1) when a file is damaged (not merely torn by a crash).
    #[arg(long)]
    strict: bool,
}

/// Runs `log`.
pub fn run(args: LogArgs) -> anyhow::Result<()> {
    let filter = Filter {
        kinds: args.kind,
        job: args.job,
        from_seq: args.from_seq,
        since_unix_s: args.since,
        until_unix_s: args.until,
    };
    let scans = log::read_log(&args.file)?;
    if scans.is_empty() {
        anyhow::bail!("no decision log at {}", args.file.display());
    }
    let mut damaged = false;
    if args.summary {
        let kept = scans.iter().flat_map(|s| &s.records).filter(|r| filter.matches(r));
        let summary = log::summary::summarise(kept, args.bucket_s);
        if args.json {
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else {
            print!("{}", summary.markdown());
        }
    }
    for scan in &scans {
        for r in scan.records.iter().filter(|r| !args.summary && filter.matches(r)) {
            if args.json {
                println!("{}", serde_json::to_string(r)?);
            } else {
                println!("{}", log::show::line(r));
            }
        }
        match scan.tail {
            Tail::Clean => {}
            Tail::Torn { offset } => eprintln!(
                "note: {}: torn tail at byte {offset} of {} (an interrupted write; earlier records are complete)",
                scan.path.display(),
                scan.len
            ),
            Tail::Corrupt { offset } => {
                damaged = true;
                eprintln!("warning: {}: damaged record at byte {offset}; nothing after it is read", scan.path.display());
            }
            Tail::BadMagic => {
                damaged = true;
                eprintln!("warning: {}: not a decision log", scan.path.display());
            }
        }
    }
    if damaged && args.strict {
        anyhow::bail!("the decision log is damaged");
    }
    Ok(())
}
