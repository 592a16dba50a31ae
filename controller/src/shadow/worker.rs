//! The candidate's scheduler runtime, on a thread kept from cycle to cycle.
//!
//! The candidate's runtime (its state, policy and model) lives on its own
//! thread: each cycle hands it the cycle's inputs and asks for a decision,
//! while the baseline decides on the cycle's own thread; the cycle waits
//! for the answer no longer than its deadline. A late answer is dropped,
//! but its inputs were applied: the runtime misses nothing. A model
//! reloaded while a call is under way is swapped in after it, in order,
//! never dropped; every answer names the model version that served it.
//!
//! A panic is caught here. One while the inputs are applied (the model's)
//! may leave the state half changed: the runtime is dropped, to be built
//! anew from what the controller tracks. One while deciding leaves the
//! state as it was (a policy only reads it): a fresh policy takes the
//! place of the old one. Either way the answer says so, and the cycle
//! falls back to the baseline.
//!
//! A thread kept from cycle to cycle, rather than one started per cycle,
//! is run at once when it wakes; a new thread waits behind the running
//! processes on a busy machine before it first runs.

use super::feed::Fed;
use crate::breaker::Failure;
use foresight_core::policy::{Decision, Policy};
use foresight_core::predictor::Predictor;
use foresight_core::runtime::{Observed, Runtime};
use foresight_core::state::JobKey;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Sender, channel};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The candidate's runtime: a policy and the model's predictor.
pub type CandidateRuntime = Runtime<Box<dyn Policy>, Box<dyn Predictor>>;

/// Makes a fresh candidate policy (after one panicked).
pub type PolicyFactory = Box<dyn Fn() -> Box<dyn Policy> + Send>;

/// What the candidate's thread is asked to do.
enum Ask {
    Cycle { inputs: Vec<Fed>, now: f64, reply: oneshot::Sender<Answer> },
    Install { runtime: Box<CandidateRuntime>, version: String },
    Swap { predictor: Box<dyn Predictor>, version: String },
}

/// The candidate's answer to one cycle.
#[derive(Debug, Default)]
pub struct Answer {
    /// The estimates the jobs submitted this cycle were given.
    pub estimates: Vec<(JobKey, f64)>,
    /// The decision (`None` when the queue is empty or it failed).
    pub decision: Option<Decision>,
    /// The model version that served the cycle.
    pub version: String,
    /// Estimates the model gave that were NaN or negative.
    pub unusable: u64,
    /// The time the thread spent on it.
    pub took: Duration,
    /// Why it failed, when it did.
    pub failure: Option<Failure>,
    /// The runtime was dropped: build it anew before the next cycle.
    pub lost: bool,
}

/// The candidate's runtime on its kept thread.
pub struct CandidateWorker {
    asks: Sender<Ask>,
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// One cycle on the runtime `rt` (if any).
fn cycle(rt: &mut Option<Box<CandidateRuntime>>, make: &PolicyFactory, version: &str, inputs: &[Fed], now: f64) -> Answer {
    let from = Instant::now();
    let mut answer = Answer { version: version.to_string(), ..Answer::default() };
    let Some(r) = rt.as_mut() else {
        answer.failure = Some(Failure::ModelMissing("the candidate has no runtime yet".into()));
        answer.lost = true;
        return answer;
    };
    let before = r.stats().unusable_estimates;
    let fed = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut made = Vec::new();
        for f in inputs {
            // a restored estimate was made and logged before
            if let (Some(e), Fed::Submitted { info, .. }) = (f.apply(&mut **r, now, true)?, f) {
                made.push((info.key, e));
            }
        }
        Ok::<_, foresight_core::state::StateError>(made)
    }));
    match fed {
        Err(panic) => {
            answer.failure = Some(Failure::Panic(format!("the model panicked: {}", panic_text(&*panic))));
            answer.lost = true;
            *rt = None;
        }
        Ok(Err(refused)) => {
            answer.failure = Some(Failure::ModelError(format!("the candidate's state refused an input ({refused}); rebuilt")));
            answer.lost = true;
            *rt = None;
        }
        Ok(Ok(made)) => {
            answer.estimates = made;
            answer.unusable = r.stats().unusable_estimates - before;
            match std::panic::catch_unwind(AssertUnwindSafe(|| r.decide(now, &Observed).cloned())) {
                Ok(decision) => answer.decision = decision,
                Err(panic) => {
                    answer.failure = Some(Failure::Panic(format!("the candidate panicked while deciding: {}", panic_text(&*panic))));
                    r.replace_policy(make());
                }
            }
        }
    }
    answer.took = from.elapsed();
    answer
}

impl CandidateWorker {
    /// Starts the candidate's thread; `make` makes its policy anew after a
    /// panic. It has no runtime until one is installed.
    pub fn new(make: PolicyFactory) -> Self {
        let (asks, asked) = channel::<Ask>();
        std::thread::Builder::new()
            .name("candidate".into())
            .spawn(move || {
                let mut rt: Option<Box<CandidateRuntime>> = None;
                let mut version = String::new();
                for ask in asked {
                    match ask {
                        Ask::Install { runtime, version: v } => {
                            rt = Some(runtime);
                            version = v;
                        }
                        Ask::Swap { predictor, version: v } => {
                            if let Some(r) = rt.as_mut() {
                                *r.predictor_mut() = predictor;
                                version = v;
                            }
                        }
                        Ask::Cycle { inputs, now, reply } => {
                            let _ = reply.send(cycle(&mut rt, &make, &version, &inputs, now));
                        }
                    }
                }
            })
            .expect("start the candidate's thread");
        Self { asks }
    }

    /// Hands the thread a runtime serving model `version`, replacing any.
    pub fn install(&self, runtime: CandidateRuntime, version: String) {
        let _ = self.asks.send(Ask::Install { runtime: Box::new(runtime), version });
    }

    /// Serves a reloaded model from the next cycle on (after any cycle under
    /// way).
    pub fn swap(&self, predictor: Box<dyn Predictor>, version: String) {
        let _ = self.asks.send(Ask::Swap { predictor, version });
    }

    /// Applies `inputs` at `now` and decides; the answer comes on the
    /// returned channel.
    pub fn ask(&self, inputs: Vec<Fed>, now: f64) -> oneshot::Receiver<Answer> {
        let (reply, answer) = oneshot::channel();
        if let Err(e) = self.asks.send(Ask::Cycle { inputs, now, reply }) {
            if let Ask::Cycle { reply, .. } = e.0 {
                let failure = Some(Failure::Panic("the candidate's thread is gone".into()));
                let _ = reply.send(Answer { failure, lost: true, ..Answer::default() });
            }
        }
        answer
    }
}
