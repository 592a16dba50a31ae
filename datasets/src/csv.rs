//! A small CSV reader for headed logs (GPU jobs, pods, telemetry): fields
//! separated by commas, optionally double-quoted with `""` escapes, one
//! record a line. Built on [`Lines`], so memory stays bounded.

use crate::error::{IngestError, LineError};
use crate::reject::{Rejects, SkipReport};
use crate::source::Lines;
use std::borrow::Cow;
use std::io::BufRead;
use std::path::Path;

/// One record: its fields by header name.
pub(crate) struct Record<'a> {
    header: &'a [String],
    fields: Vec<(usize, Cow<'a, str>)>,
    line: u64,
}

impl<'a> Record<'a> {
    fn index(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The field under `name`, `None` when absent or empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        let v = self.fields[self.index(name)?].1.trim();
        (!v.is_empty()).then_some(v)
    }

    /// An error about the field under `name`.
    pub(crate) fn err(&self, name: &str, expected: &str, found: &str) -> LineError {
        let col = self.index(name).map(|i| self.fields[i].0);
        LineError::new(self.line, col, name, expected, found)
    }

    /// A finite number under `name`, `None` when empty.
    pub(crate) fn num(&self, name: &str) -> Result<Option<f64>, LineError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.parse::<f64>().ok().filter(|x| x.is_finite()).map(Some).ok_or_else(|| self.err(name, "a number", v)),
        }
    }

    /// A number that must be present.
    pub(crate) fn required_num(&self, name: &str) -> Result<f64, LineError> {
        self.num(name)?.ok_or_else(|| self.err(name, "a number", ""))
    }

    /// A non-negative whole number under `name`, `None` when empty.
    pub(crate) fn count(&self, name: &str) -> Result<Option<u64>, LineError> {
        match self.num(name)? {
            Some(x) if x >= 0.0 && x.fract() == 0.0 => Ok(Some(x as u64)),
            Some(_) => Err(self.err(name, "a non-negative whole number", self.get(name).unwrap_or(""))),
            None => Ok(None),
        }
    }

    /// The header names that are not in `known`, with their values, in header order.
    pub(crate) fn others<'b>(&'b self, known: &'b [&str]) -> impl Iterator<Item = (&'b str, &'b str)> + 'b {
        self.header
            .iter()
            .zip(&self.fields)
            .filter(move |(h, _)| !known.contains(&h.as_str()))
            .map(|(h, (_, v))| (h.as_str(), v.trim()))
            .filter(|(_, v)| !v.is_empty())
    }
}

/// Splits one CSV line into fields with their 1-based byte columns; the
/// error is the column of a malformed quote.
fn split(line: &str) -> Result<Vec<(usize, Cow<'_, str>)>, usize> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let start = i;
        if b.get(i) == Some(&b'"') {
            let mut s = String::new();
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err(start + 1),
                    Some(b'"') if b.get(i + 1) == Some(&b'"') => {
                        s.push('"');
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(_) => {
                        let next = line[i..].find('"').map_or(b.len(), |k| i + k);
                        s.push_str(&line[i..next]);
                        i = next;
                    }
                }
            }
            out.push((start + 1, Cow::Owned(s)));
            match b.get(i) {
                None => return Ok(out),
                Some(b',') => i += 1,
                Some(_) => return Err(i + 1),
            }
        } else {
            let end = line[i..].find(',').map_or(b.len(), |k| i + k);
            out.push((start + 1, Cow::Borrowed(&line[i..end])));
            if end == b.len() {
                return Ok(out);
            }
            i = end + 1;
        }
    }
}

/// Reads a headed CSV file, mapping each record with `map`; `required`
/// columns must be in the header. Returns the mapped rows, the header and
/// what was skipped.
pub(crate) fn read_rows<R: BufRead, T>(
    input: R,
    path: &Path,
    strict: bool,
    required: &[&str],
    map: impl FnMut(&Record<'_>) -> Result<T, LineError>,
) -> Result<(Vec<T>, Vec<String>, SkipReport), IngestError> {
    let mut rows = Vec::new();
    let (header, report) = for_each_row(input, path, strict, required, map, |_, row| {
        rows.push(row);
        Ok(())
    })?;
    Ok((rows, header, report))
}

/// [`read_rows`], handing each mapped row to `sink` (with the header) as
/// it is read instead of keeping them: memory stays bounded whatever the
/// file's size. Returns the header and what was skipped.
pub(crate) fn for_each_row<R: BufRead, T>(
    input: R,
    path: &Path,
    strict: bool,
    required: &[&str],
    mut map: impl FnMut(&Record<'_>) -> Result<T, LineError>,
    mut sink: impl FnMut(&[String], T) -> Result<(), IngestError>,
) -> Result<(Vec<String>, SkipReport), IngestError> {
    let mut rejects = Rejects::new(path, strict);
    let mut lines = Lines::new(input);
    let mut header: Option<Vec<String>> = None;
    while let Some((line_no, text)) = lines.next_str(&mut rejects)? {
        if text.trim().is_empty() {
            continue;
        }
        let fields = match split(text) {
            Ok(f) => f,
            Err(col) => {
                let e = LineError::new(line_no, Some(col), "line", "well-formed CSV quoting", text);
                if header.is_none() {
                    return Err(rejects.fatal(e));
                }
                rejects.reject(e)?;
                continue;
            }
        };
        let Some(names) = &header else {
            let names: Vec<String> = fields.iter().map(|(_, f)| f.trim().to_string()).collect();
            if let Some(missing) = required.iter().find(|r| !names.iter().any(|n| n == *r)) {
                let expected = format!("a header with the columns {}", required.join(", "));
                return Err(rejects.fatal(LineError::new(line_no, Some(1), *missing, expected, text)));
            }
            header = Some(names);
            continue;
        };
        if fields.len() != names.len() {
            let n = fields.len().min(names.len());
            let field = names.get(n).map_or("line", String::as_str);
            let col = fields.last().map_or(1, |(c, f)| c + f.len());
            rejects.reject(LineError::new(line_no, Some(col), field, format!("{} fields as in the header", names.len()), &format!("{} fields", fields.len())))?;
            continue;
        }
        match map(&Record { header: names, fields, line: line_no }) {
            Ok(row) => sink(names, row)?,
            Err(e) => rejects.reject(e)?,
        }
    }
    let header = header.ok_or(IngestError::Empty { path: path.to_path_buf(), what: "header" })?;
    Ok((header, rejects.report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(line: &str) -> Vec<String> {
        split(line).unwrap().into_iter().map(|(_, f)| f.into_owned()).collect()
    }

    #[test]
    fn splits_plain_and_quoted_fields() {
        assert_eq!(fields("a,,b"), ["a", "", "b"]);
        assert_eq!(fields(r#""x, y","say ""hi""",z"#), ["x, y", r#"say "hi""#, "z"]);
        assert_eq!(fields(""), [""]);
        assert_eq!(split(r#"a,"open"#), Err(3));
        assert_eq!(split(r#""a"b,c"#), Err(4));
    }

    #[test]
    fn short_rows_are_reported_with_the_first_missing_column() {
        let input = "a,b,c\n1,2,3\n4,5\n";
        let (rows, _, skipped) = read_rows(input.as_bytes(), Path::new("t.csv"), false, &["a"], |r| r.required_num("a")).unwrap();
        assert_eq!(rows, [1.0]);
        assert_eq!(skipped.examples[0].field, "c");
        assert_eq!(skipped.examples[0].line, 3);
    }

    #[test]
    fn a_missing_required_column_is_fatal() {
        let err = read_rows("x,y\n1,2\n".as_bytes(), Path::new("t.csv"), false, &["a"], |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("field `a`: expected a header with the columns a"), "{err}");
    }
}
