//! Integration tests of the reports crate: Markdown snapshots and the HTML
//! page opened in a real headless Chromium.

mod chromium;
mod fixture;
mod snapshots;
