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
