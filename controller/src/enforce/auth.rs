//! Operators' credentials: bearer tokens, each with a name and a role. An
//! operator may switch modes and give verdicts; a watcher may only read.
//!
//! The token file has one token a line, `ROLE NAME TOKEN` (`operator` or
//! `watch`); blank lines and lines starting with `#` are skipped. Tokens
//! are compared in constant time.

use std::path::Path;

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Read the mode and the proposals.
    Watch,
    /// Also switch modes and approve or override proposals.
    Operator,
}

/// A token file that is not one.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The file could not be read.
    #[error("read token file {path}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line is not `ROLE NAME TOKEN`.
    #[error("token file line {line}: {detail}")]
    Line {
        /// The line number, from 1.
        line: usize,
        /// What is wrong.
        detail: String,
    },
}

/// The known tokens.
#[derive(Clone, Default)]
pub struct Tokens {
    entries: Vec<(Role, String, Vec<u8>)>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} entries)", self.entries.len())
    }
}

/// Equal in time that depends only on the lengths.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Tokens {
    /// Parses a token file's text.
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |detail: String| TokenError::Line { line: i + 1, detail };
            let f: Vec<&str> = line.split_whitespace().collect();
            let [role, name, token] = f[..] else {
                return Err(bad(format!("{} fields, expected `ROLE NAME TOKEN`", f.len())));
            };
            let role = match role {
                "operator" => Role::Operator,
                "watch" => Role::Watch,
                r => return Err(bad(format!("unknown role `{r}` (operator or watch)"))),
            };
            if token.len() < 16 {
                return Err(bad(format!("the token of `{name}` is shorter than 16 characters")));
            }
            entries.push((role, name.to_string(), token.as_bytes().to_vec()));
        }
        Ok(Self { entries })
    }

    /// Reads a token file.
    pub fn load(path: &Path) -> Result<Self, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Io { path: path.into(), source })?;
        Self::parse(&text)
    }

    /// The name and role of the holder of `token`, if it is known.
    pub fn check(&self, token: &str) -> Option<(&str, Role)> {
        let mut found = None;
        // every entry is compared, found or not
        for (role, name, t) in &self.entries {
            if same(t, token.as_bytes()) && found.is_none() {
                found = Some((name.as_str(), *role));
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_their_holder_and_role() {
        let t = Tokens::parse("# ops\noperator alice aaaaaaaaaaaaaaaa1\n\nwatch bob bbbbbbbbbbbbbbbb2\n").unwrap();
        assert_eq!(t.check("aaaaaaaaaaaaaaaa1"), Some(("alice", Role::Operator)));
        assert_eq!(t.check("bbbbbbbbbbbbbbbb2"), Some(("bob", Role::Watch)));
        assert_eq!(t.check("aaaaaaaaaaaaaaaa"), None);
        assert_eq!(t.check(""), None);
    }

    #[test]
    fn a_bad_line_is_refused_with_its_number() {
        let err = Tokens::parse("operator alice aaaaaaaaaaaaaaaa1\nadmin carol cccccccccccccccccc\n").unwrap_err();
        assert!(err.to_string().contains("line 2: unknown role `admin`"), "{err}");
        let err = Tokens::parse("operator alice short\n").unwrap_err();
        assert!(err.to_string().contains("shorter than 16"), "{err}");
        let err = Tokens::parse("operator alice\n").unwrap_err();
        assert!(err.to_string().contains("2 fields"), "{err}");
    }
}
