//! Attestations: signed statements about a build, in the in-toto attestation framework's
//! layers (a DSSE [`Envelope`](dsse::Envelope) around a [`Statement`](statement::Statement)
//! whose predicate says something about its subjects). `ci` makes two per build: SLSA
//! provenance v1 (what was built from which commit, by whom: [`provenance`]) and the SBOM
//! (a CycloneDX predicate: [`sbom`]). Pure: they are stored by the attachment store and
//! verified here before the supply-chain gate decides.

pub mod dsse;
pub mod provenance;
pub mod sbom;
pub mod statement;

/// Why an attestation does not vouch for the build it is checked against.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("it is not a DSSE envelope: {problem}")]
    NotAnEnvelope { problem: String },
    #[error("the envelope carries no signature")]
    NoSignature,
    #[error("{problem}")]
    Signature { problem: String },
    #[error("its payloadType is {found:?}, expected {expected:?}")]
    PayloadType {
        found: String,
        expected: &'static str,
    },
    #[error("its payload is not an in-toto Statement v1: {problem}")]
    NotAStatement { problem: String },
    #[error("its predicateType is {found:?}, expected {expected:?}")]
    PredicateType {
        found: String,
        expected: &'static str,
    },
    #[error("its predicate is not a {what}: {problem}")]
    Predicate { what: &'static str, problem: String },
    #[error("its subjects ({found}) do not include {expected}")]
    Subject { found: String, expected: String },
    #[error("it records no source commit (a resolvedDependencies entry with a gitCommit digest)")]
    NoSource,
    #[error("it was built from commit {found}, not {expected}")]
    Commit { found: String, expected: String },
    #[error("its builder {found:?} is not one this environment accepts ({accepted})")]
    Builder { found: String, accepted: String },
    #[error("the SBOM stored beside the image is not the SBOM the build signed")]
    SbomDiffers,
}
