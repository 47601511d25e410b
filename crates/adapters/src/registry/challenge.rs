//! WWW-Authenticate challenges (RFC 7235, sections 2.1 and 4.1), parsed as the registry sends them.

use super::*;

/// One challenge of a `WWW-Authenticate` header (RFC 7235 §2.1, §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme as sent; compare with [`Challenge::is`], schemes are case-insensitive.
    pub scheme: String,
    /// `name=value` parameters, names lowercased (they are case-insensitive), values unquoted.
    pub params: Vec<(String, String)>,
    /// The `token68` form (`Negotiate abc==`), when the challenge has one instead of parameters.
    pub token68: Option<String>,
}

impl Challenge {
    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A `WWW-Authenticate` value that is not RFC 7235 syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed WWW-Authenticate header {header:?} at byte {at}: {expected}")]
pub struct ChallengeError {
    pub header: String,
    pub at: usize,
    pub expected: &'static str,
}

/// Every challenge of every `WWW-Authenticate` header value, in order (RFC 7235 §4.1:
/// `1#challenge`, `challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`,
/// `auth-param = token BWS "=" BWS ( token / quoted-string )`; quoted-string per RFC 7230 §3.2.6).
pub fn parse_challenges<'a>(
    headers: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Challenge>, ChallengeError> {
    let mut challenges = Vec::new();
    for header in headers {
        ChallengeParser {
            text: header,
            at: 0,
        }
        .parse(&mut challenges)?;
    }
    Ok(challenges)
}

pub(super) struct ChallengeParser<'a> {
    pub(super) text: &'a str,
    pub(super) at: usize,
}

impl ChallengeParser<'_> {
    pub(super) fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    pub(super) fn error(&self, expected: &'static str) -> ChallengeError {
        ChallengeError {
            header: self.text.to_owned(),
            at: self.at,
            expected,
        }
    }

    pub(super) fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    /// Whitespace and empty list elements (RFC 7230 §7 lets a list have them).
    pub(super) fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.at += 1;
        }
    }

    pub(super) fn token(&mut self) -> &str {
        let start = self.at;
        while self.peek().is_some_and(is_tchar) {
            self.at += 1;
        }
        &self.text[start..self.at]
    }

    pub(super) fn quoted_string(&mut self) -> Result<String, ChallengeError> {
        self.at += 1; // the opening quote
        let mut value = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.error("a closing quote")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(String::from_utf8_lossy(&value).into_owned());
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escaped = self
                        .peek()
                        .ok_or_else(|| self.error("a character after \\"))?;
                    value.push(escaped);
                    self.at += 1;
                }
                Some(c) => {
                    value.push(c);
                    self.at += 1;
                }
            }
        }
    }

    /// At `name BWS "="` (not `token68` padding, which no value follows)?
    pub(super) fn at_param(&self) -> bool {
        let mut probe = ChallengeParser {
            text: self.text,
            at: self.at,
        };
        if probe.token().is_empty() {
            return false;
        }
        probe.skip_ws();
        if probe.peek() != Some(b'=') {
            return false;
        }
        probe.at += 1;
        probe.skip_ws();
        matches!(probe.peek(), Some(c) if c == b'"' || is_tchar(c))
    }

    pub(super) fn param(&mut self) -> Result<(String, String), ChallengeError> {
        let name = self.token().to_ascii_lowercase();
        self.skip_ws();
        self.at += 1; // "=", checked by at_param
        self.skip_ws();
        let value = if self.peek() == Some(b'"') {
            self.quoted_string()?
        } else {
            self.token().to_owned()
        };
        Ok((name, value))
    }

    pub(super) fn parse(mut self, out: &mut Vec<Challenge>) -> Result<(), ChallengeError> {
        loop {
            self.skip_ws_and_commas();
            if self.peek().is_none() {
                return Ok(());
            }
            let scheme = self.token().to_owned();
            if scheme.is_empty() {
                return Err(self.error("an auth-scheme"));
            }
            let mut challenge = Challenge {
                scheme,
                params: Vec::new(),
                token68: None,
            };
            let before_space = self.at;
            self.skip_ws();
            let spaced = self.at > before_space;
            if spaced && self.at_param() {
                challenge.params.push(self.param()?);
                // More parameters follow a comma; a comma followed by anything else starts
                // the next challenge.
                loop {
                    self.skip_ws();
                    match self.peek() {
                        None => break,
                        Some(b',') => {
                            let comma = self.at;
                            self.skip_ws_and_commas();
                            if self.at_param() {
                                challenge.params.push(self.param()?);
                            } else {
                                self.at = comma;
                                break;
                            }
                        }
                        Some(_) => return Err(self.error("a comma between parameters")),
                    }
                }
            } else if spaced && self.peek().is_some_and(|c| c != b',') {
                let start = self.at;
                while self.peek().is_some_and(is_token68_char) {
                    self.at += 1;
                }
                while self.peek() == Some(b'=') {
                    self.at += 1;
                }
                if self.at == start {
                    return Err(self.error("a token68 or parameters"));
                }
                challenge.token68 = Some(self.text[start..self.at].to_owned());
                self.skip_ws();
                if !matches!(self.peek(), None | Some(b',')) {
                    return Err(self.error("a comma after the token68"));
                }
            } else if !matches!(self.peek(), None | Some(b',')) {
                return Err(self.error("a space after the auth-scheme"));
            }
            out.push(challenge);
        }
    }
}

/// RFC 7230 §3.2.6 `tchar`.
pub(super) fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// RFC 7235 §2.1 `token68` characters (without the trailing `=`).
pub(super) fn is_token68_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-._~+/".contains(&c)
}
