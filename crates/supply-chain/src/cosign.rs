//! cosign's key-based image signature format: the simple-signing payload that names one image
//! digest, an ECDSA P-256 signature over its exact bytes, and the keys that make and check it.
//! Pure: keys come in as PEM text, signatures go out as base64; where they are stored is the
//! attachment store's business.
//!
//! Sources relied on (cosign itself does not run here):
//! - the payload: sigstore's `pkg/signature/payload/payload.go` (`SimpleContainerImage`,
//!   `CosignSignatureType`), which follows containers/image `docs/containers-signature.5.md`
//!   ("JSON data format"): `critical.identity.docker-reference`,
//!   `critical.image.docker-manifest-digest`, `critical.type`, and `optional`;
//! - the signature: ECDSA P-256 with SHA-256 over the payload bytes, ASN.1 DER, standard
//!   base64, the value of the layer's `dev.cosignproject.cosign/signature` annotation; cosign's
//!   docs verify it by hand with `openssl dgst -sha256 -verify cosign.pub -signature sig payload`;
//! - the public key: PKIX ("PUBLIC KEY") PEM, what `cosign verify --key` and Kyverno's
//!   `publicKeys` take;
//! - the identity: `docker-reference` compared after normalising both names as cosign does
//!   (see [`reference`]).
//!
//! cosign v3's default format, a Sigstore bundle stored as an OCI referrer, is read by
//! [`bundle`]; [`verify_found`] checks a signature in whichever format the store found it.

use serde::{Deserialize, Serialize};

pub use crate::keys::{KeyError, PublicKey, SigningKey, Unverified, signed_by};

use model::{Digest, FoundSignature, Repository};

pub mod bundle;
pub mod reference;

/// `critical.type` of a cosign image signature payload.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// The simple-signing document, field for field as sigstore's `SimpleContainerImage`.
#[derive(Debug, Serialize, Deserialize)]
struct SimpleSigning {
    critical: Critical,
    optional: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Critical {
    identity: Identity,
    image: Image,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Identity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

/// The payload cosign signs for `repository@digest`, byte for byte what `cosign sign` makes
/// without annotations: `{"critical":{...},"optional":null}`.
pub fn payload(repository: &Repository, digest: &Digest) -> Vec<u8> {
    let document = SimpleSigning {
        critical: Critical {
            identity: Identity {
                docker_reference: repository.to_string(),
            },
            image: Image {
                docker_manifest_digest: digest.to_string(),
            },
            kind: SIGNATURE_TYPE.to_owned(),
        },
        optional: None,
    };
    serde_json::to_vec(&document).unwrap_or_default()
}

/// Why a signature does not vouch for the expected image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error(transparent)]
    Key(#[from] Unverified),
    #[error("its payload is not cosign simple-signing JSON: {problem}")]
    NotSimpleSigning { problem: String },
    #[error("its payload's critical.type is {found:?}, expected {SIGNATURE_TYPE:?}")]
    WrongType { found: String },
    #[error("it signs {found}, not {expected}")]
    OtherDigest { found: String, expected: String },
    #[error(
        "it names repository {found:?}, not {expected:?} (compared as cosign normalises names)"
    )]
    OtherRepository { found: String, expected: String },
    #[error("it is not a Sigstore bundle: {problem}")]
    NotABundle { problem: String },
    #[error(
        "keyless (its verification material is a Fulcio certificate), not verifiable with the configured keys"
    )]
    Keyless,
    #[error(
        "its bundle holds a messageSignature (a signed blob digest, as `cosign sign-blob` makes), not the DSSE statement cosign v3 signs images with"
    )]
    MessageSignature,
    #[error(
        "its DSSE envelope holds {found}, expected an in-toto Statement v1 ({})",
        bundle::IN_TOTO_PAYLOAD_TYPE
    )]
    NotInToto { found: String },
    #[error(
        "its statement's predicateType is {found:?}, expected {:?}",
        bundle::SIGN_PREDICATE
    )]
    WrongPredicate { found: String },
    #[error("{problem}")]
    Envelope { problem: String },
    #[error("it could not be read: {reason}")]
    Unreadable { reason: String },
}

/// Checks that `signature_b64` over `payload` was made by one of `keys`, and that the payload
/// is a cosign image signature of `expected_digest` (and of `expected_repository`, when
/// given). Returns the key that verified it. The signature is checked before the payload is
/// read, so a verdict about the payload's content is only given for a genuine payload.
pub fn verify<'k>(
    payload: &[u8],
    signature_b64: &str,
    keys: &'k [PublicKey],
    expected_digest: &Digest,
    expected_repository: Option<&Repository>,
) -> Result<&'k PublicKey, Rejection> {
    let key = signed_by(payload, signature_b64, keys)?;
    let document: SimpleSigning =
        serde_json::from_slice(payload).map_err(|e| Rejection::NotSimpleSigning {
            problem: e.to_string(),
        })?;
    if document.critical.kind != SIGNATURE_TYPE {
        return Err(Rejection::WrongType {
            found: document.critical.kind,
        });
    }
    if document.critical.image.docker_manifest_digest != expected_digest.as_str() {
        return Err(Rejection::OtherDigest {
            found: document.critical.image.docker_manifest_digest,
            expected: expected_digest.to_string(),
        });
    }
    if let Some(repository) = expected_repository
        && !reference::same_repository(
            &document.critical.identity.docker_reference,
            repository.as_str(),
        )
    {
        return Err(Rejection::OtherRepository {
            found: document.critical.identity.docker_reference,
            expected: repository.to_string(),
        });
    }
    Ok(key)
}

/// Checks one signature the store found, whatever its format: a simple-signing layer as
/// [`verify`] does, a cosign v3 bundle as [`bundle::verify`] does (a bundle names no
/// repository: its statement's subject is the digest alone), an unreadable entry is
/// rejected with its reason.
pub fn verify_found<'k>(
    found: &FoundSignature,
    keys: &'k [PublicKey],
    expected_digest: &Digest,
    expected_repository: Option<&Repository>,
) -> Result<&'k PublicKey, Rejection> {
    match found {
        FoundSignature::Simple(layer) => verify(
            &layer.payload,
            &layer.signature_b64,
            keys,
            expected_digest,
            expected_repository,
        ),
        FoundSignature::Bundle { bundle, .. } => bundle::verify(bundle, keys, expected_digest),
        FoundSignature::Unreadable { reason, .. } => Err(Rejection::Unreadable {
            reason: reason.clone(),
        }),
    }
}

#[cfg(test)]
mod tests;
