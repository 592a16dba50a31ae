//! Engine events and their order: by time, then by kind (corrections,
//! ends, repairs, failures, wake-ups; submissions come between corrections
//! and ends), then by the order they were scheduled.

use foresight_core::state::JobKey;
use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Kind {
    Correction { key: JobKey, attempt: u16, n: u16 },
    End { key: JobKey, attempt: u16 },
    Up { node: u32, random: bool },
    Down { node: u32, random: bool },
    Wake,
}

impl Kind {
    pub fn rank(&self) -> u8 {
        match self {
            Kind::Correction { .. } => 0,
            Kind::End { .. } => 2,
            Kind::Up { .. } => 3,
            Kind::Down { .. } => 4,
            Kind::Wake => 5,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Event {
    pub t: f64,
    pub seq: u64,
    pub kind: Kind,
}

impl Ord for Event {
    fn cmp(&self, o: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and the earliest event must come first.
        o.t.total_cmp(&self.t).then(o.kind.rank().cmp(&self.kind.rank())).then(o.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Event {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl PartialEq for Event {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}

impl Eq for Event {}
