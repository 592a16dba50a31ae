//! `foresight ab`'s candidates whose predictor is a runtime model trained on
//! the trace before the slice (`sjf:model`, `foresight:model`, ...): the
//! model is fitted by the code `foresight train` runs, on the jobs that
//! ended before the slice as the enforce arm's Slurm will report them; the
//! simulator applies it as `simulate --predictor FILE` does, wrapped in
//! [`TimeScaled`] on compressed rows; and the controller serves the same
//! file with `--time-scale` set to the compression.

use super::ab_input::{self as input, AbJob, Ran, Slice};
use anyhow::Context;
use foresight_core::predictor::{TimeScaled, scale_record};
use foresight_core::{Cluster, Job, TraceMeta};
use foresight_datasets::JobTable;
use foresight_models::history::JobTelemetry;
use foresight_models::{FilePredictor, ModelFile, ModelKind, SplitOptions};
use foresight_reports::ab::CandidateScore;
use foresight_simulator::{RunSpec, SimOptions, Workload, WorkloadOptions};
use std::path::{Path, PathBuf};

/// The predictor name of a candidate that runs the trained model.
pub const MODEL: &str = "model";

/// The partition both arms' jobs are submitted to, as the trained rows and
/// the simulated ones name their queue.
const PARTITION: &str = "batch";

/// True when `candidate` (`policy:predictor`) runs the trained model.
pub fn is_model(candidate: &str) -> bool {
    candidate.split_once(':').is_some_and(|(_, p)| p.trim().eq_ignore_ascii_case(MODEL))
}

/// The runtime model trained on the jobs before the slice, and the file it
/// was written to.
#[derive(Debug, Clone)]
pub struct PrefixModel {
    /// The model.
    pub file: ModelFile,
    /// Where it was written.
    pub path: PathBuf,
    /// The trace's header (the model's calendar).
    meta: TraceMeta,
    /// Whether jobs run as `fsab<user>` (else as root).
    as_trace_users: bool,
}

/// Trains `kind` (as `foresight train --model KIND` does) on `prefix`, the
/// jobs that ended before the slice, at trace scale but as the enforce
/// arm's Slurm will report them when replayed `factor` times faster: the
/// user it runs as, partition `batch`, name `kth-<id>`, the request rounded
/// up to Slurm's minute at the compression and the runtime to whole
/// seconds of `sleep` (both times `factor` again), CPUs at most `max_cpus`,
/// no group, memory or submitted features. Writes it to `path`.
pub fn train(
    prefix: &[Job],
    meta: &TraceMeta,
    kind: ModelKind,
    factor: f64,
    max_cpus: u32,
    as_trace_users: bool,
    path: &Path,
) -> anyhow::Result<PrefixModel> {
    let table = JobTable { meta: meta.clone(), jobs: served_prefix(prefix, factor, max_cpus, as_trace_users) };
    let file = foresight_models::train(&table, kind, &JobTelemetry::new(), SplitOptions { train_fraction: 1.0 })
        .context("train the runtime model on the jobs before the slice")?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    file.save(path)?;
    Ok(PrefixModel { file, path: path.to_path_buf(), meta: meta.clone(), as_trace_users })
}

/// The jobs before the slice as the enforce arm would be given them (see
/// [`train`]), at trace scale: [`input::compress`]'s rules, undone by
/// `factor`.
fn served_prefix(prefix: &[Job], factor: f64, max_cpus: u32, as_trace_users: bool) -> Vec<Job> {
    let slice = Slice { from_s: 0.0, to_s: 0.0, offered_load: 0.0, jobs: prefix.to_vec(), prefix: Vec::new() };
    let compressed = input::compress(&slice, factor, max_cpus, as_trace_users);
    prefix
        .iter()
        .zip(compressed)
        .map(|(j, c)| {
            let ran = j.runtime_s.filter(|r| *r > 0.0).map(|_| f64::from(c.sleep_s) * factor);
            let runtime_s = ran.or(j.runtime_s);
            Job {
                user: Some(c.user),
                req_cpus: Some(c.cpus),
                req_time_s: Some(f64::from(c.limit_min) * 60.0 * factor),
                runtime_s,
                end_s: j.start_s.zip(runtime_s).map(|(s, r)| s + r).or(j.end_s),
                ..served(j)
            }
        })
        .collect()
}

/// What the orchestrator reports of a job besides its times, user and
/// request: the partition, the name `foresight ab` gives it, and nothing
/// the trace alone knows.
fn served(j: &Job) -> Job {
    Job {
        group: None,
        queue: Some(PARTITION.into()),
        name: Some(format!("kth-{}", j.job_id)),
        req_nodes: None,
        req_mem_mb: None,
        req_gpus: None,
        features: Default::default(),
        ..j.clone()
    }
}

impl PrefixModel {
    /// A job row of a run (the trace's, or compressed `scale` times) as the
    /// model's table holds it: times multiplied by `scale`, named as
    /// [`train`] named its rows. A row whose user is already the one it
    /// runs as (`fsab...` or `root`, as [`input::as_table_jobs`] gives it)
    /// keeps it.
    fn row(&self, job: &Job, scale: f64) -> Job {
        let user = job.user.as_deref().map(|u| match (self.as_trace_users, u.starts_with("fsab") || u == "root") {
            (_, true) => u.to_string(),
            (true, false) => format!("fsab{}", u.chars().filter(char::is_ascii_alphanumeric).collect::<String>()),
            (false, false) => "root".to_string(),
        });
        Job { user, ..served(&scale_record(job, scale)) }
    }

    /// Runs `policy` with the model on `rows`, whose times are the trace's
    /// divided by `scale` (1 for the trace as recorded, the compression for
    /// the jobs submitted to Slurm): the model, on the trace's clock, is
    /// wrapped in [`TimeScaled`] by `scale` and applied as
    /// `simulate --predictor FILE` applies a file. The jobs as they ran, by
    /// row.
    pub fn simulate(
        &self,
        rows: &[Job],
        cluster: &Cluster,
        policy: &str,
        scale: f64,
        pass_s: f64,
    ) -> anyhow::Result<Vec<Ran>> {
        let workload = Workload::from_jobs(rows, cluster, WorkloadOptions::default());
        let table = JobTable { meta: self.meta.clone(), jobs: rows.iter().map(|j| self.row(j, scale)).collect() };
        let inner = FilePredictor::new(self.file.clone(), &table, &workload.source_row);
        let mut predictor = TimeScaled::new(inner, scale)
            .ok_or_else(|| super::BadInput(format!("time scale {scale} is not a positive number")))?;
        let options = SimOptions { decision_period_s: pass_s, ..SimOptions::default() };
        let spec = RunSpec { policy: policy.into(), predictor: Some(MODEL.into()), options };
        let (result, _) = super::simulate::run_with_predictor(&workload, cluster, &spec, &mut predictor, MODEL)?;
        Ok(input::ran_in(&workload, &result))
    }
}

/// Runs `candidate` on `rows` (times the trace's divided by `scale`),
/// deciding in passes `pass_s` apart: a model candidate with `model`, any
/// other as [`input::simulate`] does.
pub fn simulate(
    rows: &[Job],
    cluster: &Cluster,
    candidate: &str,
    model: Option<&PrefixModel>,
    scale: f64,
    pass_s: f64,
) -> anyhow::Result<Vec<Ran>> {
    if !is_model(candidate) {
        return input::simulate(rows, cluster, &input::spec(candidate, pass_s)?);
    }
    let model = model
        .ok_or_else(|| super::BadInput(format!("candidate `{candidate}` needs the model trained before the slice")))?;
    let (policy, _) = candidate.split_once(':').unwrap_or((candidate, MODEL));
    model.simulate(rows, cluster, policy.trim(), scale, pass_s)
}

/// How the simulator stands for Slurm on this host: each job holds its
/// CPUs `overhead_s` past its sleep, and the scheduler decides in passes
/// `pass_s` apart.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SlurmTiming {
    /// Seconds a job holds its CPUs past its sleep.
    pub overhead_s: f64,
    /// Seconds between scheduling passes (0: at every event).
    pub pass_s: f64,
}

/// The simulator's prediction of `candidate` on `jobs` (times the trace's
/// divided by `scale`) with Slurm's `timing` (see [`input::predict_with`]).
pub fn predict(
    jobs: &[AbJob],
    cluster: &Cluster,
    candidate: &str,
    model: Option<&PrefixModel>,
    scale: f64,
    timing: SlurmTiming,
) -> anyhow::Result<Vec<Ran>> {
    input::predict_with(jobs, timing.overhead_s, |rows| simulate(rows, cluster, candidate, model, scale, timing.pass_s))
}

/// Scores each candidate, model candidates too, on `prefix` (the jobs
/// before the slice compressed `scale` times as the slice is, see
/// [`input::compress_prefix`]) with Slurm's `timing`, metrics in trace
/// seconds; best (lowest average bounded slowdown) first.
pub fn choose(
    prefix: &[AbJob],
    cluster: &Cluster,
    candidates: &[String],
    model: Option<&PrefixModel>,
    scale: f64,
    timing: SlurmTiming,
) -> anyhow::Result<Vec<CandidateScore>> {
    let mut scores =
        candidates.iter().map(|c| score(prefix, cluster, c, model, scale, timing)).collect::<anyhow::Result<Vec<_>>>()?;
    scores.sort_by(|a, b| a.avg_bsld.total_cmp(&b.avg_bsld));
    Ok(scores)
}

/// Scores one `policy:predictor` on `prefix` as [`choose`] scores each
/// candidate.
pub fn score(
    prefix: &[AbJob],
    cluster: &Cluster,
    spec: &str,
    model: Option<&PrefixModel>,
    scale: f64,
    timing: SlurmTiming,
) -> anyhow::Result<CandidateScore> {
    let ran = predict(prefix, cluster, spec, model, scale, timing)?;
    let m = input::metrics(&ran, scale, cluster.total().cpus);
    Ok(CandidateScore { spec: spec.to_string(), avg_bsld: m.avg_bsld, mean_wait_s: m.mean_wait_s })
}

/// What the controller is started with for `chosen`: its policy, the model
/// file (`model.json` in `out` naming a built-in predictor, or the trained
/// file) and the time scale it is served on (the compression for the
/// trained model, 1 for a built-in one, which needs none).
pub fn served_model(
    chosen: &str,
    model: Option<&PrefixModel>,
    out: &Path,
    compress: f64,
) -> anyhow::Result<(String, PathBuf, f64)> {
    let (policy, predictor) = chosen.split_once(':').unwrap_or((chosen, "easy++"));
    if is_model(chosen) {
        let m = model
            .ok_or_else(|| super::BadInput(format!("candidate `{chosen}` needs the model trained before the slice")))?;
        return Ok((policy.to_string(), m.path.clone(), compress));
    }
    let path = out.join("model.json");
    std::fs::write(&path, format!("{{\"predictor\": \"{predictor}\", \"version\": \"ab\"}}\n"))?;
    Ok((policy.to_string(), path, 1.0))
}

/// Trains the model when a candidate needs it (see [`train`]): `auto`, on
/// every job that ended before the slice, written to `model-prefix.json`
/// in `out`.
pub fn train_if_needed(
    candidates: &[String],
    slice: &Slice,
    meta: &TraceMeta,
    factor: f64,
    max_cpus: u32,
    as_trace_users: bool,
    out: &Path,
) -> anyhow::Result<Option<PrefixModel>> {
    if !candidates.iter().any(|c| is_model(c)) {
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let m =
        train(&slice.prefix, meta, ModelKind::Auto, factor, max_cpus, as_trace_users, &out.join("model-prefix.json"))?;
    eprintln!(
        "trained {} on {} jobs that ended before the slice in {:.1} s -> {}",
        m.file.kind,
        m.file.training.jobs,
        started.elapsed().as_secs_f64(),
        m.path.display()
    );
    Ok(Some(m))
}

/// The report's note on the model candidates, when there were any.
pub fn note(model: Option<&PrefixModel>, compress: f64) -> Option<String> {
    let m = model?;
    Some(format!(
        "The `model` candidates' predictor is a runtime model (`{}`, as `foresight train` fits it) trained on the {} jobs that ended before the slice, presented as the enforce arm's Slurm reports them (user, partition, name, the request rounded up to a minute and the run to whole seconds at the compression); they are scored on jobs it was trained on, which flatters them. The controller serves it with `--time-scale {compress}`: it sees every time multiplied by the compression and its estimates are divided by it. The hours and weekdays it sees on compressed time are not the trace's.",
        m.file.kind, m.file.training.jobs
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, user: &str, submit: f64, run: f64, cpus: u32) -> Job {
        Job {
            job_id: id.into(),
            user: Some(user.into()),
            queue: Some("3".into()),
            submit_s: submit,
            start_s: Some(submit),
            end_s: Some(submit + run),
            runtime_s: Some(run),
            req_cpus: Some(cpus),
            req_time_s: Some(4.0 * run),
            ..Job::default()
        }
    }

    /// 400 jobs of three users, each user's runtime its own.
    fn prefix() -> Vec<Job> {
        (0..400)
            .map(|k| {
                let user = ["1", "2", "3"][k % 3];
                let run = [600.0, 3600.0, 14_400.0][k % 3];
                job(&format!("j{k}"), user, k as f64 * 900.0, run, 1 + (k % 4) as u32)
            })
            .collect()
    }

    #[test]
    fn model_candidates_are_named_by_their_predictor() {
        assert!(is_model("sjf:model") && is_model("foresight: MODEL"));
        assert!(!is_model("sjf:easy++") && !is_model("model") && !is_model("model:easy++"));
    }

    #[test]
    fn the_prefix_is_trained_on_as_slurm_reports_it() {
        let rows = served_prefix(&prefix(), 100.0, 2, true);
        let r = &rows[0];
        assert_eq!(
            (r.user.as_deref(), r.queue.as_deref(), r.name.as_deref()),
            (Some("fsab1"), Some("batch"), Some("kth-j0"))
        );
        // 600 s runs 6 s, asks 2,400 s: 24 s, a minute at the compression
        assert_eq!((r.runtime_s, r.req_time_s, r.end_s, r.req_cpus), (Some(600.0), Some(6000.0), Some(600.0), Some(1)));
        assert_eq!(rows[3].req_cpus, Some(2), "CPUs capped by the machine");
        assert_eq!(served_prefix(&prefix(), 100.0, 2, false)[0].user.as_deref(), Some("root"));
    }

    #[test]
    fn a_model_candidate_is_trained_scored_and_served_at_any_scale() {
        let dir = tempfile::tempdir().unwrap();
        let meta = TraceMeta::default();
        let path = dir.path().join("m.json");
        let m = train(&prefix(), &meta, ModelKind::Linear, 1.0, 8, true, &path).unwrap();
        assert!(path.exists() && m.file.training.jobs == 400);
        let cluster = input::cluster(2, 4);
        // the same jobs on the trace's clock and compressed 60 times, named
        // as `as_table_jobs` names them
        let slice = Slice { from_s: 0.0, to_s: 0.0, offered_load: 0.0, jobs: prefix()[..60].to_vec(), prefix: vec![] };
        let compressed_jobs = input::compress(&slice, 60.0, 8, true);
        let compressed = input::as_table_jobs(&compressed_jobs, 0.0);
        let trace_rows: Vec<Job> = compressed.iter().map(|j| scale_record(j, 60.0)).collect();
        let on_trace = simulate(&trace_rows, &cluster, "sjf:model", Some(&m), 1.0, 0.0).unwrap();
        let on_compressed = simulate(&compressed, &cluster, "sjf:model", Some(&m), 60.0, 0.0).unwrap();
        assert_eq!(on_trace.len(), 60);
        for (a, b) in on_trace.iter().zip(&on_compressed) {
            assert!((a.start_s / 60.0 - b.start_s).abs() < 1e-6, "{a:?} against {b:?}");
        }
        let scores =
            choose(&compressed_jobs, &cluster, &["sjf:model".into(), "fcfs:requested".into()], Some(&m), 60.0, SlurmTiming { overhead_s: 0.5, pass_s: 1.0 })
                .unwrap();
        assert_eq!(scores.len(), 2);
        assert!(simulate(&trace_rows, &cluster, "sjf:model", None, 1.0, 0.0).is_err());
        let (policy, file, scale) = served_model("sjf:model", Some(&m), dir.path(), 60.0).unwrap();
        assert_eq!((policy.as_str(), file, scale), ("sjf", path, 60.0));
        let (policy, file, scale) = served_model("sjf:easy++", Some(&m), dir.path(), 60.0).unwrap();
        assert_eq!((policy.as_str(), scale), ("sjf", 1.0));
        assert!(std::fs::read_to_string(file).unwrap().contains("\"easy++\""));
    }
}
