//! Tests of the compact cycle record: its bytes are `serde_json`'s for the
//! equivalent record, over varied records, and its predictions keep a
//! map's order and overwrite rules.

use super::*;
use crate::log::record::{Body, Record};
use std::collections::BTreeMap;

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn id(&mut self) -> String {
        const ODD: [&str; 9] = ["", "a\"b", "back\\slash", "tab\t", "\u{1}", "é✓", "0123", "12345678", "123456789"];
        match self.below(4) {
            0 => ODD[self.below(ODD.len() as u64) as usize].to_string(),
            1 => format!("{}_{}", self.below(100), self.below(3)),
            _ => self.below(300).to_string(),
        }
    }

    fn float(&mut self) -> f64 {
        match self.below(6) {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => -0.0,
            _ => (self.next() % 1_000_000) as f64 / 7.0,
        }
    }
}

fn summary(rng: &mut Rng, s: &mut CompactSummary, ids: &mut Ids) {
    match rng.below(3) {
        0 => {}
        1 => s.begin(),
        _ => {
            for _ in 0..rng.below(5) {
                s.start(ids, &rng.id());
                for _ in 0..rng.below(4) {
                    let node = ["n1", "n1", "n2", "gpu\"x", ""][rng.below(5) as usize];
                    s.node(ids, node);
                }
            }
            for _ in 0..rng.below(3) {
                s.preempt(ids, &rng.id());
            }
            s.begin();
        }
    }
}

/// The predictions and the intervals the record must hold.
type Expected = (BTreeMap<String, f64>, BTreeMap<String, Interval>);

fn random_cycle(rng: &mut Rng, c: &mut CompactCycle) -> Expected {
    c.clear();
    c.cycle = rng.next();
    c.trigger = ["timer", "state_change", "a\nb"][rng.below(3) as usize].to_string();
    c.observed_at_unix_s = rng.float();
    c.observed =
        Observed { nodes: rng.below(9) as usize, pending: rng.below(9) as usize, running: 3, free_cpus: rng.next() };
    for _ in 0..rng.below(4) {
        let what = [ChangeKind::Submitted, ChangeKind::Started, ChangeKind::Finished, ChangeKind::Withdrawn]
            [rng.below(4) as usize];
        c.change(&rng.id(), what);
    }
    let mut map: BTreeMap<String, (f64, Option<Interval>)> = BTreeMap::new();
    for _ in 0..rng.below(12) {
        let (id, v) = (rng.id(), rng.float());
        let lo = rng.below(1000) as f64 / 3.0;
        let interval = (rng.below(3) == 0).then(|| Interval::new(lo, lo + rng.below(1000) as f64 / 7.0).unwrap());
        if rng.below(2) == 0 {
            c.predict(&id, v, interval);
            map.insert(id, (v, interval));
        } else {
            c.predict_if_absent(&id, v, interval);
            map.entry(id).or_insert((v, interval));
        }
    }
    map.retain(|_, v| v.0.is_finite());
    let intervals = map.iter().filter_map(|(k, v)| v.1.map(|i| (k.clone(), i))).collect();
    let map = map.into_iter().map(|(k, v)| (k, v.0)).collect();
    c.seal();
    let ids = &mut c.ids;
    summary(rng, &mut c.actual, ids);
    summary(rng, &mut c.baseline, ids);
    summary(rng, &mut c.candidate, ids);
    c.source = if rng.below(2) == 0 { Source::Candidate } else { Source::Fallback };
    c.fallback_reason = (rng.below(2) == 0).then(|| "model error: \"x\"".to_string());
    c.model_version = (rng.below(2) == 0).then(|| format!("v{}", rng.below(9)));
    c.latency_us = rng.next();
    (map, intervals)
}

#[test]
fn encodes_exactly_the_bytes_serde_json_writes_for_the_record() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // one value kept across records: cleared, not rebuilt
    let mut c = CompactCycle::default();
    let mut out = Vec::new();
    for i in 0..2_000 {
        let (map, intervals) = random_cycle(&mut rng, &mut c);
        let record = c.to_record();
        assert_eq!(record.predictions, map, "record {i}");
        assert_eq!(record.intervals, intervals, "record {i}");
        let (seq, ts) = (rng.next(), rng.float());
        out.clear();
        c.encode(seq, ts, &mut out);
        let want = serde_json::to_vec(&Record { seq, ts_unix_s: ts, body: Body::Cycle(record) }).unwrap();
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&want), "record {i}");
    }
}

#[test]
fn an_empty_record_encodes_as_serde_json_does() {
    let c = CompactCycle::default();
    let mut out = Vec::new();
    c.encode(0, 0.0, &mut out);
    let want = serde_json::to_vec(&Record { seq: 0, ts_unix_s: 0.0, body: Body::Cycle(c.to_record()) }).unwrap();
    assert_eq!(out, want);
}

#[test]
fn a_node_repeated_in_a_row_is_named_once() {
    let mut c = CompactCycle::default();
    c.baseline.start(&mut c.ids, "7");
    for n in ["n1", "n1", "n2", "n1"] {
        c.baseline.node(&mut c.ids, n);
    }
    c.baseline.start(&mut c.ids, "8");
    c.baseline.node(&mut c.ids, "n1");
    let d = c.to_record().baseline.unwrap();
    assert_eq!(d.start[0].nodes, ["n1", "n2", "n1"]);
    assert_eq!(d.start[1].nodes, ["n1"], "a new start's first node is its own");
}
