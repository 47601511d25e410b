//! The attestations `ci` makes, checked by independent code: securesystemslib (the DSSE
//! reference implementation's home) verifies the envelope's signature over the PAE with the
//! public key, and the `in-toto-attestation` package (the in-toto attestation framework's own
//! protobuf definitions, the schemas of the Statement v1, ResourceDescriptor and SLSA
//! provenance v1) parses the statement and the predicate strictly and validates them; the
//! SBOM predicate is the CycloneDX document as stored. `openssl` checks the raw signature.

use std::path::Path;
use std::process::Command;

use ::supply_chain::attest::dsse::{Envelope, IN_TOTO, pae};
use ::supply_chain::attest::provenance::{self, Builder};
use ::supply_chain::attest::sbom;
use ::supply_chain::cosign::SigningKey;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use model::{Digest, GitSha};
use tests::require::Service;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// What the Python side checks; prints `ok <predicateType>` per envelope.
const CHECK: &str = r#"
import json, sys
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from google.protobuf import json_format
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
from in_toto_attestation.v1.statement import Statement
from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
import in_toto_attestation.v1.statement_pb2 as statement_pb2
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2

public, keyid = sys.argv[1], sys.argv[2]
key = SSlibKey.from_crypto(load_pem_public_key(open(public, "rb").read()), keyid=keyid, scheme="ecdsa-sha2-nistp256")
for path in sys.argv[3:]:
    envelope = Envelope.from_dict(json.load(open(path)))
    envelope.verify([key], 1)
    assert envelope.payload_type == "application/vnd.in-toto+json", envelope.payload_type
    document = json.loads(envelope.payload)
    statement = Statement.copy_from_pb(json_format.Parse(envelope.payload, statement_pb2.Statement()))
    statement.validate()
    if statement.pb.predicate_type == "https://slsa.dev/provenance/v1":
        predicate = provenance_pb2.Provenance()
        json_format.ParseDict(document["predicate"], predicate)
        assert predicate.build_definition.build_type, "buildType is required"
        assert predicate.build_definition.external_parameters, "externalParameters is required"
        assert predicate.run_details.builder.id, "builder.id is required"
        for dependency in predicate.build_definition.resolved_dependencies:
            ResourceDescriptor.copy_from_pb(dependency).validate()
    print("ok", statement.pb.predicate_type)
"#;

fn digest(c: char) -> Digest {
    format!("sha256:{}", c.to_string().repeat(64))
        .parse()
        .expect("digest")
}

fn envelopes(key: &SigningKey) -> Vec<Envelope> {
    let builder = Builder::from_vars(|name| {
        let value = match name {
            "GITHUB_ACTIONS" => "true",
            "GITHUB_SERVER_URL" => "https://github.com",
            "GITHUB_REPOSITORY" => "paktech/paktech-gitops",
            "GITHUB_WORKFLOW_REF" => {
                "paktech/paktech-gitops/.github/workflows/ci.yml@refs/heads/main"
            }
            "GITHUB_REF" => "refs/heads/main",
            "GITHUB_RUN_ID" => "4242",
            "GITHUB_RUN_ATTEMPT" => "1",
            _ => return None,
        };
        Some(value.to_owned())
    });
    let commit: GitSha = SHA.parse().expect("sha");
    let document = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[]}"#;
    [
        provenance::sample(&builder, &commit, &digest('a')),
        sbom::statement("paktech-app", &digest('a'), document).expect("json"),
    ]
    .iter()
    .map(|statement| Envelope::sign(IN_TOTO, statement.to_json(), key))
    .collect()
}

fn python(dir: &Path, args: &[&str]) -> (bool, String) {
    tests::output_of(
        Command::new("python3")
            .arg("-c")
            .arg(CHECK)
            .args(args)
            .current_dir(dir),
    )
}

#[test]
fn securesystemslib_and_in_toto_accept_the_envelopes_and_statements_ci_makes() {
    for module in ["securesystemslib", "in_toto_attestation"] {
        if !tests::require(Service::Python(module), "provenance_interop") {
            return;
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::generate();
    let public = key.public_key();
    std::fs::write(dir.path().join("cosign.pub"), public.to_pem()).expect("pub");
    let mut files = Vec::new();
    for (i, envelope) in envelopes(&key).iter().enumerate() {
        let file = format!("envelope-{i}.json");
        std::fs::write(dir.path().join(&file), envelope.to_json()).expect("envelope");
        files.push(file);
    }
    let mut args = vec!["cosign.pub", public.id.as_str()];
    args.extend(files.iter().map(String::as_str));
    let (ok, text) = python(dir.path(), &args);
    assert!(ok, "{text}");
    assert!(
        text.contains("ok https://slsa.dev/provenance/v1")
            && text.contains("ok https://cyclonedx.org/bom"),
        "{text}"
    );

    // A changed payload, or another key, fails there too: the check is not vacuous.
    let mut altered = envelopes(&key).remove(0);
    altered.payload = String::from_utf8(altered.payload)
        .expect("utf-8")
        .replace(SHA, &"f".repeat(40))
        .into_bytes();
    std::fs::write(dir.path().join("altered.json"), altered.to_json()).expect("altered");
    let (ok, text) = python(
        dir.path(),
        &["cosign.pub", public.id.as_str(), "altered.json"],
    );
    assert!(!ok && text.contains("VerificationError"), "{text}");
    let stranger = envelopes(&SigningKey::generate()).remove(0);
    std::fs::write(dir.path().join("stranger.json"), stranger.to_json()).expect("stranger");
    let (ok, text) = python(
        dir.path(),
        &["cosign.pub", public.id.as_str(), "stranger.json"],
    );
    assert!(!ok && text.contains("VerificationError"), "{text}");
    // A predicate with a field SLSA provenance v1 does not define is refused by its schema.
    let mut statement: serde_json::Value =
        serde_json::from_slice(&envelopes(&key).remove(0).payload).expect("statement");
    statement["predicate"]["runDetails"]["builder"]["name"] = "x".into();
    let odd = Envelope::sign(IN_TOTO, serde_json::to_vec(&statement).expect("json"), &key);
    std::fs::write(dir.path().join("odd.json"), odd.to_json()).expect("odd");
    let (ok, text) = python(dir.path(), &["cosign.pub", public.id.as_str(), "odd.json"]);
    assert!(!ok && text.contains("name"), "{text}");
}

#[test]
fn openssl_verifies_the_envelope_signature_over_the_pae() {
    if !tests::require(Service::Tool("openssl"), "provenance_openssl") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::generate();
    let envelope = envelopes(&key).remove(0);
    std::fs::write(dir.path().join("cosign.pub"), key.public_key().to_pem()).expect("pub");
    std::fs::write(
        dir.path().join("pae.bin"),
        pae(&envelope.payload_type, &envelope.payload),
    )
    .expect("pae");
    let signature = STANDARD
        .decode(&envelope.signatures[0].sig)
        .expect("base64");
    std::fs::write(dir.path().join("sig.der"), signature).expect("sig");
    let (ok, text) = tests::output_of(
        Command::new("openssl")
            .args([
                "dgst",
                "-sha256",
                "-verify",
                "cosign.pub",
                "-signature",
                "sig.der",
                "pae.bin",
            ])
            .current_dir(dir.path()),
    );
    assert!(ok && text.contains("Verified OK"), "{text}");
}
