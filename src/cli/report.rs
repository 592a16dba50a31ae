//! `foresight report`: a results file (written by `compare --report` or
//! `demo`) rendered as an HTML page with charts, with the Markdown and JSON
//! beside it; and the helpers `compare` and `demo` use to write theirs.

use anyhow::Context;
use clap::Args;
use foresight_core::Cluster;
use foresight_simulator::evidence::EvidenceMeta;
use foresight_simulator::{Comparison, Evidence, RunSpec, Workload, compare_evidence};
use std::path::{Path, PathBuf};

/// Render a results file as an HTML report, with Markdown and JSON beside it.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The results: the `.json` that `compare --report` or `demo` wrote.
    results: PathBuf,
    /// The HTML page to write; the `.md` and `.json` go beside it.
    #[arg(short, long, value_name = "FILE", default_value = "report.html")]
    output: PathBuf,
}

/// Runs `report`.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let evidence = foresight_reports::read_evidence(&args.results).context("failed to read results")?;
    println!("{}", evidence.verdict.sentence);
    write(&evidence, &args.output)
}

/// Writes the report of `evidence` to `html` (and `.md`, `.json` beside it)
/// and says where.
pub fn write(evidence: &Evidence, html: &Path) -> anyhow::Result<()> {
    if let Some(dir) = html.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    }
    let w = foresight_reports::write_comparison(evidence, html).context("failed to write the report")?;
    println!("report: {} (Markdown {}, numbers {})", w.html.display(), w.markdown.display(), w.json.display());
    Ok(())
}

/// Runs `specs` keeping per-job outcomes, writes the report of the first
/// (baseline) against the second (candidate) to `html`, and hands back the
/// reports for the table.
pub fn compare_and_write(workload: &Workload, cluster: &Cluster, specs: &[RunSpec], trace: &Path, html: &Path) -> anyhow::Result<Comparison> {
    anyhow::ensure!(specs.len() >= 2, "--report needs at least two policies: the baseline first, then the candidate");
    let names: Vec<&str> = specs.iter().map(|s| s.policy.as_str()).collect();
    let meta = EvidenceMeta {
        title: format!("Policy comparison: {}", names.join(" vs ")),
        trace: trace.display().to_string(),
        notes: vec![format!("The first policy ({}) is the baseline, the second ({}) the candidate.", names[0], names[1])],
    };
    let evidence = compare_evidence(meta, workload, cluster, specs, 0, 1)?;
    write(&evidence, html)?;
    Ok(Comparison { reports: evidence.runs.into_iter().map(|r| r.report).collect() })
}
