//! Model files: JSON with a format version, the foresight version that
//! wrote it, the feature schema, the training window, the held-out metrics
//! (when evaluated) and the models themselves.

use crate::ModelError;
use crate::classifier::FailureModel;
use crate::evaluate::Evaluation;
use crate::features::Schema;
use crate::runtime::{ModelKind, RuntimeModel};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The model file format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// What a model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingWindow {
    /// The trace (its source path or name).
    pub trace: String,
    /// Submission of the first job trained on (trace seconds).
    pub first_submit_s: f64,
    /// The split instant: every job trained on ended before it.
    pub split_s: f64,
    /// Finished jobs trained on.
    pub jobs: usize,
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
        }
    }

    /// Writes the file as JSON.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let err = |message: String| ModelError::File { action: "write", path: path.to_path_buf(), message };
        let json = serde_json::to_vec(self).map_err(|e| err(e.to_string()))?;
        std::fs::write(path, json).map_err(|e| err(e.to_string()))
    }

    /// Reads a file, refusing other format versions.
    pub fn load(path: &Path) -> Result<ModelFile, ModelError> {
        let err = |message: String| ModelError::File { action: "read", path: path.to_path_buf(), message };
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| err(e.to_string()))?;
        let found = value.get("format_version").and_then(serde_json::Value::as_u64).unwrap_or(0) as u32;
        if found != FORMAT_VERSION {
            return Err(ModelError::Version { path: path.to_path_buf(), found, expected: FORMAT_VERSION });
        }
        serde_json::from_value(value).map_err(|e| err(e.to_string()))
    }
}
