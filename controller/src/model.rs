//! The candidate's runtime model as the controller holds it: a
//! `foresight-core` [`Predictor`] with a version, asked in batches, whose
//! failures are errors the circuit breaker can count.
//!
//! Core predictors cannot fail; a model loaded from a file (or served from
//! elsewhere) can: it may be missing, return an error or a non-finite
//! estimate, or be slow. [`Model`] says so, and [`PredictorModel`] turns a
//! core predictor into one, unchanged. A trained model file (from
//! `foresight train`) becomes a [`TrainedModel`]: it featurises each job from
//! the record the orchestrator reported, which the controller registers
//! before it asks (a core predictor needs only the [`JobInfo`]).

use foresight_core::Job;
use foresight_core::predictor::{Outlived, Predictor, PredictorKind, clamp_correction, clamp_estimate};
use foresight_core::state::{JobInfo, JobKey};
use foresight_models::FilePredictor;
use std::path::{Path, PathBuf};

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
    /// The model answered with an error or an impossible value.
    #[error("predict: {0}")]
    Predict(String),
}

/// A runtime model the controller can call, observe and replace.
pub trait Model: Send {
    /// The version recorded with every prediction.
    fn version(&self) -> &str;

    /// The orchestrator's latest record of a job the model is about to be
    /// asked about or told of (its user, name, request, and at its end its
    /// status). The default ignores it.
    fn register(&mut self, _job: &JobInfo, _record: &Job) {}

    /// A job left the queue without running: its record can go.
    fn forget(&mut self, _key: JobKey) {}

    /// Estimated runtimes for jobs being submitted, in order.
    fn predict(&mut self, jobs: &[JobInfo]) -> Result<Vec<f64>, ModelError>;

    /// A job started at `now`.
    fn observe_start(&mut self, job: &JobInfo, now: f64);

    /// A job ended after `runtime_s`.
    fn observe_end(&mut self, job: &JobInfo, runtime_s: f64, now: f64);

    /// A new total estimate for a running job that outlived its estimate.
    fn correct(&mut self, job: &JobInfo, outlived: &Outlived) -> f64;
}

/// A core predictor used as a model: estimates are clamped to the limit as
/// in the simulator, and a NaN or negative raw estimate is an error.
pub struct PredictorModel {
    inner: Box<dyn Predictor>,
    version: String,
}

impl std::fmt::Debug for PredictorModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PredictorModel").field("predictor", &self.inner.name()).field("version", &self.version).finish()
    }
}

impl PredictorModel {
    /// Wraps `inner`, reporting `version`.
    pub fn new(inner: Box<dyn Predictor>, version: impl Into<String>) -> Self {
        Self { inner, version: version.into() }
    }

    /// A model for a named core predictor (`requested`, `easy++`).
    pub fn of_kind(kind: PredictorKind, version: impl Into<String>) -> Self {
        Self::new(kind.build(Vec::new), version)
    }
}

impl Model for PredictorModel {
    fn version(&self) -> &str {
        &self.version
    }

    fn predict(&mut self, jobs: &[JobInfo]) -> Result<Vec<f64>, ModelError> {
        checked(self.inner.as_mut(), jobs)
    }

    fn observe_start(&mut self, job: &JobInfo, now: f64) {
        self.inner.observe_start(job, now);
    }

    fn observe_end(&mut self, job: &JobInfo, runtime_s: f64, now: f64) {
        self.inner.observe_end(job, runtime_s, now);
    }

    fn correct(&mut self, job: &JobInfo, outlived: &Outlived) -> f64 {
        clamp_correction(job, outlived.elapsed_s, self.inner.correct(job, outlived))
    }
}

/// Estimates of `predictor` for `jobs`, clamped to their limits; a NaN or
/// negative raw estimate is an error.
fn checked(predictor: &mut dyn Predictor, jobs: &[JobInfo]) -> Result<Vec<f64>, ModelError> {
    jobs.iter()
        .map(|j| {
            let raw = predictor.predict(j);
            if raw.is_nan() || raw < 0.0 {
                Err(ModelError::Predict(format!("{} gave {raw} for job {}", predictor.name(), j.key.0)))
            } else {
                Ok(clamp_estimate(j, raw))
            }
        })
        .collect()
}

/// A trained model file served live: a [`FilePredictor::try_live`] fed the records
/// the controller registers, with the checks and clamps of
/// [`PredictorModel`].
#[derive(Debug)]
pub struct TrainedModel {
    inner: FilePredictor,
    version: String,
}

impl TrainedModel {
    /// Serves `file`, reporting `version`; refuses a file whose hours and
    /// weekdays cannot be placed on live Unix times (a file from before the
    /// trace's epoch and time zone were stored apart, or trained on a trace
    /// with no epoch), because serving it would feed the model shifted
    /// calendar features.
    pub fn new(file: foresight_models::ModelFile, version: impl Into<String>) -> Result<Self, foresight_models::ModelError> {
        Ok(Self { inner: FilePredictor::try_live(file)?, version: version.into() })
    }

    /// Job records held (registered and not yet ended or forgotten).
    pub fn records(&self) -> usize {
        self.inner.records()
    }
}

impl Model for TrainedModel {
    fn version(&self) -> &str {
        &self.version
    }

    fn register(&mut self, job: &JobInfo, record: &Job) {
        self.inner.register(job.key, record);
    }

    fn forget(&mut self, key: JobKey) {
        self.inner.forget(key);
    }

    fn predict(&mut self, jobs: &[JobInfo]) -> Result<Vec<f64>, ModelError> {
        checked(&mut self.inner, jobs)
    }

    fn observe_start(&mut self, job: &JobInfo, now: f64) {
        self.inner.observe_start(job, now);
    }

    fn observe_end(&mut self, job: &JobInfo, runtime_s: f64, now: f64) {
        self.inner.observe_end(job, runtime_s, now);
    }

    fn correct(&mut self, job: &JobInfo, outlived: &Outlived) -> f64 {
        clamp_correction(job, outlived.elapsed_s, self.inner.correct(job, outlived))
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

/// Loads a model file (at most [`foresight_models::invalid::MAX_FILE_BYTES`]).
/// A trained one (with a `format_version`) is validated before it is
/// served: a malformed or hostile one (an empty tree, a child or feature
/// index out of range, a cycle, a non-finite weight, lengths that
/// disagree) is refused with [`ModelError::Invalid`], naming the file and
/// what is wrong where.
pub fn load(path: &Path) -> Result<Box<dyn Model>, ModelError> {
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
        return Ok(Box::new(TrainedModel::new(file, version).map_err(|e| invalid(e.to_string()))?));
    }
    let file: ModelFile = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
    let kind: PredictorKind = file.predictor.parse().map_err(|e: foresight_core::predictor::UnknownPredictor| invalid(e.to_string()))?;
    if kind == PredictorKind::Clairvoyant {
        return Err(invalid("the clairvoyant oracle needs true runtimes and cannot run live".into()));
    }
    Ok(Box::new(PredictorModel::of_kind(kind, file.version)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use foresight_core::state::{Demand, JobKey};
    use foresight_core::Resources;

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
        let mut m = load(&path).unwrap();
        assert_eq!(m.version(), "v7");
        assert_eq!(m.predict(&[info(1, 120.0)]).unwrap(), vec![120.0]);
    }

    #[test]
    fn a_nan_estimate_is_an_error() {
        struct Nan;
        impl Predictor for Nan {
            fn name(&self) -> &'static str {
                "nan"
            }
            fn predict(&mut self, _: &JobInfo) -> f64 {
                f64::NAN
            }
        }
        let mut m = PredictorModel::new(Box::new(Nan), "x");
        assert!(matches!(m.predict(&[info(1, 10.0)]), Err(ModelError::Predict(_))));
    }
}
