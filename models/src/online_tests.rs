//! Tests of the online and file predictors.

use super::*;
use crate::evaluate::{SplitOptions, train};

/// What the policies see of `job` under handle `key`: the one mapping.
fn info(key: u32, job: &Job) -> JobInfo {
    JobInfo::of(job, JobKey(key), &mut foresight_core::NameTables::default())
}

#[test]
fn corrections_ladder_or_double_and_wide_jobs_weigh_more() {
    let table = foresight_datasets::embedded::h100_jobs().unwrap().table;
    let rows: Vec<u32> = (0..table.jobs.len() as u32).collect();
    let job = info(0, &table.jobs[0]);
    let o = Outlived { elapsed_s: 100.0, initial_estimate_s: 100.0, estimate_s: 100.0, corrections: 0 };
    let params = OnlineParams { correction: Correction::Ladder, ..OnlineParams::default() };
    let mut ladder = OnlinePredictor::new(&table, &rows, params);
    assert_eq!(ladder.correct(&job, &o), UserHistory::default().correct(&job, &o));
    let double =
        OnlineParams { correction: Correction::Double, weighting: Weighting::LogCores, ..OnlineParams::default() };
    let mut p = OnlinePredictor::new(&table, &rows, double);
    assert_eq!(p.correct(&job, &o), 200.0);
    let mut wide = info(1, &table.jobs[1]);
    wide.demand.total.cpus = 8;
    p.predict(&wide);
    p.observe_end(&wide, 60.0, 60.0);
    assert_eq!(p.window.back().map(|w| w.2), Some(4), "8 processors count 1 + log2 8 times");
}

#[test]
fn the_selection_takes_whichever_of_model_and_history_erred_less_on_the_last_ended_jobs() {
    let table = foresight_datasets::embedded::h100_jobs().unwrap().table;
    let rows: Vec<u32> = (0..table.jobs.len() as u32).collect();
    let base = OnlineParams { min_train: 40, retrain_every: 40, ..OnlineParams::default() };
    let window = 50;
    let params = OnlineParams { select: Some(SelectLoss::Accuracy), select_window: window, ..base };
    let (mut model, mut sel) = (OnlinePredictor::new(&table, &rows, base), OnlinePredictor::new(&table, &rows, params));
    // the losses of both, recomputed here from what each said
    let mut past: VecDeque<(f64, f64)> = VecDeque::new();
    let (mut took_model, mut took_history) = (0, 0);
    for (i, job) in table.jobs.iter().enumerate() {
        let Some(rt) = job.runtime_s else { continue };
        let j = info(i as u32, job);
        let history = sel.features.easy_plus_plus(&j);
        let (m, s) = (model.predict(&j), sel.predict(&j));
        if model.model.is_some() {
            let (lm, lh): (f64, f64) = past.iter().fold((0.0, 0.0), |a, l| (a.0 + l.0, a.1 + l.1));
            if lh < lm {
                assert_eq!(s.to_bits(), history.to_bits(), "job {i}: the history erred less");
                took_history += 1;
            } else {
                assert_eq!(s.to_bits(), m.to_bits(), "job {i}: the model erred no more");
                took_model += 1;
            }
            let acc = |p: f64| {
                let (p, a) = (p.min(j.limit_s).max(1.0), rt.max(1.0));
                1.0 - p.min(a) / p.max(a)
            };
            past.push_back((acc(m), acc(history)));
            if past.len() > window {
                past.pop_front();
            }
        } else {
            assert_eq!(s.to_bits(), history.to_bits(), "before a model, the users' history");
        }
        model.observe_end(&j, rt, job.submit_s + rt);
        sel.observe_end(&j, rt, job.submit_s + rt);
    }
    assert!(took_model > 0 && took_history > 0, "both chosen on h100-jobs: {took_model} and {took_history}");
}

#[test]
fn the_online_interval_comes_from_ended_jobs_only_and_asking_changes_nothing() {
    let table = foresight_datasets::embedded::h100_jobs().unwrap().table;
    let rows: Vec<u32> = (0..table.jobs.len() as u32).collect();
    let params = OnlineParams { min_train: 40, retrain_every: 40, ..OnlineParams::default() };
    let (mut asked, mut quiet) =
        (OnlinePredictor::new(&table, &rows, params), OnlinePredictor::new(&table, &rows, params));
    // each job submitted, then ended, in submission order
    let (mut none_before_model, mut given) = (0, 0);
    for (i, job) in table.jobs.iter().enumerate() {
        let Some(rt) = job.runtime_s else { continue };
        let j = info(i as u32, job);
        let (p, q) = (asked.predict(&j), quiet.predict(&j));
        assert_eq!(p.to_bits(), q.to_bits(), "asking for intervals changes no estimate");
        let errors_before = asked.residuals.len();
        match asked.interval(&j, p.min(j.limit_s)) {
            Some(iv) => {
                given += 1;
                assert!(errors_before >= crate::interval::MIN_CALIBRATION);
                assert!(iv.lo_s <= p.min(j.limit_s) && p.min(j.limit_s) <= iv.hi_s);
            }
            None if asked.model.is_none() => none_before_model += 1,
            None => assert!(errors_before < crate::interval::MIN_CALIBRATION),
        }
        asked.observe_end(&j, rt, job.submit_s + rt);
        quiet.observe_end(&j, rt, job.submit_s + rt);
    }
    assert!(none_before_model >= 40, "EASY++ estimates have no interval");
    assert!(given > 100, "{given}");
    assert_eq!(asked.residuals.len(), quiet.residuals.len());
}

#[test]
fn a_live_predictor_predicts_as_the_file_predictor_given_the_same_jobs() {
    let table = foresight_datasets::embedded::h100_jobs().unwrap().table;
    let file = train(&table, ModelKind::Gbt, &JobTelemetry::new(), SplitOptions::default()).unwrap();
    let rows: Vec<u32> = (0..table.jobs.len() as u32).collect();
    let mut by_table = FilePredictor::new(file.clone(), &table, &rows);
    // live, the orchestrator reports Unix times
    let epoch = file.schema.epoch_unix_s.expect("the log's times are Unix seconds");
    let unix = |t: f64| t + epoch;
    let mut live = FilePredictor::try_live(file).unwrap();
    // every submission, start and end in time order, a job's own in
    // that order (as the controller sees them)
    let mut events: Vec<(f64, u8, usize)> = Vec::new();
    for (i, j) in table.jobs.iter().enumerate() {
        events.push((j.submit_s, 0, i));
        if let (Some(s), Some(e)) = (j.start_s, j.end_s) {
            let s = s.max(j.submit_s);
            events.push((s, 1, i));
            events.push((e.max(s), 2, i));
        }
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut compared = 0;
    for (t, what, i) in events {
        let job = &table.jobs[i];
        // live keys are the caller's, unrelated to table rows
        let (a, b) = (info(i as u32, job), info(90_000 + i as u32, job));
        match what {
            0 => {
                let record = Job {
                    submit_s: unix(job.submit_s),
                    start_s: job.start_s.map(unix),
                    end_s: job.end_s.map(unix),
                    ..job.clone()
                };
                live.register(b.key, &record);
                let (p, q) = (by_table.predict(&a), live.predict(&b));
                assert_eq!(p.to_bits(), q.to_bits(), "job {}", job.job_id);
                let (i, k) = (by_table.interval(&a, p), live.interval(&b, q));
                assert_eq!(i, k, "job {}", job.job_id);
                let i = i.expect("the file holds a calibration");
                assert!(i.lo_s <= p.min(a.limit_s) && p.min(a.limit_s) <= i.hi_s && i.hi_s <= a.limit_s);
                assert!(q.is_finite() && q > 0.0);
                compared += 1;
            }
            1 => {
                by_table.observe_start(&a, t);
                live.observe_start(&b, unix(t));
            }
            _ => {
                let rt = job.end_s.unwrap() - job.start_s.unwrap();
                by_table.observe_end(&a, rt, t);
                live.observe_end(&b, rt, unix(t));
            }
        }
    }
    assert_eq!(compared, table.jobs.len());
    let ran = table.jobs.iter().filter(|j| j.start_s.is_some() && j.end_s.is_some()).count();
    assert_eq!(live.records(), table.jobs.len() - ran, "records are dropped at the end");
    let unknown = info(1, &table.jobs[0]);
    assert_eq!(
        FilePredictor::try_live(
            train(&table, ModelKind::Gbt, &JobTelemetry::new(), SplitOptions::default()).unwrap()
        )
        .unwrap()
        .predict(&unknown),
        unknown.limit_s
    );
}

#[test]
fn a_withdrawn_job_leaves_the_live_queue_state() {
    let table = foresight_datasets::embedded::h100_jobs().unwrap().table;
    let file = train(&table, ModelKind::Gbt, &JobTelemetry::new(), SplitOptions::default()).unwrap();
    let queue_columns: Vec<usize> = ["cluster_running", "cluster_pending", "log_pending_work"]
        .iter()
        .map(|n| file.schema.history_offset() + crate::history::HISTORY_NAMES.iter().position(|h| h == n).unwrap())
        .collect();
    let (a, b) = (&table.jobs[0], &table.jobs[1]);
    // the queue columns of `b`'s row after `before` was done to the live predictor
    let queue_of_b = |before: &dyn Fn(&mut FilePredictor)| {
        let mut live = FilePredictor::try_live(file.clone()).unwrap();
        before(&mut live);
        live.register(JobKey(2), b);
        live.predict(&info(2, b));
        let row = &live.features.rows[&2].0;
        queue_columns.iter().map(|&c| row[c].to_bits()).collect::<Vec<u64>>()
    };
    let empty = queue_of_b(&|_| {});
    let waiting = queue_of_b(&|live| {
        live.register(JobKey(1), a);
        live.predict(&info(1, a));
    });
    assert_ne!(waiting, empty, "a waiting job counts in the queue");
    let withdrawn = queue_of_b(&|live| {
        live.register(JobKey(1), a);
        live.predict(&info(1, a));
        live.forget(JobKey(1));
    });
    assert_eq!(withdrawn, empty, "a withdrawn job no longer does");
    let never_queued = queue_of_b(&|live| {
        live.register(JobKey(1), a);
        live.forget(JobKey(1));
        live.forget(JobKey(3));
    });
    assert_eq!(never_queued, empty, "forgetting a job never predicted changes nothing");
}
