//! foresight-reports: renders results computed elsewhere (a policy
//! comparison's [`Evidence`], runtime models' evaluations, a shadow run's
//! summary as [`shadow::ShadowEvidence`]) as one
//! self-contained HTML page with inline SVG charts, the same content as
//! Markdown, and the numbers as JSON.
//!
//! Architecture invariant: reports render; they compute no result. Every
//! number shown comes from the evidence (see
//! `foresight_simulator::evidence`); this crate only lays it out, scales it
//! onto axes and formats it.

pub mod ab;
pub mod chart;
pub mod comparison;
pub mod demand;
pub mod doc;
pub mod html;
pub mod markdown;
pub mod model;
pub mod plan;
pub mod prediction;
pub mod shadow;

pub use foresight_simulator::Evidence;
use std::path::{Path, PathBuf};

/// The error of reading evidence or writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// "read" or "write".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The results file is not evidence foresight wrote.
    #[error("read {path}: not a foresight results file: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// The evidence names a baseline or candidate it does not hold.
    #[error("the results name run {index} but hold {runs} runs")]
    BadIndex {
        /// The index.
        index: usize,
        /// How many runs there are.
        runs: usize,
    },
}

/// A report in its three forms.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// One self-contained HTML page.
    pub html: String,
    /// The same content as Markdown.
    pub markdown: String,
    /// The numbers, as pretty JSON (the evidence itself).
    pub json: String,
}

/// The paths a report was written to.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The HTML page.
    pub html: PathBuf,
    /// The Markdown.
    pub markdown: PathBuf,
    /// The JSON.
    pub json: PathBuf,
}

/// Renders a policy comparison.
pub fn render_comparison(evidence: &Evidence) -> Result<Rendered, ReportError> {
    let runs = evidence.runs.len();
    for index in [evidence.baseline, evidence.candidate] {
        if index >= runs {
            return Err(ReportError::BadIndex { index, runs });
        }
    }
    let doc = comparison::doc(evidence);
    let json = serde_json::to_string_pretty(evidence).map_err(|source| ReportError::Json { path: PathBuf::new(), source })?;
    Ok(Rendered { html: html::render(&doc), markdown: markdown::render(&doc), json: json + "\n" })
}

/// Renders a policy comparison and writes it: the HTML to `html_path`, the
/// Markdown and JSON beside it (same name, `.md` and `.json`).
pub fn write_comparison(evidence: &Evidence, html_path: &Path) -> Result<Written, ReportError> {
    write(&render_comparison(evidence)?, html_path)
}

/// Renders the model report of `evals` (runtime models scored after their
/// training windows).
pub fn render_model(title: &str, evals: &[foresight_models::Evaluation]) -> Result<Rendered, ReportError> {
    let doc = model::doc(title, evals);
    let json = serde_json::to_string_pretty(evals).map_err(|source| ReportError::Json { path: PathBuf::new(), source })?;
    Ok(Rendered { html: html::render(&doc), markdown: markdown::render(&doc), json: json + "\n" })
}

/// Renders the model report and writes it as [`write_comparison`] does.
pub fn write_model(title: &str, evals: &[foresight_models::Evaluation], html_path: &Path) -> Result<Written, ReportError> {
    write(&render_model(title, evals)?, html_path)
}

/// Renders the shadow report of a decision log's summary.
pub fn render_shadow(evidence: &shadow::ShadowEvidence) -> Result<Rendered, ReportError> {
    let doc = shadow::doc(evidence);
    let json = serde_json::to_string_pretty(evidence).map_err(|source| ReportError::Json { path: PathBuf::new(), source })?;
    Ok(Rendered { html: html::render(&doc), markdown: markdown::render(&doc), json: json + "\n" })
}

/// Renders the shadow report and writes it as [`write_comparison`] does.
pub fn write_shadow(evidence: &shadow::ShadowEvidence, html_path: &Path) -> Result<Written, ReportError> {
    write(&render_shadow(evidence)?, html_path)
}

/// Renders the report of an A/B run (`foresight ab`).
pub fn render_ab(evidence: &ab::AbEvidence) -> Result<Rendered, ReportError> {
    let doc = ab::doc(evidence);
    let json = serde_json::to_string_pretty(evidence).map_err(|source| ReportError::Json { path: PathBuf::new(), source })?;
    Ok(Rendered { html: html::render(&doc), markdown: markdown::render(&doc), json: json + "\n" })
}

/// Renders the A/B report and writes it as [`write_comparison`] does.
pub fn write_ab(evidence: &ab::AbEvidence, html_path: &Path) -> Result<Written, ReportError> {
    write(&render_ab(evidence)?, html_path)
}

/// Renders a capacity plan.
pub fn render_plan(p: &foresight_simulator::plan::Plan) -> Result<Rendered, ReportError> {
    let doc = plan::doc(p);
    let json = serde_json::to_string_pretty(p).map_err(|source| ReportError::Json { path: PathBuf::new(), source })?;
    Ok(Rendered { html: html::render(&doc), markdown: markdown::render(&doc), json: json + "\n" })
}

/// Renders a capacity plan and writes it as [`write_comparison`] does.
pub fn write_plan(p: &foresight_simulator::plan::Plan, html_path: &Path) -> Result<Written, ReportError> {
    write(&render_plan(p)?, html_path)
}

/// Renders a plan's backtest.
pub fn render_backtest(title: &str, b: &foresight_simulator::plan::backtest::Backtest) -> Result<Rendered, ReportError> {
    let doc = plan::backtest_doc(title, b);
    let json = serde_json::to_string_pretty(b).map_err(|source| ReportError::Json { path: PathBuf::new(), source })?;
    Ok(Rendered { html: html::render(&doc), markdown: markdown::render(&doc), json: json + "\n" })
}

/// Renders a plan's backtest and writes it as [`write_comparison`] does.
pub fn write_backtest(title: &str, b: &foresight_simulator::plan::backtest::Backtest, html_path: &Path) -> Result<Written, ReportError> {
    write(&render_backtest(title, b)?, html_path)
}

fn write(r: &Rendered, html_path: &Path) -> Result<Written, ReportError> {
    let written = Written {
        html: html_path.to_path_buf(),
        markdown: html_path.with_extension("md"),
        json: html_path.with_extension("json"),
    };
    for (path, text) in [(&written.html, &r.html), (&written.markdown, &r.markdown), (&written.json, &r.json)] {
        std::fs::write(path, text).map_err(|source| ReportError::Io { action: "write", path: path.clone(), source })?;
    }
    Ok(written)
}

/// Reads evidence written by `compare --report`, `demo` or [`write_comparison`].
pub fn read_evidence(path: &Path) -> Result<Evidence, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io { action: "read", path: path.to_path_buf(), source })?;
    serde_json::from_str(&text).map_err(|source| ReportError::Json { path: path.to_path_buf(), source })
}
