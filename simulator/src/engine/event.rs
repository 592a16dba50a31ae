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

/// An event at a time. Its place in the order is computed once, as two
/// integers, when it is made: the heap compares events about twice per
/// level at every push and pop, and comparing floats in total order and
/// matching kinds there cost a few percent of a replay.
#[derive(Debug, Clone, Copy)]
pub(super) struct Event {
    /// The time's bits, mapped so that unsigned order is `f64::total_cmp`'s.
    time_key: u64,
    /// The kind's rank above the scheduling sequence number.
    rank_seq: u64,
    pub kind: Kind,
}

/// Bits of `t` in an unsigned order that is `f64::total_cmp`'s.
fn time_key(t: f64) -> u64 {
    let bits = t.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | (1 << 63) }
}

impl Event {
    /// The `seq`-th event scheduled (`seq` below 2^56), at `t`.
    pub fn new(t: f64, seq: u64, kind: Kind) -> Self {
        debug_assert!(seq < 1 << 56);
        Self { time_key: time_key(t), rank_seq: (u64::from(kind.rank()) << 56) | seq, kind }
    }

    /// Its time.
    pub fn t(&self) -> f64 {
        let k = self.time_key;
        f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
    }
}

impl Ord for Event {
    fn cmp(&self, o: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and the earliest event must come first.
        (o.time_key, o.rank_seq).cmp(&(self.time_key, self.rank_seq))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_order_by_time_then_kind_then_sequence() {
        let ts = [f64::NEG_INFINITY, -5.0, -0.0, 0.0, 1e-300, 3.5, 1e300, f64::INFINITY, f64::NAN];
        let kinds = [Kind::Wake, Kind::End { key: JobKey(1), attempt: 0 }, Kind::Correction { key: JobKey(2), attempt: 0, n: 1 }];
        let mut events = Vec::new();
        for (i, &t) in ts.iter().enumerate() {
            for (j, &kind) in kinds.iter().enumerate() {
                events.push(Event::new(t, (i * 7 + j * 3) as u64 % 11, kind));
            }
        }
        for a in &events {
            assert_eq!(a.t().to_bits(), ts.iter().find(|t| t.to_bits() == a.t().to_bits()).unwrap().to_bits());
            for b in &events {
                let (sa, sb) = (a.rank_seq & ((1 << 56) - 1), b.rank_seq & ((1 << 56) - 1));
                let want = b.t().total_cmp(&a.t()).then(b.kind.rank().cmp(&a.kind.rank())).then(sb.cmp(&sa));
                assert_eq!(a.cmp(b), want);
            }
        }
    }
}
