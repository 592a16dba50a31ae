//! One run from names (policy, predictor) to a report, and comparisons of
//! several runs in parallel on all cores.

use crate::engine::{EngineError, SimOptions, SimResult, simulate};
use crate::metrics::{Report, report};
use crate::workload::Workload;
use foresight_core::Cluster;
use foresight_core::policy::PolicySpec;
use foresight_core::predictor::PredictorKind;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The error of a simulation run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The engine stopped.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A cluster file could not be read.
    #[error(transparent)]
    ClusterFile(#[from] crate::cluster_file::ClusterFileError),
    /// A policy or predictor name is unknown.
    #[error("{0}")]
    Spec(String),
    /// The trace declares no capacity and no cluster was given.
    #[error("the trace declares no machine capacity: give a cluster file")]
    NoCluster,
    /// Writing results failed.
    #[error("write {path}: {message}")]
    Output {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        message: String,
    },
}

/// A policy and the predictor it runs with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Policy name (a preset or a composition, see `PolicySpec`).
    pub policy: String,
    /// Predictor; the policy's default when `None`.
    pub predictor: Option<String>,
    /// Engine options.
    pub options: SimOptions,
}

impl RunSpec {
    /// A run of `policy` with its default predictor and default options.
    pub fn new(policy: &str) -> Self {
        Self { policy: policy.to_string(), predictor: None, options: SimOptions::default() }
    }

    /// The parsed policy and predictor.
    pub fn resolve(&self) -> Result<(PolicySpec, PredictorKind), SimError> {
        let spec: PolicySpec = self.policy.parse().map_err(|e: foresight_core::policy::UnknownPolicy| SimError::Spec(e.to_string()))?;
        let predictor = match &self.predictor {
            Some(p) => p.parse().map_err(|e: foresight_core::predictor::UnknownPredictor| SimError::Spec(e.to_string()))?,
            None => spec.predictor,
        };
        Ok((spec, predictor))
    }
}

/// Runs one simulation from names.
pub fn run(workload: &Workload, cluster: &Cluster, spec: &RunSpec) -> Result<(SimResult, Report), SimError> {
    let (policy_spec, kind) = spec.resolve()?;
    let mut policy = policy_spec.build();
    let mut predictor = kind.build(|| workload.effective_runtimes());
    let result = simulate(workload, cluster, &mut policy, predictor.as_mut(), &spec.options)?;
    let rep = report(workload, cluster.total(), &result, &policy_spec.name, kind.as_str());
    Ok((result, rep))
}

/// The reports of several runs over one workload, in the order asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// One report per run.
    pub reports: Vec<Report>,
}

/// Runs every spec over the same workload and cluster, in parallel.
pub fn compare(workload: &Workload, cluster: &Cluster, specs: &[RunSpec]) -> Result<Comparison, SimError> {
    let reports = specs
        .par_iter()
        .map(|s| run(workload, cluster, s).map(|(_, r)| r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Comparison { reports })
}
