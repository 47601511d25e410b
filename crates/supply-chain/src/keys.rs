//! ECDSA P-256 keys, the one signature check every signed thing here shares (cosign image
//! signatures, DSSE envelopes' PAE, VEX documents), and the PEM forms cosign and Kyverno read.
//! The bottom of the supply chain: `attest`, `cosign` and `vex` use it; it uses none of them.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey as EcdsaSigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use sha2::{Digest as _, Sha256};

use model::Secret;

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

/// Why no configured key verifies a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unverified {
    #[error("the signature is not base64-encoded ASN.1 DER ECDSA: {problem}")]
    Malformed { problem: String },
    #[error(
        "no configured key verifies it (made with another key, or its payload was altered); keys tried: {tried}"
    )]
    UnknownKey { tried: String },
}

/// The key among `keys` that made `signature_b64` (standard base64 of an ASN.1 DER ECDSA P-256
/// signature) over the exact bytes of `message`: the check every signed thing here shares (image
/// signatures, DSSE envelopes' PAE, VEX documents).
pub fn signed_by<'k>(
    message: &[u8],
    signature_b64: &str,
    keys: &'k [PublicKey],
) -> Result<&'k PublicKey, Unverified> {
    let der = STANDARD
        .decode(signature_b64.trim())
        .map_err(|e| Unverified::Malformed {
            problem: e.to_string(),
        })?;
    let signature = Signature::from_der(&der).map_err(|_| Unverified::Malformed {
        problem: "not a DER ECDSA signature".to_owned(),
    })?;
    keys.iter()
        .find(|k| k.key.verify(message, &signature).is_ok())
        .ok_or_else(|| Unverified::UnknownKey {
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
