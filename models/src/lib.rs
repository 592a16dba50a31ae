//! foresight-models: runtime, failure and demand models learnt from a
//! cluster's own history, evaluated only on its future.
//!
//! - [`features`] and [`history`]: a job's feature row from what was known
//!   at its submission (request, calendar, name tokens, submitted GPU-job
//!   features, the user's recent runtimes and ratios, past telemetry, the
//!   queue's state); the same code offline and online. [`matrix`]: the
//!   flat row-major matrix that holds them for training and batch
//!   prediction.
//! - [`gbt`]: a histogram boosted-tree ensemble; [`runtime`]: runtime models
//!   (trees, ridge regression via smartcore, EASY++, requested time), their
//!   batch prediction and feature importances.
//! - [`evaluate`](mod@evaluate): time-split evaluation and its metrics; [`file`](mod@file): model
//!   files with schema, training window, metrics and version, validated
//!   when read ([`invalid`]: what a malformed or hostile file is refused for).
//! - [`interval`]: split-conformal runtime intervals in log space, from a
//!   model file's calibration or the online predictor's own past errors.
//! - [`online`]: predictors for the simulator (a model file, or a model
//!   retrained on a sliding window of finished jobs); [`predictor_from_spec`].
//! - [`classifier`] and [`demand`]: failure/time-out classification and
//!   hourly demand forecasts against their baselines.
//!
//! Architecture invariant: models know nothing of the simulator or the
//! controller; they speak `foresight_core::predictor::Predictor`.

pub mod classifier;
pub mod demand;
pub mod evaluate;
pub mod features;
pub mod file;
pub mod gbt;
pub mod history;
pub mod interval;
pub mod invalid;
pub mod linear;
pub mod matrix;
pub mod metrics;
pub mod online;
pub mod outlook;
pub mod shift;
pub mod runtime;

pub use evaluate::{Evaluation, SplitOptions, evaluate, time_split, train};
pub use features::Schema;
pub use file::ModelFile;
pub use invalid::{InvalidModel, Problem};
pub use matrix::Matrix;
pub use online::{
    Correction, FORESIGHT_ONLINE, FilePredictor, OnlineParams, OnlinePredictor, SelectLoss, Weighting, predictor_from_spec,
};
pub use runtime::{ModelKind, RuntimeModel};

/// The error of training, evaluating, loading or using a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A model name that is not one.
    #[error(
        "unknown model `{0}` (expected gbt, gbt-under, gbt-median, linear, linear-by-name, linear+gbt, auto, easy++ or requested)"
    )]
    UnknownModel(String),
    /// Nothing to train on.
    #[error("no finished job to train on in the training window")]
    NoTrainingData,
    /// Nothing to evaluate on.
    #[error("no finished job to evaluate on after the split")]
    NoTestData,
    /// A fitting routine failed.
    #[error("fit the model: {0}")]
    Fit(String),
    /// A model file could not be read or written.
    #[error("{action} model file {path}: {message}")]
    File {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        message: String,
    },
    /// A model file that parses but is not a model that can be served
    /// (see [`ModelFile::validate`]). What is wrong is part of the
    /// message, not a source, so that an error chain says it once.
    #[error("model file {path} is invalid: {invalid}")]
    InvalidFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong, and where.
        invalid: InvalidModel,
    },
    /// A model that is not one that can be served (see
    /// [`ModelFile::validate`]).
    #[error("invalid model: {0}")]
    Invalid(InvalidModel),
    /// A model whose calendar cannot be served on Unix time (live).
    #[error(transparent)]
    Calendar(#[from] features::CalendarError),
    /// A model file from an incompatible version.
    #[error("model file {path} has format version {found}, this build reads {expected}")]
    Version {
        /// The file.
        path: std::path::PathBuf,
        /// Its version.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
}

impl From<InvalidModel> for ModelError {
    fn from(invalid: InvalidModel) -> Self {
        ModelError::Invalid(invalid)
    }
}
