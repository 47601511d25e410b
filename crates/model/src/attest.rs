//! What is attached to an image besides the image: its signatures (in cosign's format) and its
//! SBOM. The attachment store (`adapters::attachments`) keeps them; signing and verification
//! read and write these values.

/// One cosign signature of an image: the simple-signing payload that was signed, and the
/// signature over it, base64-encoded as cosign puts it in the
/// `dev.cosignproject.cosign/signature` annotation of the payload's layer.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignatureLayer {
    /// The exact bytes that were signed (cosign's simple-signing JSON).
    #[serde(with = "base64_bytes")]
    pub payload: Vec<u8>,
    /// The signature over `payload`, standard base64 with padding.
    pub signature_b64: String,
}

impl std::fmt::Debug for SignatureLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureLayer")
            .field("payload", &String::from_utf8_lossy(&self.payload))
            .field("signature_b64", &self.signature_b64)
            .finish()
    }
}

/// One signature the attachment store found for an image, in the format it was stored in.
/// An entry that could not be read is kept, with why, so that one damaged entry is reported
/// without hiding the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoundSignature {
    /// A simple-signing layer, as cosign's `sha256-<hex>.sig` tag holds them.
    Simple(SignatureLayer),
    /// A Sigstore bundle's JSON (cosign v3), stored as an OCI referrer of the image.
    Bundle {
        /// The digest of the referrer manifest that holds it.
        referrer: String,
        /// The bundle's exact bytes.
        bundle: Vec<u8>,
    },
    /// An entry that is there but could not be read.
    Unreadable {
        /// Which entry: the layer or referrer, by digest.
        entry: String,
        /// Why it could not be read.
        reason: String,
    },
}

impl FoundSignature {
    /// Where it was found, in words: `.sig layer`, `bundle in referrer <digest>`, or the entry.
    pub fn origin(&self) -> String {
        match self {
            Self::Simple(_) => "cosign .sig layer".to_owned(),
            Self::Bundle { referrer, .. } => format!("Sigstore bundle in referrer {referrer}"),
            Self::Unreadable { entry, .. } => entry.clone(),
        }
    }
}

/// One attestation of an image: a DSSE envelope's JSON, as cosign stores it (a layer of media
/// type `application/vnd.dsse.envelope.v1+json` under the `sha256-<hex>.att` tag), with the
/// predicate type the store labelled it with. The label only picks which envelopes to read:
/// the type inside the signed statement is the one that counts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttestationLayer {
    pub predicate_type: String,
    /// The envelope's exact bytes.
    #[serde(with = "base64_bytes")]
    pub envelope: Vec<u8>,
}

/// Bytes as standard base64 in JSON, so any bytes survive a round trip (`serde(with)`).
pub mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        STANDARD
            .decode(text)
            .map_err(|e| serde::de::Error::custom(format!("payload is not base64: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_payload_bytes_survive_json() {
        let layer = SignatureLayer {
            payload: vec![0, 159, 146, 150, b'{', b'}'],
            signature_b64: "MEUCIQ==".to_owned(),
        };
        let text = serde_json::to_string(&layer).expect("serialize");
        assert_eq!(
            serde_json::from_str::<SignatureLayer>(&text).expect("parse"),
            layer
        );
        assert!(
            serde_json::from_str::<SignatureLayer>(r#"{"payload":"%%","signature_b64":""}"#)
                .is_err()
        );
    }
}
