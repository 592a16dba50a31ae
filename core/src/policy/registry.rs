//! Policy names: presets (`fcfs`, `easy`, `easy++`, `foresight`, `sjbf`,
//! `conservative`, `qssf`, `sjf`, `fairshare`, `fairshare-group`,
//! `priority`, `edf`) and
//! compositions of parts separated by `/` (`qssf/conservative/best-fit`):
//! the first name is a preset, each later one replaces a part.

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
pub struct UnknownPolicy(pub String);

impl fmt::Display for UnknownPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown policy or part `{}` (expected one of {})", self.0, PolicySpec::PRESETS.join(", "))
    }
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

    fn apply(&mut self, part: &str) -> bool {
        match part {
            "fcfs" => self.order = QueueOrder::Fcfs,
            "sjf" => self.order = QueueOrder::ShortestFirst,
            "qssf" => self.order = QueueOrder::Qssf,
            "priority" | "multifactor" => self.order = QueueOrder::Priority(PriorityWeights::default()),
            "fairshare" => self.order = QueueOrder::FairShare(ShareBy::User),
            "fairshare-group" => self.order = QueueOrder::FairShare(ShareBy::Group),
            "edf" | "slack" => self.order = QueueOrder::Slack,
            "none" | "no-backfill" => self.backfill = Backfill::None,
            "easy" => self.backfill = Backfill::Easy,
            "conservative" => self.backfill = Backfill::Conservative,
            "protected" => self.backfill = Backfill::Protected,
            "sjbf" => self.candidates = CandidateOrder::ShortestFirst,
            "queue-order" => self.candidates = CandidateOrder::Queue,
            "first-fit" => self.placement = Placement::FirstFit,
            "best-fit" => self.placement = Placement::BestFit,
            _ => return false,
        }
        true
    }
}

impl FromStr for PolicySpec {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().to_ascii_lowercase();
        let mut parts = name.split('/');
        let first = parts.next().unwrap_or_default();
        let mut spec = PolicySpec::preset(first).ok_or_else(|| UnknownPolicy(first.to_string()))?;
        for part in parts {
            if !spec.apply(part) {
                return Err(UnknownPolicy(part.to_string()));
            }
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
}
