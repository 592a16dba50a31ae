//! Finding the shared real datasets (`../shared/datasets` beside the
//! checkout, or `$FORESIGHT_DATASETS`) from tests and benchmarks, and
//! skipping or failing, as the environment asks, when one is missing.

use std::path::PathBuf;

/// Environment variable naming another datasets folder.
pub const DATASETS_ENV: &str = "FORESIGHT_DATASETS";
/// Environment variable that turns a missing dataset into a test failure
/// (`.ci/run` sets it).
pub const REQUIRE_ENV: &str = "FORESIGHT_REQUIRE_DATASETS";

/// The datasets folder: `$FORESIGHT_DATASETS`, else `shared/datasets` beside
/// the repository.
pub fn datasets_dir() -> PathBuf {
    match std::env::var_os(DATASETS_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets"),
    }
}

/// The path of a dataset file (`pwa-kth-sp2/KTH-SP2-1996-2.1-cln.swf.gz`),
/// when it exists.
pub fn dataset(relative: &str) -> Option<PathBuf> {
    let path = datasets_dir().join(relative);
    path.exists().then_some(path)
}

/// For tests: the dataset's path, or `None` after printing that the test is
/// skipped. When `$FORESIGHT_REQUIRE_DATASETS` is set, a missing dataset
/// panics instead, so that CI cannot pass by skipping.
pub fn dataset_or_skip(relative: &str) -> Option<PathBuf> {
    if let Some(path) = dataset(relative) {
        return Some(path);
    }
    let dir = datasets_dir();
    if std::env::var_os(REQUIRE_ENV).is_some() {
        panic!("dataset {relative} is missing from {} and {REQUIRE_ENV} is set", dir.display());
    }
    eprintln!("skipped: dataset {relative} not found in {} (set {DATASETS_ENV})", dir.display());
    None
}

/// In a test: binds the dataset's path or returns early (skipped).
#[macro_export]
macro_rules! require_dataset {
    ($relative:expr) => {
        match $crate::shared::dataset_or_skip($relative) {
            Some(path) => path,
            None => return,
        }
    };
}

/// The shared datasets' job files, with the format each is in.
pub const JOB_DATASETS: [(&str, crate::Format); 4] = [
    ("pwa-kth-sp2/KTH-SP2-1996-2.1-cln.swf.gz", crate::Format::Swf),
    ("pwa-cea-curie-sample/CEA-Curie-sample.swf.gz", crate::Format::Swf),
    ("alibaba-openb/openb_pod_list_default.csv", crate::Format::Openb),
    ("h100-jobs/jobs.csv", crate::Format::GpuJobs),
];
