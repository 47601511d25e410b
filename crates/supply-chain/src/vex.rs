//! OpenVEX statements kept in the repository, applied to image scans: a finding a trusted,
//! current statement marks `not_affected` (or `fixed`) for this image is suppressed, so it does
//! not count towards the scan gate, and stays listed as suppressed. Pure: the caller reads the
//! files and their detached signatures.
//!
//! Sources relied on (no OpenVEX tool runs here):
//! - the format: the OpenVEX specification v0.2.0, openvex/spec `OPENVEX-SPEC.md` (document and
//!   statement fields, status labels, justifications, inheritance of timestamps);
//! - validation: openvex/go-vex `pkg/vex/statement.go` (`Statement.Validate`: which of
//!   justification, impact and action statement each status requires or forbids);
//! - matching: anchore/grype `grype/vex/openvex/implementation.go` (`FilterMatches`: the image's
//!   identifiers as products, the match's package URL as subcomponent, only `not_affected` and
//!   `fixed` filter) over go-vex `pkg/vex/vex.go` (`Matches`: the newest matching statement wins;
//!   `PurlMatches`: a general purl covers a more specific one) and `pkg/vex/product.go`,
//!   `pkg/vex/component.go` (a product or subcomponent matches by `@id`, identifiers or hashes).

mod admit;
mod apply;
mod document;
mod purl;

pub use admit::{CLOCK_SKEW, Trust, admit, signature_name};
pub use apply::{Image, applied, apply};
pub use document::{
    Component, Document, Justification, Product, Statement, Status, Vulnerability, parse,
};
pub use purl::Purl;

use std::fmt;

/// Why a VEX document or one of its statements is refused: the file, the statement's index
/// when one is at fault, and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: VEX refused: {reason}")]
pub struct Refusal {
    pub at: Location,
    pub reason: Reason,
}

/// A VEX file, or one statement of it (`file#index`, as trailers name it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub statement: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.statement {
            Some(i) => write!(f, "{}#{i}", self.file),
            None => f.write_str(&self.file),
        }
    }
}

/// What is wrong with a refused document or statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    #[error("not JSON at line {line}, column {column}: {message}")]
    NotJson {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{0}; expected an OpenVEX v0.2.0 document (openvex/spec OPENVEX-SPEC.md)")]
    Malformed(String),
    #[error("its author {author:?} is not one of supply_chain.vex.authors ({accepted})")]
    OtherAuthor { author: String, accepted: String },
    #[error(
        "made {age} ago ({time}), older than supply_chain.vex.max_age {max_age}: review it and issue it again"
    )]
    Expired {
        time: String,
        age: String,
        max_age: String,
    },
    #[error("dated {time}, in the future (now {now})")]
    Future { time: String, now: String },
    #[error(
        "unsigned: no {signature} beside it, and supply_chain.vex.require_signature is true (sign it with `cargo xtask vex sign {file}`)"
    )]
    Unsigned { signature: String, file: String },
    #[error("its signature {signature} is refused: {rejection}")]
    BadSignature {
        signature: String,
        rejection: crate::keys::Unverified,
    },
}

pub type Result<T, E = Refusal> = std::result::Result<T, E>;

#[cfg(test)]
mod tests;
