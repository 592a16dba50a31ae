//! The backtest: for each period k (a week, or the horizon), a plan made
//! from the periods before k only, against the smallest size period k's
//! real jobs needed (found by replaying them from an empty machine), beside
//! two naive planners: last period's need, and last period's need times the
//! seasonal-naive growth (the period before's requested work over the one
//! before it). Each planner's size is replayed with period k's real jobs:
//! met or not; the over-provisioning when met and the shortfall when not,
//! relative to the need.

use super::classes::work_cpu_h;
use super::{Outlook, PlanError, PlanOptions, plan, replay_metric, resize, size_of};
use crate::Shard;
use foresight_core::{Cluster, Job};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The planners, in the order of [`Period::sizes`].
pub const PLANNERS: [&str; 3] = ["plan", "last period's need", "last period's need x growth"];

/// How a backtest runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestOptions {
    /// The period (the horizon), seconds.
    pub period_s: f64,
    /// How each plan is made.
    pub plan: PlanOptions,
    /// Periods of history a plan needs before the first scored period.
    pub min_history: usize,
    /// The band's level the forecaster is asked for (recorded for the
    /// report).
    pub level: f64,
    /// Score only the first this many periods (a development part), all
    /// when `None`.
    pub only_first: Option<usize>,
}

/// One planner's size for one period, replayed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The size planned.
    pub size: u32,
    /// The period's real jobs replayed at that size: the metric.
    pub value: f64,
    /// Whether it met the target.
    pub met: bool,
}

/// One period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Period {
    /// Index from the trace's first submission.
    pub index: usize,
    /// Trace time it starts.
    pub start_s: f64,
    /// Jobs submitted in it.
    pub jobs: usize,
    /// Their requested CPU hours.
    pub work_cpu_h: f64,
    /// The smallest size its real jobs needed (0 for no job).
    pub need: u32,
    /// The metric of its real jobs at today's size.
    pub at_today: f64,
    /// Each planner's decision ([`PLANNERS`] order), when it could plan.
    pub sizes: Vec<Option<Decision>>,
    /// Why the plan could not be made, when it could not.
    pub note: Option<String>,
}

/// A planner's score over the scored periods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The planner.
    pub planner: String,
    /// Periods scored.
    pub periods: usize,
    /// Periods whose target was met.
    pub met: usize,
    /// Mean over-provisioning when met, % of the need.
    pub over_pct: f64,
    /// Mean shortfall when missed, % of the need.
    pub short_pct: f64,
    /// Mean size planned.
    pub mean_size: f64,
}

/// A backtest's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backtest {
    /// The options.
    pub options: BacktestOptions,
    /// The unit of sizes.
    pub unit: String,
    /// Today's size.
    pub today: u32,
    /// Every period.
    pub periods: Vec<Period>,
    /// Scores over the periods every planner planned (and with jobs).
    pub scores: Vec<Score>,
}

/// The smallest size `jobs` (one period's, from an empty machine) need.
pub fn need(jobs: &[Job], base: &Cluster, o: &PlanOptions) -> Result<(u32, f64), PlanError> {
    if jobs.is_empty() {
        return Ok((0, 0.0));
    }
    Ok((super::calibrate::real_need(jobs, base, o)?, replay_metric(jobs, &resize(base, size_of(base).1), o)?.0))
}

/// A forecaster: the outlook of the `hours` from `start_s` given the jobs
/// submitted before it.
pub type Forecaster<'a> = dyn Fn(&[Job], f64, usize) -> Result<Outlook, String> + Sync + 'a;

/// How many periods a backtest of `jobs` (sorted by submission) scores.
pub fn period_count(jobs: &[Job], o: &BacktestOptions) -> usize {
    let first = jobs.first().map_or(0.0, |j| j.submit_s);
    let last = jobs.last().map_or(0.0, |j| j.submit_s);
    (((last - first) / o.period_s).floor().max(0.0) as usize).min(o.only_first.unwrap_or(usize::MAX))
}

/// Runs the backtest over `jobs` (sorted by submission). `progress` is told
/// each period's need replayed and each period planned.
pub fn backtest(
    jobs: &[Job],
    base: &Cluster,
    o: &BacktestOptions,
    forecaster: &Forecaster<'_>,
    progress: &(dyn Fn() + Sync),
) -> Result<Backtest, PlanError> {
    Ok(assemble(base, o, backtest_part(jobs, base, o, forecaster, Shard::ALL, progress)?))
}

/// The periods of `shard` only (those whose index modulo its size is its
/// index), each computed as [`backtest`] computes it: what one task of a
/// Slurm job array runs. The parts of every shard, given to [`assemble`],
/// are [`backtest`]'s result, bit for bit.
pub fn backtest_part(
    jobs: &[Job],
    base: &Cluster,
    o: &BacktestOptions,
    forecaster: &Forecaster<'_>,
    shard: Shard,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<Period>, PlanError> {
    if o.period_s.is_nan() || o.period_s < 3600.0 {
        return Err(PlanError::Settings(format!("a period of {} s: at least an hour is needed", o.period_s)));
    }
    let first = jobs.first().map_or(0.0, |j| j.submit_s);
    let count = period_count(jobs, o);
    let bounds: Vec<(usize, usize, f64)> = (0..count)
        .map(|k| {
            let s = first + k as f64 * o.period_s;
            (jobs.partition_point(|j| j.submit_s < s), jobs.partition_point(|j| j.submit_s < s + o.period_s), s)
        })
        .collect();
    let planned = |k: usize| k >= o.min_history.max(2) && bounds[k].0 < bounds[k].1;
    let mine: Vec<usize> = (0..count).filter(|&k| shard.holds(k)).collect();
    // the needs this part reads: its own periods', and the period before
    // each it plans (the naive planners')
    let mut wanted: Vec<usize> = mine.iter().flat_map(|&k| if planned(k) { vec![k - 1, k] } else { vec![k] }).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let computed = wanted
        .par_iter()
        .map(|&k| {
            let (a, b, _) = bounds[k];
            let r = need(&jobs[a..b], base, &o.plan);
            progress();
            r.map(|n| (k, n))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let needs = |k: usize| computed[computed.binary_search_by_key(&k, |c| c.0).expect("every need read is computed")].1;
    let hours = (o.period_s / 3600.0).round() as usize;
    mine.into_par_iter()
        .map(|k| -> Result<Period, PlanError> {
            let (a, b, start_s) = bounds[k];
            let period = &jobs[a..b];
            let work = |k: usize| jobs[bounds[k].0..bounds[k].1].iter().map(work_cpu_h).sum::<f64>();
            let decide = |size: u32| -> Result<Decision, PlanError> {
                let value = replay_metric(period, &resize(base, size), &o.plan)?.0;
                Ok(Decision { size, value, met: o.plan.target.met(value) })
            };
            let mut sizes = vec![None; PLANNERS.len()];
            let mut note = None;
            if planned(k) {
                match forecaster(&jobs[..a], start_s, hours)
                    .map_err(PlanError::Settings)
                    .and_then(|outlook| plan(&jobs[..a], base, &outlook, &o.plan, &|_| {}))
                {
                    Ok(p) => sizes[0] = Some(decide(p.recommended)?),
                    Err(e) => note = Some(e.to_string()),
                }
                let last = needs(k - 1).0;
                sizes[1] = Some(decide(last.max(1))?);
                let (w1, w2) = (work(k - 1), work(k - 2));
                let growth = if w2 > 0.0 { w1 / w2 } else { 1.0 };
                sizes[2] = Some(decide(((f64::from(last) * growth).ceil() as u32).max(1))?);
            }
            progress();
            Ok(Period {
                index: k,
                start_s,
                jobs: period.len(),
                work_cpu_h: work(k),
                need: needs(k).0,
                at_today: needs(k).1,
                sizes,
                note,
            })
        })
        .collect()
}

/// The backtest from every one of its periods (in index order), scored.
pub fn assemble(base: &Cluster, o: &BacktestOptions, periods: Vec<Period>) -> Backtest {
    let (unit, today) = size_of(base);
    let scored: Vec<&Period> = periods.iter().filter(|p| p.need > 0 && p.sizes.iter().all(Option::is_some)).collect();
    let scores = PLANNERS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            score(
                name,
                scored.iter().map(|p| (p.need, p.sizes[i].unwrap_or(Decision { size: 0, value: 0.0, met: false }))),
            )
        })
        .collect();
    Backtest { options: o.clone(), unit: unit.into(), today, periods, scores }
}

fn score(planner: &str, rows: impl Iterator<Item = (u32, Decision)>) -> Score {
    let (mut periods, mut met, mut over, mut short, mut total) = (0, 0, 0.0, 0.0, 0.0);
    for (need, d) in rows {
        periods += 1;
        total += f64::from(d.size);
        let rel = (f64::from(d.size) - f64::from(need)) / f64::from(need.max(1)) * 100.0;
        if d.met {
            met += 1;
            over += rel.max(0.0);
        } else {
            short += (-rel).max(0.0);
        }
    }
    let mean = |s: f64, n: usize| if n > 0 { s / n as f64 } else { 0.0 };
    Score {
        planner: planner.into(),
        periods,
        met,
        over_pct: mean(over, met),
        short_pct: mean(short, periods - met),
        mean_size: mean(total, periods),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_count_met_periods_and_average_relative_gaps() {
        let d = |size, met| Decision { size, value: 0.0, met };
        let s = score("x", [(10, d(15, true)), (10, d(10, true)), (20, d(15, false)), (10, d(9, true))].into_iter());
        assert_eq!((s.periods, s.met), (4, 3));
        assert!((s.over_pct - 50.0 / 3.0).abs() < 1e-9, "a met period below its need counts 0: {s:?}");
        assert!((s.short_pct - 25.0).abs() < 1e-9);
        assert_eq!(s.mean_size, 12.25);
    }

    #[test]
    fn the_parts_of_every_shard_assembled_are_the_whole_backtest() {
        use crate::plan::{Outlook, PlanOptions, Target};
        use crate::{RunSpec, WorkloadOptions};
        use foresight_core::Resources;
        let base = Cluster::homogeneous("n", 4, Resources::new(4, 0, 0));
        // 8 days of jobs, busier on some days than others
        let jobs: Vec<Job> = (0..400u32)
            .map(|i| Job {
                job_id: i.to_string(),
                submit_s: f64::from(i) * 1700.0 + f64::from(i % 13) * 40.0,
                runtime_s: Some(f64::from(300 + (i * 977) % 7000)),
                req_time_s: Some(f64::from(600 + (i * 977) % 7000) * 2.0),
                req_cpus: Some([1, 2, 4, 8, 16][(i % 5) as usize]),
                ..Job::default()
            })
            .collect();
        let flat = |_: &[Job], start_s: f64, hours: usize| -> Result<Outlook, String> {
            Ok(Outlook {
                start_s,
                jobs: vec![2.0; hours],
                work: vec![20.0; hours],
                level: 0.9,
                lower_factor: 0.8,
                upper_factor: 1.3,
                recent_work: vec![],
                method: "flat".into(),
                calendar_offset_s: 0.0,
                split: None,
            })
        };
        let o = BacktestOptions {
            period_s: 86_400.0,
            plan: PlanOptions {
                target: "p95-wait=1h".parse::<Target>().unwrap(),
                run: RunSpec::new("easy"),
                seeds: vec![1, 2],
                classes: 3,
                window_s: 4.0 * 86_400.0,
                sizes: vec![],
                workload: WorkloadOptions::default(),
                calibration_periods: 2,
                correction_level: 0.75,
            },
            min_history: 2,
            level: 0.9,
            only_first: None,
        };
        let whole = backtest(&jobs, &base, &o, &flat, &|| {}).unwrap();
        assert_eq!(whole.periods.len(), period_count(&jobs, &o));
        assert!(whole.periods.iter().filter(|p| p.sizes[0].is_some()).count() >= 3, "{:?}", whole.periods);
        let mut parts = Vec::new();
        for i in 0..3 {
            let part = backtest_part(&jobs, &base, &o, &flat, Shard { index: i, of: 3 }, &|| {}).unwrap();
            assert!(part.iter().all(|p| p.index % 3 == i as usize), "shard {i} holds its own periods only");
            parts.extend(part);
        }
        parts.sort_by_key(|p| p.index);
        assert_eq!(assemble(&base, &o, parts), whole);
    }
}
