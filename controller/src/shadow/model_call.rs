//! Calling the candidate's model under the per-cycle deadline: predictions
//! for new jobs, what it should learn (starts, ends) and corrections for
//! jobs that outlived their estimates, in one call on a blocking thread.
//! A missing model, an error, a panic or a missed deadline is a
//! [`Failure`] for the breaker.

use crate::breaker::Failure;
use crate::model::{Model, ModelError};
use foresight_core::Job;
use foresight_core::predictor::Outlived;
use foresight_core::state::{JobInfo, JobKey};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The model slot shared with the blocking thread that calls it.
pub struct ModelSlot {
    /// The loaded model, or `None` when it is missing.
    pub model: Option<Box<dyn Model>>,
    /// Why it is missing, when it is.
    pub missing: String,
}

/// A shared model slot.
pub type SharedModel = Arc<Mutex<ModelSlot>>;

/// A new shared slot holding `model` (or why there is none).
pub fn shared(model: Result<Box<dyn Model>, String>) -> SharedModel {
    let (model, missing) = match model {
        Ok(m) => (Some(m), String::new()),
        Err(why) => (None, why),
    };
    Arc::new(Mutex::new(ModelSlot { model, missing }))
}

/// What to ask the model in one cycle.
#[derive(Debug, Default)]
pub struct ModelWork {
    /// The orchestrator's records of the jobs below, registered first.
    pub records: Vec<(JobInfo, Job)>,
    /// Jobs to predict, as at their submission.
    pub predict: Vec<JobInfo>,
    /// Jobs that started, with when.
    pub starts: Vec<(JobInfo, f64)>,
    /// Jobs that ended: runtime and when.
    pub ends: Vec<(JobInfo, f64, f64)>,
    /// Running jobs that outlived their estimates.
    pub outlived: Vec<(JobInfo, Outlived)>,
    /// Jobs withdrawn before they ran: their records are dropped last.
    pub withdrawn: Vec<JobKey>,
}

impl ModelWork {
    /// True when there is nothing to ask.
    pub fn is_empty(&self) -> bool {
        self.predict.is_empty()
            && self.starts.is_empty()
            && self.ends.is_empty()
            && self.outlived.is_empty()
            && self.records.is_empty()
            && self.withdrawn.is_empty()
    }
}

/// The model's answers, in the order of the work.
#[derive(Debug, Default, PartialEq)]
pub struct ModelAnswer {
    /// One estimate per predicted job.
    pub estimates: Vec<f64>,
    /// One new estimate per outlived job.
    pub corrections: Vec<f64>,
    /// The model's version.
    pub version: String,
}

fn run(model: &mut dyn Model, work: &ModelWork) -> Result<ModelAnswer, ModelError> {
    for (info, record) in &work.records {
        model.register(info, record);
    }
    // predict before learning anything from this cycle: a job seen already
    // finished must not be predicted from its own end
    let estimates = model.predict(&work.predict)?;
    if estimates.len() != work.predict.len() {
        return Err(ModelError::Predict(format!("{} estimates for {} jobs", estimates.len(), work.predict.len())));
    }
    for (info, now) in &work.starts {
        model.observe_start(info, *now);
    }
    for (info, runtime, now) in &work.ends {
        model.observe_end(info, *runtime, *now);
    }
    let corrections = work.outlived.iter().map(|(info, o)| model.correct(info, o)).collect();
    for key in &work.withdrawn {
        model.forget(*key);
    }
    Ok(ModelAnswer { estimates, corrections, version: model.version().to_string() })
}

/// Asks the model, on a blocking thread, within `deadline`. A call that
/// misses its deadline keeps the model busy until it returns; calls made
/// meanwhile miss theirs too.
pub async fn call(slot: &SharedModel, work: ModelWork, deadline: Duration) -> Result<ModelAnswer, Failure> {
    let slot = slot.clone();
    let task = tokio::task::spawn_blocking(move || {
        let mut guard = slot.lock().unwrap_or_else(|e| e.into_inner());
        let ModelSlot { model, missing } = &mut *guard;
        let Some(model) = model.as_mut() else { return Err(Failure::ModelMissing(missing.clone())) };
        match std::panic::catch_unwind(AssertUnwindSafe(|| run(model.as_mut(), &work))) {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(Failure::ModelError(e.to_string())),
            Err(_) => Err(Failure::ModelError("the model panicked".into())),
        }
    });
    match tokio::time::timeout(deadline, task).await {
        Err(_) => Err(Failure::Deadline { limit: deadline }),
        Ok(Err(join)) => Err(Failure::ModelError(join.to_string())),
        Ok(Ok(result)) => result,
    }
}

/// The version of the loaded model, if one is loaded and not busy.
pub fn version(slot: &SharedModel) -> Option<String> {
    slot.try_lock().ok().and_then(|g| g.model.as_ref().map(|m| m.version().to_string()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::PredictorModel;
    use foresight_core::predictor::PredictorKind;

    /// A model for tests that sleeps, fails or answers a fixed estimate.
    pub struct ScriptedModel {
        pub sleep: Duration,
        pub fail: bool,
        pub estimate: f64,
    }

    impl Model for ScriptedModel {
        fn version(&self) -> &str {
            "scripted"
        }
        fn predict(&mut self, jobs: &[JobInfo]) -> Result<Vec<f64>, ModelError> {
            std::thread::sleep(self.sleep);
            if self.fail {
                return Err(ModelError::Predict("scripted failure".into()));
            }
            Ok(vec![self.estimate; jobs.len()])
        }
        fn observe_start(&mut self, _: &JobInfo, _: f64) {}
        fn observe_end(&mut self, _: &JobInfo, _: f64, _: f64) {}
        fn correct(&mut self, _: &JobInfo, o: &Outlived) -> f64 {
            o.estimate_s * 2.0
        }
    }

    fn work() -> ModelWork {
        ModelWork { predict: vec![crate::model::tests::info(1, 100.0)], ..ModelWork::default() }
    }

    #[tokio::test]
    async fn answers_errors_and_deadlines_become_failures() {
        let ok = shared(Ok(Box::new(PredictorModel::of_kind(PredictorKind::Requested, "v1"))));
        let answer = call(&ok, work(), Duration::from_secs(5)).await.unwrap();
        assert_eq!((answer.estimates, answer.version.as_str()), (vec![100.0], "v1"));

        let missing = shared(Err("no file".into()));
        assert_eq!(call(&missing, work(), Duration::from_secs(5)).await, Err(Failure::ModelMissing("no file".into())));

        let failing = shared(Ok(Box::new(ScriptedModel { sleep: Duration::ZERO, fail: true, estimate: 1.0 })));
        assert!(matches!(call(&failing, work(), Duration::from_secs(5)).await, Err(Failure::ModelError(_))));

        let slow = shared(Ok(Box::new(ScriptedModel { sleep: Duration::from_millis(300), fail: false, estimate: 1.0 })));
        let limit = Duration::from_millis(20);
        assert_eq!(call(&slow, work(), limit).await, Err(Failure::Deadline { limit }));
        assert_eq!(version(&slow), None, "still busy with the late call");
    }
}
