//! foresight-simulator (being built).
