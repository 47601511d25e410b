//! The in-toto Statement v1: the subjects (artifacts, by digest) a predicate is about.
//!
//! Relied on: in-toto/attestation `spec/v1/statement.md` (`_type`
//! `https://in-toto.io/Statement/v1`, `subject[].name`, `subject[].digest` a map of algorithm
//! to lowercase hex, `predicateType`, `predicate`) and `spec/v1/digest_set.md`. The
//! `in-toto-attestation` Python package validates what is made here
//! (tests/tests/provenance_interop.rs).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Rejection;
use super::dsse::{Envelope, IN_TOTO};
use model::Digest;

/// `_type` of a Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";

/// A statement, field for field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub kind: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// Optional in Statement v1 (cosign v3's signing statements may leave it out).
    #[serde(default)]
    pub predicate: serde_json::Value,
}

/// One artifact a statement is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Optional in Statement v1 (cosign v3's signing statements leave it out).
    #[serde(default)]
    pub name: String,
    pub digest: BTreeMap<String, String>,
}

impl Statement {
    /// A statement of `predicate_type` about the image `name@digest`.
    pub fn about(
        name: &str,
        digest: &Digest,
        predicate_type: &str,
        predicate: serde_json::Value,
    ) -> Self {
        let (algorithm, hex) = digest.as_str().split_once(':').unwrap_or(("sha256", ""));
        Self {
            kind: STATEMENT_V1.to_owned(),
            subject: vec![Subject {
                name: name.to_owned(),
                digest: BTreeMap::from([(algorithm.to_owned(), hex.to_owned())]),
            }],
            predicate_type: predicate_type.to_owned(),
            predicate,
        }
    }

    /// The statement's JSON, the payload of its envelope.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The statement an envelope carries, checked to be an in-toto Statement v1 of
    /// `predicate_type` about `digest`. Read only after the envelope's signature is checked.
    pub fn read(
        envelope: &Envelope,
        predicate_type: &'static str,
        digest: &Digest,
    ) -> Result<Self, Rejection> {
        if envelope.payload_type != IN_TOTO {
            return Err(Rejection::PayloadType {
                found: envelope.payload_type.clone(),
                expected: IN_TOTO,
            });
        }
        let statement: Self =
            serde_json::from_slice(&envelope.payload).map_err(|e| Rejection::NotAStatement {
                problem: e.to_string(),
            })?;
        if statement.kind != STATEMENT_V1 {
            return Err(Rejection::NotAStatement {
                problem: format!("_type is {:?}, expected {STATEMENT_V1:?}", statement.kind),
            });
        }
        if statement.predicate_type != predicate_type {
            return Err(Rejection::PredicateType {
                found: statement.predicate_type,
                expected: predicate_type,
            });
        }
        let (algorithm, hex) = digest.as_str().split_once(':').unwrap_or(("sha256", ""));
        let names = statement
            .subject
            .iter()
            .any(|s| s.digest.get(algorithm).map(String::as_str) == Some(hex));
        if !names {
            return Err(Rejection::Subject {
                found: statement
                    .subject
                    .iter()
                    .flat_map(|s| s.digest.iter().map(|(a, h)| format!("{a}:{h}")))
                    .collect::<Vec<_>>()
                    .join(", "),
                expected: digest.to_string(),
            });
        }
        Ok(statement)
    }
}
