//! foresight-reports (being built).
