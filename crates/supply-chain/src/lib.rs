//! The supply chain: what a build carries and what proves it. `keys` (ECDSA P-256 signing
//! and public keys), `attest` (DSSE envelopes, in-toto statements, SLSA provenance, the SBOM
//! predicate), `cosign` (cosign's simple-signing signatures and v3 Sigstore bundles), `sbom`
//! (the CycloneDX document of an image), `vex` (OpenVEX statements applied to scans).
//!
//! Pure: keys come in as PEM text, documents as bytes; where they are stored is the
//! adapters' business. Uses only `model` of the workspace; no I/O crate.

pub mod attest;
pub mod cosign;
pub mod keys;
pub mod sbom;
pub mod vex;
