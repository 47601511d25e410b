//! Read and edit YAML documents (values files, Argo CD manifests) **without disturbing
//! anything else**: comments, key order, quoting and blank lines stay byte-for-byte and only
//! the named scalars change, the way `yq -i` behaves.
//!
//! The document is parsed once into a map from each scalar's path (`image.tag`,
//! `spec.generators[0].list.elements[1].env`) to its byte span; an edit splices new text into
//! those spans and re-parses the result to prove it still says what was intended.

use std::collections::BTreeMap;
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{file}: not valid YAML at line {line}, column {column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: expected a mapping at the top level, found {found}")]
    NotAMapping { file: String, found: &'static str },
    #[error("{file}: key {path} appears twice (lines {first_line} and {line})")]
    DuplicateKey {
        file: String,
        path: String,
        first_line: usize,
        line: usize,
    },
    #[error("{file}: has no scalar at {path} (expected {expected})")]
    MissingKey {
        file: String,
        path: String,
        expected: &'static str,
    },
    #[error("{file}: holds more than one YAML document; expected exactly one")]
    MultipleDocuments { file: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A scalar value to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    Str(String),
    Int(i64),
    /// Text that stood unquoted in a document (a number, a boolean, a plain word), written
    /// back unquoted so it keeps its type: what a revert restores.
    Plain(String),
}

impl Scalar {
    pub fn str(s: impl Into<String>) -> Self {
        Self::Str(s.into())
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Str(s) | Self::Plain(s) => f.write_str(s),
            Self::Int(n) => write!(f, "{n}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Located {
    value: String,
    style: ScalarStyle,
    /// Byte range of the scalar's text in the document, quotes included.
    start: usize,
    end: usize,
    line: usize,
}

/// A parsed YAML document that remembers where every scalar stands.
#[derive(Debug, Clone)]
pub struct Document {
    file: String,
    text: String,
    scalars: BTreeMap<String, Located>,
}

impl Document {
    /// Parses `text`; `file` names it in errors. The top level must be a mapping, and no
    /// mapping may repeat a key.
    pub fn parse(file: impl Into<String>, text: impl Into<String>) -> Result<Self> {
        let file = file.into();
        let text = text.into();
        let scalars = Walker::new(&file, &text).walk()?;
        Ok(Self {
            file,
            text,
            scalars,
        })
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The scalar at `path`, as written (without quotes).
    pub fn get(&self, path: &str) -> Option<&str> {
        self.scalars.get(path).map(|s| s.value.as_str())
    }

    /// The scalar at `path` as a value to write elsewhere, keeping its type: an unquoted
    /// scalar (`3`, `true`) stays unquoted, a quoted one stays a string.
    pub fn scalar(&self, path: &str) -> Option<Scalar> {
        self.scalars.get(path).map(|s| match s.style {
            ScalarStyle::Plain => Scalar::Plain(s.value.clone()),
            _ => Scalar::Str(s.value.clone()),
        })
    }

    /// The scalar at `path`, or an error naming the file, the path and what was expected.
    pub fn require(&self, path: &str, expected: &'static str) -> Result<&str> {
        self.get(path).ok_or_else(|| Error::MissingKey {
            file: self.file.clone(),
            path: path.to_owned(),
            expected,
        })
    }

    /// Every path that starts with `prefix`, in order, with its value.
    pub fn under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.scalars
            .range(prefix.to_owned()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.value.as_str()))
    }

    /// Returns the document with each `(path, value)` set, touching no other byte.
    /// Every path must already hold a scalar. Unchanged values leave the text as it is.
    pub fn with(&self, changes: &[(&str, Scalar)]) -> Result<Self> {
        let mut edits: Vec<(usize, usize, String)> = Vec::new();
        for (path, value) in changes {
            let located = self.scalars.get(*path).ok_or_else(|| Error::MissingKey {
                file: self.file.clone(),
                path: (*path).to_owned(),
                expected: "an existing scalar to replace",
            })?;
            if located.value == value.to_string() {
                continue;
            }
            edits.push((located.start, located.end, render(value, located.style)));
        }
        edits.sort_by_key(|(start, _, _)| std::cmp::Reverse(*start));
        let mut text = self.text.clone();
        for (start, end, replacement) in edits {
            text.replace_range(start..end, &replacement);
        }
        let edited = Self::parse(self.file.clone(), text)?;
        for (path, value) in changes {
            debug_assert_eq!(edited.get(path), Some(value.to_string().as_str()));
        }
        Ok(edited)
    }
}

/// Writes `value` in the style the old scalar had, quoting whenever plain text would be
/// read back as something else (a number, a boolean, null, or broken syntax).
fn render(value: &Scalar, style: ScalarStyle) -> String {
    match value {
        Scalar::Int(n) => n.to_string(),
        Scalar::Plain(s) => s.clone(),
        Scalar::Str(s) => match style {
            ScalarStyle::SingleQuoted => format!("'{}'", s.replace('\'', "''")),
            ScalarStyle::Plain if plain_is_safe(s) => s.clone(),
            _ => double_quoted(s),
        },
    }
}

fn double_quoted(s: &str) -> String {
    // JSON strings are valid YAML double-quoted scalars.
    serde_json::Value::String(s.to_owned()).to_string()
}

fn plain_is_safe(s: &str) -> bool {
    let simple = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'-' | b'@'))
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    let lower = s.to_ascii_lowercase();
    let reserved = matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | ".inf" | ".nan"
    );
    let numeric = s.parse::<f64>().is_ok()
        || s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'e' | b'E' | b'.' | b'-' | b'+'))
        || s.starts_with("0x")
        || s.starts_with("0o");
    simple && !reserved && !numeric
}

/// Container being walked: a mapping (expecting a key or a value) or a sequence.
enum Frame {
    Mapping {
        path: String,
        pending_key: Option<String>,
        keys: BTreeMap<String, usize>,
    },
    Sequence {
        path: String,
        next: usize,
    },
}

struct Walker<'a> {
    file: &'a str,
    text: &'a str,
    /// Byte offset of each character index (the parser counts characters).
    byte_at: Vec<usize>,
}

impl<'a> Walker<'a> {
    fn new(file: &'a str, text: &'a str) -> Self {
        let mut byte_at: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        byte_at.push(text.len());
        Self {
            file,
            text,
            byte_at,
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        self.byte_at
            .get(char_index)
            .copied()
            .unwrap_or(self.text.len())
    }

    fn walk(&self) -> Result<BTreeMap<String, Located>> {
        let mut scalars = BTreeMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut documents = 0;
        let mut top_level_seen = false;
        for item in Parser::new_from_str(self.text) {
            let (event, span) = item.map_err(|e| Error::Syntax {
                file: self.file.to_owned(),
                line: e.marker().line(),
                column: e.marker().col() + 1,
                message: e.info().to_owned(),
            })?;
            match event {
                Event::DocumentStart(_) => {
                    documents += 1;
                    if documents > 1 {
                        return Err(Error::MultipleDocuments {
                            file: self.file.to_owned(),
                        });
                    }
                }
                Event::Scalar(value, style, _, _) => {
                    if !top_level_seen {
                        return Err(self.not_a_mapping("a scalar"));
                    }
                    if let Some(path) = self.child_path(&mut stack, Some(&value), span)? {
                        let (start, end) = self.scalar_bytes(span, style);
                        scalars.insert(
                            path,
                            Located {
                                value: value.into_owned(),
                                style,
                                start,
                                end,
                                line: span.start.line(),
                            },
                        );
                    }
                }
                Event::MappingStart(..) => {
                    let path = if top_level_seen {
                        self.child_path(&mut stack, None, span)?.unwrap_or_default()
                    } else {
                        top_level_seen = true;
                        String::new()
                    };
                    stack.push(Frame::Mapping {
                        path,
                        pending_key: None,
                        keys: BTreeMap::new(),
                    });
                }
                Event::SequenceStart(..) => {
                    if !top_level_seen {
                        return Err(self.not_a_mapping("a sequence"));
                    }
                    let path = self.child_path(&mut stack, None, span)?.unwrap_or_default();
                    stack.push(Frame::Sequence { path, next: 0 });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                Event::Alias(_) => {
                    self.child_path(&mut stack, None, span)?;
                }
                Event::StreamEnd if !top_level_seen => {
                    return Err(self.not_a_mapping("an empty document"));
                }
                _ => {}
            }
        }
        Ok(scalars)
    }

    fn not_a_mapping(&self, found: &'static str) -> Error {
        Error::NotAMapping {
            file: self.file.to_owned(),
            found,
        }
    }

    /// Advances the innermost container past one node and returns that node's path, or
    /// `None` when the node is a mapping key (`key` holds its text then).
    fn child_path(
        &self,
        stack: &mut [Frame],
        key: Option<&str>,
        span: Span,
    ) -> Result<Option<String>> {
        let Some(frame) = stack.last_mut() else {
            return Ok(None);
        };
        match frame {
            Frame::Sequence { path, next } => {
                let child = format!("{path}[{next}]");
                *next += 1;
                Ok(Some(child))
            }
            Frame::Mapping {
                path,
                pending_key,
                keys,
            } => match pending_key.take() {
                Some(k) => Ok(Some(if path.is_empty() {
                    k
                } else {
                    format!("{path}.{k}")
                })),
                None => {
                    // A key; complex (non-scalar) keys are kept under a placeholder.
                    let k = key.unwrap_or("?").to_owned();
                    let line = span.start.line();
                    if let Some(first_line) = keys.insert(k.clone(), line) {
                        return Err(Error::DuplicateKey {
                            file: self.file.to_owned(),
                            path: if path.is_empty() {
                                k
                            } else {
                                format!("{path}.{k}")
                            },
                            first_line,
                            line,
                        });
                    }
                    *pending_key = Some(k);
                    Ok(None)
                }
            },
        }
    }

    /// The byte range of a scalar's text, quotes included.
    fn scalar_bytes(&self, span: Span, style: ScalarStyle) -> (usize, usize) {
        let start = self.byte(span.start.index());
        let mut end = self.byte(span.end.index());
        // Make sure a quoted scalar's range covers its closing quote, whatever the parser's
        // convention for the span's end.
        let quote = match style {
            ScalarStyle::SingleQuoted => Some(b'\''),
            ScalarStyle::DoubleQuoted => Some(b'"'),
            _ => None,
        };
        if let Some(q) = quote {
            let bytes = self.text.as_bytes();
            if end > start && bytes.get(end - 1) != Some(&q) && bytes.get(end) == Some(&q) {
                end += 1;
            }
        }
        (start, end)
    }
}

#[cfg(test)]
mod tests;
