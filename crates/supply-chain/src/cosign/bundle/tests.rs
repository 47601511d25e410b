use serde_json::json;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::*;
use crate::attest::dsse::pae;
use crate::cosign::SigningKey;

const HEX: &str = "4f2b3b8e0c5fbf5d25e1f2a3c7d7a0c4a1e5b6f7081a2b3c4d5e6f708192a3b4";

fn digest(hex: &str) -> Digest {
    format!("sha256:{hex}").parse().expect("digest")
}

/// The statement `cosign sign` (v3) makes for an image digest (`sign.go` `signDigestBundle`).
fn statement(hex: &str, predicate_type: &str) -> Vec<u8> {
    json!({
        "_type": STATEMENT_V1,
        "subject": [{"digest": {"sha256": hex}, "annotations": {}}],
        "predicateType": predicate_type,
        "predicate": {},
    })
    .to_string()
    .into_bytes()
}

/// A bundle as cosign v3 writes it with `--key`: a key hint, a DSSE envelope signed over PAE.
fn bundle(key: &SigningKey, payload_type: &str, signed: &[u8], carried: &[u8]) -> Vec<u8> {
    json!({
        "mediaType": MEDIA_TYPE_V03,
        "verificationMaterial": {"publicKey": {"hint": "aGludA=="}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": STANDARD.encode(carried),
            "payloadType": payload_type,
            "signatures": [{"sig": key.sign(&pae(payload_type, signed)), "keyid": ""}],
        },
    })
    .to_string()
    .into_bytes()
}

/// One case: the bundle's bytes and the verdict, as the rejection's first words.
fn check(name: &str, bytes: &[u8], keys: &[PublicKey], expected: Result<(), &str>) {
    let verdict = verify(bytes, keys, &digest(HEX))
        .map(|_| ())
        .map_err(|r| r.to_string());
    match (verdict, expected) {
        (Ok(()), Ok(())) => {}
        (Err(found), Err(words)) => assert!(found.starts_with(words), "{name}: {found}"),
        (found, expected) => panic!("{name}: got {found:?}, expected {expected:?}"),
    }
}

#[test]
fn key_based_bundles_verify_only_for_their_digest_and_key() {
    let key = SigningKey::generate();
    let keys = [SigningKey::generate().public_key(), key.public_key()];
    let good = statement(HEX, SIGN_PREDICATE);
    let sign = |payload_type: &str, signed: &[u8]| bundle(&key, payload_type, signed, signed);
    check(
        "cosign v3",
        &sign(IN_TOTO_PAYLOAD_TYPE, &good),
        &keys,
        Ok(()),
    );
    check(
        "another key",
        &bundle(&SigningKey::generate(), IN_TOTO_PAYLOAD_TYPE, &good, &good),
        &keys,
        Err("no configured key verifies it"),
    );
    check(
        "no keys",
        &sign(IN_TOTO_PAYLOAD_TYPE, &good),
        &[],
        Err(
            "no configured key verifies it (made with another key, or its payload was altered); keys tried: none configured",
        ),
    );
    let other = statement(&"0".repeat(64), SIGN_PREDICATE);
    check(
        "payload swapped after signing",
        &bundle(&key, IN_TOTO_PAYLOAD_TYPE, &other, &good),
        &keys,
        Err("no configured key verifies it"),
    );
    check(
        "another image",
        &sign(IN_TOTO_PAYLOAD_TYPE, &other),
        &keys,
        Err("it signs sha256:0000"),
    );
    check(
        "an attestation, not a signature",
        &sign(
            IN_TOTO_PAYLOAD_TYPE,
            &statement(HEX, "https://slsa.dev/provenance/v1"),
        ),
        &keys,
        Err("its statement's predicateType is \"https://slsa.dev/provenance/v1\""),
    );
    check(
        "not in-toto",
        &sign("application/vnd.example", &good),
        &keys,
        Err("its DSSE envelope holds application/vnd.example"),
    );
    check("not JSON", b"{", &keys, Err("it is not a Sigstore bundle"));
    let mut wrong_type: serde_json::Value =
        serde_json::from_slice(&sign(IN_TOTO_PAYLOAD_TYPE, &good)).expect("json");
    wrong_type["mediaType"] = json!("application/json");
    check(
        "another media type",
        wrong_type.to_string().as_bytes(),
        &keys,
        Err("it is not a Sigstore bundle: its mediaType is \"application/json\""),
    );
    let mut keyless = wrong_type.clone();
    keyless["mediaType"] = json!(MEDIA_TYPE_V03);
    keyless["verificationMaterial"] = json!({"certificate": {"rawBytes": "MIIB"}});
    check(
        "keyless",
        keyless.to_string().as_bytes(),
        &keys,
        Err(
            "keyless (its verification material is a Fulcio certificate), not verifiable with the configured keys",
        ),
    );
    let message = json!({
        "mediaType": MEDIA_TYPE_V03,
        "verificationMaterial": {"publicKey": {"hint": "aGludA=="}},
        "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": "AAAA"}, "signature": "MEUC"},
    });
    check(
        "sign-blob bundle",
        message.to_string().as_bytes(),
        &keys,
        Err("its bundle holds a messageSignature"),
    );
}
