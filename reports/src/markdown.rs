//! Markdown rendering of a [`Doc`]: charts become the tables of their
//! numbers.

use crate::doc::{Block, Doc, Table};

/// The report as Markdown.
pub fn render(doc: &Doc) -> String {
    let mut out = format!("# {}\n", doc.title);
    for block in &doc.blocks {
        out.push('\n');
        match block {
            Block::Heading(h) => out += &format!("## {h}\n"),
            Block::Verdict(v) => out += &format!("**{v}**\n"),
            Block::Para(p) => out += &format!("{p}\n"),
            Block::List(items) => items.iter().for_each(|i| out += &format!("- {i}\n")),
            Block::Table(t) => out += &table(t),
            Block::Figure { caption, table: t, .. } => out += &format!("*{caption}*\n\n{}", table(t)),
            Block::Timings(t) => out += &format!("<sub>{t}</sub>\n"),
        }
    }
    out
}

fn table(t: &Table) -> String {
    let cell = |c: &String| c.replace('|', "\\|");
    let line = |cells: &[String]| format!("| {} |\n", cells.iter().map(cell).collect::<Vec<_>>().join(" | "));
    let mut out = line(&t.header);
    out += &format!("|{}\n", t.header.iter().enumerate().map(|(i, _)| if i == 0 { " --- |" } else { " ---: |" }).collect::<String>());
    for row in &t.rows {
        out += &line(row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_become_tables_and_pipes_are_escaped() {
        let mut t = Table::new(&["policy", "wait"]);
        t.row(vec!["a|b".into(), "1".into()]);
        let doc = Doc { title: "T".into(), blocks: vec![Block::Figure { caption: "c".into(), svg: "<svg/>".into(), table: t }] };
        assert_eq!(render(&doc), "# T\n\n*c*\n\n| policy | wait |\n| --- | ---: |\n| a\\|b | 1 |\n");
    }
}
