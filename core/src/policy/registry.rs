//! Policy names: presets (`fcfs`, `easy`, `easy++`, `foresight`, `sjbf`,
//! `conservative`, `qssf`, `sjf`, `fairshare`, `fairshare-group`,
//! `priority`, `edf`) and
//! compositions of parts separated by `/` (`qssf/conservative/best-fit`):
//! the first name is a preset, each later one replaces a part. `priority`
//! takes Slurm's multifactor weights in brackets:
//! `priority[age=100,size=1000,fairshare=0]/conservative`. Backfill parts:
//! `none`, `easy`, `conservative`, `conservative-nodes` (reservations take
//! whole nodes, as Slurm's backfill plans them) and `protected`.

use super::backfill::{Backfill, CandidateOrder};
use super::composed::ComposedPolicy;
use super::order::{PriorityWeights, QueueOrder, ShareBy};
use super::placement::Placement;
use crate::predictor::PredictorKind;
use std::fmt;
use std::str::FromStr;

/// A parsed policy name: its parts and the predictor it goes with unless
/// the caller chooses another.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySpec {
    /// The name as given (lowercase).
    pub name: String,
    /// Queue order.
    pub order: QueueOrder,
    /// Backfilling rule.
    pub backfill: Backfill,
    /// Backfill candidate order.
    pub candidates: CandidateOrder,
    /// Placement.
    pub placement: Placement,
    /// The predictor used when none is chosen.
    pub predictor: PredictorKind,
}

/// The error of parsing a policy name that is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPolicy {
    /// The part of the name that is not understood.
    pub part: String,
    /// What was wrong with it, when it named a policy but its settings
    /// were not understood (`None`: no such policy or part).
    pub why: Option<String>,
}

impl UnknownPolicy {
    fn part(part: &str) -> Self {
        Self { part: part.to_string(), why: None }
    }
}

impl fmt::Display for UnknownPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.why {
            Some(why) => write!(f, "policy part `{}`: {why}", self.part),
            None => {
                write!(f, "unknown policy or part `{}` (expected one of {})", self.part, PolicySpec::PRESETS.join(", "))
            }
        }
    }
}

/// Slurm's multifactor weights written after `priority` (or
/// `multifactor`) in brackets, `priority[age=100,size=1000,fairshare=0]`:
/// `age`, `size` and `fairshare` are `PriorityWeightAge`,
/// `PriorityWeightJobSize` and `PriorityWeightFairshare`, `max-age` is
/// `PriorityMaxAge` in seconds, and `favor-small` sets
/// `PriorityFavorSmall`. A weight not given keeps its default
/// ([`PriorityWeights::default`]). `None` when `part` is not a priority
/// order; an error when its brackets do not parse.
fn priority_order(part: &str) -> Option<Result<QueueOrder, UnknownPolicy>> {
    let (name, params) = match part.split_once('[') {
        Some((name, rest)) => (name, Some(rest)),
        None => (part, None),
    };
    if name != "priority" && name != "multifactor" {
        return None;
    }
    let mut w = PriorityWeights::default();
    let Some(rest) = params else { return Some(Ok(QueueOrder::Priority(w))) };
    let bad = |why: String| UnknownPolicy { part: part.to_string(), why: Some(why) };
    let Some(body) = rest.strip_suffix(']') else {
        return Some(Err(bad("no `]` closes the weights".into())));
    };
    for item in body.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        if item == "favor-small" {
            w.favor_small = true;
            continue;
        }
        let Some((key, value)) = item.split_once('=') else {
            return Some(Err(bad(format!("`{item}` is not KEY=VALUE"))));
        };
        let value = match value.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => v,
            _ => return Some(Err(bad(format!("`{key}` must be a number of at least 0, not `{value}`")))),
        };
        match key.trim() {
            "age" => w.age = value,
            "size" => w.size = value,
            "fairshare" => w.fairshare = value,
            "max-age" if value > 0.0 => w.max_age_s = value,
            "max-age" => return Some(Err(bad("`max-age` must be above 0 seconds".into()))),
            other => {
                return Some(Err(bad(format!(
                    "unknown weight `{other}` (expected age, size, fairshare, max-age or favor-small)"
                ))));
            }
        }
    }
    Some(Ok(QueueOrder::Priority(w)))
}

impl std::error::Error for UnknownPolicy {}

impl PolicySpec {
    /// The preset names.
    pub const PRESETS: [&'static str; 12] = [
        "fcfs",
        "easy",
        "easy++",
        "foresight",
        "sjbf",
        "conservative",
        "qssf",
        "sjf",
        "fairshare",
        "fairshare-group",
        "priority",
        "edf",
    ];

    /// The policy object.
    pub fn build(&self) -> ComposedPolicy {
        ComposedPolicy::new(self.name.clone(), self.order, self.backfill, self.candidates, self.placement)
    }

    fn preset(name: &str) -> Option<PolicySpec> {
        use PredictorKind::{Requested, UserHistory};
        let (order, backfill, candidates, predictor) = match name {
            "fcfs" => (QueueOrder::Fcfs, Backfill::None, CandidateOrder::Queue, Requested),
            "easy" => (QueueOrder::Fcfs, Backfill::Easy, CandidateOrder::Queue, Requested),
            "easy++" => (QueueOrder::Fcfs, Backfill::Easy, CandidateOrder::ShortestFirst, UserHistory),
            // EASY++ with a protected head; its predictor in the CLI is
            // foresight's online model (core builds only user history)
            "foresight" => (QueueOrder::Fcfs, Backfill::Protected, CandidateOrder::ShortestFirst, UserHistory),
            "sjbf" => (QueueOrder::Fcfs, Backfill::Easy, CandidateOrder::ShortestFirst, Requested),
            "conservative" => (QueueOrder::Fcfs, Backfill::Conservative, CandidateOrder::Queue, Requested),
            "qssf" => (QueueOrder::Qssf, Backfill::Easy, CandidateOrder::Queue, UserHistory),
            "sjf" => (QueueOrder::ShortestFirst, Backfill::Easy, CandidateOrder::Queue, UserHistory),
            "fairshare" => (QueueOrder::FairShare(ShareBy::User), Backfill::Easy, CandidateOrder::Queue, Requested),
            "fairshare-group" => {
                (QueueOrder::FairShare(ShareBy::Group), Backfill::Easy, CandidateOrder::Queue, Requested)
            }
            "priority" | "multifactor" => {
                (QueueOrder::Priority(PriorityWeights::default()), Backfill::Easy, CandidateOrder::Queue, Requested)
            }
            // least slack first (deadline - now - estimate), EASY backfill,
            // estimates from the users' history
            "edf" | "slack" => (QueueOrder::Slack, Backfill::Easy, CandidateOrder::Queue, UserHistory),
            _ => return None,
        };
        Some(PolicySpec { name: name.to_string(), order, backfill, candidates, placement: Placement::FirstFit, predictor })
    }

    fn apply(&mut self, part: &str) -> Result<(), UnknownPolicy> {
        if let Some(order) = priority_order(part) {
            self.order = order?;
            return Ok(());
        }
        match part {
            "fcfs" => self.order = QueueOrder::Fcfs,
            "sjf" => self.order = QueueOrder::ShortestFirst,
            "qssf" => self.order = QueueOrder::Qssf,
            "fairshare" => self.order = QueueOrder::FairShare(ShareBy::User),
            "fairshare-group" => self.order = QueueOrder::FairShare(ShareBy::Group),
            "edf" | "slack" => self.order = QueueOrder::Slack,
            "none" | "no-backfill" => self.backfill = Backfill::None,
            "easy" => self.backfill = Backfill::Easy,
            "conservative" => self.backfill = Backfill::Conservative,
            "conservative-nodes" => self.backfill = Backfill::ConservativeNodes,
            "protected" => self.backfill = Backfill::Protected,
            "sjbf" => self.candidates = CandidateOrder::ShortestFirst,
            "queue-order" => self.candidates = CandidateOrder::Queue,
            "first-fit" => self.placement = Placement::FirstFit,
            "best-fit" => self.placement = Placement::BestFit,
            _ => return Err(UnknownPolicy::part(part)),
        }
        Ok(())
    }
}

impl FromStr for PolicySpec {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().to_ascii_lowercase();
        let mut parts = name.split('/');
        let first = parts.next().unwrap_or_default();
        let mut spec = match priority_order(first) {
            // `priority[...]`: the preset with the weights given
            Some(order) => PolicySpec { order: order?, ..PolicySpec::preset("priority").expect("a preset") },
            None => PolicySpec::preset(first).ok_or_else(|| UnknownPolicy::part(first))?,
        };
        for part in parts {
            spec.apply(part)?;
        }
        spec.name = name;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_compositions_parse() {
        for p in PolicySpec::PRESETS {
            assert_eq!(p.parse::<PolicySpec>().unwrap().name, p);
        }
        let s: PolicySpec = "QSSF/conservative/best-fit".parse().unwrap();
        assert_eq!((s.order, s.backfill, s.placement), (QueueOrder::Qssf, Backfill::Conservative, Placement::BestFit));
        assert_eq!("easy++".parse::<PolicySpec>().unwrap().predictor, PredictorKind::UserHistory);
        assert!("easy/wat".parse::<PolicySpec>().unwrap_err().to_string().contains("`wat`"));
    }

    #[test]
    fn priority_weights_in_brackets_set_slurms_multifactor_weights() {
        let s: PolicySpec = "priority[age=100, size=1000,fairshare=0,max-age=3600]/conservative".parse().unwrap();
        let want = PriorityWeights { age: 100.0, size: 1000.0, fairshare: 0.0, max_age_s: 3600.0, favor_small: false };
        assert_eq!((s.order, s.backfill), (QueueOrder::Priority(want), Backfill::Conservative));
        // as a later part, and with a weight left at its default
        let s: PolicySpec = "easy/multifactor[size=5,favor-small]".parse().unwrap();
        let want = PriorityWeights { size: 5.0, favor_small: true, ..PriorityWeights::default() };
        assert_eq!(s.order, QueueOrder::Priority(want));
        assert_eq!("priority[]".parse::<PolicySpec>().unwrap().order, "priority".parse::<PolicySpec>().unwrap().order);
        for (bad, says) in [
            ("priority[age=1", "no `]`"),
            ("priority[age]", "not KEY=VALUE"),
            ("priority[age=-1]", "at least 0"),
            ("priority[size=x]", "`size` must be a number"),
            ("priority[max-age=0]", "above 0"),
            ("easy/priority[wat=1]", "unknown weight `wat`"),
        ] {
            let e = bad.parse::<PolicySpec>().unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert!("fcfs[age=1]".parse::<PolicySpec>().is_err());
    }
}
