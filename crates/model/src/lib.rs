//! The model: validated value types (parsing is the only way to get one, so an invalid value
//! cannot travel), and the pure vocabularies every layer above shares: `values` (YAML edited
//! without disturbing it), `desired` (an environment's values file as a desired state),
//! `audit` (commit messages with trailers), `scan` (grype and Checkov reports), `report` (the
//! events a flow emits).
//!
//! The bottom layer: it uses no other crate of the workspace and no I/O crate.

pub mod audit;
pub mod desired;
pub mod report;
pub mod scan;
pub mod values;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a value was refused: which input, what it held, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value}: expected {expected}")]
pub struct InvalidValue {
    pub what: &'static str,
    /// The refused input, escaped so control characters cannot forge output lines.
    pub value: String,
    pub expected: &'static str,
}

impl InvalidValue {
    pub(crate) fn new(what: &'static str, value: &str, expected: &'static str) -> Self {
        Self {
            what,
            value: format!("{:?}", truncate(value, 80)),
            expected,
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `TryFrom<String>` (through `FromStr`), `From<T> for String` and `Display` for a
/// validated string newtype whose inner value is its text.
macro_rules! string_conversions {
    ($t:ident) => {
        impl TryFrom<String> for $t {
            type Error = InvalidValue;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl From<$t> for String {
            fn from(value: $t) -> Self {
                value.0
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub mod attest;
mod identity;
mod metrics;
mod probe;
mod records;
mod rollout;
mod secret;

pub use attest::{AttestationLayer, FoundSignature, SignatureLayer};
pub use identity::{Person, Reason};
pub use metrics::{Histogram, LoadCounts, MetricsSnapshot, ReplicaMetrics, RequestKey};
pub use probe::Probe;
pub use records::{Approval, Block, PromotionRequest, RecordSet};
pub use rollout::{
    MAX_LOAD_RATE, MAX_PROXY_LOAD_RATE, ReplicaState, RolloutRule, RolloutStep, TargetKind,
};
pub use secret::Secret;

/// One package of the workspace, as `cargo metadata` describes it: its directory (relative to
/// the workspace) and the workspace packages its binaries are made from: those it depends on
/// by path as a normal or build dependency, never as a dev-dependency (a test's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceCrate {
    pub name: String,
    pub dir: String,
    pub path_dependencies: Vec<String>,
}

/// A full git commit id: exactly 40 lowercase hexadecimal characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GitSha(String);

impl GitSha {
    pub const EXPECTED: &'static str = "a full git SHA of exactly 40 lowercase hex characters";

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 characters, for human-facing lines only.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl FromStr for GitSha {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() == 40 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new("git SHA", s, Self::EXPECTED))
        }
    }
}

string_conversions!(GitSha);

/// The tag an image is built under: the commit's SHA, or `<sha>-dirty` for a build of
/// uncommitted changes, so a dirty build can never be mistaken for a commit's build.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageTag {
    sha: GitSha,
    dirty: bool,
}

impl ImageTag {
    pub fn clean(sha: GitSha) -> Self {
        Self { sha, dirty: false }
    }

    pub fn dirty(sha: GitSha) -> Self {
        Self { sha, dirty: true }
    }

    pub fn sha(&self) -> &GitSha {
        &self.sha
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }
}

impl FromStr for ImageTag {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let refuse = || {
            InvalidValue::new(
                "image tag",
                s,
                "a 40-character lowercase git SHA, optionally followed by -dirty",
            )
        };
        let (sha, dirty) = match s.strip_suffix("-dirty") {
            Some(sha) => (sha, true),
            None => (s, false),
        };
        let sha = sha.parse().map_err(|_| refuse())?;
        Ok(Self { sha, dirty })
    }
}

impl TryFrom<String> for ImageTag {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ImageTag> for String {
    fn from(tag: ImageTag) -> Self {
        tag.to_string()
    }
}

impl fmt::Display for ImageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dirty {
            write!(f, "{}-dirty", self.sha)
        } else {
            write!(f, "{}", self.sha)
        }
    }
}

/// A content digest such as `sha256:<64 hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Digest {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = s.strip_prefix("sha256:").is_some_and(|hex| {
            hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "digest",
                s,
                "sha256: followed by 64 lowercase hex characters",
            ))
        }
    }
}

string_conversions!(Digest);

/// An image repository name such as `paktech-app` or `registry.example.com/team/paktech-app`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Repository(String);

impl Repository {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The registry host it names (`registry.example.com`, `127.0.0.1:5000`, `localhost`);
    /// `None` for a plain name, which the local engine's store holds.
    pub fn host(&self) -> Option<&str> {
        let (first, _) = self.0.split_once('/')?;
        (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
    }
}

impl FromStr for Repository {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // The reference grammar, simplified: lowercase path components separated by '/',
        // the first of which may be a registry host with a port.
        let component_ok = |c: &str, first: bool| {
            !c.is_empty()
                && c.bytes().all(|b| {
                    b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || matches!(b, b'.' | b'_' | b'-')
                        || (first && b == b':')
                })
                && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        };
        let ok = s.len() <= 255
            && s.split('/')
                .enumerate()
                .all(|(i, c)| component_ok(c, i == 0 && s.contains('/')));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "image repository",
                s,
                "lowercase path components such as registry.example.com/team/paktech-app",
            ))
        }
    }
}

string_conversions!(Repository);

/// An environment's name: lowercase letters, digits and '-', starting with a letter.
/// Being a path component and a Docker/Kubernetes name, it admits no '/', '.' or space.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnvName(String);

impl EnvName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for EnvName {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = (1..=40).contains(&s.len())
            && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.ends_with('-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "environment name",
                s,
                "lowercase letters, digits and '-', starting with a letter (at most 40)",
            ))
        }
    }
}

string_conversions!(EnvName);

/// An app's name: what its values folder (`apps/<app>/`), its Argo CD Applications
/// (`<app>-<env>`), its containers and its Kubernetes Deployment and Service are called, and
/// how the other apps of an environment reach it. A DNS label, as Kubernetes names a Service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AppName(String);

impl AppName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AppName {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<EnvName>() {
            Ok(name) => Ok(Self(name.0)),
            Err(_) => Err(InvalidValue::new(
                "app name",
                s,
                "lowercase letters, digits and '-', starting with a letter (at most 40)",
            )),
        }
    }
}

string_conversions!(AppName);

#[cfg(test)]
mod tests;
