//! No leakage: shuffling the future of a trace changes no prediction made
//! before it.

use foresight_core::Job;
use foresight_datasets::embedded::h100_jobs;
use foresight_models::features::{Schema, build_rows};
use foresight_models::history::JobTelemetry;

/// Permutes what happens after `cut` (runtimes, users, requests, features
/// move between future jobs) with a fixed-seed shuffle.
fn shuffle_future(jobs: &mut [Job], cut: f64) {
    let future: Vec<usize> = (0..jobs.len()).filter(|&i| jobs[i].submit_s >= cut).collect();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for k in (1..future.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = (state % (k as u64 + 1)) as usize;
        let (a, b) = (future[k], future[j]);
        let (sa, sb) = (jobs[a].submit_s, jobs[b].submit_s);
        jobs.swap(a, b);
        // Keep each slot's submission time, so the shuffle moves content
        // between future jobs and never moves a job into the past; starts
        // and ends move with their job, shifted to its new submission.
        for (i, s_new) in [(a, sa), (b, sb)] {
            let shift = s_new - jobs[i].submit_s;
            jobs[i].submit_s = s_new;
            jobs[i].start_s = jobs[i].start_s.map(|t| t + shift);
            jobs[i].end_s = jobs[i].end_s.map(|t| t + shift);
        }
    }
}

#[test]
fn shuffling_the_future_changes_no_earlier_feature_row() {
    let table = h100_jobs().expect("reads").table;
    let schema = Schema::from_jobs(&table.meta, &table.jobs);
    let mut order: Vec<f64> = table.jobs.iter().map(|j| j.submit_s).collect();
    order.sort_by(f64::total_cmp);
    let cut = order[order.len() / 2];
    let before = build_rows(&schema, &table.jobs, &JobTelemetry::new());
    let mut shuffled = table.jobs.clone();
    shuffle_future(&mut shuffled, cut);
    assert_ne!(shuffled, table.jobs, "the shuffle changed the future");
    let after = build_rows(&schema, &shuffled, &JobTelemetry::new());
    let mut compared = 0;
    for (i, job) in table.jobs.iter().enumerate() {
        if job.submit_s < cut {
            let same = before[i].iter().zip(&after[i]).all(|(a, b)| a == b || (a.is_nan() && b.is_nan()));
            assert!(same, "row {i} changed");
            compared += 1;
        }
    }
    assert!(compared > 100);
}

/// Drives `spec`'s predictor through the trace's own submissions, starts
/// and ends in time order; returns each job's prediction, by row.
fn replay(jobs: &[Job], spec: &str) -> Vec<f64> {
    use foresight_core::state::{Demand, JobInfo, JobKey};
    let table = foresight_datasets::JobTable { meta: Default::default(), jobs: jobs.to_vec() };
    let mut order: Vec<u32> = (0..jobs.len() as u32).collect();
    order.sort_by(|&a, &b| jobs[a as usize].submit_s.total_cmp(&jobs[b as usize].submit_s));
    let mut p = foresight_models::predictor_from_spec(spec, &table, &order).expect("builds");
    let info = |key: usize| JobInfo {
        key: JobKey(key as u32),
        user: 0,
        group: 0,
        queue: 0,
        submit_s: jobs[order[key] as usize].submit_s,
        demand: Demand::default(),
        limit_s: jobs[order[key] as usize].req_time_s.unwrap_or(f64::INFINITY),
    };
    // (time, kind: 0 submit, 1 end, 2 start, key): submissions first at a
    // tie, as in the simulator.
    let mut events = Vec::new();
    for (k, &row) in order.iter().enumerate() {
        let j = &jobs[row as usize];
        events.push((j.submit_s, 0, k));
        if let (Some(s), Some(e)) = (j.start_s, j.end_s) {
            events.push((s, 2, k));
            events.push((e, 1, k));
        }
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut out = vec![f64::NAN; jobs.len()];
    for (t, kind, k) in events {
        let i = info(k);
        match kind {
            0 => out[order[k] as usize] = p.predict(&i),
            2 => p.observe_start(&i, t),
            _ => p.observe_end(&i, jobs[order[k] as usize].runtime_s.unwrap_or(0.0), t),
        }
    }
    out
}

#[test]
fn shuffling_the_future_changes_no_earlier_online_prediction() {
    let table = h100_jobs().expect("reads").table;
    let mut submits: Vec<f64> = table.jobs.iter().map(|j| j.submit_s).collect();
    submits.sort_by(f64::total_cmp);
    let cut = submits[submits.len() * 9 / 10];
    let mut shuffled = table.jobs.clone();
    shuffle_future(&mut shuffled, cut);
    for spec in ["online", "online:linear"] {
        let before = replay(&table.jobs, spec);
        let after = replay(&shuffled, spec);
        let earlier: Vec<usize> = (0..table.jobs.len()).filter(|&i| table.jobs[i].submit_s < cut).collect();
        assert!(earlier.len() > 200, "the model was retrained before the cut");
        for i in earlier {
            assert_eq!(before[i].to_bits(), after[i].to_bits(), "{spec}: job {i}");
        }
    }
}
