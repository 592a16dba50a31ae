//! One line of text per record, for `foresight log`.

use super::record::{Body, Record, Source};
use std::fmt::Write;

fn ids(list: &[&str]) -> String {
    if list.is_empty() { "-".to_string() } else { list.join(",") }
}

/// A one-line, human-readable rendering of a record.
pub fn line(r: &Record) -> String {
    let mut s = format!("#{:<6} {:>14.3} {:<8} ", r.seq, r.ts_unix_s, r.body.kind());
    let _ = match &r.body {
        Body::Start(st) => write!(
            s,
            "mode={} policy={} baseline={} model={} orchestrator={} resumed={} torn_bytes_dropped={}",
            st.mode,
            st.policy,
            st.baseline,
            st.model_version.as_deref().unwrap_or("-"),
            st.orchestrator,
            st.resumed,
            st.torn_bytes_dropped
        ),
        Body::Cycle(c) => {
            // the job id as the orchestrator wrote it (ids may have capitals)
            let changes: Vec<String> = c.changes.iter().map(|ch| format!("{}:{}", ch.job_id, ch.what.as_str())).collect();
            let started = |d: &Option<super::DecisionSummary>| d.as_ref().map_or("n/a".to_string(), |d| ids(&d.started_ids()));
            let source = match c.source {
                Source::Candidate => "candidate".to_string(),
                Source::Fallback => format!("fallback({})", c.fallback_reason.as_deref().unwrap_or("?")),
            };
            write!(
                s,
                "cycle={} trigger={} pending={} running={} changes=[{}] actual={} baseline={} candidate={} source={} predictions={} latency_us={}",
                c.cycle,
                c.trigger,
                c.observed.pending,
                c.observed.running,
                changes.join(" "),
                started(&c.actual),
                started(&c.baseline),
                started(&c.candidate),
                source,
                c.predictions.len(),
                c.latency_us
            )
        }
        Body::Finished(f) => {
            let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
            write!(
                s,
                "job={} runtime_s={:.1} predicted_s={} error_s={} counterfactual_s={}",
                f.job_id,
                f.runtime_s,
                opt(f.predicted_runtime_s),
                opt(f.error_s),
                opt(f.counterfactual_delta_s)
            )
        }
        Body::Breaker(b) => write!(s, "{} -> {}: {}", b.from, b.to, b.reason),
        Body::Outage(o) if o.reachable => write!(s, "orchestrator back after {:.1} s", o.down_s.unwrap_or(0.0)),
        Body::Outage(o) => write!(s, "orchestrator unreachable: {}", o.error.as_deref().unwrap_or("?")),
        Body::Model(m) => match (&m.version, &m.error) {
            (Some(v), _) => write!(s, "loaded {} version {v}", m.path),
            (None, e) => write!(s, "could not load {}: {}", m.path, e.as_deref().unwrap_or("?")),
        },
        Body::Stop(st) => write!(s, "reason={} cycles={}", st.reason, st.cycles),
        Body::Mode(m) if m.accepted => write!(s, "{} -> {} by {}", m.from, m.to, m.by),
        Body::Mode(m) => {
            write!(s, "refused {} -> {} by {}: {}", m.from, m.to, m.by, m.reason.as_deref().unwrap_or("?"))
        }
        Body::Action(a) => {
            let what = match a.act {
                super::Act::Gate { lease_s } => format!("gate lease_s={lease_s}"),
                super::Act::Lift => "lift".to_string(),
                super::Act::SiteFactor { value } => format!("site_factor={value}"),
            };
            write!(s, "id={} {what} jobs={} why={}", a.id, a.job_ids.join(","), a.why)
        }
        Body::Outcome(o) => write!(
            s,
            "id={} ok={}{}{}",
            o.id,
            o.ok,
            if o.reconciled { " reconciled" } else { "" },
            o.error.as_deref().map(|e| format!(" error={e}")).unwrap_or_default()
        ),
        Body::Advice(a) => {
            write!(s, "job={} {:?}{}", a.job_id, a.verdict, a.by.as_deref().map(|b| format!(" by {b}")).unwrap_or_default())
        }
    };
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::record::{BreakerRecord, Change, ChangeKind, CycleRecord, Observed};

    #[test]
    fn renders_a_breaker_record() {
        let r = Record {
            seq: 4,
            ts_unix_s: 10.0,
            body: Body::Breaker(BreakerRecord { from: "closed".into(), to: "open".into(), reason: "model error: x".into() }),
        };
        assert_eq!(line(&r), "#4              10.000 breaker  closed -> open: model error: x");
    }

    #[test]
    fn a_cycle_shows_job_ids_as_written() {
        let change = |id: &str, what| Change { job_id: id.into(), what };
        let c = CycleRecord {
            cycle: 2,
            trigger: "timer".into(),
            observed_at_unix_s: 10.0,
            observed: Observed { nodes: 1, pending: 1, running: 1, free_cpus: 0 },
            changes: vec![change("Job-A7", ChangeKind::Submitted), change("12_3", ChangeKind::Started)],
            actual: None,
            baseline: None,
            candidate: None,
            source: Source::Candidate,
            fallback_reason: None,
            predictions: Default::default(),
            intervals: Default::default(),
            model_version: None,
            latency_us: 5,
        };
        let text = line(&Record { seq: 7, ts_unix_s: 10.0, body: Body::Cycle(c) });
        assert!(text.contains("changes=[Job-A7:submitted 12_3:started]"), "{text}");
    }
}
