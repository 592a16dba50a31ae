//! Integration tests of the reports crate: Markdown snapshots of the
//! comparison, model and shadow reports, and their HTML pages opened in a
//! real headless Chromium.

mod browser;
mod chromium;
mod fixture;
mod model;
mod shadow;
mod snapshots;
