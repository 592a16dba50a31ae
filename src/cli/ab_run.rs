//! `foresight ab`'s live run: the two Slurm instances started, the enforce
//! arm's controller, and the replay of the slice into both at the same
//! moments until both queues are empty.

use super::{AbArgs, SUBMIT_CACHE};
use crate::cli::ab_input::AbJob;
use crate::cli::ab_model::{PrefixModel, served_model};
use crate::cli::ab_slurm::{Instance, ensure_users};
use anyhow::Context;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The controller's process, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Controller(Child);

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
pub struct Instances<'a> {
    /// Slurm alone, then the enforce arm.
    pub all: [Instance; 2],
    /// The project's scripts folder.
    pub scripts: &'a Path,
    /// Leave them running.
    pub keep: bool,
}

impl Drop for Instances<'_> {
    fn drop(&mut self) {
        if !self.keep {
            self.all.iter().for_each(|i| i.down(self.scripts));
        }
    }
}

impl Instances<'_> {
    /// The partition the enforce arm's jobs go to: `foresight` (where the
    /// lua gates them at submission) with `--gate-at-submission`, else
    /// `batch`, as Slurm alone's do.
    pub fn partition<'p>(&self, args: &AbArgs, inst: &Instance) -> &'p str {
        if args.gate_at_submission && inst.name == self.all[1].name { "foresight" } else { "batch" }
    }
}

/// Jobs gated at the end per arm, and the enforce arm's jobs with the Unix
/// time `sbatch` returned.
pub type ArmsRun = ([usize; 2], Option<HashMap<String, f64>>);

/// Makes the jobs' users and the lua's cache folder, and starts both
/// instances afresh; the number of users made.
pub fn prepare(args: &AbArgs, instances: &Instances, jobs: &[AbJob], cpus_per_node: u32) -> anyhow::Result<usize> {
    let made = if args.as_root { 0 } else { ensure_users(jobs)? };
    if args.gate_at_submission {
        let dir = Path::new(SUBMIT_CACHE).parent().unwrap_or(Path::new("/"));
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let bf_resolution = crate::cli::ab_slurm::bf_resolution_s(args.compress);
    for i in &instances.all {
        i.up(&args.scripts, args.nodes, cpus_per_node, bf_resolution)?;
    }
    Ok(made)
}

/// Starts `foresight shadow --mode enforce` on the enforce arm with the
/// candidate `chosen` (`policy:predictor`) and `baseline` as its fallback,
/// and waits until it has written its log.
pub fn start_controller(
    args: &AbArgs,
    enforce: &Instance,
    chosen: &str,
    trained: Option<&PrefixModel>,
    baseline: &str,
) -> anyhow::Result<Controller> {
    let (policy, model, time_scale) = served_model(chosen, trained, &args.out, args.compress)?;
    let log = args.out.join("decisions.log");
    let _ = std::fs::remove_file(&log);
    let out_file = std::fs::File::create(args.out.join("controller.txt"))?;
    let mut controller = Controller(
        Command::new(std::env::current_exe()?)
            .args(["shadow", "--slurm", "cmd", "--mode", "enforce", "--control-partition", "batch"])
            .args(["--policy", &policy])
            .args(["--baseline", baseline, "--drift-threshold", "inf", "--deadline-ms", "3000"])
            .args(["--poll-ms", &args.poll_ms.to_string(), "--timer-s", &args.timer_s.to_string()])
            .args(["--lease-s", &args.lease_s.to_string(), "--log-level", "warn", "--fsync", "never"])
            .args(if args.gate_at_submission { &["--submit-cache", SUBMIT_CACHE][..] } else { &[] })
            .arg("--slurm-conf")
            .arg(enforce.conf())
            .arg("--model")
            .arg(&model)
            .args(["--time-scale", &time_scale.to_string()])
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
    Ok(controller)
}

/// Replays the jobs into both instances at the same moments, waits until
/// both queues are empty (or `--max-wall-s` has passed since `started`),
/// and stops the controller.
pub fn replay(
    args: &AbArgs,
    instances: &Instances,
    jobs: &[AbJob],
    mut controller: Controller,
    started: Instant,
) -> anyhow::Result<ArmsRun> {
    let [alone, enforce] = &instances.all;
    eprintln!("replaying {} jobs into instances {} and {}", jobs.len(), alone.name, enforce.name);
    let mut tsv = String::from("arm\tslurm_id\ttrace_id\tsbatch_returned_unix_s\n");
    let replay = Instant::now();
    let mut submitted_b: HashMap<String, f64> = HashMap::new();
    for (i, j) in jobs.iter().enumerate() {
        if let Some(wait) = Duration::from_secs_f64(j.at_s).checked_sub(replay.elapsed()) {
            std::thread::sleep(wait);
        }
        // alternate which arm gets a job first, so neither is always later
        let (first, second) = if i % 2 == 0 { (alone, enforce) } else { (enforce, alone) };
        let a = first.submit(j, instances.partition(args, first))?;
        let b = second.submit(j, instances.partition(args, second))?;
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
