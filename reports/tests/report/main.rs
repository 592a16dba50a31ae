//! Integration tests of the reports crate: Markdown snapshots of the
//! comparison and model reports, and their HTML pages opened in a real
//! headless Chromium.

mod chromium;
mod fixture;
mod model;
mod snapshots;
