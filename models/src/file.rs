//! Model files: JSON with a format version, the foresight version that
//! wrote it, the feature schema, the training window, the held-out metrics
//! (when evaluated) and the models themselves. A file read is validated
//! ([`ModelFile::validate`]) before anything predicts with it.

use crate::ModelError;
use crate::classifier::FailureModel;
use crate::evaluate::Evaluation;
use crate::features::Schema;
use crate::interval::Conformal;
use crate::invalid::{InvalidModel, MAX_FILE_BYTES, Problem};
use crate::runtime::{ModelKind, RuntimeModel};
use foresight_core::TraceMeta;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;

/// JSON has no NaN or infinity: serde_json writes them as `null`. These
/// read a `null` back as the value it stood for.
pub mod null_float {
    use serde::{Deserialize, Deserializer};

    /// `null` as NaN (an undefined metric).
    pub fn nan<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }

    /// `null` as infinity (a split after every job).
    pub fn infinity<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
    }
}

/// The model file format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// What a model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingWindow {
    /// The trace (its source path or name).
    pub trace: String,
    /// Submission of the first job trained on (trace seconds).
    #[serde(deserialize_with = "null_float::nan")]
    pub first_submit_s: f64,
    /// The split instant: every job trained on ended before it.
    #[serde(deserialize_with = "null_float::infinity")]
    pub split_s: f64,
    /// Finished jobs trained on.
    pub jobs: usize,
    /// Unix time of the first submission trained on; `None` when the
    /// trace had no epoch, and in files written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_submit_unix_s: Option<f64>,
    /// Unix time the window ends: the split instant, or, for a model
    /// trained on every job of its trace, the last end of a job trained
    /// on. Jobs of any trace submitted from then on are after the window.
    /// `None` when the trace had no epoch, and in files written before it
    /// was kept ([`TrainingWindow::end_on`] derives it when it can).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_unix_s: Option<f64>,
}

/// Why a model's training window cannot be placed on a trace's clock.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WindowError {
    /// A file from before the window was kept in Unix time, for a model
    /// trained on every job of its trace: its end is not recorded.
    #[error(
        "the model file does not say when its training window ended (it was trained on every job of {trace}, \
         by a foresight that kept the window in that trace's own seconds); retrain it with `foresight train` to evaluate it on another trace"
    )]
    Unbounded {
        /// The training trace.
        trace: String,
    },
    /// The training trace had no epoch, so its window is not in Unix time.
    #[error(
        "the model was trained on {trace}, which has no epoch (no Unix start time), so its training window cannot be \
         placed on the times of {other}; evaluate it on its own trace, or train on a trace with an epoch"
    )]
    NoModelEpoch {
        /// The training trace.
        trace: String,
        /// The trace it was to be placed on.
        other: String,
    },
    /// The trace evaluated on has no epoch.
    #[error(
        "{other} has no epoch (no Unix start time), so the model's training window (on {trace}, ending at Unix time {end_unix_s}) \
         cannot be placed on its times"
    )]
    NoTraceEpoch {
        /// The training trace.
        trace: String,
        /// The trace it was to be placed on.
        other: String,
        /// The window's end.
        end_unix_s: f64,
    },
}

impl TrainingWindow {
    /// The window's end on the clock of the trace `meta` describes, in its
    /// seconds; `model_epoch` is the training trace's epoch (the schema's).
    /// On the training trace's own clock this is the split instant itself;
    /// on another trace's, the window's end in Unix time less its epoch
    /// (derived from the split instant for files that do not store it).
    pub fn end_on(&self, model_epoch: Option<f64>, meta: &TraceMeta) -> Result<f64, WindowError> {
        let same_clock = model_epoch == meta.epoch_unix_s && (model_epoch.is_some() || self.trace == meta.source);
        let end_unix =
            self.end_unix_s.or_else(|| model_epoch.filter(|_| self.split_s.is_finite()).map(|e| e + self.split_s));
        if same_clock && (self.split_s.is_finite() || end_unix.is_none()) {
            return Ok(self.split_s);
        }
        let end_unix = end_unix.ok_or_else(|| match model_epoch {
            Some(_) => WindowError::Unbounded { trace: self.trace.clone() },
            None => WindowError::NoModelEpoch { trace: self.trace.clone(), other: meta.source.clone() },
        })?;
        let epoch = meta.epoch_unix_s.ok_or_else(|| WindowError::NoTraceEpoch {
            trace: self.trace.clone(),
            other: meta.source.clone(),
            end_unix_s: end_unix,
        })?;
        Ok(end_unix - epoch)
    }
}

/// A model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The foresight version that wrote it.
    pub foresight_version: String,
    /// The runtime model's kind.
    pub kind: ModelKind,
    /// The feature schema, column names included.
    pub schema: Schema,
    /// Column names, in row order (for people reading the file).
    pub feature_names: Vec<String>,
    /// The training window.
    pub training: TrainingWindow,
    /// Metrics on the jobs after the window, when evaluated.
    pub metrics: Option<Evaluation>,
    /// The runtime model.
    pub runtime: RuntimeModel,
    /// The failure/time-out classifier (absent when training had one class).
    pub failure: Option<FailureModel>,
    /// The runtime interval's calibration (see [`crate::interval`]);
    /// absent when the training window was too small to calibrate, and in
    /// files written before intervals were kept (they predict no interval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Conformal>,
}

impl ModelFile {
    /// A new file for models trained on `training`.
    pub fn new(
        kind: ModelKind,
        schema: Schema,
        training: TrainingWindow,
        runtime: RuntimeModel,
        failure: Option<FailureModel>,
    ) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            foresight_version: env!("CARGO_PKG_VERSION").to_string(),
            kind,
            feature_names: schema.names(),
            schema,
            training,
            metrics: None,
            runtime,
            failure,
            interval: None,
        }
    }

    /// Writes the file as JSON.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let err = |message: String| ModelError::File { action: "write", path: path.to_path_buf(), message };
        let json = serde_json::to_vec(self).map_err(|e| err(e.to_string()))?;
        std::fs::write(path, json).map_err(|e| err(e.to_string()))
    }

    /// Reads a file of at most [`MAX_FILE_BYTES`], refusing other format
    /// versions and files that fail [`ModelFile::validate`].
    pub fn load(path: &Path) -> Result<ModelFile, ModelError> {
        let err = |message: String| ModelError::File { action: "read", path: path.to_path_buf(), message };
        let file = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| err(e.to_string()))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(err(format!("larger than the {} MiB a model file may be", MAX_FILE_BYTES >> 20)));
        }
        Self::parse(&bytes, path)
    }

    /// A model file from its bytes (`path` names it in errors): refuses
    /// other format versions and files that fail [`ModelFile::validate`].
    pub fn parse(bytes: &[u8], path: &Path) -> Result<ModelFile, ModelError> {
        /// The version alone, read before the rest (other fields skipped).
        #[derive(Deserialize)]
        struct Probe {
            #[serde(default)]
            format_version: Option<serde_json::Value>,
        }
        let err = |e: serde_json::Error| ModelError::File {
            action: "read",
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let probe: Probe = serde_json::from_slice(bytes).map_err(err)?;
        let found = probe
            .format_version
            .as_ref()
            .and_then(serde_json::Value::as_u64)
            .map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX));
        if found != FORMAT_VERSION {
            return Err(ModelError::Version { path: path.to_path_buf(), found, expected: FORMAT_VERSION });
        }
        let file: ModelFile = serde_json::from_slice(bytes).map_err(err)?;
        file.validate().map_err(|invalid| ModelError::InvalidFile { path: path.to_path_buf(), invalid })?;
        Ok(file)
    }

    /// Checks that the file is a model that can be served: its schema
    /// (sizes, finite numbers), its column names (the schema's), and its
    /// models against the schema's rows (trees: no empty tree, children
    /// in range and after their parent, features within the rows, finite
    /// numbers; regressions: columns within the rows, lengths that agree,
    /// finite numbers, positive scales; a runtime model of the file's
    /// kind, a classifier with the logistic loss; an interval with a
    /// nominal coverage in `(0, 1)`, finite quantiles in order and enough
    /// calibration jobs). A file that passes
    /// predicts without a panic, a loop or a deep recursion.
    pub fn validate(&self) -> Result<(), InvalidModel> {
        self.schema.check()?;
        let names = self.schema.names();
        if self.feature_names.len() != names.len() {
            let problem = Problem::Length {
                field: "feature_names".into(),
                found: self.feature_names.len(),
                expected: names.len(),
            };
            return Err(InvalidModel::new("feature_names", problem));
        }
        if let Some(index) = self.feature_names.iter().zip(&names).position(|(a, b)| a != b) {
            let problem = Problem::FeatureName {
                index,
                found: self.feature_names[index].clone(),
                expected: names[index].clone(),
            };
            return Err(InvalidModel::new("feature_names", problem));
        }
        self.runtime.check(self.kind, names.len())?;
        if let Some(failure) = &self.failure {
            failure.check(names.len())?;
        }
        if let Some(interval) = &self.interval {
            interval.check()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::{SplitOptions, train_and_evaluate};
    use crate::history::JobTelemetry;

    #[test]
    fn model_files_round_trip_with_undefined_metrics_and_refuse_other_versions() {
        let table = foresight_datasets::embedded::h100_jobs().unwrap().table;
        let (mut file, _) =
            train_and_evaluate(&table, ModelKind::Gbt, &JobTelemetry::new(), SplitOptions::default()).unwrap();
        let m = file.metrics.as_ref().unwrap();
        let cov = m.interval.as_ref().expect("a calibrated model's evaluation has its coverage");
        assert_eq!((cov.n, cov.nominal), (m.runtime.n, 0.8));
        assert!(cov.coverage > 0.6 && cov.coverage <= 1.0, "{cov:?}");
        assert!((cov.coverage + cov.below + cov.above - 1.0).abs() < 1e-9);
        if let Some(c) = file.metrics.as_mut().and_then(|m| m.classifier.as_mut()) {
            c.baseline_auc = f64::NAN;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        file.save(&path).unwrap();
        let back = ModelFile::load(&path).unwrap();
        let rows = crate::features::build_rows(&back.schema, &table.jobs, &JobTelemetry::new());
        for row in rows.iter().step_by(10) {
            assert_eq!(back.runtime.predict(&back.schema, row), file.runtime.predict(&file.schema, row));
        }
        assert_eq!(back.metrics.as_ref().unwrap().runtime.mdape, file.metrics.as_ref().unwrap().runtime.mdape);
        assert!(back.metrics.unwrap().classifier.unwrap().baseline_auc.is_nan());
        assert!(back.interval.is_some() && back.interval == file.interval);

        // a file written before intervals were kept loads, with none
        let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        json.as_object_mut().unwrap().remove("interval").unwrap();
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        assert_eq!(ModelFile::load(&path).unwrap().interval, None);
        // a hostile one is refused, saying where and why
        json["interval"] = serde_json::json!({"nominal": 0.8, "q_lo": 2.0, "q_hi": -2.0, "n": 500});
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        let err = ModelFile::load(&path).unwrap_err().to_string();
        assert!(err.contains("is invalid: interval: q_lo is 2, above q_hi"), "{err}");
        json["interval"] = serde_json::json!({"nominal": 0.8, "q_lo": -1.0, "q_hi": 1.0});
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        let err = ModelFile::load(&path).unwrap_err().to_string();
        assert!(err.contains("missing field `n`"), "{err}");

        std::fs::write(&path, r#"{"format_version": 99}"#).unwrap();
        assert!(matches!(ModelFile::load(&path), Err(ModelError::Version { found: 99, .. })));
    }
}
