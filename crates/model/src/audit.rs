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
    /// The one app a commit moved (beside `Image-Sha` and `Image-Digest`).
    pub const APP: &str = "App";
    /// One app's build in a commit that moved several: `<app> <sha> <digest>`.
    pub const APP_BUILD: &str = "App-Build";
    /// One app's scan counts in a commit that moved several: `<app> <counts>`.
    pub const APP_SCAN: &str = "App-Scan";
    /// One app's fixable scan counts in a commit that moved several: `<app> <counts>`.
    pub const APP_SCAN_FIXABLE: &str = "App-Scan-Fixable";
    /// A VEX statement that suppressed a finding of the scan: `<file>#<index> <finding id>`,
    /// one trailer each.
    pub const VEX_APPLIED: &str = "Vex-Applied";
    /// The same in a commit that moved several apps: `<app> <file>#<index> <finding id>`.
    pub const APP_VEX_APPLIED: &str = "App-Vex-Applied";
}

/// One app's build a commit moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build<'a> {
    pub app: &'a str,
    pub sha: &'a str,
    pub digest: &'a str,
}

/// One commit of the history, with its message parsed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommitRecord {
    pub revision: crate::GitSha,
    /// The first parent, if any.
    pub parent: Option<crate::GitSha>,
    /// Seconds since the epoch (committer time).
    pub time: i64,
    pub author: String,
    pub subject: String,
    pub trailers: Vec<(String, String)>,
}

impl CommitRecord {
    /// What reading back a commit of `message` made at `time` (seconds since the epoch) by
    /// `ci` as `revision` gives: the one place records are made without a repository.
    pub fn read_back(revision: crate::GitSha, time: i64, message: &CommitMessage) -> Self {
        Self {
            revision,
            parent: None,
            time,
            author: "ci".to_owned(),
            subject: message.subject.clone(),
            trailers: CommitMessage::parse(&message.to_string()).trailers,
        }
    }

    pub fn trailer(&self, key: &str) -> Option<&str> {
        self.trailers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of the trailers named `key`, in order.
    pub fn all(&self, key: &str) -> impl Iterator<Item = &str> {
        self.trailers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Every app's build this commit moved: its `App-Build` lines, or the one build of
    /// `Image-Sha` (named by `App`, or by `default_app` in a history from before apps).
    pub fn builds<'a>(&'a self, default_app: &'a str) -> Vec<Build<'a>> {
        let several: Vec<Build<'a>> = self
            .all(keys::APP_BUILD)
            .filter_map(|line| {
                let mut words = line.split(' ');
                Some(Build {
                    app: words.next()?,
                    sha: words.next()?,
                    digest: words.next().unwrap_or_default(),
                })
            })
            .collect();
        if !several.is_empty() {
            return several;
        }
        match self.trailer(keys::IMAGE_SHA) {
            Some(sha) => vec![Build {
                app: self.trailer(keys::APP).unwrap_or(default_app),
                sha,
                digest: self.trailer(keys::IMAGE_DIGEST).unwrap_or_default(),
            }],
            None => Vec::new(),
        }
    }

    /// The build this commit moved `app` to, if it moved it. A commit without `App` or
    /// `App-Build` trailers (one app, before apps were named) speaks for whichever app's
    /// history it is read from.
    pub fn build_of<'a>(&'a self, app: &'a str) -> Option<&'a str> {
        self.builds(app)
            .into_iter()
            .find(|b| b.app == app)
            .map(|b| b.sha)
    }

    /// The digest this commit moved `app` to.
    pub fn digest_of<'a>(&'a self, app: &'a str) -> Option<&'a str> {
        self.builds(app)
            .into_iter()
            .find(|b| b.app == app)
            .map(|b| b.digest)
            .filter(|d| !d.is_empty())
    }

    /// `app`'s scan counts in this commit: (all, fixable).
    pub fn scan_of(&self, app: &str) -> (Option<&str>, Option<&str>) {
        let of = |key: &'static str| {
            self.all(key).find_map(|line| {
                let (named, counts) = line.split_once(' ')?;
                (named == app).then_some(counts)
            })
        };
        if self.trailer(keys::APP_BUILD).is_some() {
            (of(keys::APP_SCAN), of(keys::APP_SCAN_FIXABLE))
        } else if self.trailer(keys::APP).is_none_or(|a| a == app) {
            (self.trailer(keys::SCAN), self.trailer(keys::SCAN_FIXABLE))
        } else {
            (None, None)
        }
    }

    /// The VEX statements `app`'s scan in this commit applied (`<file>#<index> <finding id>`),
    /// read from the form [`CommitMessage::vex_applied`] writes.
    pub fn vex_of(&self, app: &str) -> Vec<&str> {
        if self.trailer(keys::APP_BUILD).is_some() {
            self.all(keys::APP_VEX_APPLIED)
                .filter_map(|line| {
                    let (named, applied) = line.split_once(' ')?;
                    (named == app).then_some(applied)
                })
                .collect()
        } else if self.trailer(keys::APP).is_none_or(|a| a == app) {
            self.all(keys::VEX_APPLIED).collect()
        } else {
            Vec::new()
        }
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

    /// The builds this commit moves: `App`, `Image-Sha` and `Image-Digest` for one (as
    /// before apps were named, plus `App`), an `App-Build` line each for several.
    pub fn builds(mut self, builds: &[Build<'_>]) -> Self {
        match builds {
            [one] => {
                self = self
                    .trailer(keys::APP, one.app)
                    .trailer(keys::IMAGE_SHA, one.sha)
                    .trailer(keys::IMAGE_DIGEST, one.digest);
            }
            several => {
                for b in several {
                    self =
                        self.trailer(keys::APP_BUILD, format!("{} {} {}", b.app, b.sha, b.digest));
                }
            }
        }
        self
    }

    /// The VEX statements each moved app's scan applied (`<file>#<index> <finding id>`), in
    /// the form of [`CommitMessage::builds`]: `Vex-Applied` lines for one app, an
    /// `App-Vex-Applied` line (`<app> ...`) each for several. `applied` lists the moved apps.
    pub fn vex_applied(mut self, applied: &[(&str, Vec<String>)]) -> Self {
        let several = applied.len() > 1;
        for (app, lines) in applied {
            for line in lines {
                self = if several {
                    self.trailer(keys::APP_VEX_APPLIED, format!("{app} {line}"))
                } else {
                    self.trailer(keys::VEX_APPLIED, line)
                };
            }
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
mod tests;
