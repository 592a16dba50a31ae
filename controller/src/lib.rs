//! foresight-controller (being built).
