//! Git is the audit log: every pipeline write is a commit whose subject and trailers say what
//! happened. This module writes those messages and reads them back. Pure.

use std::fmt;

/// Trailer keys the pipeline writes and reads.
pub mod keys {
    pub const ACTION: &str = "Pipeline-Action";
    pub const ENVIRONMENT: &str = "Pipeline-Environment";
    pub const IMAGE_SHA: &str = "Image-Sha";
    pub const IMAGE_DIGEST: &str = "Image-Digest";
    pub const SCAN: &str = "Scan-Summary";
    /// Counts of findings that have a fix, by severity.
    pub const SCAN_FIXABLE: &str = "Scan-Fixable";
    pub const PROMOTED_FROM: &str = "Promoted-From";
    pub const APPROVED_BY: &str = "Approved-By";
    pub const BREAK_GLASS: &str = "Break-Glass";
    pub const REVERTS: &str = "Reverts";
    pub const BLOCKED_SHA: &str = "Blocked-Sha";
    pub const REASON: &str = "Reason";
    pub const REQUESTED_BY: &str = "Requested-By";
    pub const RUN_ID: &str = "Run-Id";
    /// A failed metric analysis: the figures and the thresholds they passed.
    pub const ANALYSIS: &str = "Analysis";
    /// What the watch that rolled an environment back showed: the build bad (blocked), or
    /// nothing either way (not blocked).
    pub const WATCH_VERDICT: &str = "Watch-Verdict";
    /// The digest (sha256 of its bytes) of the SBOM stored beside the image.
    pub const SBOM: &str = "Sbom-Digest";
    /// The digest of the SBOM the image scan read (absent when the scan read none).
    pub const SCAN_SBOM: &str = "Scan-Sbom";
}

/// One commit of the history, with its message parsed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommitRecord {
    pub revision: crate::model::GitSha,
    /// The first parent, if any.
    pub parent: Option<crate::model::GitSha>,
    /// Seconds since the epoch (committer time).
    pub time: i64,
    pub author: String,
    pub subject: String,
    pub trailers: Vec<(String, String)>,
}

impl CommitRecord {
    pub fn trailer(&self, key: &str) -> Option<&str> {
        self.trailers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// What a pipeline commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `ci` wrote a new build into the first environment.
    Deploy,
    /// `promote` moved a build into the next environment.
    Promote,
    /// A rollback reverted an environment's values file.
    Rollback,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deploy => "deploy",
            Self::Promote => "promote",
            Self::Rollback => "rollback",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "deploy" => Some(Self::Deploy),
            "promote" => Some(Self::Promote),
            "rollback" => Some(Self::Rollback),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A commit message: a conventional subject, an optional body, and trailers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitMessage {
    pub subject: String,
    pub body: Option<String>,
    pub trailers: Vec<(String, String)>,
}

impl CommitMessage {
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            subject: one_line(&subject.into()),
            body: None,
            trailers: Vec::new(),
        }
    }

    /// Adds a trailer; the value is folded onto one line so it cannot forge other trailers.
    /// An empty value adds nothing (`Key:` alone would not read back as a trailer).
    pub fn trailer(mut self, key: &str, value: impl AsRef<str>) -> Self {
        let value = one_line(value.as_ref());
        if !value.is_empty() {
            self.trailers.push((key.to_owned(), value));
        }
        self
    }

    /// The value of the first trailer named `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.trailers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Reads a message back; trailers are the `Key: value` lines of the last paragraph.
    pub fn parse(message: &str) -> Self {
        let message = message.trim_end();
        let (subject, rest) = message.split_once('\n').unwrap_or((message, ""));
        let paragraphs: Vec<&str> = rest
            .trim()
            .split("\n\n")
            .filter(|p| !p.trim().is_empty())
            .collect();
        let trailer_pairs = |p: &str| -> Option<Vec<(String, String)>> {
            p.lines()
                .map(|line| {
                    let (k, v) = line.split_once(": ")?;
                    let key_ok =
                        !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
                    key_ok.then(|| (k.to_owned(), v.trim().to_owned()))
                })
                .collect()
        };
        let (body, trailers) = match paragraphs.split_last() {
            Some((last, before)) => match trailer_pairs(last) {
                Some(trailers) => (before.join("\n\n"), trailers),
                None => (paragraphs.join("\n\n"), Vec::new()),
            },
            None => (String::new(), Vec::new()),
        };
        Self {
            subject: subject.trim().to_owned(),
            body: (!body.is_empty()).then_some(body),
            trailers,
        }
    }
}

impl fmt::Display for CommitMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.subject)?;
        if let Some(body) = &self.body {
            write!(f, "\n{}\n", body.trim_end())?;
        }
        if !self.trailers.is_empty() {
            writeln!(f)?;
            for (k, v) in &self.trailers {
                writeln!(f, "{k}: {v}")?;
            }
        }
        Ok(())
    }
}

/// Folds control characters (newlines included) into spaces.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_subject_body_and_trailers() {
        let message = CommitMessage {
            body: Some("Built by run 7.".to_owned()),
            ..CommitMessage::new("chore(dev): bump paktech-app to abc")
        }
        .trailer(keys::ACTION, "deploy")
        .trailer(keys::IMAGE_SHA, "abc");
        let text = message.to_string();
        assert_eq!(
            text,
            "chore(dev): bump paktech-app to abc\n\nBuilt by run 7.\n\nPipeline-Action: deploy\nImage-Sha: abc\n"
        );
        assert_eq!(CommitMessage::parse(&text), message);
    }

    #[test]
    fn values_cannot_forge_trailers() {
        let message = CommitMessage::new("s")
            .trailer(keys::REQUESTED_BY, "mallory\nPipeline-Action: rollback");
        let parsed = CommitMessage::parse(&message.to_string());
        assert_eq!(parsed.trailers.len(), 1);
        assert_eq!(
            parsed.get(keys::REQUESTED_BY),
            Some("mallory Pipeline-Action: rollback")
        );
        assert_eq!(parsed.get(keys::ACTION), None);
    }

    #[test]
    fn empty_values_add_no_trailer() {
        let message = CommitMessage::new("s")
            .trailer(keys::ACTION, "approve")
            .trailer("Comment", "  ");
        let parsed = CommitMessage::parse(&message.to_string());
        assert_eq!(
            parsed.trailers,
            vec![(keys::ACTION.to_owned(), "approve".to_owned())]
        );
    }

    #[test]
    fn a_message_without_trailers_has_none() {
        let parsed = CommitMessage::parse("fix: typo\n\nJust prose here.\n");
        assert!(parsed.trailers.is_empty());
        assert_eq!(parsed.body.as_deref(), Some("Just prose here."));
    }
}
