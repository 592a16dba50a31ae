//! The thread the candidate policy decides on, kept from cycle to cycle.
//!
//! The baseline decides on the cycle's own thread while the candidate
//! decides here, on the candidate's state handed over for the decision and
//! handed back with it. A thread started anew every cycle would cost its
//! creation each time and, on a busy machine, wait behind the running
//! processes before it first runs (the scheduler queues a new thread
//! behind them); a kept thread that wakes from its sleep is run at once.

use foresight_core::policy::{Decision, Policy};
use foresight_core::state::ClusterState;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A state to decide on, and the time.
type Ask = (ClusterState, f64);

/// The state handed back, the decision and how long it took.
pub type Answer = (ClusterState, Decision, Duration);

/// A policy deciding on its own kept thread.
pub struct DecideWorker {
    name: String,
    asks: Option<Sender<Ask>>,
    answers: Receiver<Answer>,
    thread: Option<JoinHandle<()>>,
}

impl DecideWorker {
    /// Starts the thread `policy` will decide on.
    pub fn new(mut policy: Box<dyn Policy>) -> Self {
        let name = policy.name().to_string();
        let (asks, asked) = channel::<Ask>();
        let (tell, answers) = channel::<Answer>();
        let thread = std::thread::Builder::new()
            .name("candidate-policy".into())
            .spawn(move || {
                for (state, now) in asked {
                    let from = Instant::now();
                    let decision = policy.decide(&state, now);
                    if tell.send((state, decision, from.elapsed())).is_err() {
                        break;
                    }
                }
            })
            .expect("start the candidate policy's thread");
        Self { name, asks: Some(asks), answers, thread: Some(thread) }
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Hands `state` to the policy to decide on at `now`; [`Self::answer`]
    /// gives it back with the decision.
    pub fn ask(&self, state: ClusterState, now: f64) {
        let sent = self.asks.as_ref().is_some_and(|a| a.send((state, now)).is_ok());
        assert!(sent, "the candidate policy panicked");
    }

    /// The answer to the last [`Self::ask`], waiting for it.
    pub fn answer(&self) -> Answer {
        self.answers.recv().expect("the candidate policy panicked")
    }
}

impl Drop for DecideWorker {
    fn drop(&mut self) {
        // closing the channel ends the thread's loop
        self.asks = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use foresight_core::policy::PolicySpec;
    use foresight_core::state::PendingJob;
    use foresight_core::{Cluster, NodeSpec, Resources};

    #[test]
    fn decides_as_the_policy_on_the_callers_thread_and_hands_the_state_back() {
        let spec: PolicySpec = "easy++".parse().unwrap();
        let cluster = Cluster { nodes: vec![NodeSpec { name: "n1".into(), capacity: Resources::new(4, 0, 0), gpu_type: None }] };
        let mut state = ClusterState::new(&cluster, 3600.0);
        for key in 1..4 {
            let info = crate::model::tests::info(key, 60.0);
            state.submit(PendingJob { info, estimate_s: 60.0 }).unwrap();
        }
        let want = spec.build().decide(&state, 10.0);
        let worker = DecideWorker::new(Box::new(spec.build()));
        assert_eq!(worker.name(), "easy++");
        for _ in 0..2 {
            worker.ask(state, 10.0);
            let (back, got, _) = worker.answer();
            assert_eq!(got, want);
            state = back;
        }
        assert_eq!(state.pending().len(), 3, "the state comes back as it went");
    }
}
