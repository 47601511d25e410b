//! Package URLs as far as matching needs them (package-url/purl-spec "How to parse a purl
//! string"), and go-vex's `PurlMatches`: a general purl covers a more specific one.

use std::collections::BTreeMap;

/// A parsed package URL: `pkg:type/namespace/name@version?qualifiers#subpath`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub version: Option<String>,
    pub qualifiers: BTreeMap<String, String>,
    pub subpath: Option<String>,
}

/// `%XX` sequences decoded; `None` when one is not valid hex or the result is not UTF-8.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl Purl {
    /// Parses `text`; `None` when it is not a package URL.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("pkg:")?;
        let (rest, subpath) = match rest.split_once('#') {
            Some((r, s)) => (r, Some(decode(s.trim_matches('/'))?)),
            None => (rest, None),
        };
        let (rest, qualifiers) = match rest.split_once('?') {
            Some((r, q)) => (r, q),
            None => (rest, ""),
        };
        let qualifiers = qualifiers
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=')?;
                Some((k.to_ascii_lowercase(), decode(v)?))
            })
            .filter(|kv| kv.as_ref().is_none_or(|(_, v)| !v.is_empty()))
            .collect::<Option<BTreeMap<_, _>>>()?;
        let rest = rest.trim_start_matches('/');
        let (kind, rest) = rest.split_once('/')?;
        let (rest, version) = match rest.rsplit_once('@') {
            Some((r, v)) => (r, Some(decode(v)?)),
            None => (rest, None),
        };
        let rest = rest.trim_end_matches('/');
        let (namespace, name) = rest.rsplit_once('/').unwrap_or(("", rest));
        let namespace = namespace
            .split('/')
            .filter(|s| !s.is_empty())
            .map(decode)
            .collect::<Option<Vec<_>>>()?
            .join("/");
        let name = decode(name)?;
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(Self {
            kind: kind.to_ascii_lowercase(),
            namespace,
            name,
            version,
            qualifiers,
            subpath,
        })
    }

    /// Whether `self`, the more general purl, covers `specific` (go-vex `PurlMatches`): the
    /// same type, namespace and name; no version, or the same; every qualifier of `self`
    /// present in `specific` with the same value (others may be there too).
    pub fn covers(&self, specific: &Purl) -> bool {
        self.kind == specific.kind
            && self.namespace == specific.namespace
            && self.name == specific.name
            && self
                .version
                .as_ref()
                .is_none_or(|v| specific.version.as_ref() == Some(v))
            && self
                .qualifiers
                .iter()
                .all(|(k, v)| specific.qualifiers.get(k) == Some(v))
    }
}

/// Whether the purl `general` covers the purl `specific`; `false` when either is not one.
pub fn covers(general: &str, specific: &str) -> bool {
    match (Purl::parse(general), Purl::parse(specific)) {
        (Some(g), Some(s)) => g.covers(&s),
        _ => false,
    }
}
