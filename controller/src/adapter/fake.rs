//! A scripted fake orchestrator, for unit tests only: it plays back a list
//! of views (or errors) and records the actions it is asked for.

use super::{Action, AdapterError, ClusterView, JobView, Orchestrator};
use std::collections::VecDeque;

/// Plays back scripted observations; the last one repeats.
#[derive(Debug, Default, Clone)]
pub struct FakeOrchestrator {
    /// Observations still to play back.
    pub script: VecDeque<Result<ClusterView, String>>,
    /// What `lookup` answers.
    pub known: Vec<JobView>,
    /// Actions received.
    pub acted: Vec<Action>,
    last: Option<ClusterView>,
}

impl FakeOrchestrator {
    /// A fake that answers these observations in order.
    pub fn new(script: impl IntoIterator<Item = Result<ClusterView, String>>) -> Self {
        Self { script: script.into_iter().collect(), ..Self::default() }
    }
}

impl Orchestrator for FakeOrchestrator {
    fn name(&self) -> &'static str {
        "fake"
    }

    async fn observe(&mut self) -> Result<ClusterView, AdapterError> {
        match self.script.pop_front() {
            Some(Ok(view)) => {
                self.last = Some(view.clone());
                Ok(view)
            }
            Some(Err(e)) => Err(AdapterError::Command { command: "fake".into(), detail: e }),
            None => self.last.clone().ok_or_else(|| AdapterError::Timeout("fake".into())),
        }
    }

    async fn lookup(&mut self, job_ids: &[String]) -> Result<Vec<JobView>, AdapterError> {
        Ok(self.known.iter().filter(|j| job_ids.contains(&j.job.job_id)).cloned().collect())
    }

    async fn act(&mut self, action: &Action) -> Result<(), AdapterError> {
        self.acted.push(action.clone());
        Ok(())
    }

    async fn site_factors(&mut self, _: &[String]) -> Result<std::collections::HashMap<String, i64>, AdapterError> {
        Ok(std::collections::HashMap::new())
    }
}
