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

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey as EcdsaSigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::model::{Digest, FoundSignature, Repository, Secret};

pub mod bundle;
pub mod reference;

/// `critical.type` of a cosign image signature payload.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// Why a key could not be read. Never carries the key's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "{source_name} is not an ECDSA P-256 private key: expected PEM \"PRIVATE KEY\" (PKCS#8) or \"EC PRIVATE KEY\" (SEC1), as `cargo xtask keys generate` writes"
    )]
    Private { source_name: String },
    #[error(
        "{source_name} is not an ECDSA P-256 public key: expected PEM \"PUBLIC KEY\" (PKIX), as `cargo xtask keys generate` writes to cosign.pub"
    )]
    Public { source_name: String },
}

/// The private key images are signed with. `Debug` shows only the public key's id.
#[derive(Clone)]
pub struct SigningKey {
    key: EcdsaSigningKey,
}

impl SigningKey {
    /// Reads a PEM private key; `source_name` (a file or variable name) names it in errors.
    pub fn from_pem(source_name: &str, pem: &Secret) -> Result<Self, KeyError> {
        let text = pem.expose().trim();
        EcdsaSigningKey::from_pkcs8_pem(text)
            .ok()
            .or_else(|| {
                p256::SecretKey::from_sec1_pem(text)
                    .ok()
                    .map(EcdsaSigningKey::from)
            })
            .map(|key| Self { key })
            .ok_or_else(|| KeyError::Private {
                source_name: source_name.to_owned(),
            })
    }

    /// A new random key.
    pub fn generate() -> Self {
        loop {
            // A uniformly random 32-byte string is a valid scalar unless it is zero or not
            // below the curve order (probability about 2^-32): draw again then.
            let bytes: [u8; 32] = rand::random();
            if let Ok(key) = EcdsaSigningKey::from_bytes(&bytes.into()) {
                return Self { key };
            }
        }
    }

    /// The private key as PKCS#8 PEM, for the one place that writes it to a file.
    pub fn to_pem(&self) -> Secret {
        let pem = self
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .unwrap_or_default();
        Secret::new(pem)
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::new("generated".to_owned(), *self.key.verifying_key())
    }

    /// Signs `payload`: ECDSA P-256 over SHA-256 of its bytes, DER, standard base64.
    pub fn sign(&self, payload: &[u8]) -> String {
        let signature: Signature = self.key.sign(payload);
        STANDARD.encode(signature.to_der().as_bytes())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(public {})", self.public_key().id)
    }
}

/// A public key signatures are checked against, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// Where it was configured: a file path, or `inline`.
    pub source: String,
    /// `sha256:` and the first 16 hex characters of the SHA-256 of its DER form: names the
    /// key in logs and plans without printing it.
    pub id: String,
    key: VerifyingKey,
}

impl PublicKey {
    fn new(source: String, key: VerifyingKey) -> Self {
        let der = key
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        let hash = Sha256::digest(&der);
        let hex: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Self {
            source,
            id: format!("sha256:{hex}"),
            key,
        }
    }

    /// Reads a PKIX PEM public key; `source` names it in errors and in verification results.
    pub fn from_pem(source: &str, pem: &str) -> Result<Self, KeyError> {
        VerifyingKey::from_public_key_pem(pem.trim())
            .map(|key| Self::new(source.to_owned(), key))
            .map_err(|_| KeyError::Public {
                source_name: source.to_owned(),
            })
    }

    /// The key as PKIX PEM (`cosign.pub`).
    pub fn to_pem(&self) -> String {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.source, self.id)
    }
}

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
    #[error("the signature is not base64-encoded ASN.1 DER ECDSA: {problem}")]
    Malformed { problem: String },
    #[error(
        "no configured key verifies it (made with another key, or its payload was altered); keys tried: {tried}"
    )]
    UnknownKey { tried: String },
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

/// The key among `keys` that made `signature_b64` (standard base64 of an ASN.1 DER ECDSA P-256
/// signature) over the exact bytes of `message`: the check every signed thing here shares (image
/// signatures, DSSE envelopes' PAE, VEX documents).
pub fn signed_by<'k>(
    message: &[u8],
    signature_b64: &str,
    keys: &'k [PublicKey],
) -> Result<&'k PublicKey, Rejection> {
    let der = STANDARD
        .decode(signature_b64.trim())
        .map_err(|e| Rejection::Malformed {
            problem: e.to_string(),
        })?;
    let signature = Signature::from_der(&der).map_err(|_| Rejection::Malformed {
        problem: "not a DER ECDSA signature".to_owned(),
    })?;
    keys.iter()
        .find(|k| k.key.verify(message, &signature).is_ok())
        .ok_or_else(|| Rejection::UnknownKey {
            tried: if keys.is_empty() {
                "none configured".to_owned()
            } else {
                keys.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        })
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
