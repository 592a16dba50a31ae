//! foresight-models (being built).
