//! DSSE, the envelope in-toto attestations are signed in: the payload, its type, and
//! signatures over the pre-authentication encoding (PAE) of both, so a signature can never be
//! read as a signature of another type of document.
//!
//! Relied on: secure-systems-lab/dsse `envelope.md` (the JSON: `payload` standard base64,
//! `payloadType`, `signatures[].keyid`, `signatures[].sig` standard base64) and `protocol.md`
//! (`PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, LEN the ASCII
//! decimal byte count); in-toto attestation `spec/v1/envelope.md` (`payloadType` is
//! `application/vnd.in-toto+json`). cosign signs the PAE with its key (ECDSA P-256, SHA-256,
//! DER), as `cosign attest --key` does; securesystemslib's `dsse.Envelope.verify` checks the
//! same bytes (tests/tests/provenance_interop.rs).

use serde::{Deserialize, Serialize};

use super::Rejection;
use crate::keys::{self, PublicKey, SigningKey};

/// `payloadType` of an in-toto statement.
pub const IN_TOTO: &str = "application/vnd.in-toto+json";

/// A signed envelope, field for field as DSSE's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    #[serde(with = "model::attest::base64_bytes")]
    pub payload: Vec<u8>,
    pub payload_type: String,
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// The signing key's id (`sha256:` and 16 hex digits of its DER form); a hint only,
    /// never trusted: every configured key is tried.
    #[serde(default)]
    pub keyid: String,
    /// Standard base64 of the ASN.1 DER ECDSA signature over the PAE.
    pub sig: String,
}

/// The pre-authentication encoding DSSE signs.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// `payload` of type `payload_type`, signed with `key`.
    pub fn sign(payload_type: &str, payload: Vec<u8>, key: &SigningKey) -> Self {
        let sig = key.sign(&pae(payload_type, &payload));
        Self {
            signatures: vec![EnvelopeSignature {
                keyid: key.public_key().id,
                sig,
            }],
            payload,
            payload_type: payload_type.to_owned(),
        }
    }

    /// The envelope's JSON, as it is stored.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads an envelope's JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Rejection> {
        serde_json::from_slice(bytes).map_err(|e| Rejection::NotAnEnvelope {
            problem: e.to_string(),
        })
    }

    /// The configured key that signed this envelope's PAE, trying every signature: the first
    /// that one of `keys` verifies wins; otherwise why none did.
    pub fn verify<'k>(&self, keys: &'k [PublicKey]) -> Result<&'k PublicKey, Rejection> {
        if self.signatures.is_empty() {
            return Err(Rejection::NoSignature);
        }
        let message = pae(&self.payload_type, &self.payload);
        let mut why = Vec::new();
        for signature in &self.signatures {
            match keys::signed_by(&message, &signature.sig, keys) {
                Ok(key) => return Ok(key),
                Err(rejection) => why.push(rejection.to_string()),
            }
        }
        why.dedup();
        Err(Rejection::Signature {
            problem: why.join("; "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_the_specs_encoding() {
        // protocol.md's worked example: type "http://example.com/HelloWorld", body "hello world".
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn an_envelope_verifies_only_with_its_key_and_its_exact_type_and_payload() {
        let key = SigningKey::generate();
        let other = SigningKey::generate();
        let keys = [other.public_key(), key.public_key()];
        let envelope = Envelope::sign(IN_TOTO, br#"{"_type":"x"}"#.to_vec(), &key);
        let read = Envelope::from_json(&envelope.to_json()).expect("round trip");
        assert_eq!(read, envelope);
        assert_eq!(
            read.verify(&keys).expect("verifies").id,
            key.public_key().id
        );
        assert_eq!(read.signatures[0].keyid, key.public_key().id);

        let check = |envelope: Envelope, keys: &[PublicKey], expected: &str| {
            let err = envelope.verify(keys).expect_err("refused").to_string();
            assert!(err.contains(expected), "{err}\nexpected: {expected}");
        };
        check(envelope.clone(), &[other.public_key()], "no configured key");
        check(
            Envelope {
                payload_type: "text/plain".to_owned(),
                ..envelope.clone()
            },
            &keys,
            "no configured key",
        );
        check(
            Envelope {
                payload: br#"{"_type":"y"}"#.to_vec(),
                ..envelope.clone()
            },
            &keys,
            "no configured key",
        );
        check(
            Envelope {
                signatures: vec![],
                ..envelope.clone()
            },
            &keys,
            "no signature",
        );
        check(
            Envelope {
                signatures: vec![EnvelopeSignature {
                    keyid: String::new(),
                    sig: "%%".to_owned(),
                }],
                ..envelope
            },
            &keys,
            "not base64",
        );
        let err = Envelope::from_json(b"{\"payload\":1}").expect_err("not an envelope");
        assert!(err.to_string().contains("not a DSSE envelope"), "{err}");
    }
}
