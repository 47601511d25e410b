//! The OpenVEX v0.2.0 document and its statements, parsed and validated: a document that
//! parses is one every statement of which is complete and consistent (openvex/spec
//! `OPENVEX-SPEC.md`; go-vex `Statement.Validate`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Location, Reason, Refusal, Result};

/// The `@context` of an OpenVEX v0.2.0 document.
pub const CONTEXT: &str = "https://openvex.dev/ns/v0.2.0";

/// A statement's status label (spec "Status Labels").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

impl Status {
    const ALL: [Status; 4] = [
        Status::NotAffected,
        Status::Affected,
        Status::Fixed,
        Status::UnderInvestigation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotAffected => "not_affected",
            Self::Affected => "affected",
            Self::Fixed => "fixed",
            Self::UnderInvestigation => "under_investigation",
        }
    }

    /// Whether a finding this status names is filtered out of the results (grype filters on
    /// `not_affected` and `fixed` only).
    pub fn suppresses(self) -> bool {
        matches!(self, Self::NotAffected | Self::Fixed)
    }
}

/// Why a product is `not_affected` (spec "Status Justifications").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Justification {
    ComponentNotPresent,
    VulnerableCodeNotPresent,
    VulnerableCodeNotInExecutePath,
    VulnerableCodeCannotBeControlledByAdversary,
    InlineMitigationsAlreadyExist,
}

impl Justification {
    const ALL: [Justification; 5] = [
        Justification::ComponentNotPresent,
        Justification::VulnerableCodeNotPresent,
        Justification::VulnerableCodeNotInExecutePath,
        Justification::VulnerableCodeCannotBeControlledByAdversary,
        Justification::InlineMitigationsAlreadyExist,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ComponentNotPresent => "component_not_present",
            Self::VulnerableCodeNotPresent => "vulnerable_code_not_present",
            Self::VulnerableCodeNotInExecutePath => "vulnerable_code_not_in_execute_path",
            Self::VulnerableCodeCannotBeControlledByAdversary => {
                "vulnerable_code_cannot_be_controlled_by_adversary"
            }
            Self::InlineMitigationsAlreadyExist => "inline_mitigations_already_exist",
        }
    }
}

/// The vulnerability a statement is about: its main name and the other names it goes by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vulnerability {
    pub id: Option<String>,
    pub name: String,
    pub aliases: Vec<String>,
}

impl Vulnerability {
    /// Whether `id` is its name or one of its aliases (go-vex `Vulnerability.Matches`).
    pub fn is_named(&self, id: &str) -> bool {
        self.name == id || self.aliases.iter().any(|a| a == id)
    }
}

/// A product or subcomponent: any of its `@id`, identifiers (purl, cpe22, cpe23) and hashes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Component {
    #[serde(rename = "@id", default)]
    pub id: Option<String>,
    #[serde(default)]
    pub identifiers: BTreeMap<String, String>,
    #[serde(default)]
    pub hashes: BTreeMap<String, String>,
}

/// What a statement applies to, and the components in it where the vulnerability lives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Product {
    #[serde(flatten)]
    pub component: Component,
    #[serde(default)]
    pub subcomponents: Vec<Component>,
}

/// One statement: a status for a vulnerability in some products, at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Its position in the document's `statements`, from 0.
    pub index: usize,
    pub id: Option<String>,
    pub vulnerability: Vulnerability,
    /// When it was known true: its own timestamp, else the document's (spec "Inheritance Flow").
    pub timestamp: DateTime<Utc>,
    pub last_updated: Option<DateTime<Utc>>,
    pub products: Vec<Product>,
    pub status: Status,
    pub justification: Option<Justification>,
    pub impact_statement: Option<String>,
    pub action_statement: Option<String>,
}

impl Statement {
    /// The time it speaks for: its last update, else its (inherited) timestamp.
    pub fn time(&self) -> DateTime<Utc> {
        self.last_updated
            .unwrap_or(self.timestamp)
            .max(self.timestamp)
    }
}

/// An OpenVEX document, every statement valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// How it is named in refusals and trailers (`security/vex/app.json`).
    pub file: String,
    pub id: String,
    pub author: String,
    pub timestamp: DateTime<Utc>,
    pub last_updated: Option<DateTime<Utc>>,
    pub version: u64,
    pub statements: Vec<Statement>,
}

#[derive(Deserialize)]
struct RawDocument {
    #[serde(rename = "@context")]
    context: Option<String>,
    #[serde(rename = "@id")]
    id: Option<String>,
    author: Option<String>,
    timestamp: Option<String>,
    last_updated: Option<String>,
    version: Option<serde_json::Value>,
    statements: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
struct RawStatement {
    #[serde(rename = "@id")]
    id: Option<String>,
    vulnerability: Option<RawVulnerability>,
    timestamp: Option<String>,
    last_updated: Option<String>,
    #[serde(default)]
    products: Vec<Product>,
    status: Option<String>,
    justification: Option<String>,
    impact_statement: Option<String>,
    action_statement: Option<String>,
}

#[derive(Deserialize)]
struct RawVulnerability {
    #[serde(rename = "@id")]
    id: Option<String>,
    name: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
}

fn time(field: &str, text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{field} {text:?} is not an RFC 3339 time ({e})"))
}

fn optional_time(field: &str, text: Option<&str>) -> Result<Option<DateTime<Utc>>, String> {
    text.map(|t| time(field, t)).transpose()
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

/// Parses and validates an OpenVEX v0.2.0 document; `file` names it in refusals.
pub fn parse(file: &str, bytes: &[u8]) -> Result<Document> {
    let refuse = |statement: Option<usize>, reason: Reason| Refusal {
        at: Location {
            file: file.to_owned(),
            statement,
        },
        reason,
    };
    let malformed = |statement, problem: String| refuse(statement, Reason::Malformed(problem));
    let raw: RawDocument = serde_json::from_slice(bytes).map_err(|e| {
        let message = e.to_string();
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m)
            .to_owned();
        refuse(
            None,
            Reason::NotJson {
                line: e.line(),
                column: e.column(),
                message,
            },
        )
    })?;
    let context = raw.context.unwrap_or_default();
    if context != CONTEXT {
        return Err(malformed(
            None,
            format!("@context is {context:?}, not {CONTEXT:?}"),
        ));
    }
    let id = non_empty(raw.id).ok_or_else(|| malformed(None, "no @id".to_owned()))?;
    let author = non_empty(raw.author).ok_or_else(|| malformed(None, "no author".to_owned()))?;
    let timestamp = raw
        .timestamp
        .ok_or_else(|| malformed(None, "no timestamp".to_owned()))
        .and_then(|t| time("timestamp", &t).map_err(|p| malformed(None, p)))?;
    let last_updated = optional_time("last_updated", raw.last_updated.as_deref())
        .map_err(|p| malformed(None, p))?;
    let version = raw
        .version
        .as_ref()
        .and_then(serde_json::Value::as_u64)
        .filter(|v| *v >= 1)
        .ok_or_else(|| {
            malformed(
                None,
                format!(
                    "version is {}, expected an integer from 1",
                    raw.version.map_or("missing".to_owned(), |v| v.to_string())
                ),
            )
        })?;
    let raw_statements = raw
        .statements
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed(None, "no statements".to_owned()))?;
    let statements = raw_statements
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            let raw: RawStatement = serde_json::from_value(value)
                .map_err(|e| malformed(Some(index), format!("not an OpenVEX statement: {e}")))?;
            statement(index, raw, timestamp).map_err(|p| malformed(Some(index), p))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Document {
        file: file.to_owned(),
        id,
        author,
        timestamp,
        last_updated,
        version,
        statements,
    })
}

/// One statement, complete and consistent, or what is wrong with it.
fn statement(
    index: usize,
    raw: RawStatement,
    document_time: DateTime<Utc>,
) -> Result<Statement, String> {
    let vulnerability = raw.vulnerability.ok_or("no vulnerability")?;
    let name = non_empty(vulnerability.name).ok_or("vulnerability has no name")?;
    let status_text = raw.status.ok_or_else(|| {
        format!(
            "no status; expected one of {}",
            Status::ALL.map(Status::as_str).join(", ")
        )
    })?;
    let status = Status::ALL
        .into_iter()
        .find(|s| s.as_str() == status_text)
        .ok_or_else(|| {
            format!(
                "status {status_text:?} is not one of {}",
                Status::ALL.map(Status::as_str).join(", ")
            )
        })?;
    let justification = raw
        .justification
        .map(|text| {
            Justification::ALL
                .into_iter()
                .find(|j| j.as_str() == text)
                .ok_or_else(|| {
                    format!(
                        "justification {text:?} is not one of {}",
                        Justification::ALL.map(Justification::as_str).join(", ")
                    )
                })
        })
        .transpose()?;
    let impact_statement = non_empty(raw.impact_statement);
    let action_statement = non_empty(raw.action_statement);
    let set = |field: &str, present: bool| -> Result<(), String> {
        if present {
            return Err(format!(
                "{field} must not be set when status is {}",
                status.as_str()
            ));
        }
        Ok(())
    };
    match status {
        Status::NotAffected => {
            if justification.is_none() && impact_statement.is_none() {
                return Err(
                    "status not_affected needs a justification or an impact_statement".to_owned(),
                );
            }
            set("action_statement", action_statement.is_some())?;
        }
        Status::Affected => {
            set("justification", justification.is_some())?;
            set("impact_statement", impact_statement.is_some())?;
            if action_statement.is_none() {
                return Err("status affected needs an action_statement".to_owned());
            }
        }
        Status::Fixed | Status::UnderInvestigation => {
            set("justification", justification.is_some())?;
            set("impact_statement", impact_statement.is_some())?;
            set("action_statement", action_statement.is_some())?;
        }
    }
    if raw.products.is_empty() {
        return Err(
            "names no product (a statement here has no encapsulating document to inherit one from)"
                .to_owned(),
        );
    }
    for (p, product) in raw.products.iter().enumerate() {
        if product.component.is_empty() {
            return Err(format!("products[{p}] has no @id, identifiers or hashes"));
        }
        if let Some(s) = product.subcomponents.iter().position(Component::is_empty) {
            return Err(format!(
                "products[{p}].subcomponents[{s}] has no @id, identifiers or hashes"
            ));
        }
    }
    let timestamp = optional_time("timestamp", raw.timestamp.as_deref())?.unwrap_or(document_time);
    let last_updated = optional_time("last_updated", raw.last_updated.as_deref())?;
    Ok(Statement {
        index,
        id: raw.id,
        vulnerability: Vulnerability {
            id: vulnerability.id,
            name,
            aliases: vulnerability.aliases,
        },
        timestamp,
        last_updated,
        products: raw.products,
        status,
        justification,
        impact_statement,
        action_statement,
    })
}

impl Component {
    fn is_empty(&self) -> bool {
        self.id.as_deref().is_none_or(|i| i.trim().is_empty())
            && self.identifiers.is_empty()
            && self.hashes.is_empty()
    }
}
