//! `--slurm-array N` (of `sweep`, and of `plan --backtest`): the work split
//! into N parts (round robin, see `foresight_simulator::Shard`: a sweep's
//! grid points, a backtest's periods), run as the N tasks of one Slurm job
//! array, each task running this same binary with the same arguments and
//! `--shard I/N`, and the parts merged when the array ends: the same
//! results, in the same order, as a run here, bit for bit.
//!
//! The tasks must see the same files at the same paths as the command that
//! submits them (the trace, cluster files, the binary and `--slurm-dir`):
//! one host, or a shared filesystem.

use super::progress::spinner;
use anyhow::{Context, bail};
use foresight_simulator::Shard;
use foresight_simulator::output::write_json;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The options that a task must not inherit: the array's own, and the
/// output (each task writes its part where the array says).
const NOT_INHERITED: [&str; 5] = ["--slurm-array", "--slurm-dir", "--sbatch-args", "--json", "--shard"];

/// The arguments of a task: `argv` (this command's arguments, without the
/// program) less the options in [`NOT_INHERITED`], as `--opt VALUE` or
/// `--opt=VALUE`.
pub fn task_args(argv: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        if NOT_INHERITED.contains(&a.as_str()) {
            it.next();
        } else if !NOT_INHERITED.iter().any(|o| a.starts_with(&format!("{o}="))) {
            out.push(a.clone());
        }
    }
    out
}

/// `s` quoted for a POSIX shell.
fn quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The shell line a task runs: this binary with the task's arguments, its
/// part (`$SLURM_ARRAY_TASK_ID/tasks`) and where to write it.
fn task_line(exe: &Path, args: &[String], tasks: u32, dir: &Path) -> String {
    let mut line = format!("exec {}", quote(&exe.to_string_lossy()));
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    let part = quote(&dir.join("part-").to_string_lossy());
    line.push_str(&format!(" --shard \"$SLURM_ARRAY_TASK_ID/{tasks}\" --json {part}\"$SLURM_ARRAY_TASK_ID\".json"));
    line
}

/// One Slurm job array: how many tasks, where their parts go, and what it
/// computes.
pub struct Array<'a> {
    /// Tasks (`--slurm-array`).
    pub tasks: u32,
    /// Where the tasks write their parts and logs (`--slurm-dir`).
    pub dir: &'a Path,
    /// More `sbatch` options, split at spaces (`--sbatch-args`).
    pub sbatch_args: Option<&'a str>,
    /// The job's name in Slurm (`foresight-sweep`, `foresight-plan`).
    pub job_name: &'a str,
    /// What the array computes, for the spinner ("12 points").
    pub what: String,
}

/// Submits the array with `sbatch --wait`, waits for it, and returns every
/// item of the parts (each a JSON list of `T`) in `position` order, checked
/// to be positions `0..total` once each.
pub fn run<T: DeserializeOwned>(a: &Array<'_>, total: usize, position: impl Fn(&T) -> usize) -> anyhow::Result<Vec<T>> {
    let (tasks, dir) = (a.tasks, a.dir);
    if tasks == 0 {
        return Err(super::BadInput("--slurm-array: the array needs at least one task".into()).into());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let dir = dir.canonicalize().with_context(|| format!("failed to resolve {}", dir.display()))?;
    for i in 0..tasks {
        let _ = std::fs::remove_file(part_path(&dir, i));
    }
    let exe = std::env::current_exe().context("failed to find the foresight binary")?;
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let line = task_line(&exe, &task_args(&argv), tasks, &dir);
    let cwd = std::env::current_dir().context("failed to read the working directory")?;
    let mut sbatch = Command::new("sbatch");
    sbatch
        .arg("--parsable")
        .arg("--wait")
        .arg(format!("--array=0-{}", tasks - 1))
        .arg(format!("--job-name={}", a.job_name))
        .arg(format!("--output={}", dir.join("part-%a.log").display()))
        .arg(format!("--chdir={}", cwd.display()))
        .args(a.sbatch_args.unwrap_or_default().split_whitespace())
        .arg("--wrap")
        .arg(&line);
    let wait = spinner(format!("running {} as a Slurm array of {tasks} tasks", a.what));
    let out = sbatch.output();
    wait.finish_and_clear();
    let out = out.context("failed to run sbatch (is Slurm's client installed and on PATH?)")?;
    let job = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        bail!(
            "the Slurm array {} failed ({}): {}; the tasks' logs are {}",
            if job.is_empty() { "(not submitted)".to_string() } else { format!("job {job}") },
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            dir.join("part-*.log").display()
        );
    }
    let mut items: Vec<T> = Vec::with_capacity(total);
    for i in 0..tasks {
        let path = part_path(&dir, i);
        let text = std::fs::read(&path).with_context(|| {
            format!(
                "task {i} of Slurm job {job} wrote no part ({}); see {}",
                path.display(),
                dir.join(format!("part-{i}.log")).display()
            )
        })?;
        let part: Vec<T> = serde_json::from_slice(&text)
            .with_context(|| format!("task {i}'s part {} is not a part of this command's results", path.display()))?;
        items.extend(part);
    }
    items.sort_by_key(&position);
    if items.len() != total || items.iter().enumerate().any(|(i, p)| position(p) != i) {
        bail!("the parts of Slurm job {job} hold {} results, not the {total} expected once each", items.len());
    }
    Ok(items)
}

/// Where `--shard` writes its part: the `--json` file, which it needs.
pub fn shard_output(json: Option<&PathBuf>) -> anyhow::Result<&Path> {
    Ok(json.ok_or_else(|| super::BadInput("--shard writes its part to --json FILE: give one".into()))?)
}

/// Writes `part`, the items of `shard`, to `path` as JSON and says so;
/// `whole` names what it is part of ("the grid's 12 points").
pub fn write_part<T: Serialize>(part: &[T], shard: Shard, whole: &str, path: &Path) -> anyhow::Result<()> {
    write_json(&part, path)?;
    println!("part {}/{}: {} of {whole} written to {}", shard.index, shard.of, part.len(), path.display());
    Ok(())
}

fn part_path(dir: &Path, i: u32) -> PathBuf {
    dir.join(format!("part-{i}.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_task_inherits_every_argument_but_the_arrays_and_the_output() {
        let argv = strings(&[
            "sweep",
            "t.swf",
            "--slurm-array",
            "4",
            "--policies",
            "easy,sjbf",
            "--json=out.json",
            "--slurm-dir",
            "d",
            "--sbatch-args=--time=5",
            "--seeds",
            "1,2",
        ]);
        assert_eq!(task_args(&argv), strings(&["sweep", "t.swf", "--policies", "easy,sjbf", "--seeds", "1,2"]));
    }

    #[test]
    fn the_task_line_quotes_what_a_shell_would_split() {
        let line = task_line(Path::new("/bin/fs"), &strings(&["sweep", "my trace.swf", "it's"]), 3, Path::new("/w"));
        assert_eq!(
            line,
            r#"exec /bin/fs sweep 'my trace.swf' 'it'\''s' --shard "$SLURM_ARRAY_TASK_ID/3" --json /w/part-"$SLURM_ARRAY_TASK_ID".json"#
        );
    }
}
