//! foresight-datasets (being built).
