//! The candidate's runtime model as the controller holds it: a
//! `foresight-core` [`Predictor`] with a version, served to the candidate's
//! scheduler runtime.
//!
//! There is no controller-side model interface: a model is a core
//! predictor like any other, so the live runtime asks it, tells it of
//! starts and ends, corrects with it and clamps its estimates exactly as
//! the simulator does. A trained model file (from `foresight train`) is
//! served by [`Trained`]: it featurises each job from the record the
//! orchestrator reported, which the runtime hands it
//! ([`Predictor::observe_record`]) before it asks.
//!
//! A [`ServedModel`] can make fresh instances of its predictor, so that
//! the controller can rebuild the candidate after a part of it panicked.
//! The file is read once, when it is loaded.
//!
//! A model can be served on a faster clock than it was made for
//! ([`ServedModel::time_scaled`], `foresight shadow --time-scale F`): a
//! model trained on a trace, serving that trace replayed `F` times faster
//! (`foresight ab`), sees every time multiplied by `F` and its estimates
//! are divided by it ([`TimeScaled`]).

use foresight_core::Job;
use foresight_core::predictor::{Outlived, Predictor, PredictorKind, TimeScaled};
use foresight_core::state::JobInfo;
use foresight_models::FilePredictor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why the model could not give predictions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// The model file could not be read.
    #[error("read model file {path}: {detail}")]
    Missing {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The model file is not a model this version knows.
    #[error("parse model file {path}: {detail}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
}

/// A trained model file served live: a [`FilePredictor::try_live`], shown
/// each job's record as the orchestrator reports it.
#[derive(Debug, Clone)]
pub struct Trained(FilePredictor);

impl Trained {
    /// Serves `file`; refuses a file whose hours and weekdays cannot be
    /// placed on live Unix times (a file from before the trace's epoch and
    /// time zone were stored apart, or trained on a trace with no epoch),
    /// because serving it would feed the model shifted calendar features.
    pub fn new(file: foresight_models::ModelFile) -> Result<Self, foresight_models::ModelError> {
        Ok(Self(FilePredictor::try_live(file)?))
    }

    /// Job records held (registered and not yet ended or forgotten).
    pub fn records(&self) -> usize {
        self.0.records()
    }
}

impl Predictor for Trained {
    fn name(&self) -> &'static str {
        "model"
    }

    fn predict(&mut self, job: &JobInfo) -> f64 {
        self.0.predict(job)
    }

    fn observe_start(&mut self, job: &JobInfo, now: f64) {
        self.0.observe_start(job, now);
    }

    fn observe_end(&mut self, job: &JobInfo, runtime_s: f64, now: f64) {
        self.0.observe_end(job, runtime_s, now);
    }

    fn correct(&mut self, job: &JobInfo, outlived: &Outlived) -> f64 {
        self.0.correct(job, outlived)
    }

    fn observe_record(&mut self, job: &JobInfo, record: &Job) {
        self.0.register(job.key, record);
    }

    fn forget(&mut self, job: &JobInfo) {
        self.0.forget(job.key);
    }
}

/// What a served model's predictors are made from.
#[derive(Clone)]
pub enum ModelSource {
    /// A predictor `foresight-core` ships.
    Core(PredictorKind),
    /// A trained model file, as loaded.
    Trained(Arc<Trained>),
    /// Anything else that makes predictors (tests' scripted models).
    Custom(Arc<dyn Fn() -> Box<dyn Predictor> + Send + Sync>),
}

impl std::fmt::Debug for ModelSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelSource::Core(k) => write!(f, "Core({k})"),
            ModelSource::Trained(_) => f.write_str("Trained"),
            ModelSource::Custom(_) => f.write_str("Custom"),
        }
    }
}

/// A model the candidate can be served: where its predictors come from,
/// and the version recorded with every prediction.
#[derive(Debug, Clone)]
pub struct ServedModel {
    /// Its predictors' source.
    pub source: ModelSource,
    /// Its version.
    pub version: String,
}

impl ServedModel {
    /// A model for a named core predictor (`requested`, `easy++`).
    pub fn of_kind(kind: PredictorKind, version: impl Into<String>) -> Self {
        Self { source: ModelSource::Core(kind), version: version.into() }
    }

    /// A model whose predictors `make` makes.
    pub fn custom(make: impl Fn() -> Box<dyn Predictor> + Send + Sync + 'static, version: impl Into<String>) -> Self {
        Self { source: ModelSource::Custom(Arc::new(make)), version: version.into() }
    }

    /// The same model on a clock `factor` times faster than its own: each
    /// predictor it makes is wrapped in [`TimeScaled`] by `factor`, and the
    /// version says so (`@x<factor>` after it). A factor of 1 is the model
    /// itself; `None` unless `factor` is finite and above zero.
    pub fn time_scaled(self, factor: f64) -> Option<ServedModel> {
        if !(factor.is_finite() && factor > 0.0) {
            return None;
        }
        if factor == 1.0 {
            return Some(self);
        }
        let version = format!("{}@x{factor}", self.version);
        let make = move || -> Box<dyn Predictor> {
            match TimeScaled::new(self.instantiate(), factor) {
                Some(p) => Box::new(p),
                None => unreachable!("the factor was checked"),
            }
        };
        Some(ServedModel::custom(make, version))
    }

    /// A fresh predictor (it has learnt nothing yet).
    pub fn instantiate(&self) -> Box<dyn Predictor> {
        match &self.source {
            ModelSource::Core(k) => k.build(Vec::new),
            ModelSource::Trained(t) => Box::new((**t).clone()),
            ModelSource::Custom(make) => make(),
        }
    }
}

/// The model file the controller reads for a built-in predictor: which
/// predictor and its version.
///
/// `{"predictor": "easy++", "version": "2026-11-23"}`. A trained model file
/// (with a `format_version`) is read as [`foresight_models::ModelFile`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelFile {
    /// A predictor name `foresight-core` knows.
    pub predictor: String,
    /// The version to record with its predictions.
    pub version: String,
}

/// [`load`], served on a clock `time_scale` times faster than the model's
/// ([`ServedModel::time_scaled`]); a scale that is not a positive number is
/// refused as [`ModelError::Invalid`].
pub fn load_scaled(path: &Path, time_scale: f64) -> Result<ServedModel, ModelError> {
    load(path)?.time_scaled(time_scale).ok_or_else(|| ModelError::Invalid {
        path: path.to_path_buf(),
        detail: format!("time scale {time_scale} is not a positive number"),
    })
}

/// Loads a model file, read once (at most [`foresight_models::invalid::MAX_FILE_BYTES`]).
/// A trained one (with a `format_version`) is validated before it is
/// served: a malformed or hostile one (an empty tree, a child or feature
/// index out of range, a cycle, a non-finite weight, lengths that
/// disagree) is refused with [`ModelError::Invalid`], naming the file and
/// what is wrong where.
pub fn load(path: &Path) -> Result<ServedModel, ModelError> {
    /// Whether the file has a `format_version` (other fields skipped).
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(default)]
        format_version: Option<serde::de::IgnoredAny>,
    }
    let missing = |detail: String| ModelError::Missing { path: path.to_path_buf(), detail };
    let limit = foresight_models::invalid::MAX_FILE_BYTES;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, limit + 1), &mut bytes))
        .map_err(|e| missing(e.to_string()))?;
    let invalid = |detail: String| ModelError::Invalid { path: path.to_path_buf(), detail };
    if bytes.len() as u64 > limit {
        return Err(invalid(format!("larger than the {} MiB a model file may be", limit >> 20)));
    }
    if serde_json::from_slice::<Probe>(&bytes).is_ok_and(|p| p.format_version.is_some()) {
        let file = foresight_models::ModelFile::parse(&bytes, path).map_err(|e| match e {
            foresight_models::ModelError::InvalidFile { invalid: why, .. } => invalid(format!("invalid model: {why}")),
            e => invalid(e.to_string()),
        })?;
        // the version names the kind and the file's content
        let version = format!("{}-{:08x}", file.kind, crc32fast::hash(&bytes));
        let trained = Trained::new(file).map_err(|e| invalid(e.to_string()))?;
        return Ok(ServedModel { source: ModelSource::Trained(Arc::new(trained)), version });
    }
    let file: ModelFile = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
    let kind: PredictorKind = file.predictor.parse().map_err(|e: foresight_core::predictor::UnknownPredictor| invalid(e.to_string()))?;
    if kind == PredictorKind::Clairvoyant {
        return Err(invalid("the clairvoyant oracle needs true runtimes and cannot run live".into()));
    }
    Ok(ServedModel::of_kind(kind, file.version))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use foresight_core::Resources;
    use foresight_core::state::{Demand, JobKey};

    pub(crate) fn info(key: u32, limit_s: f64) -> JobInfo {
        JobInfo { key: JobKey(key), user: 0, group: 0, queue: 0, submit_s: 0.0, demand: Demand::new(Resources::new(1, 0, 0)), limit_s }
    }

    #[test]
    fn loads_a_model_file_and_reports_missing_or_invalid_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        assert!(matches!(load(&path), Err(ModelError::Missing { .. })));
        std::fs::write(&path, r#"{"predictor":"magic","version":"1"}"#).unwrap();
        assert!(load(&path).err().unwrap().to_string().contains("unknown predictor `magic`"));
        std::fs::write(&path, r#"{"format_version":1,"kind":"gbt"}"#).unwrap();
        assert!(load(&path).err().unwrap().to_string().contains("missing field"), "a broken trained file");
        std::fs::write(&path, r#"{"format_version":99}"#).unwrap();
        assert!(load(&path).err().unwrap().to_string().contains("format version 99"));
        std::fs::write(&path, r#"{"predictor":"requested","version":"v7"}"#).unwrap();
        let m = load(&path).unwrap();
        assert_eq!(m.version, "v7");
        assert_eq!(m.instantiate().predict(&info(1, 120.0)), 120.0);
        let scaled = load_scaled(&path, 60.0).unwrap();
        assert_eq!(scaled.version, "v7@x60");
        // the request, on the model's clock 60 times that of the job, back
        let mut p = scaled.instantiate();
        assert_eq!(p.predict(&info(1, 120.0)), 120.0);
        assert_eq!(p.correct(&info(1, 120.0), &Outlived { elapsed_s: 10.0, initial_estimate_s: 10.0, estimate_s: 10.0, corrections: 0 }), 20.0);
        assert_eq!(load_scaled(&path, 1.0).unwrap().version, "v7", "a scale of 1 is the model");
        assert!(load_scaled(&path, 0.0).err().unwrap().to_string().contains("time scale 0"));
    }
}
