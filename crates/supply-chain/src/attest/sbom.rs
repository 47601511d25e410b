//! The SBOM as an attestation: the CycloneDX document is the predicate of a statement about
//! the image, signed like provenance, so the SBOM that gates an environment is the one the
//! build signed. Relied on: in-toto/attestation `spec/predicates/cyclonedx.md` (predicate type
//! `https://cyclonedx.org/bom`, the predicate is the BOM itself) and cosign's `--type
//! cyclonedx`, which maps to the same URI.

use super::Rejection;
use super::statement::Statement;
use model::Digest;

/// `predicateType` of a CycloneDX SBOM.
pub const PREDICATE_TYPE: &str = "https://cyclonedx.org/bom";

/// The SBOM statement of the image `name@digest`; `Err` when `sbom` is not JSON.
pub fn statement(name: &str, digest: &Digest, sbom: &[u8]) -> Result<Statement, Rejection> {
    let predicate = serde_json::from_slice(sbom).map_err(|e| Rejection::Predicate {
        what: "CycloneDX JSON document",
        problem: e.to_string(),
    })?;
    Ok(Statement::about(name, digest, PREDICATE_TYPE, predicate))
}

/// Whether the stored SBOM `stored` is the document the statement signed (the same JSON
/// value: a store may re-serialise, but not change a field).
pub fn check(statement: &Statement, stored: &[u8]) -> Result<(), Rejection> {
    let stored: serde_json::Value =
        serde_json::from_slice(stored).map_err(|_| Rejection::SbomDiffers)?;
    if stored == statement.predicate {
        Ok(())
    } else {
        Err(Rejection::SbomDiffers)
    }
}
