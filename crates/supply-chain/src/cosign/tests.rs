use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use model::Secret;

use super::*;

fn digest(c: char) -> Digest {
    format!("sha256:{}", c.to_string().repeat(64))
        .parse()
        .expect("digest")
}

fn repo(name: &str) -> Repository {
    name.parse().expect("repository")
}

#[test]
fn payload_is_cosigns_simple_signing_document_byte_for_byte() {
    let text = String::from_utf8(payload(&repo("127.0.0.1:5000/paktech-app"), &digest('a')))
        .expect("utf-8");
    assert_eq!(
        text,
        format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"127.0.0.1:5000/paktech-app"}},"image":{{"docker-manifest-digest":"sha256:{}"}},"type":"cosign container image signature"}},"optional":null}}"#,
            "a".repeat(64)
        )
    );
}

#[test]
fn keys_round_trip_through_pem() {
    let key = SigningKey::generate();
    let again = SigningKey::from_pem("cosign.key", &key.to_pem()).expect("private");
    let public =
        PublicKey::from_pem("keys/cosign.pub", &key.public_key().to_pem()).expect("public");
    assert_eq!(again.public_key().id, public.id);
    assert!(public.to_pem().starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert!(
        key.to_pem()
            .expose()
            .starts_with("-----BEGIN PRIVATE KEY-----\n")
    );
    assert_eq!(
        public.to_string(),
        format!("keys/cosign.pub ({})", public.id)
    );
}

#[test]
fn a_bad_key_is_named_and_never_echoed() {
    let secret =
        Secret::new("-----BEGIN PRIVATE KEY-----\nhunter2hunter2\n-----END PRIVATE KEY-----\n");
    let err = SigningKey::from_pem("PAKTECH_SIGNING_KEY", &secret).expect_err("refused");
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("PAKTECH_SIGNING_KEY"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    let public = PublicKey::from_pem("keys/cosign.pub", "not a key").expect_err("refused");
    assert!(public.to_string().contains("keys/cosign.pub"));
    // A private key where a public one is expected is refused, not accepted.
    let private = SigningKey::generate().to_pem();
    assert!(PublicKey::from_pem("keys/cosign.pub", private.expose()).is_err());
    // The signing key's Debug shows its public id only.
    let key = SigningKey::generate();
    assert_eq!(
        format!("{key:?}"),
        format!("SigningKey(public {})", key.public_key().id)
    );
}

/// One verification case: what is signed, what is checked, and the answer.
struct Case {
    name: &'static str,
    signed: Vec<u8>,
    checked: Vec<u8>,
    by_known_key: bool,
    signature: Option<&'static str>,
    expected: Result<(), &'static str>,
}

fn check(case: Case) {
    let known = SigningKey::generate();
    let other = SigningKey::generate();
    let keys = [known.public_key(), SigningKey::generate().public_key()];
    let signer = if case.by_known_key { &known } else { &other };
    let signature = case
        .signature
        .map_or_else(|| signer.sign(&case.signed), str::to_owned);
    let got = verify(
        &case.checked,
        &signature,
        &keys,
        &digest('a'),
        Some(&repo("paktech-app")),
    );
    match (got, case.expected) {
        (Ok(key), Ok(())) => assert_eq!(key.id, keys[0].id, "{}", case.name),
        (Err(rejection), Err(expected)) => {
            let text = rejection.to_string();
            assert!(text.contains(expected), "{}: {text}", case.name);
        }
        (got, expected) => panic!("{}: got {got:?}, expected {expected:?}", case.name),
    }
}

#[test]
fn verification_says_precisely_why_not() {
    let good = payload(&repo("paktech-app"), &digest('a'));
    let tampered = String::from_utf8(good.clone())
        .expect("utf-8")
        .replace(&"a".repeat(64), &"b".repeat(64))
        .into_bytes();
    let wrong_type = String::from_utf8(good.clone())
        .expect("utf-8")
        .replace(SIGNATURE_TYPE, "atomic container signature")
        .into_bytes();
    for case in [
        Case {
            name: "good",
            signed: good.clone(),
            checked: good.clone(),
            by_known_key: true,
            signature: None,
            expected: Ok(()),
        },
        Case {
            name: "unknown key",
            signed: good.clone(),
            checked: good.clone(),
            by_known_key: false,
            signature: None,
            expected: Err("no configured key verifies it"),
        },
        Case {
            name: "tampered payload",
            signed: good.clone(),
            checked: tampered.clone(),
            by_known_key: true,
            signature: None,
            expected: Err("no configured key verifies it"),
        },
        Case {
            name: "another digest, genuinely signed",
            signed: payload(&repo("paktech-app"), &digest('b')),
            checked: payload(&repo("paktech-app"), &digest('b')),
            by_known_key: true,
            signature: None,
            expected: Err("it signs sha256:bbbbbbbbbbbbbbbb"),
        },
        Case {
            name: "another repository",
            signed: payload(&repo("evil/paktech-app"), &digest('a')),
            checked: payload(&repo("evil/paktech-app"), &digest('a')),
            by_known_key: true,
            signature: None,
            expected: Err("names repository \"evil/paktech-app\""),
        },
        Case {
            name: "the same repository, named as cosign normalises it",
            signed: payload(&repo("index.docker.io/library/paktech-app"), &digest('a')),
            checked: payload(&repo("index.docker.io/library/paktech-app"), &digest('a')),
            by_known_key: true,
            signature: None,
            expected: Ok(()),
        },
        Case {
            name: "the same repository, through Docker Hub's alias",
            signed: payload(&repo("docker.io/paktech-app"), &digest('a')),
            checked: payload(&repo("docker.io/paktech-app"), &digest('a')),
            by_known_key: true,
            signature: None,
            expected: Ok(()),
        },
        Case {
            name: "a same-named repository on another registry",
            signed: payload(&repo("ghcr.io/paktech-app"), &digest('a')),
            checked: payload(&repo("ghcr.io/paktech-app"), &digest('a')),
            by_known_key: true,
            signature: None,
            expected: Err("names repository \"ghcr.io/paktech-app\""),
        },
        Case {
            name: "not json",
            signed: b"hello".to_vec(),
            checked: b"hello".to_vec(),
            by_known_key: true,
            signature: None,
            expected: Err("not cosign simple-signing JSON"),
        },
        Case {
            name: "wrong type",
            signed: wrong_type.clone(),
            checked: wrong_type,
            by_known_key: true,
            signature: None,
            expected: Err("critical.type is \"atomic container signature\""),
        },
        Case {
            name: "not base64",
            signed: good.clone(),
            checked: good.clone(),
            by_known_key: true,
            signature: Some("***"),
            expected: Err("not base64-encoded"),
        },
        Case {
            name: "not der",
            signed: good.clone(),
            checked: good,
            by_known_key: true,
            signature: Some("aGVsbG8="),
            expected: Err("not a DER ECDSA signature"),
        },
    ] {
        check(case);
    }
}

#[test]
fn no_keys_configured_is_said_so() {
    let key = SigningKey::generate();
    let body = payload(&repo("paktech-app"), &digest('a'));
    let err = verify(&body, &key.sign(&body), &[], &digest('a'), None).expect_err("refused");
    assert!(err.to_string().contains("none configured"), "{err}");
}

#[test]
fn found_signatures_are_checked_in_their_own_format() {
    let key = SigningKey::generate();
    let keys = [key.public_key()];
    let body = payload(&repo("paktech-app"), &digest('a'));
    let simple = FoundSignature::Simple(model::SignatureLayer {
        signature_b64: key.sign(&body),
        payload: body,
    });
    let statement = serde_json::json!({
        "_type": bundle::STATEMENT_V1,
        "subject": [{"digest": {"sha256": "a".repeat(64)}}],
        "predicateType": bundle::SIGN_PREDICATE,
        "predicate": {},
    })
    .to_string();
    let signed = crate::attest::dsse::pae(bundle::IN_TOTO_PAYLOAD_TYPE, statement.as_bytes());
    let bundled = FoundSignature::Bundle {
        referrer: "sha256:r".to_owned(),
        bundle: serde_json::json!({
            "mediaType": bundle::MEDIA_TYPE_V03,
            "verificationMaterial": {"publicKey": {"hint": ""}},
            "dsseEnvelope": {
                "payload": STANDARD.encode(&statement),
                "payloadType": bundle::IN_TOTO_PAYLOAD_TYPE,
                "signatures": [{"sig": key.sign(&signed)}],
            },
        })
        .to_string()
        .into_bytes(),
    };
    let unreadable = FoundSignature::Unreadable {
        entry: "signature layer sha256:l".to_owned(),
        reason: "no annotation".to_owned(),
    };
    let check = |found: &FoundSignature, expected: Result<(), &str>| {
        let got = verify_found(found, &keys, &digest('a'), Some(&repo("paktech-app")))
            .map(|_| ())
            .map_err(|r| r.to_string());
        assert_eq!(
            got.as_ref().map(|_| ()).map_err(String::as_str),
            expected,
            "{found:?}"
        );
    };
    check(&simple, Ok(()));
    check(&bundled, Ok(()));
    check(&unreadable, Err("it could not be read: no annotation"));
    assert_eq!(bundled.origin(), "Sigstore bundle in referrer sha256:r");
    assert_eq!(unreadable.origin(), "signature layer sha256:l");
}
