//! `foresight demo`: the first command a newcomer runs. On the dataset
//! compiled into the binary, with no arguments and no network, it ingests,
//! trains a runtime model on the first half of the jobs (by time), replays
//! the second half under FCFS with the users' limits and under
//! shortest-predicted-first with the model, writes the comparison report
//! and the model's report (its accuracy per tenant, feature importances and
//! the demand forecast on the test hours), with a progress bar, and says
//! where they are.

use anyhow::Context;
use clap::Args;
use foresight_core::{Cluster, Resources};
use foresight_core::policy::PolicySpec;
use foresight_datasets::{JobTable, embedded, parquet};
use foresight_models::evaluate::train_and_evaluate;
use foresight_models::history::JobTelemetry;
use foresight_models::{FilePredictor, ModelKind, SplitOptions};
use foresight_simulator::evidence::{EvidenceMeta, StepTiming, build};
use foresight_simulator::metrics::report;
use foresight_simulator::{RunSpec, SimOptions, Workload, WorkloadOptions, simulate};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Instant;

/// Run the whole pipeline on the embedded dataset and write a report.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the job table, the results and the report.
    #[arg(long, value_name = "DIR", default_value = "foresight-demo")]
    out: PathBuf,
    /// Divide every inter-arrival time by this. The jobs were recorded back
    /// to back, so at 1 no queue forms; at 2 work arrives twice as fast as
    /// the GPU can serve it, and the queue's order decides every wait.
    #[arg(long, default_value_t = 2.0)]
    load_factor: f64,
}

/// The share of the jobs, by submission time, the model is trained on; the
/// rest are replayed.
const TRAIN_FRACTION: f64 = 0.5;

/// The steps, in order, for the progress bar.
const STEPS: [&str; 4] = ["ingest", "train", "compare", "report"];

/// Runs `demo`.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("failed to create {}", args.out.display()))?;
    let mut p = Progress::new();
    let bar = p.bar.clone();
    bar.set_message("ingest: reading the embedded h100-jobs log");
    let started = Instant::now();
    let ingested = embedded::h100_jobs().context("failed to read the embedded dataset")?;
    let table_path = args.out.join("jobs.parquet");
    parquet::write(&ingested.table, &table_path)?;
    let table = parquet::read(&table_path)?;
    p.done("ingest", format!("{} jobs from {} -> {}", table.jobs.len(), embedded::JOBS_NAME, table_path.display()), started);

    bar.set_message("train: fitting the runtime model on the first half, by time");
    let started = Instant::now();
    let opts = SplitOptions { train_fraction: TRAIN_FRACTION };
    let (model, eval) = train_and_evaluate(&table, ModelKind::Auto, &JobTelemetry::new(), opts)?;
    let model_path = args.out.join("model.json");
    model.save(&model_path)?;
    let accuracy = format!(
        "{} trained on {} jobs; on the {} after them its median error is {:.0}% (EASY++ {:.0}%, the 20 s limit {:.0}%)",
        eval.model,
        eval.train_jobs,
        eval.runtime.n,
        100.0 * eval.runtime.mdape,
        100.0 * eval.easy_plus_plus.mdape,
        100.0 * eval.requested.mdape
    );
    p.done("train", format!("{accuracy} -> {}", model_path.display()), started);

    bar.set_message("compare: replaying the second half under each policy");
    let started = Instant::now();
    let cluster = Cluster::homogeneous("h100", 1, Resources::new(0, 1, 0));
    let test = JobTable {
        meta: table.meta.clone(),
        jobs: table.jobs.iter().filter(|j| j.submit_s >= model.training.split_s).cloned().collect(),
    };
    let workload = Workload::from_jobs(&test.jobs, &cluster, WorkloadOptions { load_factor: args.load_factor, ..Default::default() });
    let mut runs = vec![foresight_simulator::run(&workload, &cluster, &RunSpec::new("fcfs"))?];
    let mut policy = "sjf".parse::<PolicySpec>().map_err(|e| anyhow::anyhow!("{e}"))?.build();
    let mut predictor = FilePredictor::new(model, &test, &workload.source_row);
    let result = simulate(&workload, &cluster, &mut policy, &mut predictor, &SimOptions::default())?;
    runs.push((result.clone(), report(&workload, cluster.total(), &result, "sjf", "foresight")));
    for predictor in ["easy++", "clairvoyant"] {
        runs.push(foresight_simulator::run(&workload, &cluster, &RunSpec { predictor: Some(predictor.into()), ..RunSpec::new("sjf") })?);
    }
    let runs: Vec<_> = runs.into_iter().map(|(result, report)| (report, result)).collect();
    let meta = EvidenceMeta {
        title: "foresight demo: shortest-predicted-first against FCFS on one H100".into(),
        trace: format!("{} (264 PyTorch jobs of 4 tenants, recorded on one H100)", embedded::JOBS_NAME),
        notes: notes(args.load_factor, &accuracy),
    };
    let mut evidence = build(meta, &workload, &cluster, &runs, 0, 1)?;
    p.done("compare", format!("{} runs over the {} jobs after the training window", runs.len(), workload.len()), started);

    bar.set_message("report: writing HTML, Markdown and JSON");
    let started = Instant::now();
    evidence.timings = p.timings.clone();
    let html = args.out.join("report.html");
    let w = foresight_reports::write_comparison(&evidence, &html).context("failed to write the report")?;
    let title = format!("foresight demo: the runtime model on {}", embedded::JOBS_NAME);
    let m = foresight_reports::write_model(&title, std::slice::from_ref(&eval), &args.out.join("model.html")).context("failed to write the model report")?;
    p.done("report", format!("{} and {}", w.html.display(), m.html.display()), started);
    bar.finish_and_clear();

    println!("{}", evidence.verdict.sentence);
    println!("report: {}", w.html.display());
    println!("also:   {} (Markdown), {} (numbers; `foresight report` renders it again)", w.markdown.display(), w.json.display());
    println!("model:  {} (the model's accuracy per tenant, feature importances, demand; Markdown {})", m.html.display(), m.markdown.display());
    Ok(())
}

/// The progress bar and the time each step took.
struct Progress {
    bar: ProgressBar,
    timings: Vec<StepTiming>,
}

impl Progress {
    fn new() -> Self {
        let bar = ProgressBar::new(STEPS.len() as u64);
        if let Ok(style) = ProgressStyle::with_template("{spinner} [{bar:20}] {pos}/{len} {msg} ({elapsed})") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        Self { bar, timings: Vec::new() }
    }

    /// Step `name`, begun at `started`, is done: say what it did.
    fn done(&mut self, name: &str, what: String, started: Instant) {
        self.timings.push(StepTiming { step: name.to_string(), seconds: started.elapsed().as_secs_f64() });
        self.bar.suspend(|| eprintln!("  {name:<8} {what}"));
        self.bar.inc(1);
    }
}

fn notes(load_factor: f64, accuracy: &str) -> Vec<String> {
    vec![
        "The 264 jobs ran back to back on one H100 with a 20 s limit each; every user estimate is that 20 s limit, so FCFS and EASY order the queue alike.".into(),
        format!("Split by time: the model ({accuracy}) never sees the jobs it is replayed on; only the second half is replayed."),
        format!("Arrivals are compressed by a load factor of {load_factor}: work arrives faster than one GPU serves it, so a queue forms and its order decides every wait."),
        "Users are the dataset's tenants.".into(),
        "SJF with user-history predictions is the built-in EASY++ predictor (each tenant's last two runtimes, learnt as jobs finish).".into(),
        "The last run knows every job's true runtime: a bound on what any predictor could achieve, not a policy.".into(),
        "The model's own report (accuracy per tenant, feature importances, the demand forecast) is model.html beside this page.".into(),
    ]
}
