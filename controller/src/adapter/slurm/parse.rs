//! Slurm's JSON (data format v0.0.38: `squeue --json`, `sinfo --json`, and
//! slurmrestd's `/slurm/v0.0.38/jobs` and `/nodes`) and `sacct -P` text,
//! mapped onto `foresight-core` types. Pure functions, tested on answers
//! captured from a real Slurm 22.05 (`test_data/`).

use crate::adapter::{AdapterError, ControlInfo, JobView, NodeView, Phase, hostlist};
use foresight_core::{Job, JobStatus, NodeSpec, Resources};
use serde_json::Value;

fn parse_err(what: &str, detail: impl Into<String>) -> AdapterError {
    AdapterError::Parse { what: what.to_string(), detail: detail.into() }
}

/// The array under `key` of a Slurm answer, after checking its `errors`.
fn items<'a>(doc: &'a Value, key: &str, what: &str) -> Result<&'a Vec<Value>, AdapterError> {
    if let Some(errs) = doc.get("errors").and_then(Value::as_array).filter(|e| !e.is_empty()) {
        let msg = errs.iter().map(|e| e.get("error").and_then(Value::as_str).unwrap_or("?")).collect::<Vec<_>>();
        return Err(parse_err(what, format!("slurm reported errors: {}", msg.join("; "))));
    }
    doc.get(key).and_then(Value::as_array).ok_or_else(|| parse_err(what, format!("no `{key}` array")))
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

fn num(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

/// A Unix time field; 0 means unset in Slurm's JSON.
fn time(v: &Value, key: &str) -> Option<f64> {
    num(v, key).filter(|&t| t > 0).map(|t| t as f64)
}

/// Memory in MiB from a TRES string such as `cpu=2,mem=2000M,node=1`.
pub fn tres_mem_mb(tres: &str) -> Option<u64> {
    let mem = tres.split(',').find_map(|kv| kv.strip_prefix("mem="))?;
    let (digits, unit) = mem.split_at(mem.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(mem.len()));
    let value: f64 = digits.parse().ok()?;
    let factor = match unit {
        "K" => 1.0 / 1024.0,
        "" | "M" => 1.0,
        "G" => 1024.0,
        "T" => 1024.0 * 1024.0,
        _ => return None,
    };
    Some((value * factor).round() as u64)
}

/// GPUs from a TRES or GRES string (`gres/gpu=2`, `gpu:2`, `gpu:a100:4`).
pub fn gpus_in(s: &str) -> Option<u32> {
    s.split(',').find_map(|item| {
        let item = item.trim();
        if let Some(n) = item.strip_prefix("gres/gpu=").or_else(|| item.strip_prefix("gres/gpu:").and_then(|r| r.split('=').nth(1))) {
            return n.parse().ok();
        }
        let rest = item.strip_prefix("gpu:")?;
        rest.split(['(', ':']).filter_map(|p| p.parse().ok()).next_back()
    })
}

/// The node count a job asked for, from its requested TRES (`node=N`, the
/// least it may run on) and `max_nodes` (0: no most): `None` when it asked
/// for none (no `--nodes`: a least of one and no most), so that the
/// policies place it as its CPUs allow, as Slurm does.
///
/// Not `node_count`: for a pending job that is Slurm's guess at how many
/// nodes it will take (its CPUs over the largest node's, rounded up), not
/// a request. Read as one, a job of 91 CPUs submitted with `--ntasks=91`
/// on nodes of 25 would need 23 CPUs on each of exactly 4 nodes, and with
/// 25, 25, 25 and 20 free the policies could not place it where Slurm
/// would start it at once; EASY then reserves for it "now" and lets
/// almost nothing else start (docs/enforce.md).
pub fn nodes_asked(tres_req: &str, max_nodes: u64) -> Option<u32> {
    let least = tres_req.split(',').find_map(|kv| kv.trim().strip_prefix("node=")).and_then(|n| n.parse::<u32>().ok());
    least.filter(|&n| n > 1 || (n == 1 && max_nodes > 0))
}

/// The phase and, when over, the status of a Slurm job state word.
pub fn phase_of(state: &str) -> (Phase, JobStatus) {
    match state {
        "PENDING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" => (Phase::Pending, JobStatus::Unknown),
        "RUNNING" | "SUSPENDED" | "COMPLETING" | "CONFIGURING" | "STAGE_OUT" | "SIGNALING" | "RESIZING" => {
            (Phase::Running, JobStatus::Unknown)
        }
        "COMPLETED" => (Phase::Finished, JobStatus::Completed),
        "CANCELLED" | "REVOKED" => (Phase::Finished, JobStatus::Cancelled),
        "TIMEOUT" | "DEADLINE" => (Phase::Finished, JobStatus::Timeout),
        "FAILED" | "NODE_FAIL" | "BOOT_FAIL" | "OUT_OF_MEMORY" | "PREEMPTED" => (Phase::Finished, JobStatus::Failed),
        _ => (Phase::Finished, JobStatus::Unknown),
    }
}

/// One job of `squeue --json` or `/jobs`.
pub fn job(v: &Value) -> Result<JobView, AdapterError> {
    let id = num(v, "job_id").ok_or_else(|| parse_err("job", "no job_id"))?;
    let state = v.get("job_state").and_then(Value::as_str).unwrap_or("UNKNOWN");
    let (phase, status) = phase_of(state);
    let cpus = num(v, "cpus").map(|c| c as u32);
    let node_count = num(v, "node_count").map(|c| c as u32);
    let tres = text(v, "tres_req_str").unwrap_or_default();
    let req_nodes = nodes_asked(&tres, num(v, "max_nodes").unwrap_or(0));
    let mem = num(v, "memory_per_node")
        .map(|m| m * u64::from(node_count.unwrap_or(1)))
        .or_else(|| num(v, "memory_per_cpu").map(|m| m * u64::from(cpus.unwrap_or(1))))
        .or_else(|| tres_mem_mb(&tres));
    let ran = phase != Phase::Pending;
    let start = if ran { time(v, "start_time") } else { None };
    let end = if phase == Phase::Finished { time(v, "end_time") } else { None };
    let job = Job {
        job_id: id.to_string(),
        attempt: num(v, "restart_cnt").unwrap_or(0) as u32,
        user: text(v, "user_name"),
        group: text(v, "account").or_else(|| text(v, "group_name")),
        queue: text(v, "partition"),
        name: text(v, "name"),
        submit_s: time(v, "submit_time").unwrap_or(0.0),
        start_s: start,
        end_s: end,
        runtime_s: start.zip(end).map(|(s, e)| e - s),
        req_gpus: gpus_in(&tres),
        req_cpus: cpus,
        req_nodes,
        req_mem_mb: mem,
        req_time_s: num(v, "time_limit").map(|m| m as f64 * 60.0),
        status,
        priority: v.get("priority").and_then(Value::as_i64),
        ..Job::default()
    };
    let nodes = if ran { text(v, "nodes").map(|n| hostlist::expand(&n)).unwrap_or_default() } else { Vec::new() };
    let node_cpus = if ran { cpus_on(v, &nodes, cpus.unwrap_or(0)) } else { Vec::new() };
    let held = phase == Phase::Pending
        && (v.get("priority").and_then(Value::as_u64) == Some(0)
            || text(v, "state_reason").is_some_and(|r| r.contains("Held") || r == "JobHeldUser" || r == "JobHeldAdmin"));
    let control = ControlInfo {
        qos: text(v, "qos"),
        admin_comment: text(v, "admin_comment"),
        eligible_s: if phase == Phase::Pending { time(v, "eligible_time") } else { None },
    };
    Ok(JobView { job, phase, nodes, node_cpus, held, control })
}

/// The CPUs a running job holds on each of `nodes`, from its
/// `job_resources.allocated_nodes`: each entry's `cpus` where the data
/// format has it (v0.0.39 on), else its allocated cores (v0.0.38 lists
/// each socket's cores, `allocated` or `allocated_and_in_use`), times the
/// threads per core that make them the job's `cpus`. Empty, so that the
/// runtime fills the nodes in turn, when the answer has no such list,
/// names other nodes, or does not add up.
pub fn cpus_on(v: &Value, nodes: &[String], cpus: u32) -> Vec<u32> {
    let Some(alloc) = v.pointer("/job_resources/allocated_nodes").and_then(Value::as_array) else { return Vec::new() };
    let count = |n: &Value| -> Option<(String, u32, bool)> {
        let name = text(n, "nodename")?;
        if let Some(c) = num(n, "cpus") {
            return Some((name, c as u32, true));
        }
        let sockets = n.get("sockets")?.as_object()?;
        let cores = sockets
            .values()
            .filter_map(|s| s.get("cores").and_then(Value::as_object))
            .flat_map(|c| c.values())
            .filter(|state| state.as_str().is_some_and(|s| s.starts_with("allocated")))
            .count();
        Some((name, cores as u32, false))
    };
    let Some(per): Option<Vec<(String, u32, bool)>> = alloc.iter().map(count).collect() else { return Vec::new() };
    if per.len() != nodes.len() || per.iter().zip(nodes).any(|(p, n)| &p.0 != n) {
        return Vec::new();
    }
    let sum: u32 = per.iter().map(|p| p.1).sum();
    // cores, not CPUs: with several threads per core each core is that many CPUs
    let threads = if per.iter().all(|p| p.2) || sum == 0 || !cpus.is_multiple_of(sum) { 1 } else { cpus / sum };
    if sum * threads != cpus {
        return Vec::new();
    }
    per.iter().map(|p| p.1 * threads).collect()
}

/// Every job of a `squeue --json` (or `/jobs`) answer.
pub fn jobs(doc: &Value) -> Result<Vec<JobView>, AdapterError> {
    items(doc, "jobs", "jobs")?.iter().map(job).collect()
}

/// Every node of a `sinfo --json` (or `/nodes`) answer.
pub fn nodes(doc: &Value) -> Result<Vec<NodeView>, AdapterError> {
    items(doc, "nodes", "nodes")?
        .iter()
        .map(|v| {
            let name = text(v, "name").ok_or_else(|| parse_err("node", "no name"))?;
            let state = text(v, "state").unwrap_or_else(|| "unknown".into()).to_lowercase();
            let flags: Vec<String> = v
                .get("state_flags")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_uppercase).collect())
                .unwrap_or_default();
            let gres = text(v, "gres").unwrap_or_default();
            let bad_state = ["down", "drain", "fail", "unknown", "future", "maint", "reboot"].iter().any(|s| state.contains(s));
            let bad_flag = flags.iter().any(|f| f.contains("DRAIN") || f.contains("FAIL") || f.contains("NOT_RESPONDING") || f == "MAINTENANCE");
            let gpus = gpus_in(&gres).unwrap_or(0);
            let gres_used = text(v, "gres_used").unwrap_or_default();
            Ok(NodeView {
                spec: NodeSpec {
                    name,
                    capacity: Resources::new(num(v, "cpus").unwrap_or(0) as u32, gpus, num(v, "real_memory").unwrap_or(0)),
                    gpu_type: None,
                },
                usable: !bad_state && !bad_flag,
                state,
                allocated: Resources::new(
                    num(v, "alloc_cpus").unwrap_or(0) as u32,
                    gpus_in(&gres_used).unwrap_or(0).min(gpus),
                    num(v, "alloc_memory").unwrap_or(0),
                ),
            })
        })
        .collect()
}

/// True when `scontrol show config` output says memory is a scheduled
/// (consumable) resource.
pub fn memory_scheduled(config: &str) -> bool {
    config
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("SelectTypeParameters"))
        .is_some_and(|v| v.to_uppercase().contains("MEMORY"))
}

/// Site factors from `sprio -h -o "%i %S"`: one `JOBID VALUE` a line.
/// sprio lists only pending jobs that are eligible; when it lists none of
/// those asked for it says so on standard output, which reads as none.
pub fn sprio_site(out: &str) -> Result<std::collections::HashMap<String, i64>, AdapterError> {
    out.lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("Unable to find jobs"))
        .map(|l| {
            let mut f = l.split_whitespace();
            let (id, v) = (f.next().unwrap_or(""), f.next().unwrap_or(""));
            let v = v.parse::<i64>().map_err(|_| parse_err("sprio", format!("no site factor in `{l}`")))?;
            Ok((id.to_string(), v))
        })
        .collect()
}

/// The fields `sacct` is asked for, in order (with `SLURM_TIME_FORMAT=%s`).
pub const SACCT_FIELDS: &str = "JobID,JobName,Partition,User,Account,State,Submit,Start,End,NCPUS,NNodes,NodeList,Timelimit";

/// Jobs of `sacct -P -o SACCT_FIELDS` output (header line first); job steps
/// (`12.batch`) are skipped.
pub fn sacct(out: &str) -> Result<Vec<JobView>, AdapterError> {
    let mut views = Vec::new();
    for line in out.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('|').collect();
        if f.len() < 13 {
            return Err(parse_err("sacct", format!("{} fields in `{line}`", f.len())));
        }
        if f[0].contains('.') {
            continue;
        }
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let t = |s: &str| s.parse::<f64>().ok().filter(|&x| x > 0.0);
        let state = f[5].split_whitespace().next().unwrap_or("");
        let (phase, status) = phase_of(state);
        let (start, end) = (t(f[7]), if phase == Phase::Finished { t(f[8]) } else { None });
        let job = Job {
            job_id: f[0].to_string(),
            name: opt(f[1]),
            queue: opt(f[2]),
            user: opt(f[3].split('(').next().unwrap_or("")),
            group: opt(f[4]),
            submit_s: t(f[6]).unwrap_or(0.0),
            start_s: start,
            end_s: end,
            runtime_s: start.zip(end).map(|(s, e)| e - s),
            req_cpus: f[9].parse().ok(),
            req_nodes: f[10].parse().ok(),
            req_time_s: f[12].parse::<f64>().ok().map(|m| m * 60.0),
            status,
            ..Job::default()
        };
        let nodes = if f[11].is_empty() || f[11] == "None assigned" { Vec::new() } else { hostlist::expand(f[11]) };
        views.push(JobView { job, phase, nodes, node_cpus: Vec::new(), held: false, control: ControlInfo::default() });
    }
    Ok(views)
}

#[cfg(test)]
#[path = "parse_tests.rs"]
pub(crate) mod tests;
