//! The queue of waiting jobs, in key (arrival) order, with room kept at
//! its front.
//!
//! Jobs mostly leave the queue near its front (the oldest start first) and
//! join it at its back (keys grow with arrival). A plain vector shifts
//! every later job to fill the place a started job leaves; here the jobs
//! before it move up instead when they are fewer, into room left at the
//! front, so starting the oldest job moves nothing.

use super::PendingJob;

/// Waiting jobs in key order: `buf[head..]`; `buf[..head]` is room (stale
/// copies, never read).
#[derive(Debug, Clone, Default)]
pub(super) struct PendingQueue {
    buf: Vec<PendingJob>,
    head: usize,
}

/// From how much room at the front the queue is compacted (when that room
/// is also more than the jobs it holds).
const COMPACT_FROM: usize = 4096;

impl PendingQueue {
    /// The jobs, in key order.
    #[inline]
    pub(super) fn as_slice(&self) -> &[PendingJob] {
        &self.buf[self.head..]
    }

    /// Puts `job` at `pos` (of [`PendingQueue::as_slice`]).
    pub(super) fn insert(&mut self, pos: usize, job: PendingJob) {
        if pos == 0 && self.head > 0 {
            self.head -= 1;
            self.buf[self.head] = job;
        } else {
            self.buf.insert(self.head + pos, job);
        }
    }

    /// Takes out the job at `pos`, moving the fewer of the jobs before it
    /// and after it.
    pub(super) fn remove(&mut self, pos: usize) -> PendingJob {
        let at = self.head + pos;
        let job = self.buf[at];
        if pos < (self.buf.len() - at) {
            self.buf.copy_within(self.head..at, self.head + 1);
            self.head += 1;
            if self.head >= COMPACT_FROM && self.head > self.buf.len() - self.head {
                self.buf.drain(..self.head);
                self.head = 0;
            }
        } else {
            self.buf.remove(at);
        }
        job
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::info;

    fn job(key: u32) -> PendingJob {
        PendingJob { info: info(key, 1, 0.0, 10.0), estimate_s: 1.0 }
    }

    proptest::proptest! {
        // long runs (to pass compactions), so fewer of them
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

        /// Any mix of inserts and removals leaves the queue as a plain
        /// vector would, through many compactions.
        #[test]
        fn proptest_queue_acts_as_a_vector(ops in proptest::collection::vec((0u8..4, 0usize..64), 1..12_000)) {
            let mut q = PendingQueue::default();
            let mut model: Vec<PendingJob> = Vec::new();
            for (i, (op, at)) in ops.into_iter().enumerate() {
                if op == 0 && !model.is_empty() {
                    let pos = at % model.len();
                    proptest::prop_assert_eq!(q.remove(pos), model.remove(pos));
                } else if op == 1 && !model.is_empty() {
                    // the oldest leaves: the common case
                    proptest::prop_assert_eq!(q.remove(0), model.remove(0));
                } else {
                    let pos = if op == 2 { model.len() } else { at.min(model.len()) };
                    q.insert(pos, job(i as u32));
                    model.insert(pos, job(i as u32));
                }
                proptest::prop_assert_eq!(q.as_slice(), &model[..]);
            }
        }
    }
}
