//! The candidate's scheduler runtime, lent to a blocking thread for each
//! cycle.
//!
//! Each cycle hands the candidate's runtime (its state, policy and model)
//! and the cycle's inputs to tokio's blocking pool, whose threads are kept
//! between calls, while the baseline decides on the cycle's own thread; the
//! cycle waits for the answer no longer than its deadline. A late call
//! keeps the runtime until it returns: the cycles meanwhile hold their
//! inputs, and the runtime, when it is back, gets them all, in order, so it
//! misses nothing; the late answer's estimates are still taken in. A model
//! reloaded while a call is under way is swapped in when the runtime is
//! back, never dropped; every answer names the model version that served
//! it. (tokio's paused clock does not run ahead while a blocking call is
//! under way, so tests drive all of this with `tokio::time::pause`.)
//!
//! A panic is caught on the blocking thread. One while the inputs are
//! applied (the model's) may leave the state half changed: the runtime is
//! dropped, to be built anew from what the controller tracks. One while
//! deciding leaves the state as it was (a policy only reads it): a fresh
//! policy takes the place of the old one. Either way the answer says so,
//! and the cycle falls back to the baseline.

use super::feed::Fed;
use crate::breaker::Failure;
use foresight_core::policy::{Decision, Policy};
use foresight_core::predictor::{Interval, Predictor};
use foresight_core::runtime::{Observed, Runtime};
use foresight_core::state::JobKey;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// The candidate's runtime: a policy and the model's predictor.
pub type CandidateRuntime = Runtime<Box<dyn Policy>, Box<dyn Predictor>>;

/// Makes a fresh candidate policy (after one panicked).
pub type PolicyFactory = Arc<dyn Fn() -> Box<dyn Policy> + Send + Sync>;

/// The candidate's answer to one cycle.
#[derive(Debug, Default)]
pub struct Answer {
    /// The estimates the jobs submitted this cycle were given, each with
    /// the interval the model gave beside it (asked at once, before the
    /// next input), if any.
    pub estimates: Vec<(JobKey, f64, Option<Interval>)>,
    /// The decision (`None` when the queue is empty or it failed).
    pub decision: Option<Decision>,
    /// The model version that served the cycle.
    pub version: String,
    /// Estimates the model gave that were NaN or negative.
    pub unusable: u64,
    /// The time the call took on its thread.
    pub took: Duration,
    /// Why it failed, when it did.
    pub failure: Option<Failure>,
}

/// A runtime and the version of the model it serves.
struct Served {
    rt: Box<CandidateRuntime>,
    version: String,
}

/// What a call gives back: the runtime (unless it was lost) and the answer.
type Returned = (Option<Served>, Answer);

/// Where the candidate's runtime is.
enum Slot {
    /// Here, ready for a call.
    Idle(Served),
    /// Lent to a call under way.
    Busy(JoinHandle<Returned>),
    /// None: build one (at the start, or after a part failed).
    Lost,
}

/// The candidate: its runtime, and the reload waiting for it.
pub struct Candidate {
    slot: Slot,
    make_policy: PolicyFactory,
    swap: Option<(Box<dyn Predictor>, String)>,
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// One call on the blocking thread: apply `inputs` at `now`, then decide.
fn call(mut served: Served, make: &PolicyFactory, inputs: &[Fed], now: f64) -> Returned {
    let from = Instant::now();
    let mut answer = Answer { version: served.version.clone(), ..Answer::default() };
    let r = &mut served.rt;
    let before = r.stats().unusable_estimates;
    let fed = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut made = Vec::new();
        for f in inputs {
            // a restored estimate was made and logged before
            if let (Some(e), Fed::Submitted { info, .. }) = (f.apply(&mut **r, now, true)?, f) {
                // a hand-made interval that is not finite and in order is
                // dropped: the log could not read it back
                let interval = r.predictor_mut().interval(info, e).and_then(|i| Interval::new(i.lo_s, i.hi_s));
                made.push((info.key, e, interval));
            }
        }
        Ok::<_, foresight_core::state::StateError>(made)
    }));
    let kept = match fed {
        Err(panic) => {
            answer.failure = Some(Failure::Panic(format!("the model panicked: {}", panic_text(&*panic))));
            None
        }
        Ok(Err(refused)) => {
            answer.failure =
                Some(Failure::ModelError(format!("the candidate's state refused an input ({refused}); rebuilt")));
            None
        }
        Ok(Ok(made)) => {
            answer.estimates = made;
            answer.unusable = r.stats().unusable_estimates - before;
            match std::panic::catch_unwind(AssertUnwindSafe(|| r.decide(now, &Observed).cloned())) {
                Ok(decision) => answer.decision = decision,
                Err(panic) => {
                    answer.failure =
                        Some(Failure::Panic(format!("the candidate panicked while deciding: {}", panic_text(&*panic))));
                    r.replace_policy(make());
                }
            }
            Some(served)
        }
    };
    answer.took = from.elapsed();
    (kept, answer)
}

/// A call of the cycle: its answer later, if it misses the deadline.
pub enum Asked {
    /// The answer, in time (or at once: a failure).
    Answered(Answer),
    /// Under way past the deadline.
    Late,
}

impl Candidate {
    /// A candidate with no runtime yet; `make_policy` makes its policies.
    pub fn new(make_policy: PolicyFactory) -> Self {
        Self { slot: Slot::Lost, make_policy, swap: None }
    }

    /// True when it has no runtime and needs one built.
    pub fn lost(&self) -> bool {
        matches!(self.slot, Slot::Lost)
    }

    /// True while a late call has the runtime.
    pub fn busy(&self) -> bool {
        matches!(self.slot, Slot::Busy(_))
    }

    /// Drops the runtime (the cluster changed shape, or too much was held).
    pub fn lose(&mut self) {
        if let Slot::Busy(h) = std::mem::replace(&mut self.slot, Slot::Lost) {
            h.abort();
        }
    }

    /// Installs a runtime built anew, serving model `version`.
    pub fn install(&mut self, rt: CandidateRuntime, version: String) {
        self.lose();
        self.swap = None;
        self.slot = Slot::Idle(Served { rt: Box::new(rt), version });
    }

    /// Serves a reloaded model from the next call on (the current one, if
    /// any, finishes with the model it had).
    pub fn swap(&mut self, predictor: Box<dyn Predictor>, version: String) {
        self.swap = Some((predictor, version));
    }

    /// Takes back the runtime from a late call that has ended, and its
    /// answer; `None` while it runs (or when there is none).
    pub async fn take_late(&mut self) -> Option<Answer> {
        let Slot::Busy(h) = &self.slot else {
            return None;
        };
        if !h.is_finished() {
            return None;
        }
        let Slot::Busy(h) = std::mem::replace(&mut self.slot, Slot::Lost) else { unreachable!() };
        Some(self.returned(h.await))
    }

    /// Waits for a late call to end (at shutdown, or in a test) and takes
    /// back its runtime; its answer, if there was one.
    pub async fn settle(&mut self) -> Option<Answer> {
        let Slot::Busy(_) = &self.slot else {
            return None;
        };
        let Slot::Busy(h) = std::mem::replace(&mut self.slot, Slot::Lost) else { unreachable!() };
        Some(self.returned(h.await))
    }

    fn returned(&mut self, r: Result<Returned, tokio::task::JoinError>) -> Answer {
        match r {
            Ok((kept, answer)) => {
                self.slot = kept.map_or(Slot::Lost, Slot::Idle);
                answer
            }
            Err(e) => {
                self.slot = Slot::Lost;
                Answer {
                    failure: Some(Failure::Panic(format!("the candidate's call failed: {e}"))),
                    ..Answer::default()
                }
            }
        }
    }

    /// Lends the runtime to a blocking thread to apply `inputs` at `now`
    /// and decide; [`Candidate::wait`] waits for the answer. False (and
    /// nothing started) when the runtime is not here (lost, or busy).
    pub fn start(&mut self, inputs: Vec<Fed>, now: f64) -> bool {
        let Slot::Idle(mut served) = std::mem::replace(&mut self.slot, Slot::Lost) else {
            return false;
        };
        if let Some((predictor, version)) = self.swap.take() {
            *served.rt.predictor_mut() = predictor;
            served.version = version;
        }
        let make = self.make_policy.clone();
        self.slot = Slot::Busy(tokio::task::spawn_blocking(move || call(served, &make, &inputs, now)));
        true
    }

    /// The answer of the call [`Candidate::start`] started, waited for no
    /// longer than `deadline`; past it the call goes on, late.
    pub async fn wait(&mut self, deadline: Duration) -> Asked {
        let Slot::Busy(h) = &mut self.slot else {
            let failure = Some(Failure::ModelMissing("the candidate has no runtime".into()));
            return Asked::Answered(Answer { failure, ..Answer::default() });
        };
        match tokio::time::timeout(deadline, h).await {
            Ok(r) => Asked::Answered(self.returned(r)),
            Err(_) => Asked::Late,
        }
    }
}
