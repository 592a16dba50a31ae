//! The wall clock: `foresight-core`'s [`Clock`] read from the system time.
//!
//! The runtime never reads the time itself; the simulator moves a virtual
//! clock, and the live controller reads this one (Unix seconds), where it
//! stamps observations and log records.

use foresight_core::runtime::Clock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The system's time in Unix seconds (0 before 1970, which no live system
/// shows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> f64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
    }
}

/// The wall clock's time now.
pub fn now_unix_s() -> f64 {
    WallClock.now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wall_clock_reads_unix_seconds() {
        let t = now_unix_s();
        assert!(t > 1.7e9, "after 2023: {t}");
        assert!(WallClock.now() >= t);
    }
}
