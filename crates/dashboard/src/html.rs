//! Text made safe for the page: escaping, and the short form of a SHA.

/// `s` with the characters HTML gives meaning to escaped (text and attribute values alike).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The first 12 characters of a SHA, as the page shows it.
pub fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}
