//! Scanner reports into findings and summaries: grype's JSON (image scan) and Checkov's JSON
//! (infrastructure-code scan). Pure: the caller reads the bytes.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{source_name}: not a {format} report at line {line}, column {column}: {message}")]
    Malformed {
        source_name: String,
        format: &'static str,
        line: usize,
        column: usize,
        message: String,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn malformed(source_name: &str, format: &'static str, err: &serde_json::Error) -> Error {
    // serde_json's message ends with " at line L column C"; the position is kept apart.
    let message = err.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(m, _)| m)
        .to_owned();
    Error::Malformed {
        source_name: source_name.to_owned(),
        format,
        line: err.line(),
        column: err.column(),
        message,
    }
}

/// Vulnerability severity, from least to most severe (grype's scale).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Unknown,
    Negligible,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 6] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Negligible,
        Severity::Unknown,
    ];

    fn from_grype(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "critical" => Self::Critical,
            "high" => Self::High,
            "medium" => Self::Medium,
            "low" => Self::Low,
            "negligible" => Self::Negligible,
            _ => Self::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
            Self::Negligible => "negligible",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One vulnerability found in one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub id: String,
    pub severity: Severity,
    pub package: String,
    pub version: String,
    /// Versions that fix it; empty when there is no fix.
    pub fixed_in: Vec<String>,
    /// The package's URL, when grype gives one (what a VEX subcomponent names).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub purl: String,
    /// Other ids grype relates to it (the CVE of a GHSA, say).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
}

/// Why a finding does not count: the VEX statement that says the image is not affected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    /// `<file>#<index>`, as the `Vex-Applied` trailer names it.
    pub statement: String,
    /// The vulnerability as the statement names it.
    pub vulnerability: String,
    /// `not_affected` or `fixed`.
    pub status: String,
    pub justification: Option<String>,
}

/// A finding a VEX statement suppressed, and the statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppressed {
    #[serde(flatten)]
    pub finding: Finding,
    pub by: Suppression,
}

/// Counts by severity, every severity present (zero when none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    pub negligible: u64,
    pub unknown: u64,
}

impl Counts {
    fn add(&mut self, severity: Severity) {
        *match severity {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Negligible => &mut self.negligible,
            Severity::Unknown => &mut self.unknown,
        } += 1;
    }

    pub fn get(&self, severity: Severity) -> u64 {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Negligible => self.negligible,
            Severity::Unknown => self.unknown,
        }
    }

    /// Reads counts back from their `Display` form (`critical=0 high=1 ...`).
    pub fn parse(text: &str) -> Option<Self> {
        let mut counts = count(std::iter::empty());
        let mut seen = 0;
        for part in text.split_whitespace() {
            let (name, n) = part.split_once('=')?;
            let severity = Severity::ALL.into_iter().find(|s| s.as_str() == name)?;
            let n: u64 = n.parse().ok()?;
            for _ in 0..n.min(1_000_000) {
                counts.add(severity);
            }
            seen += 1;
        }
        (seen == Severity::ALL.len()).then_some(counts)
    }

    pub fn total(&self) -> u64 {
        Severity::ALL.iter().map(|s| self.get(*s)).sum()
    }
}

impl fmt::Display for Counts {
    /// `critical=0 high=1 medium=0 low=2 negligible=0 unknown=0`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = Severity::ALL
            .iter()
            .map(|s| format!("{s}={}", self.get(*s)))
            .collect();
        f.write_str(&parts.join(" "))
    }
}

/// An image scan: what was scanned, and every finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageScan {
    pub target: String,
    pub counts: Counts,
    /// How many findings have a fix available.
    pub fixable: u64,
    pub findings: Vec<Finding>,
    /// Findings VEX statements suppressed: not in `findings`, not counted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<Suppressed>,
}

impl ImageScan {
    /// Moves each finding `why` gives a reason for into `suppressed`; the counts are then of
    /// the findings left.
    pub fn suppress(mut self, mut why: impl FnMut(&Finding) -> Option<Suppression>) -> Self {
        let (mut kept, mut suppressed) = (Vec::new(), Vec::new());
        for finding in self.findings {
            match why(&finding) {
                Some(by) => suppressed.push(Suppressed { finding, by }),
                None => kept.push(finding),
            }
        }
        self.suppressed.extend(suppressed);
        self.counts = count(kept.iter());
        self.fixable = kept.iter().filter(|f| !f.fixed_in.is_empty()).count() as u64;
        self.findings = kept;
        self
    }

    /// Counts of findings with a fix available, by severity.
    pub fn fixable_counts(&self) -> Counts {
        count(self.findings.iter().filter(|f| !f.fixed_in.is_empty()))
    }
}

fn count<'a>(findings: impl Iterator<Item = &'a Finding>) -> Counts {
    let mut counts = Counts {
        critical: 0,
        high: 0,
        medium: 0,
        low: 0,
        negligible: 0,
        unknown: 0,
    };
    for f in findings {
        counts.add(f.severity);
    }
    counts
}

// Only the parts of grype's document the pipeline reads; everything else is ignored.
#[derive(Deserialize)]
struct GrypeDocument {
    matches: Vec<GrypeMatch>,
    #[serde(default)]
    source: Option<GrypeSource>,
}

#[derive(Deserialize)]
struct GrypeSource {
    #[serde(default)]
    target: serde_json::Value,
}

#[derive(Deserialize)]
struct GrypeMatch {
    vulnerability: GrypeVulnerability,
    artifact: GrypeArtifact,
    #[serde(default, rename = "relatedVulnerabilities")]
    related: Vec<GrypeRelated>,
}

#[derive(Deserialize)]
struct GrypeRelated {
    id: String,
}

#[derive(Deserialize)]
struct GrypeVulnerability {
    id: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    fix: Option<GrypeFix>,
}

#[derive(Deserialize)]
struct GrypeFix {
    #[serde(default)]
    versions: Vec<String>,
}

#[derive(Deserialize)]
struct GrypeArtifact {
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    purl: String,
}

/// Parses grype's JSON report (`grype -o json`). `source_name` names it in errors.
pub fn parse_grype(source_name: &str, bytes: &[u8]) -> Result<ImageScan> {
    let doc: GrypeDocument =
        serde_json::from_slice(bytes).map_err(|e| malformed(source_name, "grype JSON", &e))?;
    let findings: Vec<Finding> = doc
        .matches
        .into_iter()
        .map(|m| Finding {
            id: m.vulnerability.id,
            severity: Severity::from_grype(m.vulnerability.severity.as_deref().unwrap_or("")),
            package: m.artifact.name,
            version: m.artifact.version,
            fixed_in: m.vulnerability.fix.map(|f| f.versions).unwrap_or_default(),
            purl: m.artifact.purl,
            related: m.related.into_iter().map(|r| r.id).collect(),
        })
        .collect();
    let target = doc
        .source
        .map(|s| match s.target {
            serde_json::Value::String(s) => s,
            serde_json::Value::Object(o) => o
                .get("userInput")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned(),
            _ => String::new(),
        })
        .unwrap_or_default();
    Ok(ImageScan {
        target,
        counts: count(findings.iter()),
        fixable: findings.iter().filter(|f| !f.fixed_in.is_empty()).count() as u64,
        findings,
        suppressed: Vec::new(),
    })
}

/// Checkov's summary for one framework (terraform, kubernetes, dockerfile, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckovSummary {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    #[serde(default)]
    pub parsing_errors: u64,
}

#[derive(Deserialize)]
struct CheckovRun {
    check_type: String,
    summary: CheckovSummary,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CheckovDocument {
    One(CheckovRun),
    Many(Vec<CheckovRun>),
    /// What Checkov prints when nothing was scanned.
    Empty {
        #[serde(rename = "passed")]
        _passed: u64,
        #[serde(rename = "failed")]
        _failed: u64,
    },
}

/// An infrastructure-code scan: Checkov's summary per framework.
pub type IacScan = BTreeMap<String, CheckovSummary>;

/// Parses Checkov's JSON output (`checkov -o json`): one object, one per framework, and, when
/// several targets were scanned (`-d a -d b`), one such document per target, one after the
/// other. Summaries of the same framework are added up.
pub fn parse_checkov(source_name: &str, bytes: &[u8]) -> Result<IacScan> {
    let mut scan = IacScan::new();
    let mut documents = 0;
    for doc in serde_json::Deserializer::from_slice(bytes).into_iter::<CheckovDocument>() {
        let doc = doc.map_err(|e| malformed(source_name, "Checkov JSON", &e))?;
        documents += 1;
        let runs = match doc {
            CheckovDocument::One(run) => vec![run],
            CheckovDocument::Many(runs) => runs,
            CheckovDocument::Empty { .. } => Vec::new(),
        };
        for run in runs {
            let total = scan.entry(run.check_type).or_insert(CheckovSummary {
                passed: 0,
                failed: 0,
                skipped: 0,
                parsing_errors: 0,
            });
            total.passed += run.summary.passed;
            total.failed += run.summary.failed;
            total.skipped += run.summary.skipped;
            total.parsing_errors += run.summary.parsing_errors;
        }
    }
    if documents == 0 {
        // An empty or blank input: let the parser say where it expected a value.
        return match serde_json::from_slice::<CheckovDocument>(bytes) {
            Err(e) => Err(malformed(source_name, "Checkov JSON", &e)),
            Ok(_) => Ok(scan),
        };
    }
    Ok(scan)
}

#[cfg(test)]
mod tests;
