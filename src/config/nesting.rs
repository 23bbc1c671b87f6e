//! A pre-scan for brace and block-comment nesting depth.
//!
//! The KDL parser recurses once per `{` and per nested `/*`: a few thousand levels overflow
//! the stack and abort the process, which no `Result` can catch. Config files nest at most
//! three levels (instance > on-master > action), so anything deeper is refused before parsing.

use miette::SourceSpan;

/// Deeper than this is refused; real configs use 3.
pub(crate) const MAX_DEPTH: usize = 16;

/// The span of the first `{` or `/*` that goes deeper than [`MAX_DEPTH`], if any.
///
/// Strings (quoted, multi-line, raw `#"..."#`) and comments are skipped the way KDL 2.0
/// lexes them, so braces inside strings do not count.
pub(crate) fn too_deep(src: &str) -> Option<SourceSpan> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut depth = 0usize;
    while i < b.len() {
        match b[i] {
            b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(SourceSpan::new(i.into(), 1));
                }
                i += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut comments = 0usize;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        comments += 1;
                        if comments > MAX_DEPTH {
                            return Some(SourceSpan::new(i.into(), 2));
                        }
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        comments -= 1;
                        i += 2;
                        if comments == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'"' => i = skip_quoted(b, i),
            b'#' => {
                let hashes = b[i..].iter().take_while(|c| **c == b'#').count();
                if b.get(i + hashes) == Some(&b'"') {
                    i = skip_raw(b, i + hashes, hashes);
                } else {
                    i += hashes;
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// Skips a `"..."` or `"""..."""` string with backslash escapes; returns the index after it.
fn skip_quoted(b: &[u8], start: usize) -> usize {
    let multi = b[start..].starts_with(b"\"\"\"");
    let mut i = start + if multi { 3 } else { 1 };
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' if !multi => return i + 1,
            b'"' if b[i..].starts_with(b"\"\"\"") => return i + 3,
            _ => i += 1,
        }
    }
    b.len()
}

/// Skips a raw string opened by `hashes` `#` and the quote at `quote`; no escapes inside.
fn skip_raw(b: &[u8], quote: usize, hashes: usize) -> usize {
    let multi = b[quote..].starts_with(b"\"\"\"");
    let close_quotes = if multi { 3 } else { 1 };
    let mut i = quote + close_quotes;
    while i < b.len() {
        if b[i..].starts_with(&b"\"\"\""[..close_quotes])
            && b[i + close_quotes..]
                .iter()
                .take(hashes)
                .filter(|c| **c == b'#')
                .count()
                == hashes
        {
            return i + close_quotes + hashes;
        }
        i += 1;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_real_nesting_only() {
        assert_eq!(too_deep("a { b { c { d } } }"), None);
        let deep = "a {".repeat(MAX_DEPTH + 1);
        assert_eq!(too_deep(&deep).map(|s| s.offset()), Some(3 * MAX_DEPTH + 2));
        let in_string = format!("a \"{}\"", "{".repeat(100));
        assert_eq!(too_deep(&in_string), None);
        let in_raw = format!("a #\"\"{}\"\"#", "{".repeat(100));
        assert_eq!(too_deep(&in_raw), None);
        let in_comment = format!("// {}\n/* {} */", "{".repeat(100), "{".repeat(100));
        assert_eq!(too_deep(&in_comment), None);
        assert!(too_deep(&"/*".repeat(100)).is_some());
        let escaped = format!("a \"\\\"{}\"", "{".repeat(100));
        assert_eq!(too_deep(&escaped), None);
        // Braces hidden by a string that closes are not hidden: the next ones still count.
        let tricky = format!("a \"}}}}}}}}\" {}", "x {".repeat(MAX_DEPTH + 1));
        assert!(too_deep(&tricky).is_some());
    }
}
