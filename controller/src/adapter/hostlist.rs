//! Slurm host lists: `n[1-3,7],gpu[01-02],login` to node names.

/// Expands a Slurm host-list expression into node names, in order.
/// Zero-padded ranges keep their width (`gpu[08-10]` gives `gpu08`..`gpu10`).
/// Text that is not a valid range is kept as one literal name.
pub fn expand(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in split_top(list) {
        match (part.find('['), part.ends_with(']')) {
            (Some(open), true) => {
                let prefix = &part[..open];
                let body = &part[open + 1..part.len() - 1];
                let before = out.len();
                let ok = body.split(',').all(|r| push_range(&mut out, prefix, r));
                if !ok {
                    out.truncate(before);
                    out.push(part.to_string());
                }
            }
            _ if !part.is_empty() => out.push(part.to_string()),
            _ => {}
        }
    }
    out
}

/// Splits at commas outside brackets.
fn split_top(list: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in list.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(list[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(list[start..].trim());
    parts
}

fn push_range(out: &mut Vec<String>, prefix: &str, range: &str) -> bool {
    let (lo, hi) = range.split_once('-').unwrap_or((range, range));
    let (Ok(a), Ok(b)) = (lo.parse::<u64>(), hi.parse::<u64>()) else { return false };
    if a > b || b - a > 100_000 {
        return false;
    }
    let width = lo.len();
    out.extend((a..=b).map(|i| format!("{prefix}{i:0width$}")));
    true
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn expands_ranges_lists_and_padding() {
        assert_eq!(expand("n[1-3]"), ["n1", "n2", "n3"]);
        assert_eq!(expand("n[1-2,5],login"), ["n1", "n2", "n5", "login"]);
        assert_eq!(expand("gpu[08-10]"), ["gpu08", "gpu09", "gpu10"]);
        assert_eq!(expand("n4"), ["n4"]);
        assert!(expand("").is_empty());
        assert_eq!(expand("odd[x-y]"), ["odd[x-y]"]);
    }
}
