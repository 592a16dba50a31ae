//! Tests of the runtime: the predictor's lifecycle, corrections, usage,
//! withdrawal, observed allocations and nodes.

use super::*;
use crate::policy::PolicySpec;
use crate::predictor::{Requested, TSAFRIR_CORRECTIONS_S, UserHistory};
use crate::state::tests::info;

fn cluster(nodes: usize, cpus: u32) -> Cluster {
    Cluster::homogeneous("n", nodes as u32, Resources::new(cpus, 0, 0))
}

fn policy(name: &str) -> Box<dyn Policy> {
    Box::new(name.parse::<PolicySpec>().unwrap().build())
}

/// A predictor that records what it is told, gives a fixed estimate and
/// doubles on correction.
#[derive(Default)]
struct Spy {
    estimate: f64,
    told: Vec<String>,
}

impl Predictor for Spy {
    fn name(&self) -> &'static str {
        "spy"
    }
    fn predict(&mut self, job: &JobInfo) -> f64 {
        self.told.push(format!("predict {}", job.key.0));
        self.estimate
    }
    fn observe_start(&mut self, job: &JobInfo, now: f64) {
        self.told.push(format!("start {} at {now}", job.key.0));
    }
    fn observe_end(&mut self, job: &JobInfo, runtime_s: f64, now: f64) {
        self.told.push(format!("end {} ran {runtime_s} at {now}", job.key.0));
    }
    fn correct(&mut self, job: &JobInfo, o: &Outlived) -> f64 {
        self.told.push(format!("correct {} elapsed {} n {}", job.key.0, o.elapsed_s, o.corrections));
        o.estimate_s * 2.0
    }
    fn observe_record(&mut self, job: &JobInfo, record: &Job) {
        self.told.push(format!("record {} {}", job.key.0, record.job_id));
    }
    fn forget(&mut self, job: &JobInfo) {
        self.told.push(format!("forget {}", job.key.0));
    }
}

#[test]
fn an_outlived_job_is_corrected_at_each_instant_its_estimate_runs_out_before_the_policy_reads_it() {
    let spy = Spy { estimate: 10.0, ..Spy::default() };
    let mut rt = Runtime::new(&cluster(1, 2), policy("fcfs"), spy, RuntimeConfig::default());
    rt.submit(info(0, 1, 0.0, 1000.0), None).unwrap();
    rt.submit(info(1, 2, 0.0, 1000.0), None).unwrap();
    rt.start(JobKey(0), 0.0, Alloc::Nodes(vec![0])).unwrap();
    // at 35 job 0 still runs: its estimate ran out at 10, then at 20
    assert!(rt.decide(35.0, &Observed).is_some());
    let j = rt.state().running_job(JobKey(0)).unwrap();
    assert_eq!((j.estimate_s, j.expected_end_s, j.corrections), (40.0, 40.0, 2));
    let told: Vec<&str> = rt.predictor().told.iter().map(String::as_str).collect();
    assert_eq!(told[3..], ["correct 0 elapsed 10 n 0", "correct 0 elapsed 20 n 1"]);
    // it ends at 55: corrected once more at 40, then told its runtime
    let done = rt.end(JobKey(0), 55.0, None, &Observed).unwrap();
    assert_eq!((done.corrections, done.estimate_s), (3, 80.0));
    assert_eq!(rt.predictor().told.last().unwrap(), "end 0 ran 55 at 55");
    assert_eq!(rt.stats().corrections, 3);
}

#[test]
fn corrections_on_input_are_made_only_when_told() {
    let cfg = RuntimeConfig { corrections: Corrections::OnInput, ..RuntimeConfig::default() };
    let mut rt = Runtime::new(&cluster(1, 2), policy("fcfs"), Spy { estimate: 10.0, ..Spy::default() }, cfg);
    rt.submit(info(0, 1, 0.0, 1000.0), None).unwrap();
    rt.submit(info(1, 2, 0.0, 1000.0), None).unwrap();
    rt.start(JobKey(0), 0.0, Alloc::Nodes(vec![0])).unwrap();
    let _ = rt.decide(35.0, &Observed);
    assert_eq!(rt.state().running_job(JobKey(0)).unwrap().corrections, 0);
    assert_eq!(rt.outlived(JobKey(0), 10.0).unwrap(), 20.0);
    assert_eq!(rt.state().running_job(JobKey(0)).unwrap().expected_end_s, 20.0);
}

#[test]
fn estimates_are_clamped_once_and_broken_ones_counted() {
    struct Broken;
    impl Predictor for Broken {
        fn name(&self) -> &'static str {
            "broken"
        }
        fn predict(&mut self, job: &JobInfo) -> f64 {
            if job.key.0 == 0 { f64::NAN } else { -5.0 }
        }
    }
    let mut rt = Runtime::new(&cluster(1, 2), policy("fcfs"), Broken, RuntimeConfig::default());
    assert_eq!(rt.submit(info(0, 1, 0.0, 100.0), None).unwrap(), 100.0, "NaN gives the limit");
    assert_eq!(rt.submit(info(1, 1, 0.0, 100.0), None).unwrap(), 0.0);
    assert_eq!(rt.stats().unusable_estimates, 2);
}

#[test]
fn a_withdrawn_job_leaves_the_queue_without_running() {
    let mut rt = Runtime::new(&cluster(1, 2), policy("fcfs"), Spy::default(), RuntimeConfig::default());
    let record = Job { job_id: "a7".into(), ..Job::default() };
    rt.submit(info(4, 1, 0.0, 100.0), Some(&record)).unwrap();
    let gone = rt.withdraw(JobKey(4)).unwrap();
    assert_eq!(gone.info.key, JobKey(4));
    assert!(rt.state().pending().is_empty() && rt.state().running().is_empty());
    assert_eq!(rt.state().free_total(), Resources::new(2, 0, 0));
    assert_eq!(rt.predictor().told, ["record 4 a7", "predict 4", "forget 4"]);
    assert_eq!(rt.withdraw(JobKey(4)), Err(StateError::NotPending(JobKey(4))));
}

#[test]
fn usage_is_charged_at_each_end_when_the_policy_reads_it() {
    let cfg = RuntimeConfig { usage_half_life_s: 100.0, ..RuntimeConfig::default() };
    let mut rt = Runtime::new(&cluster(2, 2), policy("fairshare"), Requested::default(), cfg);
    rt.submit(info(0, 2, 0.0, 50.0), None).unwrap();
    rt.start(JobKey(0), 0.0, Alloc::Nodes(vec![0])).unwrap();
    rt.end(JobKey(0), 40.0, None, &Observed).unwrap();
    // half the cluster for 40 s, then one half-life
    assert_eq!(rt.state().usage().user_usage(0, 140.0), 10.0);
    let mut easy = Runtime::new(&cluster(2, 2), policy("easy"), Requested::default(), cfg);
    easy.submit(info(0, 2, 0.0, 50.0), None).unwrap();
    easy.start(JobKey(0), 0.0, Alloc::Nodes(vec![0])).unwrap();
    easy.end(JobKey(0), 40.0, None, &Observed).unwrap();
    assert_eq!(easy.state().usage().user_usage(0, 40.0), 0.0, "EASY reads no usage: none charged");
}

#[test]
fn an_observed_allocation_is_shared_over_its_nodes_and_never_refused() {
    let mut rt = Runtime::new(&cluster(3, 4), policy("fcfs"), Requested::default(), RuntimeConfig::default());
    rt.submit(info(0, 3, 0.0, 50.0), None).unwrap();
    rt.submit(info(1, 7, 0.0, 50.0), None).unwrap();
    rt.start(JobKey(0), 0.0, Alloc::Nodes(vec![0])).unwrap();
    // 7 CPUs over nodes 0 and 1: node 0's one free CPU, then node 1's 4;
    // the 2 more the orchestrator names no room for are left out
    let (_, est) = rt.start(JobKey(1), 5.0, Alloc::Nodes(vec![0, 1, 9])).unwrap();
    assert_eq!(est, 50.0);
    let j = rt.state().running_job(JobKey(1)).unwrap();
    assert_eq!(j.slots, vec![Slot { node: 0, res: Resources::new(1, 0, 0) }, Slot { node: 1, res: Resources::new(4, 0, 0) }]);
    assert_eq!((j.start_s, j.expected_end_s), (5.0, 55.0));
}

#[test]
fn an_observed_allocation_fills_its_nodes_in_turn_so_no_allocated_cpu_looks_free() {
    // Slurm puts 32 CPUs on two 25-CPU nodes as 25 and 7, then 18 more on
    // the second: an even split (16 and 16) left the second 9 short and
    // lost 9 of the 18, which the policy then saw free
    let mut rt = Runtime::new(&cluster(2, 25), policy("fcfs"), Requested::default(), RuntimeConfig::default());
    rt.submit(info(0, 32, 0.0, 50.0), None).unwrap();
    rt.submit(info(1, 18, 0.0, 50.0), None).unwrap();
    rt.start(JobKey(0), 0.0, Alloc::Nodes(vec![0, 1])).unwrap();
    rt.start(JobKey(1), 0.0, Alloc::Nodes(vec![1])).unwrap();
    let cpus = |k: u32| rt.state().running_job(JobKey(k)).unwrap().slots.iter().map(|s| s.res.cpus).collect::<Vec<_>>();
    assert_eq!((cpus(0), cpus(1)), (vec![25, 7], vec![18]));
    assert_eq!(rt.state().nodes().iter().map(|n| n.free.cpus).sum::<u32>(), 0, "every CPU Slurm allocated is allocated");
}

#[test]
fn an_allocation_with_stated_cpus_per_node_is_taken_as_stated() {
    // Slurm may put 32 CPUs on two 25-CPU nodes as 20 and 12 (its
    // `job_resources` says so): filling in turn would say 25 and 7, and a
    // later 13-CPU job on the first node would then not fit where it runs
    let mut rt = Runtime::new(&cluster(2, 25), policy("fcfs"), Requested::default(), RuntimeConfig::default());
    rt.submit(info(0, 32, 0.0, 50.0), None).unwrap();
    rt.submit(info(1, 5, 0.0, 50.0), None).unwrap();
    rt.submit(info(2, 13, 0.0, 50.0), None).unwrap();
    rt.start(JobKey(0), 0.0, Alloc::NodeCpus(vec![(0, 20), (1, 12)])).unwrap();
    rt.start(JobKey(1), 0.0, Alloc::NodeCpus(vec![(0, 5)])).unwrap();
    rt.start(JobKey(2), 0.0, Alloc::NodeCpus(vec![(1, 13)])).unwrap();
    let cpus = |k: u32| rt.state().running_job(JobKey(k)).unwrap().slots.iter().map(|s| s.res.cpus).collect::<Vec<_>>();
    assert_eq!((cpus(0), cpus(1), cpus(2)), (vec![20, 12], vec![5], vec![13]));
    assert_eq!(rt.state().nodes().iter().map(|n| n.free.cpus).sum::<u32>(), 0, "every CPU Slurm allocated is allocated");
}

#[test]
fn interrupted_jobs_go_back_with_their_submitted_estimate() {
    let mut rt = Runtime::new(&cluster(2, 1), policy("fcfs"), UserHistory::default(), RuntimeConfig::default());
    rt.submit(info(0, 1, 0.0, 100.0), None).unwrap();
    rt.start(JobKey(0), 0.0, Alloc::Nodes(vec![1])).unwrap();
    assert_eq!(rt.node_down(1), vec![JobKey(0)]);
    assert_eq!(rt.state().up_total(), Resources::new(1, 0, 0));
    let stopped = rt.interrupt(JobKey(0), 50.0, true, &Observed).unwrap();
    assert_eq!((stopped.corrections, stopped.start_s), (0, 0.0), "its estimate had not run out");
    assert_eq!(rt.state().pending()[0].estimate_s, 100.0);
    rt.node_up(1);
    assert_eq!(rt.state().up_total(), Resources::new(2, 0, 0));
}

#[test]
fn the_easy_plus_plus_ladder_steps_from_the_submitted_estimate() {
    let mut rt = Runtime::new(&cluster(1, 1), policy("easy"), UserHistory::default(), RuntimeConfig::default());
    for k in 0..2 {
        rt.submit(info(k * 3, 1, 0.0, 10_000.0), None).unwrap();
        rt.start(JobKey(k * 3), 0.0, Alloc::Nodes(vec![0])).unwrap();
        rt.end(JobKey(k * 3), 100.0, None, &Observed).unwrap();
    }
    // user 0 ran 100 s twice: the next is predicted 100 s
    assert_eq!(rt.submit(info(6, 1, 100.0, 10_000.0), None).unwrap(), 100.0);
    rt.start(JobKey(6), 100.0, Alloc::Nodes(vec![0])).unwrap();
    let done = rt.end(JobKey(6), 100.0 + 500.0, None, &Observed).unwrap();
    // it ran 500 s: outlived 100, then 100 + 1 min, then 100 + 5 min;
    // 100 + 15 min covers it
    let steps: Vec<f64> = TSAFRIR_CORRECTIONS_S[..3].iter().map(|s| 100.0 + s).collect();
    assert_eq!(done.estimate_s, steps[2]);
    assert_eq!(done.corrections, 3);
}

#[test]
fn step_drives_the_same_operations_from_inputs() {
    let mut rt = Runtime::new(&cluster(1, 2), policy("fcfs"), Requested::default(), RuntimeConfig::default());
    let clock = VirtualClock::at(0.0);
    let job = info(0, 1, 0.0, 30.0);
    assert_eq!(rt.step(Input::Submitted { job, record: None }, &clock, &Observed), Ok(Output::Estimated(30.0)));
    let Ok(Output::Decided(Some(d))) = rt.step(Input::Tick, &clock, &Observed) else { panic!("a decision") };
    assert_eq!(d.starts.len(), 1);
    let slots = d.starts[0].slots.clone();
    let started = rt.step(Input::Started { key: JobKey(0), at: 0.0, alloc: Alloc::Slots(slots) }, &clock, &Observed);
    assert_eq!(started, Ok(Output::Started(30.0)));
    assert_eq!(rt.step(Input::Tick, &clock, &Observed), Ok(Output::Decided(None)), "nothing queued");
    let ended = rt.step(Input::Ended { key: JobKey(0), at: 20.0, record: None }, &clock, &Observed).unwrap();
    assert!(matches!(ended, Output::Stopped(j) if j.corrections == 0));
    assert_eq!(rt.step(Input::NodeDown { node: 0 }, &clock, &Observed), Ok(Output::Stranded(vec![])));
    assert_eq!(rt.step(Input::Withdrawn { key: JobKey(0) }, &clock, &Observed), Err(StateError::NotPending(JobKey(0))));
}

#[test]
fn a_job_outliving_its_limit_is_corrected_past_now_even_where_its_start_plus_limit_rounds_down() {
    // (4.1000000000000005 + 60) - 4.1000000000000005 rounds to just under
    // 60: correcting to the limit again made no progress and the lazy
    // ladder never ended (a lease outliving its limit in the dispatcher)
    let start = 4.1000000000000005;
    assert!((start + 60.0) - start < 60.0, "the rounding this test is about");
    let mut rt = Runtime::new(&cluster(1, 2), policy("easy++"), UserHistory::default(), RuntimeConfig::default());
    rt.submit_estimated(info(0, 1, 0.0, 60.0), 60.0).unwrap();
    rt.submit(info(1, 2, 0.0, 60.0), None).unwrap();
    rt.start(JobKey(0), start, Alloc::Nodes(vec![0])).unwrap();
    assert!(rt.decide(1000.0, &Observed).is_some());
    let j = rt.state().running_job(JobKey(0)).unwrap();
    assert!(j.expected_end_s > 1000.0, "still running at 1000, expected to end at {}", j.expected_end_s);
}
