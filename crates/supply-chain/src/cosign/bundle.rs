//! cosign v3 image signatures: a Sigstore bundle holding a DSSE envelope of an in-toto
//! Statement about the image digest, checked here against the configured public keys
//! (`cosign verify --key ... --insecure-ignore-tlog`: no Fulcio, no Rekor). Pure: the bundle
//! comes in as the bytes of the referrer's layer.
//!
//! Sources relied on (cosign itself does not run here):
//! - what `cosign sign --new-bundle-format` (the default in cosign v3) signs: sigstore/cosign
//!   `cmd/cosign/cli/sign/sign.go` `signDigestBundle`: an in-toto Statement v1
//!   (`_type` `https://in-toto.io/Statement/v1`) with one subject carrying only the digest
//!   (`{"sha256": "<hex>"}`, no name) and `predicateType` `https://sigstore.dev/cosign/sign/v1`
//!   (`pkg/types/predicate.go` `CosignSignPredicateType`), empty predicate;
//!   `cmd/cosign/cli/signcommon/common.go` `NewAttestationBundle`: signed as DSSE with
//!   `payloadType` `application/vnd.in-toto+json`;
//! - the bundle JSON: sigstore/protobuf-specs `protos/sigstore_bundle.proto` (`Bundle`:
//!   `mediaType`, `verificationMaterial` with one of `publicKey` (a hint only),
//!   `x509CertificateChain`, `certificate`; then one of `messageSignature`, `dsseEnvelope`) and
//!   `protos/envelope.proto` (`payload`, `payloadType`, `signatures[].sig`, `keyid`), in
//!   protobuf JSON (bytes as standard base64);
//! - the signed bytes: DSSE v1's PAE, checked by [`crate::attest::dsse`] (an ECDSA P-256 key
//!   signs SHA-256 over it, ASN.1 DER: sigstore-go `pkg/sign/content.go` `DSSEData`).
//!
//! The statement is read by `attest::statement::Statement::read`, as the pipeline's own
//! attestations are (a subject's `name` is optional there, as cosign leaves it out).

use serde::Deserialize;

use super::{PublicKey, Rejection};
use crate::attest::Rejection as AttestRejection;
use crate::attest::dsse::Envelope;
use crate::attest::statement::Statement;
use model::Digest;

/// The media type prefix of every Sigstore bundle version (`...bundle.v0.3+json`,
/// `...bundle+json;version=0.2`), as a referrer's `artifactType` and its layer's media type.
pub const MEDIA_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";
/// The bundle version cosign v3 writes.
pub const MEDIA_TYPE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub use crate::attest::dsse::IN_TOTO as IN_TOTO_PAYLOAD_TYPE;
pub use crate::attest::statement::STATEMENT_V1;
/// The predicate type of a cosign v3 image signature.
pub const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// A Sigstore bundle, the parts a key-based check reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    media_type: String,
    verification_material: VerificationMaterial,
    dsse_envelope: Option<Envelope>,
    message_signature: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerificationMaterial {
    certificate: Option<serde_json::Value>,
    x509_certificate_chain: Option<serde_json::Value>,
}

impl Bundle {
    /// Reads a bundle's JSON.
    pub fn parse(bytes: &[u8]) -> Result<Self, Rejection> {
        let bundle: Self = serde_json::from_slice(bytes).map_err(|e| Rejection::NotABundle {
            problem: e.to_string(),
        })?;
        if !bundle.media_type.starts_with(MEDIA_TYPE_PREFIX) {
            return Err(Rejection::NotABundle {
                problem: format!(
                    "its mediaType is {:?}, expected {MEDIA_TYPE_V03:?}",
                    bundle.media_type
                ),
            });
        }
        Ok(bundle)
    }

    /// Whether it is signed keyless: its verification material is a Fulcio certificate, not
    /// a key hint, so only a Fulcio/Rekor trust root could verify it.
    pub fn is_keyless(&self) -> bool {
        let material = &self.verification_material;
        material.certificate.is_some() || material.x509_certificate_chain.is_some()
    }

    /// The DSSE envelope it carries, or why it carries none.
    pub fn envelope(&self) -> Result<&Envelope, Rejection> {
        match (&self.dsse_envelope, &self.message_signature) {
            (Some(envelope), _) => Ok(envelope),
            (None, Some(_)) => Err(Rejection::MessageSignature),
            (None, None) => Err(Rejection::NotABundle {
                problem: "neither dsseEnvelope nor messageSignature".to_owned(),
            }),
        }
    }
}

/// Checks that `bundle` (a Sigstore bundle's JSON) is a cosign v3 image signature of
/// `expected_digest` made by one of `keys`. A keyless bundle is refused before any signature
/// is checked: the configured keys cannot vouch for it. The signature is checked before the
/// statement is read.
pub fn verify<'k>(
    bundle: &[u8],
    keys: &'k [PublicKey],
    expected_digest: &Digest,
) -> Result<&'k PublicKey, Rejection> {
    let bundle = Bundle::parse(bundle)?;
    if bundle.is_keyless() {
        return Err(Rejection::Keyless);
    }
    let envelope = bundle.envelope()?;
    let key = envelope
        .verify(keys)
        .map_err(|rejection| Rejection::Envelope {
            problem: rejection.to_string(),
        })?;
    Statement::read(envelope, SIGN_PREDICATE, expected_digest).map_err(
        |rejection| match rejection {
            AttestRejection::PayloadType { found, .. } => Rejection::NotInToto { found },
            AttestRejection::NotAStatement { problem } => Rejection::NotInToto {
                found: format!("a payload that is not an in-toto statement ({problem})"),
            },
            AttestRejection::PredicateType { found, .. } => Rejection::WrongPredicate { found },
            AttestRejection::Subject { found, expected } => Rejection::OtherDigest {
                found: if found.is_empty() {
                    "no subject".to_owned()
                } else {
                    found
                },
                expected,
            },
            other => Rejection::Envelope {
                problem: other.to_string(),
            },
        },
    )?;
    Ok(key)
}

#[cfg(test)]
mod tests;
