//! `foresight ab`: the A/B proof of docs/enforce.md. The busiest window of a
//! real trace (a rule fixed before measuring) is compressed into `sleep`
//! jobs and submitted at the same moments to two Slurm instances started on
//! this host at once: one left to Slurm's own backfill and multifactor
//! priority, one with foresight enforcing the candidate the simulator chose
//! on the trace before the window. Both are measured from `sacct`, beside
//! the simulator's prediction of each, and written as an HTML report
//! (Markdown and JSON beside it).

use super::ab_input as input;
use super::ab_model::{self, SlurmTiming};
use super::ab_measure::{decision_delays, goals, ran_of, summary};
use super::ab_calibrate::{CALIBRATION_JOBS, calibrate};
use super::ab_slurm::Instance;
use run::{ArmsRun, Instances};
use anyhow::Context;
use clap::Args;
use foresight_reports::ab::{AbEvidence, Arm, CandidateScore};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "ab_run.rs"]
mod run;

/// Slurm alone as the simulator models it: `scripts/slurm-up.sh`'s
/// multifactor weights and Slurm's backfill (a reservation for every job
/// ahead, each on whole nodes). A test checks the weights against the
/// script.
const SLURM_AS: &str = "priority[age=100,size=1000,fairshare=0]/conservative-nodes:requested";

/// How long a calibration may take.
const CALIBRATION_WAIT: Duration = Duration::from_secs(180);

/// Run the A/B proof on two real Slurm instances (as root, with Slurm
/// installed): Slurm alone against Slurm with foresight enforcing.
///
/// The slice is the busiest `--window-h` hours of the trace by offered load;
/// its jobs are submitted to both instances as `sleep` jobs, times divided
/// by `--compress` (time limits rounded up to Slurm's minute), each as a
/// Linux user `fsab<trace user>` (made when missing). The candidate is the
/// one of `--candidates` with the lowest average bounded slowdown when the
/// simulator replays the jobs that ended before the slice; a `model`
/// candidate's predictor is a runtime model trained on those jobs
/// (`model-prefix.json` in `--out`), served to the controller with
/// `--time-scale` the compression. Writes
/// `report.html`, `report.md`, `report.json`, the decision log and the
/// controller's output to `--out`; exits 1 when a job did not run exactly
/// once or a gate was left.
#[derive(Debug, Args)]
pub struct AbArgs {
    /// The trace (default: KTH-SP2 under $FORESIGHT_DATASETS).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// The slice's length: the busiest window of this many hours.
    #[arg(long, default_value_t = 48.0)]
    window_h: f64,
    /// Only windows starting at or after this trace time (seconds, as the
    /// trace's submission times): the busiest window after an earlier
    /// slice, for a slice not looked at before. The jobs before it are still
    /// the prefix the candidates are chosen and trained on.
    #[arg(long, value_name = "TRACE_S")]
    after: Option<f64>,
    /// Trace seconds per wall second (180: 48 h of arrivals in 16 min).
    #[arg(long, default_value_t = 180.0)]
    compress: f64,
    /// Only the slice's first N jobs (a short run, as the CI test does).
    #[arg(long, value_name = "N")]
    max_jobs: Option<usize>,
    /// Nodes of each Slurm instance.
    #[arg(long, default_value_t = 4)]
    nodes: u32,
    /// CPUs per node (default: the trace's machine split over the nodes).
    #[arg(long)]
    cpus_per_node: Option<u32>,
    /// The candidates, `policy:predictor` each, scored by the simulator on
    /// the trace before the slice; the predictor is `requested`, `easy++`
    /// or `model`: a runtime model (`foresight train`'s `auto`) trained on
    /// the jobs that ended before the slice, which the controller serves on
    /// compressed time (`foresight shadow --time-scale`).
    #[arg(
        long,
        default_value = "priority:requested,easy:requested,sjf:requested,qssf:requested,fairshare:requested,easy++:easy++,sjf:easy++,qssf:easy++,foresight:easy++,easy++:model,sjf:model,qssf:model,foresight:model"
    )]
    candidates: Vec<String>,
    /// Score the candidates on only the last N jobs before the slice.
    #[arg(long, value_name = "N")]
    choice_jobs: Option<usize>,
    /// How the simulator models Slurm alone (`policy:predictor`): by
    /// default Slurm's multifactor priority with the weights
    /// `scripts/slurm-up.sh` configures (job size 1000, age 100, no fair
    /// share) and its backfill, which reserves for every job ahead
    /// (conservative), each reservation on whole nodes, with the time
    /// limits.
    #[arg(long, default_value = SLURM_AS)]
    slurm_as: String,
    /// The controller's poll interval, milliseconds.
    #[arg(long, default_value_t = 200)]
    poll_ms: u64,
    /// The controller decides at least every this many seconds.
    #[arg(long, default_value_t = 1.0)]
    timer_s: f64,
    /// A gate's lease, seconds.
    #[arg(long, default_value_t = 60)]
    lease_s: u64,
    /// Where the report, the decision log and the controller's output go.
    #[arg(long, default_value = "ab-out")]
    out: PathBuf,
    /// The project's scripts folder (slurm-up.sh, slurm-down.sh).
    #[arg(long, default_value = "scripts")]
    scripts: PathBuf,
    /// Submit every job as root instead of as the trace's users.
    #[arg(long)]
    as_root: bool,
    /// Stop after the choice and the predictions; start no Slurm.
    #[arg(long)]
    dry_run: bool,
    /// Gate the enforce arm's jobs at submission: submit them to the
    /// `foresight` partition, where the repository's `slurm/job_submit.lua`
    /// marks each and, while the controller enforces, sets its `BeginTime`
    /// a lease ahead (the controller writes the lua's cache,
    /// /run/foresight/job_submit.cache), so that Slurm starts none before
    /// the candidate decides on it. Without it the enforce arm's jobs go to
    /// `batch` (as Slurm alone's do) and Slurm may start a new job before a
    /// cycle has seen it. Its one run so far stalled, before the adapter
    /// read a job's node count right (docs/enforce.md).
    #[arg(long)]
    gate_at_submission: bool,
    /// Measure an earlier run again from its instances' job completion
    /// files and the files in `--out` (its report's gates, `submitted.tsv`,
    /// `decisions.log`), without starting Slurm or submitting anything.
    #[arg(long)]
    remeasure: bool,
    /// Leave both Slurm instances running at the end.
    #[arg(long)]
    keep_slurm: bool,
    /// The two instances' names are this with `a` (Slurm alone) and `e`
    /// (enforce) after it.
    #[arg(long, default_value = "ab")]
    instance: String,
    /// SlurmctldPort of the first instance; the second's is 10 more. An
    /// instance's nodes listen from 17001 + 100 x (its port / 10 mod 100)
    /// on (25201 for 6827).
    #[arg(long, default_value_t = 6827)]
    port: u16,
    /// Slurm's overhead per job, wall seconds past each job's sleep before
    /// its CPUs serve the next, for both arms' predictions and the choice
    /// (default: measured on each instance before the slice, with
    /// back-to-back jobs that each ask for the whole cluster; 0 with
    /// `--dry-run`).
    #[arg(long, value_name = "SECONDS")]
    overhead_s: Option<f64>,
    /// Seconds between Slurm's scheduling passes, as the simulator models
    /// them: it decides only at multiples of this, so that jobs arriving
    /// between two passes are ordered together (Slurm's backfill runs about
    /// every 2 s with `bf_interval=1` on this host; its main scheduler at
    /// some events). 0 decides at every event. Chosen on a development
    /// slice (docs/enforce.md).
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pass_s: f64,
    /// Give up waiting for the jobs after this many wall seconds.
    #[arg(long, default_value_t = 3600.0)]
    max_wall_s: f64,
}

/// The first node port of the instance whose slurmctld listens on `port`.
fn node_port(port: u16) -> u16 {
    17001 + 100 * ((port / 10) % 100)
}

/// The cache `slurm/job_submit.lua` reads.
const SUBMIT_CACHE: &str = "/run/foresight/job_submit.cache";

const KTH: &str = "pwa-kth-sp2/KTH-SP2-1996-2.1-cln.swf.gz";

/// Runs `ab`.
pub fn run(mut args: AbArgs) -> anyhow::Result<()> {
    args.candidates = super::policy_list::split(&args.candidates);
    let started = Instant::now();
    let trace = match &args.trace {
        Some(t) => t.clone(),
        None => {
            PathBuf::from(std::env::var("FORESIGHT_DATASETS").unwrap_or_else(|_| "../shared/datasets".into())).join(KTH)
        }
    };
    if args.compress.is_nan() || args.compress < 1.0 || args.window_h.is_nan() || args.window_h <= 0.0 {
        return Err(super::BadInput("--compress must be at least 1 and --window-h above 0".into()).into());
    }
    let table = foresight_datasets::read_trace(&trace, &Default::default()).context("failed to read trace")?.table;
    let capacity = table.meta.capacity.cpus.ok_or_else(|| super::BadInput("the trace declares no CPU count".into()))?;
    let after = args.after.unwrap_or(f64::NEG_INFINITY);
    let mut slice = input::busiest(&table.jobs, capacity, args.window_h * 3600.0, after).ok_or_else(|| {
        super::BadInput(match args.after {
            Some(a) => format!("--after {a}: no job that ran was submitted at or after it"),
            None => "the trace has no job that ran".into(),
        })
    })?;
    if let Some(n) = args.max_jobs {
        slice.jobs.truncate(n);
    }
    let cpus_per_node = args.cpus_per_node.unwrap_or(capacity.div_ceil(args.nodes.max(1)));
    let cluster = input::cluster(args.nodes, cpus_per_node);
    let total = args.nodes * cpus_per_node;
    if args.overhead_s.is_some_and(|o| !o.is_finite() || o < 0.0) {
        return Err(super::BadInput("--overhead-s must be a number of seconds, at least 0".into()).into());
    }
    if !(args.pass_s.is_finite() && args.pass_s >= 0.0) {
        return Err(super::BadInput("--pass-s must be a number of seconds, at least 0".into()).into());
    }
    let mut prefix = slice.prefix.clone();
    if let Some(n) = args.choice_jobs {
        prefix.sort_by(|a, b| a.submit_s.total_cmp(&b.submit_s));
        prefix.drain(..prefix.len().saturating_sub(n));
    }
    eprintln!(
        "slice: {} jobs from {:.0} s to {:.0} s of the trace, offered load {:.2}; scoring {} candidates on {} jobs before it",
        slice.jobs.len(),
        slice.from_s,
        slice.to_s,
        slice.offered_load,
        args.candidates.len(),
        prefix.len()
    );
    let model = ab_model::train_if_needed(
        &args.candidates,
        &slice,
        &table.meta,
        args.compress,
        total,
        !args.as_root,
        &args.out,
    )?;
    let jobs = input::compress(&slice, args.compress, total, !args.as_root);
    let prefix_jobs = input::compress_prefix(&prefix, args.compress, total, !args.as_root);
    let slurm_as = input::spec(&args.slurm_as, args.pass_s)?;
    let timing = |overhead_s: f64| SlurmTiming { overhead_s, pass_s: args.pass_s };
    // a dry run or a remeasurement starts no Slurm and stops none
    let live = !args.dry_run && !args.remeasure;
    let instances =
        Instances { all: instances(&args), scripts: &args.scripts, keep: args.keep_slurm || !live };
    let [alone, enforce] = &instances.all;
    let before: Option<AbEvidence> = if args.remeasure {
        let path = args.out.join("report.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        Some(serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))?)
    } else {
        None
    };
    if live {
        std::fs::create_dir_all(&args.out).with_context(|| format!("create {}", args.out.display()))?;
        let made = run::prepare(&args, &instances, &jobs, cpus_per_node)?;
        eprintln!("instances {} and {} up ({made} users made)", alone.name, enforce.name);
    }
    // Slurm's overhead per job: given, the earlier run's, measured now on
    // both instances (Slurm's own, before any controller), or none
    let overhead_of = |k: usize| before.as_ref().and_then(|b| b.arms.get(k)).map_or(0.0, |a| a.overhead_s);
    let (overhead_alone, overhead_choice) = match (args.overhead_s, &before) {
        (Some(o), _) => (o, o),
        (None, Some(b)) => (overhead_of(0), b.choice_overhead_s),
        (None, None) if live => {
            let o = calibrate(&[(alone, "batch"), (enforce, "batch")], total, 0, CALIBRATION_WAIT)?;
            eprintln!("Slurm's overhead per job: {:.2} s alone, {:.2} s on the enforce arm's instance", o[0], o[1]);
            (o[0], o[1])
        }
        (None, None) => (0.0, 0.0),
    };
    let scores =
        ab_model::choose(&prefix_jobs, &cluster, &args.candidates, model.as_ref(), args.compress, timing(overhead_choice))?;
    let chosen = scores.first().map(|s| s.spec.clone()).ok_or_else(|| super::BadInput("no candidate given".into()))?;
    for s in &scores {
        eprintln!("  {:<20} avg bsld {:>8.2}  mean wait {:>8.0} s", s.spec, s.avg_bsld, s.mean_wait_s);
    }
    // Slurm alone as modelled, on the same jobs: what the choice is to beat
    // (reported, not chosen from)
    let baseline =
        ab_model::score(&prefix_jobs, &cluster, &args.slurm_as, model.as_ref(), args.compress, timing(overhead_alone))?;
    eprintln!("  Slurm alone, as modelled: avg bsld {:.2}  mean wait {:.0} s", baseline.avg_bsld, baseline.mean_wait_s);
    let controller =
        if live { Some(run::start_controller(&args, enforce, &chosen, model.as_ref(), &slurm_as.policy)?) } else { None };
    // the enforce arm's overhead, with the controller deciding: measured
    // once it runs, on the partition the slice's jobs go to
    let overhead_enforce = match (args.overhead_s, &before) {
        (Some(o), _) => o,
        (None, Some(_)) => overhead_of(1),
        (None, None) if live => {
            let part = instances.partition(&args, enforce);
            let o = calibrate(&[(enforce, part)], total, CALIBRATION_JOBS, CALIBRATION_WAIT)?[0];
            eprintln!("overhead per job with foresight enforcing: {o:.2} s");
            o
        }
        (None, None) => overhead_choice,
    };
    let predicted_alone =
        input::predict_with(&jobs, overhead_alone, |rows| input::simulate(rows, &cluster, &slurm_as))?;
    let predicted_enforce =
        ab_model::predict(&jobs, &cluster, &chosen, model.as_ref(), args.compress, timing(overhead_enforce))?;
    let makespan = predicted_alone.iter().map(|r| r.end_s).fold(0.0, f64::max);
    eprintln!(
        "chosen: {chosen}; {} jobs arrive over {:.0} wall s; the simulator's Slurm alone ends after {makespan:.0} wall s",
        jobs.len(),
        jobs.last().map_or(0.0, |j| j.at_s)
    );
    let mut ev = AbEvidence {
        title: "A/B: Slurm alone against Slurm with foresight enforcing".into(),
        trace: trace.display().to_string(),
        rule: format!(
            "the busiest {} h by offered load (CPU-seconds of the jobs submitted in the window over the machine's), over windows starting at a job's submission{}; the earliest on a tie.{}",
            args.window_h,
            args.after.map_or(String::new(), |a| format!(" at or after trace second {a:.0}")),
            args.max_jobs.map_or(String::new(), |n| format!(" Only its first {n} jobs."))
        ),
        slice_from_s: slice.from_s,
        slice_to_s: slice.to_s,
        slice_jobs: jobs.len(),
        offered_load: slice.offered_load,
        prefix_jobs: prefix.len(),
        compress: args.compress,
        cluster: format!("{} nodes of {cpus_per_node} CPUs", args.nodes),
        candidates: scores,
        chosen: chosen.clone(),
        choice_overhead_s: overhead_choice,
        poll_s: args.poll_ms as f64 / 1000.0,
        ..AbEvidence::default()
    };
    if args.dry_run {
        std::fs::create_dir_all(&args.out).with_context(|| format!("create {}", args.out.display()))?;
        for (arm, predicted) in [("slurm", &predicted_alone), ("foresight", &predicted_enforce)] {
            std::fs::write(args.out.join(format!("jobs-{arm}.tsv")), input::per_job_tsv(&jobs, &[], predicted))?;
        }
        for (name, ran) in [("Slurm alone", &predicted_alone), (chosen.as_str(), &predicted_enforce)] {
            let m = input::metrics(ran, args.compress, total);
            println!(
                "simulated {name}: mean wait {:.0} s, p95 {:.0} s, avg bsld {:.2}, util {:.1}%",
                m.mean_wait_s,
                m.p95_wait_s,
                m.avg_bsld,
                100.0 * m.utilisation
            );
        }
        // what each candidate would do on the slice itself (not a choice:
        // the choice above saw only the jobs before it)
        for c in &args.candidates {
            let ran = ab_model::predict(&jobs, &cluster, c, model.as_ref(), args.compress, timing(overhead_enforce))?;
            let m = input::metrics(&ran, args.compress, total);
            println!("  on the slice, {c:<20} mean wait {:>7.0} s, avg bsld {:>7.2}", m.mean_wait_s, m.avg_bsld);
        }
        return Ok(());
    }

    let log = args.out.join("decisions.log");
    let submitted_path = args.out.join("submitted.tsv");
    let (gated, submitted_b) = match (&before, controller) {
        (Some(b), _) => remeasured(b, &submitted_path)?,
        (None, Some(c)) => run::replay(&args, &instances, &jobs, c, started)?,
        (None, None) => unreachable!("a live run has a controller"),
    };
    let (delays, undecided) = match &submitted_b {
        Some(s) => decision_delays(&log, s)?,
        None => (Vec::new(), 0),
    };

    let capacity_cpus = total;
    let mut ok = true;
    for (k, (inst, predicted, scheduler, simulated_as, overhead_s)) in [
        (
            alone,
            &predicted_alone,
            "Slurm: backfill and multifactor priority (slurm-up.sh)",
            args.slurm_as.clone(),
            overhead_alone,
        ),
        (enforce, &predicted_enforce, "Slurm with foresight enforcing the candidate", chosen.clone(), overhead_enforce),
    ]
    .into_iter()
    .enumerate()
    {
        let records = inst.sacct()?;
        let (ran, once, anomalies) = ran_of(&records, &jobs);
        let arm = if k == 0 { "slurm" } else { "foresight" };
        std::fs::write(args.out.join(format!("jobs-{arm}.tsv")), input::per_job_tsv(&jobs, &ran, predicted))?;
        ok &= anomalies.is_empty() && gated[k] == 0 && once == jobs.len();
        ev.arms.push(Arm {
            name: arm.into(),
            scheduler: scheduler.into(),
            simulated_as,
            measured: input::metrics(&ran, args.compress, capacity_cpus),
            predicted: input::metrics(predicted, args.compress, capacity_cpus),
            submitted: jobs.len(),
            ran_once: once,
            anomalies,
            gated_at_end: gated[k],
            overhead_s,
        });
    }
    ev.decided_jobs = delays.len();
    ev.undecided_jobs = undecided;
    ev.decision_delay_p50_s = input::quantile(&delays, 0.5);
    ev.decision_delay_p99_s = input::quantile(&delays, 0.99);
    ev.wall_s = started.elapsed().as_secs_f64();
    ev.notes = notes(&args);
    ev.notes.extend(ab_model::note(model.as_ref(), args.compress));
    ev.notes.push(baseline_note(&args.slurm_as, &baseline, &ev.candidates));
    if let Some(before) = &before {
        // what only the run itself knew: its wall time, and its delays
        // when it wrote no submitted.tsv
        ev.wall_s = before.wall_s;
        if submitted_b.is_none() {
            ev.notes.push("The decision delays are the run's own (it wrote no submitted.tsv): from `sbatch` returning to the job's first action in the log.".into());
            (ev.decided_jobs, ev.undecided_jobs) = (before.decided_jobs, before.undecided_jobs);
            (ev.decision_delay_p50_s, ev.decision_delay_p99_s) =
                (before.decision_delay_p50_s, before.decision_delay_p99_s);
        }
        ev.notes.push("Measured again (`--remeasure`) from the instances' job completion files after the run.".into());
    }
    ev.goals = goals(&ev);
    let written = foresight_reports::write_ab(&ev, &args.out.join("report.html")).context("write the A/B report")?;
    print!("{}", summary(&ev));
    println!("report: {}", written.html.display());
    if !ok {
        anyhow::bail!(
            "the mechanics failed: a job did not run exactly once, or a gate was left (see {})",
            written.markdown.display()
        );
    }
    Ok(())
}

/// The two instances `--instance` and `--port` name.
fn instances(args: &AbArgs) -> [Instance; 2] {
    let one = |suffix: &str, port: u16| Instance {
        name: format!("{}{suffix}", args.instance),
        ctld_port: port,
        node_port: node_port(port),
        prefix: suffix.into(),
    };
    [one("a", args.port), one("e", args.port + 10)]
}

/// `--remeasure`: the gates left at the end from the earlier report, and
/// the enforce arm's submissions from `submitted.tsv` when the run wrote one.
fn remeasured(before: &AbEvidence, submitted: &Path) -> anyhow::Result<ArmsRun> {
    let gated = [0, 1].map(|k| before.arms.get(k).map_or(0, |a| a.gated_at_end));
    let Ok(tsv) = std::fs::read_to_string(submitted) else { return Ok((gated, None)) };
    let rows = tsv.lines().skip(1).filter_map(|l| {
        let f: Vec<&str> = l.split('\t').collect();
        (f.len() == 4 && f[0] == "foresight").then(|| Some((f[1].to_string(), f[3].parse().ok()?))).flatten()
    });
    Ok((gated, Some(rows.collect())))
}

/// How Slurm alone, as the simulator models it, scored on the jobs the
/// candidates were scored on, beside the chosen one.
fn baseline_note(slurm_as: &str, baseline: &CandidateScore, candidates: &[CandidateScore]) -> String {
    let chosen = candidates.first().map_or(f64::NAN, |c| c.avg_bsld);
    format!(
        "Slurm alone, as the simulator models it (`{slurm_as}`), scored an average bounded slowdown of {:.2} (mean wait {:.0} s) on the jobs the candidates were scored on, against {chosen:.2} for the chosen one. It is reported, not a candidate: the choice does not ask how like the slice those jobs are, and a slice chosen as the busiest may rank the policies otherwise.",
        baseline.avg_bsld, baseline.mean_wait_s
    )
}

fn notes(args: &AbArgs) -> Vec<String> {
    let gate = if args.gate_at_submission {
        "The enforce arm's jobs went to the `foresight` partition, where `slurm/job_submit.lua` gated each at submission (its `BeginTime` a lease ahead) while the controller enforced: Slurm started none before a cycle had decided on it."
    } else {
        "The enforce arm's jobs went to `batch`, as Slurm alone's: Slurm may start a new job before a cycle has seen it."
    };
    vec![
        gate.into(),
        format!("The simulator stands for Slurm on this host with each arm's overhead per job (measured before the slice) and scheduling passes {} s apart (`--pass-s`, chosen on a development slice): it decides only at multiples of it, as Slurm's backfill runs in passes.", args.pass_s),
        format!("Both instances' backfill plans in steps of {} s (`bf_resolution`): Slurm's default of 60 s divided by the compression, so that it rounds reservations by the same trace time as on an uncompressed cluster.", super::ab_slurm::bf_resolution_s(args.compress)),
        format!("Run times are whole seconds of `sleep` (at least 1 s, {:.0} trace seconds); a time limit is the request divided by the compression, rounded up to a minute, never under the sleep plus 5 s.", args.compress),
        "The candidates' predictors: `requested` (the request), `easy++` (users' history) and `model` (a runtime model trained on the jobs that ended before the slice, served on compressed time with `--time-scale`).".into(),
        format!("The controller: `foresight shadow --mode enforce --control-partition batch`, poll {} ms, timer {} s, lease {} s, drift breaker off (`--drift-threshold inf`), deadline 3 s.", args.poll_ms, args.timer_s, args.lease_s),
        "Both instances, their slurmds and the controller share one host; job submissions alternate which arm goes first.".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use foresight_core::policy::{PolicySpec, PriorityWeights, QueueOrder};

    #[test]
    fn slurm_alone_is_simulated_with_the_weights_slurm_up_configures() {
        let script = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/slurm-up.sh")).unwrap();
        let weight = |key: &str| {
            script.lines().find_map(|l| l.trim().strip_prefix(key)?.strip_prefix('=')?.trim().parse::<f64>().ok())
        };
        let (policy, predictor) = SLURM_AS.split_once(':').unwrap();
        let spec: PolicySpec = policy.parse().unwrap();
        let QueueOrder::Priority(w) = spec.order else { panic!("{SLURM_AS} is not a priority order") };
        // a weight the script does not set is Slurm's default: 0
        let want = PriorityWeights {
            age: weight("PriorityWeightAge").unwrap_or(0.0),
            size: weight("PriorityWeightJobSize").unwrap_or(0.0),
            fairshare: weight("PriorityWeightFairshare").unwrap_or(0.0),
            ..w
        };
        assert_eq!(w, want);
        assert!(!script.contains("PriorityFavorSmall") && !script.contains("PriorityMaxAge"));
        assert_eq!(w.max_age_s, 7.0 * 86_400.0, "Slurm's default PriorityMaxAge");
        assert_eq!(spec.backfill, foresight_core::policy::Backfill::ConservativeNodes);
        assert_eq!(predictor, "requested");
    }
}
