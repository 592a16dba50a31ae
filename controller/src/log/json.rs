//! JSON scalars written exactly as `serde_json` writes them, for the
//! hand-written encoder of the cycle record (`compact.rs`): numbers go
//! through `serde_json`'s own serializer (itoa and ryu, `null` for a
//! non-finite float), and strings take a plain copy when no byte needs
//! escaping, else `serde_json`'s escaping.

use serde::Serializer as _;

/// True when `serde_json` writes `s` between quotes unchanged: no control
/// byte, quote or backslash (it escapes nothing else).
fn plain(s: &str) -> bool {
    s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')
}

/// Appends `s` as a JSON string.
pub(crate) fn str(out: &mut Vec<u8>, s: &str) {
    if plain(s) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::Serializer::new(&mut *out).serialize_str(s).expect("writing to a Vec cannot fail");
    }
}

/// Appends `v` as `serde_json` writes an `f64`.
pub(crate) fn f64(out: &mut Vec<u8>, v: f64) {
    serde_json::Serializer::new(&mut *out).serialize_f64(v).expect("writing to a Vec cannot fail");
}

/// Appends `v` as a JSON integer.
pub(crate) fn u64(out: &mut Vec<u8>, v: u64) {
    serde_json::Serializer::new(&mut *out).serialize_u64(v).expect("writing to a Vec cannot fail");
}

/// Appends `v` as a JSON string, or `null`.
pub(crate) fn opt_str(out: &mut Vec<u8>, v: Option<&str>) {
    match v {
        Some(s) => str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_match_serde_json() {
        for s in ["", "abc", "a\"b", "back\\slash", "tab\there", "\u{0}\u{1f}", "é ✓ \u{7f}", "n1"] {
            let mut out = Vec::new();
            str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
        for v in [0.0, -0.0, 1.5, 1.8e9, 1e21, 1e-7, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::MAX, 0.1 + 0.2] {
            let mut out = Vec::new();
            f64(&mut out, v);
            assert_eq!(out, serde_json::to_vec(&v).unwrap(), "{v}");
        }
        for v in [0, 7, u64::MAX] {
            let mut out = Vec::new();
            u64(&mut out, v);
            assert_eq!(out, serde_json::to_vec(&v).unwrap());
        }
    }
}
