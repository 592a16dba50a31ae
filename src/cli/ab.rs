//! `foresight ab`: the A/B proof of docs/enforce.md. The busiest window of a
//! real trace (a rule fixed before measuring) is compressed into `sleep`
//! jobs and submitted at the same moments to two Slurm instances started on
//! this host at once: one left to Slurm's own backfill and multifactor
//! priority, one with foresight enforcing the candidate the simulator chose
//! on the trace before the window. Both are measured from `sacct`, beside
//! the simulator's prediction of each, and written as an HTML report
//! (Markdown and JSON beside it).

use super::ab_input::{self as input, AbJob};
use super::ab_measure::{decision_delays, goals, ran_of, summary};
use super::ab_slurm::{Instance, ensure_users};
use anyhow::Context;
use clap::Args;
use foresight_reports::ab::{AbEvidence, Arm};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Run the A/B proof on two real Slurm instances (as root, with Slurm
/// installed): Slurm alone against Slurm with foresight enforcing.
///
/// The slice is the busiest `--window-h` hours of the trace by offered load;
/// its jobs are submitted to both instances as `sleep` jobs, times divided
/// by `--compress` (time limits rounded up to Slurm's minute), each as a
/// Linux user `fsab<trace user>` (made when missing). The candidate is the
/// one of `--candidates` with the lowest average bounded slowdown when the
/// simulator replays the jobs that ended before the slice. Writes
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
    /// the trace before the slice; the predictor must be one the live
    /// controller serves on compressed time (`requested`, `easy++`).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "priority:requested,easy:requested,sjf:requested,qssf:requested,fairshare:requested,easy++:easy++,sjf:easy++,qssf:easy++,foresight:easy++"
    )]
    candidates: Vec<String>,
    /// Score the candidates on only the last N jobs before the slice.
    #[arg(long, value_name = "N")]
    choice_jobs: Option<usize>,
    /// How the simulator models Slurm alone (`policy:predictor`).
    #[arg(long, default_value = "priority:requested")]
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

/// The controller's process, stopped (SIGTERM, then SIGKILL) when dropped.
struct Controller(Child);

impl Controller {
    fn stop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if self.0.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            self.stop();
        }
    }
}

/// Both instances, stopped when dropped unless kept.
struct Instances<'a> {
    all: [Instance; 2],
    scripts: &'a Path,
    keep: bool,
}

impl Drop for Instances<'_> {
    fn drop(&mut self) {
        if !self.keep {
            self.all.iter().for_each(|i| i.down(self.scripts));
        }
    }
}

/// Runs `ab`.
pub fn run(args: AbArgs) -> anyhow::Result<()> {
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
    let mut slice = input::busiest(&table.jobs, capacity, args.window_h * 3600.0)
        .ok_or_else(|| super::BadInput("the trace has no job that ran".into()))?;
    if let Some(n) = args.max_jobs {
        slice.jobs.truncate(n);
    }
    let cpus_per_node = args.cpus_per_node.unwrap_or(capacity.div_ceil(args.nodes.max(1)));
    let cluster = input::cluster(args.nodes, cpus_per_node);
    let total = args.nodes * cpus_per_node;
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
    let scores = input::choose(&prefix, &cluster, &args.candidates)?;
    let chosen = scores.first().map(|s| s.spec.clone()).ok_or_else(|| super::BadInput("no candidate given".into()))?;
    let jobs = input::compress(&slice, args.compress, total, !args.as_root);
    let rows = input::as_table_jobs(&jobs);
    let slurm_as = input::spec(&args.slurm_as)?;
    let predicted_alone = input::simulate(&rows, &cluster, &slurm_as)?;
    let predicted_enforce = input::simulate(&rows, &cluster, &input::spec(&chosen)?)?;
    let makespan = predicted_alone.iter().map(|r| r.end_s).fold(0.0, f64::max);
    eprintln!(
        "chosen: {chosen}; {} jobs arrive over {:.0} wall s; the simulator's Slurm alone ends after {makespan:.0} wall s",
        jobs.len(),
        jobs.last().map_or(0.0, |j| j.at_s)
    );
    for s in &scores {
        eprintln!("  {:<20} avg bsld {:>8.2}  mean wait {:>8.0} s", s.spec, s.avg_bsld, s.mean_wait_s);
    }
    let mut ev = AbEvidence {
        title: "A/B: Slurm alone against Slurm with foresight enforcing".into(),
        trace: trace.display().to_string(),
        rule: format!(
            "the busiest {} h by offered load (CPU-seconds of the jobs submitted in the window over the machine's), over windows starting at a job's submission; the earliest on a tie.{}",
            args.window_h,
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
        poll_s: args.poll_ms as f64 / 1000.0,
        ..AbEvidence::default()
    };
    if args.dry_run {
        let a = input::metrics(&predicted_alone, args.compress, total);
        let b = input::metrics(&predicted_enforce, args.compress, total);
        println!(
            "simulated Slurm alone: mean wait {:.0} s, p95 {:.0} s, avg bsld {:.2}, util {:.1}%",
            a.mean_wait_s,
            a.p95_wait_s,
            a.avg_bsld,
            100.0 * a.utilisation
        );
        println!(
            "simulated {chosen}: mean wait {:.0} s, p95 {:.0} s, avg bsld {:.2}, util {:.1}%",
            b.mean_wait_s,
            b.p95_wait_s,
            b.avg_bsld,
            100.0 * b.utilisation
        );
        // what each candidate would do on the slice itself (not a choice:
        // the choice above saw only the jobs before it)
        for c in &args.candidates {
            let m = input::metrics(&input::simulate(&rows, &cluster, &input::spec(c)?)?, args.compress, total);
            println!("  on the slice, {c:<20} mean wait {:>7.0} s, avg bsld {:>7.2}", m.mean_wait_s, m.avg_bsld);
        }
        return Ok(());
    }

    std::fs::create_dir_all(&args.out).with_context(|| format!("create {}", args.out.display()))?;
    let instances =
        Instances { all: instances(&args), scripts: &args.scripts, keep: args.keep_slurm || args.remeasure };
    let log = args.out.join("decisions.log");
    let submitted_path = args.out.join("submitted.tsv");
    let (gated, submitted_b) = if args.remeasure {
        remeasured(&args.out.join("report.json"), &submitted_path)?
    } else {
        run_arms(&args, &instances, &jobs, &chosen, &slurm_as.policy, cpus_per_node)?
    };
    let (delays, undecided) = match &submitted_b {
        Some(s) => decision_delays(&log, s)?,
        None => (Vec::new(), 0),
    };
    let [alone, enforce] = &instances.all;

    let capacity_cpus = total;
    let mut ok = true;
    for (k, (inst, predicted, scheduler, simulated_as)) in [
        (alone, &predicted_alone, "Slurm: backfill and multifactor priority (slurm-up.sh)", args.slurm_as.clone()),
        (enforce, &predicted_enforce, "Slurm with foresight enforcing the candidate", chosen.clone()),
    ]
    .into_iter()
    .enumerate()
    {
        let records = inst.sacct()?;
        let (ran, once, anomalies) = ran_of(&records, &jobs);
        ok &= anomalies.is_empty() && gated[k] == 0 && once == jobs.len();
        ev.arms.push(Arm {
            name: if k == 0 { "slurm".into() } else { "foresight".into() },
            scheduler: scheduler.into(),
            simulated_as,
            measured: input::metrics(&ran, args.compress, capacity_cpus),
            predicted: input::metrics(predicted, args.compress, capacity_cpus),
            submitted: jobs.len(),
            ran_once: once,
            anomalies,
            gated_at_end: gated[k],
        });
    }
    ev.decided_jobs = delays.len();
    ev.undecided_jobs = undecided;
    ev.decision_delay_p50_s = input::quantile(&delays, 0.5);
    ev.decision_delay_p99_s = input::quantile(&delays, 0.99);
    ev.wall_s = started.elapsed().as_secs_f64();
    ev.notes = notes(&args);
    if args.remeasure {
        // what only the run itself knew: its wall time, and its delays
        // when it wrote no submitted.tsv
        let before: AbEvidence = serde_json::from_str(&std::fs::read_to_string(args.out.join("report.json"))?)?;
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

/// Jobs gated at the end per arm, and the enforce arm's jobs with the Unix
/// time `sbatch` returned.
type ArmsRun = ([usize; 2], Option<HashMap<String, f64>>);

/// Starts both instances and the controller, replays the jobs into both at
/// the same moments, and waits until both queues are empty.
fn run_arms(
    args: &AbArgs,
    instances: &Instances,
    jobs: &[AbJob],
    chosen: &str,
    slurm_policy: &str,
    cpus_per_node: u32,
) -> anyhow::Result<ArmsRun> {
    let started = Instant::now();
    let made = if args.as_root { 0 } else { ensure_users(jobs)? };
    if args.gate_at_submission {
        let dir = Path::new(SUBMIT_CACHE).parent().unwrap_or(Path::new("/"));
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    for i in &instances.all {
        i.up(&args.scripts, args.nodes, cpus_per_node)?;
    }
    let [alone, enforce] = &instances.all;
    let (policy, predictor) = chosen.split_once(':').unwrap_or((chosen, "easy++"));
    let model = args.out.join("model.json");
    std::fs::write(&model, format!("{{\"predictor\": \"{predictor}\", \"version\": \"ab\"}}\n"))?;
    let log = args.out.join("decisions.log");
    let _ = std::fs::remove_file(&log);
    let mut tsv = String::from("arm\tslurm_id\ttrace_id\tsbatch_returned_unix_s\n");
    let out_file = std::fs::File::create(args.out.join("controller.txt"))?;
    let mut controller = Controller(
        Command::new(std::env::current_exe()?)
            .args(["shadow", "--slurm", "cmd", "--mode", "enforce", "--control-partition", "batch", "--policy", policy])
            .args(["--baseline", slurm_policy, "--drift-threshold", "inf", "--deadline-ms", "3000"])
            .args(["--poll-ms", &args.poll_ms.to_string(), "--timer-s", &args.timer_s.to_string()])
            .args(["--lease-s", &args.lease_s.to_string(), "--log-level", "warn", "--fsync", "never"])
            .args(if args.gate_at_submission { &["--submit-cache", SUBMIT_CACHE][..] } else { &[] })
            .arg("--slurm-conf")
            .arg(enforce.conf())
            .arg("--model")
            .arg(&model)
            .arg("--log")
            .arg(&log)
            .stdout(out_file.try_clone()?)
            .stderr(out_file)
            .spawn()
            .context("start foresight shadow --mode enforce")?,
    );
    let ready = Instant::now();
    while std::fs::metadata(&log).map_or(0, |m| m.len()) == 0 {
        if ready.elapsed() > Duration::from_secs(60) || controller.0.try_wait()?.is_some() {
            anyhow::bail!("the controller did not start; see {}", args.out.join("controller.txt").display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    eprintln!("replaying {} jobs into instances {} and {} ({made} users made)", jobs.len(), alone.name, enforce.name);
    let replay = Instant::now();
    let mut submitted_b: HashMap<String, f64> = HashMap::new();
    for (i, j) in jobs.iter().enumerate() {
        if let Some(wait) = Duration::from_secs_f64(j.at_s).checked_sub(replay.elapsed()) {
            std::thread::sleep(wait);
        }
        // alternate which arm gets a job first, so neither is always later
        let (first, second) = if i % 2 == 0 { (alone, enforce) } else { (enforce, alone) };
        let part =
            |inst: &Instance| if args.gate_at_submission && inst.name == enforce.name { "foresight" } else { "batch" };
        let a = first.submit(j, part(first))?;
        let b = second.submit(j, part(second))?;
        let ((ida, ata), (idb, atb)) = if i % 2 == 0 { (a, b) } else { (b, a) };
        tsv += &format!("slurm\t{ida}\t{}\t{ata:.3}\nforesight\t{idb}\t{}\t{atb:.3}\n", j.trace_id, j.trace_id);
        submitted_b.insert(idb, atb);
    }
    std::fs::write(args.out.join("submitted.tsv"), tsv)?;
    let deadline = Duration::from_secs_f64(args.max_wall_s);
    loop {
        let left = alone.queued()? + enforce.queued()?;
        if left == 0 {
            break;
        }
        if started.elapsed() > deadline {
            eprintln!("giving up after {:.0} s with {left} jobs queued or running", started.elapsed().as_secs_f64());
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let gated = [alone.gated()?.len(), enforce.gated()?.len()];
    controller.stop();
    Ok((gated, Some(submitted_b)))
}

/// `--remeasure`: the gates left at the end from the earlier report, and
/// the enforce arm's submissions from `submitted.tsv` when the run wrote one.
fn remeasured(report: &Path, submitted: &Path) -> anyhow::Result<ArmsRun> {
    let text = std::fs::read_to_string(report).with_context(|| format!("read {}", report.display()))?;
    let before: AbEvidence = serde_json::from_str(&text).with_context(|| format!("parse {}", report.display()))?;
    let gated = [0, 1].map(|k| before.arms.get(k).map_or(0, |a| a.gated_at_end));
    let Ok(tsv) = std::fs::read_to_string(submitted) else { return Ok((gated, None)) };
    let rows = tsv.lines().skip(1).filter_map(|l| {
        let f: Vec<&str> = l.split('\t').collect();
        (f.len() == 4 && f[0] == "foresight").then(|| Some((f[1].to_string(), f[3].parse().ok()?))).flatten()
    });
    Ok((gated, Some(rows.collect())))
}

fn notes(args: &AbArgs) -> Vec<String> {
    vec![
        format!("Run times are whole seconds of `sleep` (at least 1 s, {:.0} trace seconds); a time limit is the request divided by the compression, rounded up to a minute, never under the sleep plus 5 s.", args.compress),
        "The candidate's predictor is one the live controller serves on compressed time (users' history or requests); a model file trained on the trace would see trace-scale features and is not offered.".into(),
        format!("The controller: `foresight shadow --mode enforce --control-partition batch`, poll {} ms, timer {} s, lease {} s, drift breaker off (`--drift-threshold inf`), deadline 3 s.", args.poll_ms, args.timer_s, args.lease_s),
        "Both instances, their slurmds and the controller share one host; job submissions alternate which arm goes first.".into(),
    ]
}
