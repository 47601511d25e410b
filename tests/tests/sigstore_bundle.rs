//! The bundle reader against the Sigstore bundle format's own test vector and openssl: a
//! bundle sigstore-python signs its tests with (vendored in `tests/fixtures/sigstore`, see its
//! README) parses, and its DSSE signature verifies with the public key its certificate carries
//! (read by openssl); as keyless, it is refused by the key-based check. A bundle made as
//! `cosign sign --key` (v3) makes it verifies, and openssl verifies its raw signature.

use ::supply_chain::cosign::PublicKey;
use ::supply_chain::cosign::SigningKey;
use ::supply_chain::cosign::bundle::{self, Bundle};
use model::Digest;
use tests::sigstore;

const FIXTURE: &str = "fixtures/sigstore/a.dsse.staging-rekor-v2.txt.sigstore.json";

fn fixture() -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)).expect("fixture")
}

/// openssl's verdict on an ECDSA signature (base64 DER) over SHA-256 of `message`.
fn openssl_verifies(public_pem: &[u8], message: &[u8], signature_b64: &str) -> bool {
    use base64::Engine as _;
    let key = openssl::pkey::PKey::public_key_from_pem(public_pem).expect("public key");
    let signature = base64::engine::general_purpose::STANDARD
        .decode(signature_b64)
        .expect("base64");
    let mut verifier = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key)
        .expect("verifier");
    verifier.update(message).expect("update");
    verifier.verify(&signature).expect("verify")
}

#[test]
fn the_reference_bundle_parses_and_verifies_with_its_certificates_key() {
    let bytes = fixture();
    let json: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    let certificate = {
        use base64::Engine as _;
        let raw = json["verificationMaterial"]["certificate"]["rawBytes"]
            .as_str()
            .expect("certificate");
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .expect("base64")
    };
    let certificate = openssl::x509::X509::from_der(&certificate).expect("x509");
    let public_pem = certificate
        .public_key()
        .expect("key")
        .public_key_to_pem()
        .expect("pem");
    let key = PublicKey::from_pem(
        "the fixture's certificate",
        std::str::from_utf8(&public_pem).expect("utf-8"),
    )
    .expect("an ECDSA P-256 key");

    let parsed = Bundle::parse(&bytes).expect("parses");
    assert!(parsed.is_keyless());
    let envelope = parsed.envelope().expect("a DSSE envelope");
    assert_eq!(envelope.verify(std::slice::from_ref(&key)), Ok(&key));
    let statement: serde_json::Value =
        serde_json::from_slice(&envelope.payload).expect("statement");
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    // The same bytes verify under openssl: the reader signs-checks PAE exactly.
    let signature = json["dsseEnvelope"]["signatures"][0]["sig"]
        .as_str()
        .expect("sig");
    let signed = sigstore::pae(&envelope.payload_type, &envelope.payload);
    assert!(openssl_verifies(&public_pem, &signed, signature));
    assert!(!openssl_verifies(&public_pem, &signed[1..], signature));
    // Another key does not verify it.
    assert!(
        envelope
            .verify(&[SigningKey::generate().public_key()])
            .is_err()
    );

    // Keyless: even with its own key configured, the key-based check refuses it, saying why.
    let digest: Digest = format!(
        "sha256:{}",
        statement["subject"][0]["digest"]["sha256"]
            .as_str()
            .expect("subject digest")
    )
    .parse()
    .expect("digest");
    let refused = bundle::verify(&bytes, std::slice::from_ref(&key), &digest).expect_err("keyless");
    assert!(
        refused
            .to_string()
            .contains("not verifiable with the configured keys"),
        "{refused}"
    );
}

#[test]
fn a_cosign_v3_key_based_bundle_verifies_here_and_under_openssl() {
    let key = SigningKey::generate();
    let digest: Digest = format!("sha256:{}", "c3".repeat(32))
        .parse()
        .expect("digest");
    let bytes = sigstore::bundle(&key, &digest);
    assert_eq!(
        bundle::verify(&bytes, &[key.public_key()], &digest).map(|k| k.id.clone()),
        Ok(key.public_key().id)
    );
    let json: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    let signature = json["dsseEnvelope"]["signatures"][0]["sig"]
        .as_str()
        .expect("sig");
    let signed = sigstore::pae(
        "application/vnd.in-toto+json",
        &sigstore::statement(&digest),
    );
    assert!(openssl_verifies(
        key.public_key().to_pem().as_bytes(),
        &signed,
        signature
    ));
    let other: Digest = format!("sha256:{}", "d4".repeat(32))
        .parse()
        .expect("digest");
    let refused = bundle::verify(&bytes, &[key.public_key()], &other).expect_err("other digest");
    assert!(
        refused.to_string().contains("it signs sha256:c3c3"),
        "{refused}"
    );
}
