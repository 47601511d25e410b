//! cosign v3 image signatures made here the way cosign makes them, written independently of
//! the pipeline's reader: the in-toto statement of `cmd/cosign/cli/sign/sign.go`
//! (`signDigestBundle`), DSSE over PAE (DSSE v1 `protocol.md`), the bundle JSON of
//! sigstore/protobuf-specs `sigstore_bundle.proto` with a public-key hint as its verification
//! material, and the referrer manifest of `pkg/oci/remote/write.go`
//! (`WriteAttestationNewBundleFormat`, `WriteReferrer`). PAE alone is the pipeline's, checked
//! against the DSSE spec's example and the sigstore-python test vector.

pub use ::supply_chain::attest::dsse::pae;
use ::supply_chain::cosign::SigningKey;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use model::Digest;
use serde_json::json;
use sha2::Digest as _;

pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(bytes))
}

/// The statement `cosign sign` makes for `digest`: its subject is the digest alone.
pub fn statement(digest: &Digest) -> Vec<u8> {
    let hex = digest.as_str().trim_start_matches("sha256:");
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {"sha256": hex}, "annotations": {}}],
        "predicateType": "https://sigstore.dev/cosign/sign/v1",
        "predicate": {},
    })
    .to_string()
    .into_bytes()
}

/// The Sigstore bundle `cosign sign --key` (v3) makes for `digest`, signed by `key`.
pub fn bundle(key: &SigningKey, digest: &Digest) -> Vec<u8> {
    let body = statement(digest);
    let hint = STANDARD.encode(sha2::Sha256::digest(key.public_key().to_pem().as_bytes()));
    json!({
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": hint}},
        "dsseEnvelope": {
            "payload": STANDARD.encode(&body),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": key.sign(&pae(PAYLOAD_TYPE, &body))}],
        },
    })
    .to_string()
    .into_bytes()
}

/// The referrer manifest cosign pushes for `bundle` about the image manifest `subject`
/// (`subject_size` bytes); the empty config `{}` and the bundle are its blobs.
pub fn referrer(subject: &Digest, subject_size: usize, bundle: &[u8]) -> Vec<u8> {
    json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": BUNDLE_MEDIA_TYPE,
        "config": {
            "mediaType": EMPTY_MEDIA_TYPE,
            "artifactType": BUNDLE_MEDIA_TYPE,
            "digest": sha256(b"{}"),
            "size": 2,
        },
        "layers": [{"mediaType": BUNDLE_MEDIA_TYPE, "digest": sha256(bundle), "size": bundle.len()}],
        "subject": {"mediaType": MANIFEST_MEDIA_TYPE, "digest": subject.as_str(), "size": subject_size},
        "annotations": {
            "dev.sigstore.bundle.content": "dsse-envelope",
            "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1",
            "org.opencontainers.image.created": "2026-12-04T12:00:00Z",
        },
    })
    .to_string()
    .into_bytes()
}

/// The descriptor of `referrer` as a referrers index lists it.
pub fn listed(referrer: &[u8]) -> serde_json::Value {
    json!({
        "mediaType": MANIFEST_MEDIA_TYPE,
        "digest": sha256(referrer),
        "size": referrer.len(),
        "artifactType": BUNDLE_MEDIA_TYPE,
        "annotations": {"dev.sigstore.bundle.content": "dsse-envelope"},
    })
}

/// A referrers index listing `manifests`.
pub fn index(manifests: &[serde_json::Value]) -> String {
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    })
    .to_string()
}
