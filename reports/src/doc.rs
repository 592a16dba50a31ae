//! A report as a list of blocks, built once and rendered twice: as HTML
//! (charts drawn, tables beside them) and as Markdown (the same tables), so
//! both always say the same thing.

/// A table of already formatted cells.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Column headers.
    pub header: Vec<String>,
    /// Rows, each as long as the header.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these headers and no rows.
    pub fn new(header: &[&str]) -> Self {
        Self { header: header.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }

    /// Appends a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
}

/// One block of a report.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A section heading.
    Heading(String),
    /// The headline sentence, shown first and prominently.
    Verdict(String),
    /// A paragraph.
    Para(String),
    /// A bulleted list.
    List(Vec<String>),
    /// A table.
    Table(Table),
    /// A chart (SVG, drawn in HTML only) with the table of its numbers.
    Figure {
        /// Caption.
        caption: String,
        /// The chart.
        svg: String,
        /// Its numbers.
        table: Table,
    },
    /// How long producing the evidence took (redacted in snapshots).
    Timings(String),
}

/// A whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// Title.
    pub title: String,
    /// Blocks in order.
    pub blocks: Vec<Block>,
}
