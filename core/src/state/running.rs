//! The running jobs, kept in order of expected end.
//!
//! The job records sit in one vector in no particular order (an ended
//! job's place is reused by the next to start); the order is a separate
//! sorted vector of small entries (expected end, key,
//! where the record is). Starting, ending and re-estimating a job then
//! shifts 16-byte entries instead of whole records: on KTH-SP2 under EASY++
//! (a correction for most jobs) the records' shifting alone was about a
//! twentieth of the replay.

use super::{Demand, JobInfo, JobKey, KeyMap, RunningJob, StateError};
use std::cmp::Ordering;

/// A running job's place in expected-end order.
#[derive(Debug, Clone, Copy)]
struct ByEnd {
    end: f64,
    key: JobKey,
    /// Index of its record in [`RunningSet::jobs`].
    at: u32,
}

/// The running jobs and their order by `(expected end, key)`.
#[derive(Debug, Clone, Default)]
pub(super) struct RunningSet {
    /// The records; the places listed in `vacant` hold no job.
    jobs: Vec<RunningJob>,
    vacant: Vec<u32>,
    by_end: Vec<ByEnd>,
    ends: KeyMap<f64>,
}

/// What an ended job's record is replaced with until its place is reused.
fn vacancy() -> RunningJob {
    let info = JobInfo {
        key: JobKey(u32::MAX),
        user: 0,
        group: 0,
        queue: 0,
        submit_s: f64::NAN,
        demand: Demand::default(),
        limit_s: f64::NAN,
    };
    RunningJob {
        info,
        start_s: f64::NAN,
        expected_end_s: f64::NAN,
        slots: Vec::new(),
        submitted_estimate_s: f64::NAN,
        estimate_s: f64::NAN,
        corrections: 0,
    }
}

fn cmp_end(a: (f64, JobKey), b: (f64, JobKey)) -> Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

impl RunningSet {
    /// The jobs in order of expected end.
    pub(super) fn view(&self) -> Running<'_> {
        Running { by_end: &self.by_end, jobs: &self.jobs }
    }

    pub(super) fn contains(&self, key: JobKey) -> bool {
        self.ends.contains_key(&key)
    }

    /// The position in `by_end` of the entry `(end, key)`, or of the first
    /// entry after it.
    fn position(&self, end: f64, key: JobKey) -> usize {
        self.by_end.partition_point(|e| cmp_end((e.end, e.key), (end, key)).is_lt())
    }

    /// Adds a job (its key not running).
    pub(super) fn insert(&mut self, job: RunningJob) {
        let (end, key) = (job.expected_end_s, job.info.key);
        let pos = self.position(end, key);
        let at = match self.vacant.pop() {
            Some(at) => {
                self.jobs[at as usize] = job;
                at
            }
            None => {
                self.jobs.push(job);
                (self.jobs.len() - 1) as u32
            }
        };
        self.by_end.insert(pos, ByEnd { end, key, at });
        self.ends.insert(key, end);
    }

    /// The record of a running job.
    pub(super) fn get(&self, key: JobKey) -> Option<&RunningJob> {
        let end = *self.ends.get(&key)?;
        let e = self.by_end.get(self.position(end, key))?;
        Some(&self.jobs[e.at as usize])
    }

    /// Takes a job out.
    pub(super) fn take(&mut self, key: JobKey) -> Result<RunningJob, StateError> {
        let end = self.ends.remove(&key).ok_or(StateError::NotRunning(key))?;
        let pos = self.position(end, key);
        debug_assert_eq!(self.by_end[pos].key, key);
        let at = self.by_end.remove(pos).at;
        self.vacant.push(at);
        Ok(std::mem::replace(&mut self.jobs[at as usize], vacancy()))
    }

    /// Changes a job's expected end; its entry moves past only the entries
    /// between its old place and its new one.
    pub(super) fn set_end(&mut self, key: JobKey, end: f64) -> Result<(), StateError> {
        self.set_end_with(key, end, |_| {})
    }

    /// [`RunningSet::set_end`], then `update` on the job's record.
    pub(super) fn set_end_with(&mut self, key: JobKey, end: f64, update: impl FnOnce(&mut RunningJob)) -> Result<(), StateError> {
        let slot = self.ends.get_mut(&key).ok_or(StateError::NotRunning(key))?;
        let old = std::mem::replace(slot, end);
        let from = self.position(old, key);
        debug_assert_eq!(self.by_end[from].key, key);
        let before = |e: &ByEnd| cmp_end((e.end, e.key), (end, key)).is_lt();
        let to = if cmp_end((end, key), (old, key)).is_lt() {
            let to = self.by_end[..from].partition_point(before);
            self.by_end[to..=from].rotate_right(1);
            to
        } else {
            let to = from + self.by_end[from + 1..].partition_point(before);
            self.by_end[from..=to].rotate_left(1);
            to
        };
        let e = &mut self.by_end[to];
        e.end = end;
        let job = &mut self.jobs[e.at as usize];
        job.expected_end_s = end;
        update(job);
        Ok(())
    }
}

/// The running jobs in order of expected end, then key (see
/// [`super::ClusterState::running`]): a view that indexes and iterates
/// like a slice.
#[derive(Debug, Clone, Copy)]
pub struct Running<'a> {
    by_end: &'a [ByEnd],
    jobs: &'a [RunningJob],
}

impl<'a> Running<'a> {
    /// How many jobs run.
    pub fn len(&self) -> usize {
        self.by_end.len()
    }

    /// True when nothing runs.
    pub fn is_empty(&self) -> bool {
        self.by_end.is_empty()
    }

    /// The `i`-th job to end.
    pub fn get(&self, i: usize) -> Option<&'a RunningJob> {
        self.by_end.get(i).map(|e| &self.jobs[e.at as usize])
    }

    /// The first job expected to end.
    pub fn first(&self) -> Option<&'a RunningJob> {
        self.get(0)
    }

    /// The jobs, first to end first.
    pub fn iter(&self) -> RunningIter<'a> {
        RunningIter { by_end: self.by_end.iter(), jobs: self.jobs }
    }
}

impl<'a> std::ops::Index<usize> for Running<'a> {
    type Output = RunningJob;

    fn index(&self, i: usize) -> &RunningJob {
        &self.jobs[self.by_end[i].at as usize]
    }
}

impl<'a> IntoIterator for Running<'a> {
    type Item = &'a RunningJob;
    type IntoIter = RunningIter<'a>;

    fn into_iter(self) -> RunningIter<'a> {
        self.iter()
    }
}

/// An iterator over [`Running`], first to end first.
#[derive(Debug, Clone)]
pub struct RunningIter<'a> {
    by_end: std::slice::Iter<'a, ByEnd>,
    jobs: &'a [RunningJob],
}

impl<'a> Iterator for RunningIter<'a> {
    type Item = &'a RunningJob;

    #[inline]
    fn next(&mut self) -> Option<&'a RunningJob> {
        self.by_end.next().map(|e| &self.jobs[e.at as usize])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.by_end.size_hint()
    }
}

impl DoubleEndedIterator for RunningIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.by_end.next_back().map(|e| &self.jobs[e.at as usize])
    }
}

impl ExactSizeIterator for RunningIter<'_> {}
