//! The signature format against outside tools and the committed configuration:
//! `openssl dgst -sha256 -verify` accepts what the pipeline signs (as cosign's documentation
//! verifies its format by hand), openssl's signatures verify here, the payload has cosign's
//! simple-signing shape, and `pipeline.toml` and the Kyverno policy name the committed key.

use std::path::Path;
use std::process::Command;

use ::supply_chain::cosign::{self, PublicKey, SigningKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use model::{Digest, Repository};
use tests::env;
use tests::require::Service;

/// Runs `openssl` with `args` in `dir`; its exit status and output.
fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    tests::output_of(Command::new("openssl").args(args).current_dir(dir))
}

/// `openssl dgst -sha256 -verify cosign.pub -signature <signature> <file>` in `dir`.
fn openssl_verify(dir: &Path, signature: &str, file: &str) -> (bool, String) {
    openssl(
        dir,
        &[
            "dgst",
            "-sha256",
            "-verify",
            "cosign.pub",
            "-signature",
            signature,
            file,
        ],
    )
}

/// `openssl dgst -sha256 -sign cosign.key -out <out> <file>` in `dir`; the DER it wrote.
fn openssl_sign(dir: &Path, out: &str, file: &str) -> Vec<u8> {
    let (ok, text) = openssl(
        dir,
        &["dgst", "-sha256", "-sign", "cosign.key", "-out", out, file],
    );
    assert!(ok, "{text}");
    std::fs::read(dir.join(out)).expect("signature")
}

#[test]
fn openssl_verifies_what_the_pipeline_signs_and_the_payload_is_simple_signing() {
    if !tests::require(Service::Tool("openssl"), "supply_chain_openssl") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::generate();
    let repository: Repository = "127.0.0.1:5000/paktech-app".parse().expect("repository");
    let digest: Digest = format!("sha256:{}", "ab".repeat(32))
        .parse()
        .expect("digest");
    let payload = cosign::payload(&repository, &digest);
    let signature = STANDARD.decode(key.sign(&payload)).expect("base64");
    std::fs::write(dir.path().join("cosign.pub"), key.public_key().to_pem()).expect("pub");
    std::fs::write(dir.path().join("payload.json"), &payload).expect("payload");
    std::fs::write(dir.path().join("sig.der"), &signature).expect("sig");

    // cosign's documentation verifies its signatures by hand exactly so.
    let (ok, text) = openssl_verify(dir.path(), "sig.der", "payload.json");
    assert!(ok && text.contains("Verified OK"), "{text}");
    // A changed byte fails there too.
    let mut changed = payload.clone();
    changed[10] ^= 1;
    std::fs::write(dir.path().join("payload.json"), &changed).expect("payload");
    let (ok, text) = openssl_verify(dir.path(), "sig.der", "payload.json");
    assert!(!ok && text.contains("Verification failure"), "{text}");

    // And the other way: what openssl signs with the private key, the pipeline verifies.
    std::fs::write(dir.path().join("payload.json"), &payload).expect("payload");
    std::fs::write(dir.path().join("cosign.key"), key.to_pem().expose()).expect("key");
    let der = openssl_sign(dir.path(), "openssl.der", "payload.json");
    let keys = [key.public_key()];
    let verified = cosign::verify(
        &payload,
        &STANDARD.encode(der),
        &keys,
        &digest,
        Some(&repository),
    )
    .expect("openssl's signature verifies");
    assert_eq!(verified.id, keys[0].id);

    // The payload has the shape of cosign's simple-signing schema (sigstore's
    // `SimpleContainerImage`; containers/image `containers-signature.5.md`).
    let document: serde_json::Value = serde_json::from_slice(&payload).expect("json");
    let critical = &document["critical"];
    assert_eq!(
        critical["identity"]["docker-reference"],
        repository.as_str()
    );
    assert_eq!(critical["image"]["docker-manifest-digest"], digest.as_str());
    assert_eq!(critical["type"], "cosign container image signature");
    assert!(document["optional"].is_null());
    let keys_of = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys_of(&document), ["critical", "optional"]);
    assert_eq!(keys_of(critical), ["identity", "image", "type"]);
}

#[test]
fn the_committed_configuration_and_admission_policy_name_the_committed_key() {
    let workspace = tests::workspace();
    let config =
        config::PipelineConfig::load(&workspace.join("pipeline.toml")).expect("pipeline.toml");
    let prod = config.requirements(&env("prod"));
    assert!(prod.signature && prod.sbom, "prod requires both: {prod:?}");
    let committed = std::fs::read_to_string(workspace.join("keys/cosign.pub")).expect("key");
    let committed = PublicKey::from_pem("keys/cosign.pub", &committed).expect("a public key");
    assert!(
        config
            .supply_chain
            .keys
            .iter()
            .any(|k| k.id == committed.id),
        "pipeline.toml lists keys/cosign.pub"
    );

    let text =
        std::fs::read_to_string(workspace.join("gitops/admission/kyverno-verify-images.yaml"))
            .expect("policy");
    let documents = tests::yaml_documents(&text);
    let policy = &documents[0];
    assert_eq!(policy["apiVersion"], "kyverno.io/v1");
    assert_eq!(policy["kind"], "ClusterPolicy");
    let rule = &policy["spec"]["rules"][0];
    let verify = &rule["verifyImages"][0];
    assert_eq!(verify["type"], "Cosign");
    assert_eq!(verify["required"], true);
    let entry = &verify["attestors"][0]["entries"][0]["keys"];
    let pem = entry["publicKeys"].as_str().expect("publicKeys");
    let admitted = PublicKey::from_pem("kyverno publicKeys", pem).expect("a public key");
    assert_eq!(
        admitted.id, committed.id,
        "Kyverno enforces the committed key"
    );
    // Signed without the transparency log: Kyverno must not require a Rekor entry.
    assert_eq!(entry["rekor"]["ignoreTlog"], true);
    // The namespaces are the environments'.
    let namespaces: Vec<&str> = rule["match"]["any"][0]["resources"]["namespaces"]
        .as_array()
        .expect("namespaces")
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    for env in &config.environments {
        assert!(
            namespaces.contains(&env.namespace.as_str()),
            "{}",
            env.namespace
        );
    }
}

#[test]
fn openssl_verifies_a_vex_documents_detached_signature_and_the_other_way() {
    if !tests::require(Service::Tool("openssl"), "vex_openssl") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::generate();
    let document = br#"{"@context": "https://openvex.dev/ns/v0.2.0", "statements": []}"#;
    std::fs::write(dir.path().join("cosign.pub"), key.public_key().to_pem()).expect("pub");
    std::fs::write(dir.path().join("app.json"), document).expect("vex");
    // `<file>.sig` is base64; openssl reads the DER inside it (docs/operations.md says so).
    let sig = key.sign(document);
    let der = STANDARD.decode(&sig).expect("base64");
    std::fs::write(dir.path().join("app.json.der"), &der).expect("der");
    let (ok, text) = openssl_verify(dir.path(), "app.json.der", "app.json");
    assert!(ok && text.contains("Verified OK"), "{text}");

    // What openssl signs over the file, base64-encoded, verifies here as its `.sig`.
    std::fs::write(dir.path().join("cosign.key"), key.to_pem().expose()).expect("key");
    let der = openssl_sign(dir.path(), "openssl.der", "app.json");
    let keys = [key.public_key()];
    let verified =
        cosign::signed_by(document, &STANDARD.encode(&der), &keys).expect("openssl's verifies");
    assert_eq!(verified.id, keys[0].id);
    let mut changed = document.to_vec();
    changed[3] ^= 1;
    assert!(cosign::signed_by(&changed, &STANDARD.encode(&der), &keys).is_err());
}
