//! Demand forecasts (placeholder, filled below).
