//! Lists of policies on the command line (`--policies`, `--candidates`):
//! comma-separated, where a comma inside brackets belongs to the policy
//! (`priority[age=100,size=1000]/conservative:requested`), so clap's own
//! value delimiter, which splits at every comma, cannot be used.

/// Each value split at the commas outside brackets, trimmed, empty parts
/// dropped: `["a,priority[age=1,size=2]:x", "b"]` gives `a`,
/// `priority[age=1,size=2]:x` and `b`.
pub fn split(values: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for value in values {
        let mut depth = 0usize;
        let mut start = 0;
        for (i, c) in value.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    out.push(value[start..i].trim().to_string());
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(value[start..].trim().to_string());
    }
    out.retain(|p| !p.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_inside_brackets_stay_with_their_policy() {
        let v = vec![
            "easy, priority[age=100,size=1000,fairshare=0]/conservative:requested".to_string(),
            "sjf:model,".into(),
        ];
        assert_eq!(split(&v), ["easy", "priority[age=100,size=1000,fairshare=0]/conservative:requested", "sjf:model"]);
        assert!(split(&[",,".to_string()]).is_empty());
        // an unclosed bracket keeps the rest together; the policy parser says what is wrong
        assert_eq!(split(&["priority[age=1,size=2".to_string()]), ["priority[age=1,size=2"]);
    }
}
