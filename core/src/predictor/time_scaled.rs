//! A predictor on another clock: [`TimeScaled`] serves a predictor made for
//! one time scale (a model trained on a trace, in the trace's seconds) to a
//! run whose times are that scale divided by a factor (the trace replayed
//! `factor` times faster, as `foresight ab` replays it into Slurm).

use super::{Interval, Outlived, Predictor};
use crate::job::Job;
use crate::state::JobInfo;

/// Wraps a predictor so that it sees every time multiplied by `factor` and
/// what it returns divided by it: the submission, the limit, `now`, the
/// runtimes it is told of, an outlived job's times and a record's times
/// (submission, start, end, runtime, request) go in multiplied; estimates,
/// corrections and intervals come out divided. The inner predictor sees the
/// run as if it were `factor` times slower: a job compressed by `factor`
/// gets the estimate the inner predictor gives the uncompressed job,
/// divided by `factor`.
///
/// A factor of 1 is the inner predictor exactly (multiplying and dividing
/// by 1 changes no value).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeScaled<P> {
    inner: P,
    factor: f64,
}

impl<P: Predictor> TimeScaled<P> {
    /// `inner` seeing times multiplied by `factor`; `None` unless `factor`
    /// is finite and above zero.
    pub fn new(inner: P, factor: f64) -> Option<Self> {
        (factor.is_finite() && factor > 0.0).then_some(Self { inner, factor })
    }

    /// The factor.
    pub fn factor(&self) -> f64 {
        self.factor
    }

    /// The inner predictor.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The inner predictor, unwrapped.
    pub fn into_inner(self) -> P {
        self.inner
    }

    fn up(&self, job: &JobInfo) -> JobInfo {
        JobInfo { submit_s: job.submit_s * self.factor, limit_s: job.limit_s * self.factor, ..*job }
    }
}

/// `job`'s record with its times multiplied by `factor`: submission, start,
/// end, runtime and requested time.
pub fn scale_record(job: &Job, factor: f64) -> Job {
    let mut out = job.clone();
    out.submit_s *= factor;
    for t in [&mut out.start_s, &mut out.end_s, &mut out.runtime_s, &mut out.req_time_s] {
        *t = t.map(|x| x * factor);
    }
    out
}

impl<P: Predictor> Predictor for TimeScaled<P> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn predict(&mut self, job: &JobInfo) -> f64 {
        let job = self.up(job);
        self.inner.predict(&job) / self.factor
    }

    fn observe_start(&mut self, job: &JobInfo, now: f64) {
        let job = self.up(job);
        self.inner.observe_start(&job, now * self.factor);
    }

    fn observe_end(&mut self, job: &JobInfo, runtime_s: f64, now: f64) {
        let job = self.up(job);
        self.inner.observe_end(&job, runtime_s * self.factor, now * self.factor);
    }

    fn correct(&mut self, job: &JobInfo, outlived: &Outlived) -> f64 {
        let f = self.factor;
        let job = self.up(job);
        let outlived = Outlived {
            elapsed_s: outlived.elapsed_s * f,
            initial_estimate_s: outlived.initial_estimate_s * f,
            estimate_s: outlived.estimate_s * f,
            corrections: outlived.corrections,
        };
        self.inner.correct(&job, &outlived) / f
    }

    fn observe_record(&mut self, job: &JobInfo, record: &Job) {
        let job = self.up(job);
        self.inner.observe_record(&job, &scale_record(record, self.factor));
    }

    fn forget(&mut self, job: &JobInfo) {
        let job = self.up(job);
        self.inner.forget(&job);
    }

    fn interval(&mut self, job: &JobInfo, estimate_s: f64) -> Option<Interval> {
        let f = self.factor;
        let job = self.up(job);
        let i = self.inner.interval(&job, estimate_s * f)?;
        Some(Interval { lo_s: i.lo_s / f, hi_s: i.hi_s / f })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predictor::{Requested, UserHistory};
    use crate::state::tests::info;
    use proptest::prelude::*;

    /// Records every time it is shown and answers from them.
    #[derive(Debug, Default)]
    struct Probe {
        seen: Vec<f64>,
    }

    impl Predictor for Probe {
        fn name(&self) -> &'static str {
            "probe"
        }
        fn predict(&mut self, job: &JobInfo) -> f64 {
            self.seen.extend([job.submit_s, job.limit_s]);
            job.limit_s / 2.0
        }
        fn observe_start(&mut self, _job: &JobInfo, now: f64) {
            self.seen.push(now);
        }
        fn observe_end(&mut self, _job: &JobInfo, runtime_s: f64, now: f64) {
            self.seen.extend([runtime_s, now]);
        }
        fn correct(&mut self, _job: &JobInfo, o: &Outlived) -> f64 {
            self.seen.extend([o.elapsed_s, o.initial_estimate_s, o.estimate_s]);
            o.estimate_s + 60.0
        }
        fn observe_record(&mut self, _job: &JobInfo, r: &Job) {
            self.seen.extend([r.submit_s, r.start_s.unwrap_or(-1.0), r.end_s.unwrap_or(-1.0)]);
            self.seen.extend([r.runtime_s.unwrap_or(-1.0), r.req_time_s.unwrap_or(-1.0)]);
        }
        fn interval(&mut self, _job: &JobInfo, estimate_s: f64) -> Option<Interval> {
            self.seen.push(estimate_s);
            Interval::new(estimate_s, estimate_s + 120.0)
        }
    }

    #[test]
    fn every_time_goes_in_multiplied_and_comes_out_divided() {
        let mut p = TimeScaled::new(Probe::default(), 10.0).unwrap();
        let job = info(0, 1, 3.0, 100.0);
        let record = Job {
            submit_s: 3.0,
            start_s: Some(4.0),
            end_s: Some(6.0),
            runtime_s: Some(2.0),
            req_time_s: Some(100.0),
            ..Job::default()
        };
        p.observe_record(&job, &record);
        assert_eq!(p.predict(&job), 50.0, "the inner's 500 s on the trace's clock");
        assert_eq!(p.interval(&job, 50.0), Interval::new(50.0, 62.0));
        p.observe_start(&job, 4.0);
        let o = Outlived { elapsed_s: 50.0, initial_estimate_s: 50.0, estimate_s: 50.0, corrections: 0 };
        assert_eq!(p.correct(&job, &o), 56.0, "the inner's 1 min added on its clock is 6 s here");
        p.observe_end(&job, 2.0, 6.0);
        assert_eq!(p.name(), "probe");
        let seen = &p.inner().seen;
        assert_eq!(seen, &[30.0, 40.0, 60.0, 20.0, 1000.0, 30.0, 1000.0, 500.0, 40.0, 500.0, 500.0, 500.0, 20.0, 60.0]);
        assert_eq!(scale_record(&Job { start_s: None, ..record }, 2.0).start_s, None);
    }

    #[test]
    fn a_factor_of_one_is_the_inner_predictor_exactly() {
        let jobs: Vec<JobInfo> = (0..12).map(|k| info(k, 1, f64::from(k) * 7.3, 100.0 + f64::from(k) * 13.7)).collect();
        let (mut bare, mut scaled) = (UserHistory::default(), TimeScaled::new(UserHistory::default(), 1.0).unwrap());
        for (k, j) in jobs.iter().enumerate() {
            assert_eq!(bare.predict(j).to_bits(), scaled.predict(j).to_bits());
            let o = Outlived { elapsed_s: 9.1, initial_estimate_s: 9.1, estimate_s: 9.1, corrections: k as u32 % 4 };
            assert_eq!(bare.correct(j, &o).to_bits(), scaled.correct(j, &o).to_bits());
            bare.observe_end(j, 1.0 + k as f64 * 3.3, j.submit_s + 5.0);
            scaled.observe_end(j, 1.0 + k as f64 * 3.3, j.submit_s + 5.0);
        }
        assert_eq!(scaled.clone().into_inner(), bare);
        let unlimited = info(0, 1, 0.0, f64::INFINITY);
        let mut r = TimeScaled::new(Requested::default(), 1.0).unwrap();
        assert_eq!(r.predict(&unlimited), Requested::default().predict(&unlimited));
        assert!(TimeScaled::new(Requested::default(), 0.0).is_none());
        assert!(TimeScaled::new(Requested::default(), f64::NAN).is_none());
        assert!(TimeScaled::new(Requested::default(), f64::INFINITY).is_none());
    }

    proptest! {
        /// The invariant the wrapper exists for: the inner predictor on the
        /// trace and the scaled one on the trace compressed by `factor` give
        /// the same estimates and corrections, the scaled one's divided by
        /// `factor` (factors that are powers of two, so that dividing and
        /// multiplying back is exact and the history's floor sees the same
        /// values).
        #[test]
        fn a_scaled_predictor_on_jobs_compressed_by_f_predicts_the_inner_predictions_divided_by_f(
            shift in -3i32..11,
            jobs in proptest::collection::vec((0u32..5, 0.0f64..1e6, 1.0f64..1e5, 0.0f64..2e5, 0u32..13), 1..60),
        ) {
            let factor = 2f64.powi(shift);
            let (mut inner, mut scaled) = (UserHistory::default(), TimeScaled::new(UserHistory::default(), factor).unwrap());
            let mut submit = 0.0;
            for (k, &(user, gap, runtime, limit, corrections)) in jobs.iter().enumerate() {
                submit += gap;
                let trace = JobInfo { user, ..info(k as u32, 1, submit, limit) };
                let compressed = JobInfo { submit_s: submit / factor, limit_s: limit / factor, ..trace };
                let expected = inner.predict(&trace) / factor;
                prop_assert_eq!(scaled.predict(&compressed), expected);
                let o = Outlived { elapsed_s: runtime, initial_estimate_s: runtime, estimate_s: runtime, corrections };
                let oc = Outlived { elapsed_s: runtime / factor, initial_estimate_s: runtime / factor, estimate_s: runtime / factor, corrections };
                prop_assert_eq!(scaled.correct(&compressed, &oc), inner.correct(&trace, &o) / factor);
                inner.observe_end(&trace, runtime, submit + runtime);
                scaled.observe_end(&compressed, runtime / factor, (submit + runtime) / factor);
            }
            prop_assert_eq!(scaled.inner(), &inner);
        }
    }
}
