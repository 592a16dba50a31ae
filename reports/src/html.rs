//! HTML rendering of a [`Doc`]: one self-contained page (inline SVG and CSS,
//! no script, nothing fetched), laid out for screens and for print.

use crate::chart::escape;
use crate::doc::{Block, Doc, Table};

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; color: #222; max-width: 980px; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .3rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; }
.verdict { font-size: 1.15rem; font-weight: 600; background: #eef5fb; border-left: 5px solid #0072B2; padding: .7rem 1rem; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; }
th { background: #f3f3f3; }
td:not(:first-child) { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; }
figure svg { width: 100%; height: auto; max-width: 760px; display: block; }
figcaption { font-weight: 600; margin-bottom: .3rem; }
.tick { fill: #444; font-size: 11px; }
.axis-label { fill: #222; font-size: 12px; }
.timings { color: #777; font-size: .8rem; }
@media print {
  body { margin: 0; max-width: none; }
  figure, table { break-inside: avoid; }
  h2 { break-after: avoid; }
  .verdict { background: none; }
}
@page { margin: 15mm; }
";

/// The report as one HTML page.
pub fn render(doc: &Doc) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<link rel=\"icon\" href=\"data:,\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&doc.title),
        escape(&doc.title)
    );
    for block in &doc.blocks {
        match block {
            Block::Heading(h) => out += &format!("<h2>{}</h2>\n", escape(h)),
            Block::Verdict(v) => out += &format!("<p class=\"verdict\">{}</p>\n", escape(v)),
            Block::Para(p) => out += &format!("<p>{}</p>\n", escape(p)),
            Block::List(items) => {
                out += "<ul>\n";
                items.iter().for_each(|i| out += &format!("<li>{}</li>\n", escape(i)));
                out += "</ul>\n";
            }
            Block::Table(t) => out += &table(t),
            Block::Figure { caption, svg, table: t } => {
                out += &format!("<figure>\n<figcaption>{}</figcaption>\n{svg}\n</figure>\n{}", escape(caption), table(t));
            }
            Block::Timings(t) => out += &format!("<p class=\"timings\">{}</p>\n", escape(t)),
        }
    }
    out + "</body>\n</html>\n"
}

fn table(t: &Table) -> String {
    let row = |cells: &[String], tag: &str| {
        let cells: String = cells.iter().map(|c| format!("<{tag}>{}</{tag}>", escape(c))).collect();
        format!("<tr>{cells}</tr>\n")
    };
    let body: String = t.rows.iter().map(|r| row(r, "td")).collect();
    format!("<table>\n<thead>{}</thead>\n<tbody>\n{body}</tbody>\n</table>\n", row(&t.header, "th"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_self_contained_and_escaped() {
        let doc = Doc { title: "A <b>".into(), blocks: vec![Block::Verdict("x & y".into())] };
        let html = render(&doc);
        assert!(html.contains("<title>A &lt;b&gt;</title>") && html.contains("x &amp; y"));
        assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));
    }
}
