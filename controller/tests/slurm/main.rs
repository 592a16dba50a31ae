//! Integration tests of shadow mode against a real single-host Slurm
//! (several emulated nodes), started by `scripts/slurm-up.sh`. Each test
//! skips with "skipped: ..." when not root or Slurm is not installed,
//! unless `FORESIGHT_REQUIRE_SLURM=1`.

mod acting;
mod breaker_opens;
mod enforce;
mod harness;
mod outage;
mod replay_trace;
mod rest_source;

use foresight_controller::adapter::slurm::{SlurmAdapter, SlurmSource};
use foresight_controller::controller::{self, ShadowConfig, ShadowHandle};
use foresight_controller::log::{self, Body, Record};
use foresight_controller::model::ServedModel;
use foresight_core::predictor::PredictorKind;
use std::path::Path;
use std::time::Duration;

/// A shadow controller on the real Slurm, reading it through the commands.
pub async fn shadow(log_path: &Path, model: ServedModel, tune: impl FnOnce(&mut ShadowConfig)) -> ShadowHandle {
    let mut cfg = ShadowConfig::new("easy++", log_path);
    cfg.poll = Duration::from_millis(250);
    cfg.timer = Duration::from_secs(2);
    cfg.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    tune(&mut cfg);
    let adapter = SlurmAdapter::new(SlurmSource::Commands { bin_dir: None }).with_timeout(Duration::from_secs(5));
    controller::start(adapter, cfg, Some(model), false).await.expect("start shadow mode")
}

/// The EASY++ predictor as the candidate's model.
pub fn easy_pp() -> ServedModel {
    ServedModel::of_kind(PredictorKind::UserHistory, "easy++-test")
}

/// Every record of the log, all segments, checking none is damaged.
pub fn records(path: &Path) -> Vec<Record> {
    let scans = log::read_log(path).expect("read the decision log");
    for s in &scans {
        assert!(!matches!(s.tail, log::frame::Tail::Corrupt { .. } | log::frame::Tail::BadMagic), "{:?}", s.tail);
    }
    scans.into_iter().flat_map(|s| s.records).collect()
}

/// Polls `f` every 100 ms until it holds; panics after `limit`.
pub async fn until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

/// The cycle records of a log.
pub fn cycles(records: &[Record]) -> Vec<&foresight_controller::log::CycleRecord> {
    records.iter().filter_map(|r| if let Body::Cycle(c) = &r.body { Some(c) } else { None }).collect()
}
