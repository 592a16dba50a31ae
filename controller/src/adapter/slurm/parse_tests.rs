//! Tests of the Slurm parsers on answers captured from a real Slurm 22.05.

use super::*;

/// A captured Slurm answer from `controller/test_data/` (also read by the
/// shadow engine's and feed's tests).
pub(crate) fn fixture(name: &str) -> Value {
    let path = format!("{}/test_data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn maps_squeue_jobs_in_every_phase() {
    let views = jobs(&fixture("squeue-22.05.json")).unwrap();
    assert_eq!(views.len(), 9);
    let by_id = |id: &str| views.iter().find(|v| v.job.job_id == id).unwrap();
    let done = by_id("2");
    assert_eq!((done.phase, done.job.status), (Phase::Finished, JobStatus::Completed));
    assert_eq!(done.nodes, ["n1", "n2"]);
    assert_eq!(done.job.runtime_s, Some(1.0));
    assert_eq!(done.job.req_nodes, Some(2));
    let running = by_id("8");
    assert_eq!(running.phase, Phase::Running);
    assert_eq!(running.job.start_s, Some(1795467579.0));
    assert_eq!(running.job.end_s, None, "expected end of a running job is not its end");
    let pending = by_id("7");
    assert_eq!(pending.phase, Phase::Pending);
    assert_eq!(pending.job.start_s, None, "expected start of a pending job is not a start");
    assert_eq!(pending.job.req_mem_mb, Some(500));
    assert_eq!(pending.job.req_time_s, None);
    assert_eq!(pending.job.queue.as_deref(), Some("batch"));
    assert_eq!(by_id("4").job.req_time_s, Some(120.0));
    assert!(views.iter().all(|v| !v.held));
}

/// Jobs the repository's `job_submit.lua` gated at submission (partition
/// `foresight`, its cache saying enforce), captured from the real Slurm
/// 22.05 of `scripts/slurm-up.sh` with 4 nodes of 25 CPUs while job 556 (5
/// CPUs) ran on lg4: 557 asked for 91 CPUs (`--ntasks=91`), 558 for 15,
/// 559 for 60 on 3 nodes (`-N 3`). Slurm shows them pending for their
/// begin time, not held, and with its guess of the nodes each will take
/// (`node_count` 4, 1 and 3), which only for 559 is what the job asked for.
#[test]
fn a_job_the_lua_gated_asks_for_the_nodes_it_asked_for_not_for_slurms_guess() {
    let doc = fixture("squeue-22.05-lua-gated.json");
    let views = jobs(&doc).unwrap();
    let by_id = |id: &str| views.iter().find(|v| v.job.job_id == id).unwrap();
    let wide = by_id("557");
    assert_eq!(doc["jobs"][1]["node_count"], 4, "Slurm's guess: 91 CPUs over nodes of 25");
    assert_eq!((wide.phase, wide.held, wide.job.req_cpus), (Phase::Pending, false, Some(91)));
    assert_eq!(wide.control.admin_comment.as_deref(), Some("foresight"));
    assert!(wide.control.eligible_s.unwrap() >= wide.job.submit_s + 60.0, "gated for the lease");
    assert_eq!(wide.job.req_nodes, None, "the guess is not a request: Slurm places its 91 CPUs as they fit");
    assert_eq!(by_id("558").job.req_nodes, None);
    assert_eq!(by_id("559").job.req_nodes, Some(3), "-N 3 is a request");
    assert_eq!(by_id("556").job.req_nodes, None);
    assert!(views.iter().all(|v| !v.held && v.job.priority.is_some_and(|p| p > 0)));
}

#[test]
fn the_nodes_a_job_asked_for_come_from_its_requested_tres() {
    assert_eq!(nodes_asked("cpu=91,mem=1000M,node=1,billing=91", 0), None);
    assert_eq!(nodes_asked("cpu=1,node=1", 1), Some(1), "-N 1");
    assert_eq!(nodes_asked("cpu=60,mem=3000M,node=3,billing=60", 3), Some(3));
    assert_eq!(nodes_asked("cpu=60,node=3", 4), Some(3), "-N 3-4: at least 3");
    assert_eq!(nodes_asked("cpu=2,node=2", 0), Some(2));
    assert_eq!(nodes_asked("", 0), None);
}

#[test]
fn maps_sinfo_nodes_and_marks_drained_ones_unusable() {
    let nodes = nodes(&fixture("sinfo-22.05.json")).unwrap();
    assert_eq!(nodes.len(), 4);
    assert_eq!(nodes[0].spec.capacity, Resources::new(4, 0, 2000));
    assert_eq!(nodes[0].allocated.cpus, 4);
    assert!(nodes[..3].iter().all(|n| n.usable));
    assert!(!nodes[3].usable, "n4 is draining");
}

#[test]
fn slurm_errors_are_reported() {
    let doc = serde_json::json!({"errors": [{"error": "permission denied"}], "jobs": []});
    let err = jobs(&doc).unwrap_err().to_string();
    assert!(err.contains("permission denied"), "{err}");
}

#[test]
fn parses_tres_and_gres() {
    assert_eq!(tres_mem_mb("cpu=2,mem=2000M,node=1"), Some(2000));
    assert_eq!(tres_mem_mb("cpu=2,mem=2G"), Some(2048));
    assert_eq!(tres_mem_mb("cpu=2"), None);
    assert_eq!(gpus_in("cpu=4,gres/gpu=2"), Some(2));
    assert_eq!(gpus_in("gpu:2"), Some(2));
    assert_eq!(gpus_in("gpu:a100:4(S:0-1)"), Some(4));
    assert_eq!(gpus_in(""), None);
}

#[test]
fn parses_sacct_with_epoch_times_and_skips_steps() {
    let out = "JobID|JobName|Partition|User|Account|State|Submit|Start|End|NCPUS|NNodes|NodeList|Timelimit\n\
               1|t1|batch|root(0)||COMPLETED|100|104|106|2|1|n1|1\n\
               1.batch|batch||||COMPLETED|104|104|106|2|1|n1|\n\
               5|x|batch|root||CANCELLED by 0|100|Unknown|Unknown|1|1|None assigned|5\n";
    let views = sacct(out).unwrap();
    assert_eq!(views.len(), 2);
    assert_eq!(views[0].job.runtime_s, Some(2.0));
    assert_eq!(views[0].job.req_time_s, Some(60.0));
    assert_eq!(views[0].job.user.as_deref(), Some("root"));
    assert_eq!((views[1].phase, views[1].job.status), (Phase::Finished, JobStatus::Cancelled));
    assert!(views[1].nodes.is_empty() && views[1].job.start_s.is_none());
}

#[test]
fn reads_whether_memory_is_scheduled() {
    assert!(!memory_scheduled("SelectType              = select/cons_tres\nSelectTypeParameters    = CR_CORE\n"));
    assert!(memory_scheduled("SelectTypeParameters    = CR_CORE_MEMORY\n"));
    assert!(!memory_scheduled(""));
}

#[test]
fn reads_site_factors_from_sprio_and_refuses_a_bad_line() {
    let got = sprio_site("   1154    500\n   1155      0\n").unwrap();
    assert_eq!(got.get("1154"), Some(&500));
    assert_eq!(got.get("1155"), Some(&0));
    assert!(sprio_site("Unable to find jobs matching user/id(s) specified\n").unwrap().is_empty());
    let err = sprio_site("1154 n/a\n").unwrap_err().to_string();
    assert!(err.contains("1154 n/a"), "{err}");
}

/// Captured from the real Slurm 22.05 of `scripts/slurm-up.sh` with 4 nodes
/// of 25 CPUs: job 1 took 5 CPUs on x1, job 2 (`--ntasks=32`) 13 on x2 and
/// 19 on x3, job 3 (`-N 2 --ntasks=32`) 20 on x1 and 12 on x2, job 4 20 on
/// x4. Neither 32-CPU job fills its nodes in turn, so only the stated CPUs
/// say where every allocated CPU is.
#[test]
fn a_running_job_holds_the_cpus_its_job_resources_list_on_each_node() {
    let views = jobs(&fixture("squeue-22.05-uneven.json")).unwrap();
    let by_id = |id: &str| views.iter().find(|v| v.job.job_id == id).unwrap();
    let on = |id: &str| (by_id(id).nodes.clone(), by_id(id).node_cpus.clone());
    assert_eq!(on("1"), (vec!["x1".to_string()], vec![5]));
    assert_eq!(on("2"), (vec!["x2".to_string(), "x3".to_string()], vec![13, 19]));
    assert_eq!(on("3"), (vec!["x1".to_string(), "x2".to_string()], vec![20, 12]));
    assert_eq!(on("4"), (vec!["x4".to_string()], vec![20]));
    let on_x2: u32 = views.iter().flat_map(|v| v.nodes.iter().zip(&v.node_cpus)).filter(|(n, _)| *n == "x2").map(|(_, c)| c).sum();
    assert_eq!(on_x2, 25, "x2 is full, as sinfo says");
    // the first capture's finished and pending jobs: as many as their cpus, or none
    let first = jobs(&fixture("squeue-22.05.json")).unwrap();
    for v in &first {
        assert!(v.node_cpus.is_empty() || v.node_cpus.iter().sum::<u32>() == v.job.req_cpus.unwrap(), "job {}", v.job.job_id);
    }
    assert_eq!(first.iter().find(|v| v.job.job_id == "3").unwrap().node_cpus, vec![4, 4, 4, 4]);
}

#[test]
fn stated_cpus_that_do_not_add_up_or_name_other_nodes_are_not_used() {
    let v = |alloc: serde_json::Value| serde_json::json!({"job_resources": {"allocated_nodes": alloc}});
    let nodes = ["a".to_string(), "b".to_string()];
    let cores = |n: &str, k: usize| {
        let sockets: serde_json::Map<String, Value> =
            (0..k).map(|i| (i.to_string(), serde_json::json!({"cores": {"0": "allocated"}}))).collect();
        serde_json::json!({"nodename": n, "sockets": sockets})
    };
    assert_eq!(cpus_on(&v(serde_json::json!([cores("a", 3), cores("b", 1)])), &nodes, 4), vec![3, 1]);
    // two threads a core: 4 cores are the job's 8 CPUs
    assert_eq!(cpus_on(&v(serde_json::json!([cores("a", 3), cores("b", 1)])), &nodes, 8), vec![6, 2]);
    assert!(cpus_on(&v(serde_json::json!([cores("a", 3), cores("b", 1)])), &nodes, 5).is_empty(), "does not add up");
    assert!(cpus_on(&v(serde_json::json!([cores("a", 3), cores("c", 1)])), &nodes, 4).is_empty(), "another node");
    assert!(cpus_on(&v(serde_json::json!([cores("a", 4)])), &nodes, 4).is_empty(), "one node of two");
    // newer data formats state `cpus`
    let stated = serde_json::json!([{"nodename": "a", "cpus": 7}, {"nodename": "b", "cpus": 9}]);
    assert_eq!(cpus_on(&v(stated), &nodes, 16), vec![7, 9]);
    assert!(cpus_on(&serde_json::json!({}), &nodes, 4).is_empty());
}
