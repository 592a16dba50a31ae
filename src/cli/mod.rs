//! Subcommands of the `foresight` binary, one module each, and the one place
//! that maps errors to exit codes.

mod ab;
mod ab_calibrate;
mod ab_input;
mod ab_model;
mod ab_measure;
mod ab_slurm;
mod admin;
mod serve_adapter;
mod compare;
mod evaluate;
mod demo;
mod ingest;
mod inspect;
mod jobs;
mod log;
mod operate;
mod plan;
mod policy_list;
mod progress;
mod report;
mod robustness;
mod serve;
mod serve_client;
mod shadow;
mod simulate;
mod submit;
mod sweep;
mod slurm_array;
mod telemetry;
mod train;
mod worker;
pub mod trace_args;

use clap::{Parser, Subcommand};

/// foresight: learn from a cluster's history, simulate scheduling policies on
/// it, shadow the live scheduler, and only then enforce.
#[derive(Debug, Parser)]
#[command(name = "foresight", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read a trace and write it as a Parquet job table.
    Ingest(ingest::IngestArgs),
    /// Summarise a trace or a Parquet table: jobs, users, span, outcomes,
    /// estimate quality, offered load.
    Inspect(inspect::InspectArgs),
    /// Watch a live Slurm in shadow mode: what the candidate policy would do,
    /// measured against what Slurm did; never acts.
    Shadow(shadow::ShadowArgs),
    /// Read and filter a decision log.
    Log(log::LogArgs),
    /// Show or switch a running controller's mode (shadow, advise,
    /// enforce) with an operator's token.
    Mode(operate::ModeArgs),
    /// Advise mode: list the controller's proposals, approve or override one.
    Advise(operate::AdviseArgs),
    /// The A/B proof: the busiest window of a real trace on two Slurm
    /// instances at once, Slurm alone against Slurm with foresight
    /// enforcing, measured from sacct beside the simulator's prediction.
    Ab(ab::AbArgs),
    /// Replay a trace under one policy and predictor.
    Simulate(simulate::SimulateArgs),
    /// Compare policies on one trace, in parallel, as a table.
    Compare(compare::CompareArgs),
    /// Sweep policies over clusters, load factors and seeds.
    Sweep(sweep::SweepArgs),
    /// Recommend a cluster size for the next horizon's demand (forecast,
    /// synthesize, replay each size), or backtest such plans.
    Plan(plan::PlanArgs),
    /// Check that predictions never make scheduling much worse: the
    /// candidate against requested times, the users' history and the
    /// clairvoyant bound, on each log at each load.
    Robustness(robustness::RobustnessArgs),
    /// Aggregate NVML telemetry per job and per user (mean and peak of
    /// every metric), streaming a table larger than memory.
    Telemetry(telemetry::TelemetryArgs),
    /// Fit a runtime model and a failure/time-out classifier on a trace
    /// and write a model file.
    Train(train::TrainArgs),
    /// Score runtime, failure and demand models on a trace, split by time.
    Evaluate(evaluate::EvaluateArgs),
    /// Render a results file as an HTML report with charts (and Markdown,
    /// JSON beside it).
    Report(report::ReportArgs),
    /// Run the whole pipeline on the embedded dataset, offline, and write a
    /// report: the first command to run.
    Demo(demo::DemoArgs),
    /// Run foresight's own task queue: a gRPC API whose dispatcher uses the
    /// same policies and predictions (`serve token add` makes tokens).
    Serve(serve::ServeArgs),
    /// Submit a job to `foresight serve`.
    Submit(submit::SubmitArgs),
    /// List, cancel, requeue or purge `foresight serve`'s jobs.
    Jobs(jobs::JobsArgs),
    /// Run jobs from `foresight serve` for a pool.
    Worker(worker::WorkerArgs),
    /// Administer a running `foresight serve`: the dispatch policy's
    /// versions, the mode (enforce, shadow, advise), tenants' limits, the
    /// decision log.
    Admin(admin::AdminArgs),
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Ingest(args) => ingest::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Shadow(args) => shadow::run(args),
        Command::Log(args) => log::run(args),
        Command::Mode(args) => operate::run_mode(args),
        Command::Advise(args) => operate::run_advise(args),
        Command::Ab(args) => ab::run(args),
        Command::Simulate(args) => simulate::run_simulate(args),
        Command::Compare(args) => compare::run_compare(args),
        Command::Sweep(args) => sweep::run_sweep(args),
        Command::Plan(args) => plan::run(args),
        Command::Robustness(args) => robustness::run_robustness(args),
        Command::Telemetry(args) => telemetry::run(args),
        Command::Train(args) => train::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Report(args) => report::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Submit(args) => submit::run(args),
        Command::Jobs(args) => jobs::run(args),
        Command::Worker(args) => worker::run(args),
        Command::Admin(args) => admin::run(args),
    }
}

/// The exit code for an error: 2 for bad input (a trace that does not
/// parse or leaves no job to replay, an unknown policy, predictor or model
/// name, a cluster file that is not one, a model whose training window
/// cannot be placed on the trace), 1 for everything else.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err.chain().any(is_bad_input) { 2 } else { 1 }
}

/// A command's own finding that its input is wrong (a run that would replay
/// no job, a trace with nothing after a model's training window): exit
/// code 2, with the message as it reads.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Whether an error says the user's input is wrong (rather than the
/// machine or foresight).
fn is_bad_input(e: &(dyn std::error::Error + 'static)) -> bool {
    use foresight_models::ModelError;
    use foresight_simulator::plan::PlanError;
    use foresight_simulator::{cluster_file::ClusterFileError, run::SimError};
    e.is::<foresight_datasets::IngestError>()
        || e.is::<BadInput>()
        || e.is::<foresight_models::file::WindowError>()
        || e.is::<foresight_core::policy::UnknownPolicy>()
        || e.is::<foresight_core::predictor::UnknownPredictor>()
        || matches!(e.downcast_ref::<ClusterFileError>(), Some(ClusterFileError::Parse { .. }))
        || matches!(e.downcast_ref::<PlanError>(), Some(PlanError::Classes(_) | PlanError::Settings(_)))
        || matches!(e.downcast_ref::<SimError>(), Some(SimError::Spec(_) | SimError::NoCluster))
        || matches!(
            e.downcast_ref::<ModelError>(),
            Some(ModelError::UnknownModel(_) | ModelError::Version { .. } | ModelError::InvalidFile { .. } | ModelError::Invalid(_))
        )
}
