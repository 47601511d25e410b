use super::*;
use ::supply_chain::attest::provenance::{self, Builder};

const KEY: &str = "keys/cosign.pub (sha256:0011223344556677)";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn digest(c: char) -> Digest {
    format!("sha256:{}", c.to_string().repeat(64))
        .parse()
        .expect("digest")
}

/// Provenance of the image `sha256:aaaa…` built by `builder` from `commit`.
fn provenance_by(builder: &str, commit: &str) -> AttestationCheck {
    Ok(Attested {
        key: KEY.to_owned(),
        statement: provenance::sample(
            &Builder::named(builder),
            &commit.parse().expect("sha"),
            &digest('a'),
        ),
    })
}

/// Evidence with everything prod asks for: a verified signature, an SBOM the build signed,
/// provenance from `local` of SHA.
fn complete() -> Evidence {
    Evidence {
        digest: digest('a'),
        signatures: Ok(vec![
            Err("no configured key verifies it".to_owned()),
            Ok(KEY.to_owned()),
        ]),
        sbom: Ok(Some(digest('b'))),
        sbom_attestations: Ok(vec![Ok(KEY.to_owned())]),
        provenance: Ok(vec![provenance_by("local", SHA)]),
    }
}

fn require(signature: bool, sbom: bool, provenance: bool) -> Requirements {
    Requirements {
        signature,
        sbom,
        provenance,
        builders: vec!["local".to_owned()],
    }
}

fn check(required: Requirements, evidence: Evidence, expected: Result<Option<&str>, &str>) {
    let env: EnvName = "prod".parse().expect("env");
    let got = gate(
        &env,
        &required,
        &digest('a'),
        &SHA.parse().expect("sha"),
        &evidence,
    );
    match (&got, expected) {
        (Ok(None), Ok(None)) => {}
        (Ok(Some(detail)), Ok(Some(want))) => {
            assert!(detail.contains(want), "{detail}\nexpected: {want}")
        }
        (Err(refusal), Err(want)) => {
            let text = refusal.to_string();
            assert!(text.contains(want), "{text}\nexpected: {want}");
            assert!(text.contains(&"a".repeat(64)), "names the digest: {text}");
        }
        _ => panic!("{required:?} {evidence:?}: got {got:?}, expected {expected:?}"),
    }
}

#[test]
fn the_gate_passes_only_on_the_evidence_required() {
    let b = "b".repeat(64);
    let sbom = format!("SBOM sha256:{b} attested by {KEY}");
    let all = format!(
        "signed by {KEY}, {sbom}, provenance built by local from git+https://github.com/paktech/paktech-gitops at {SHA}, signed by {KEY}"
    );
    for (required, evidence, expected) in [
        // Nothing required: nothing is read, nothing refused.
        (
            require(false, false, false),
            Evidence::not_read(digest('a')),
            Ok(None),
        ),
        (
            require(true, true, true),
            complete(),
            Ok(Some(all.as_str())),
        ),
        (require(true, false, false), complete(), Ok(Some(KEY))),
        (
            require(false, true, false),
            complete(),
            Ok(Some(sbom.as_str())),
        ),
        (
            require(true, false, false),
            Evidence {
                signatures: Ok(vec![]),
                ..complete()
            },
            Err("prod takes only signed builds: sha256:aaaa"),
        ),
        (
            require(true, false, false),
            Evidence {
                signatures: Ok(vec![
                    Err("it signs sha256:cccc, not sha256:aaaa".to_owned()),
                ]),
                ..complete()
            },
            Err("it signs sha256:cccc"),
        ),
        (
            require(false, true, false),
            Evidence {
                sbom: Ok(None),
                ..complete()
            },
            Err("prod requires an SBOM"),
        ),
        // An SBOM stored but not signed by the build (or swapped since): refused.
        (
            require(false, true, false),
            Evidence {
                sbom_attestations: Ok(vec![]),
                ..complete()
            },
            Err("takes only an SBOM the build signed: no CycloneDX attestation of sha256:aaaa"),
        ),
        (
            require(false, true, false),
            Evidence {
                sbom_attestations: Ok(vec![Err(
                    "the SBOM stored beside the image is not the SBOM the build signed".to_owned(),
                )]),
                ..complete()
            },
            Err("not the SBOM the build signed"),
        ),
        // Provenance: missing, from a builder prod does not accept, of another commit.
        (
            require(false, false, true),
            Evidence {
                provenance: Ok(vec![]),
                ..complete()
            },
            Err("signed provenance from an accepted builder: none for sha256:aaaa"),
        ),
        (
            require(false, false, true),
            Evidence {
                provenance: Ok(vec![provenance_by("https://ci.example/evil", SHA)]),
                ..complete()
            },
            Err(
                "its builder \"https://ci.example/evil\" is not one this environment accepts (local)",
            ),
        ),
        (
            require(false, false, true),
            Evidence {
                provenance: Ok(vec![provenance_by("local", &"f".repeat(40))]),
                ..complete()
            },
            Err(&format!("built from commit {}, not {SHA}", "f".repeat(40))),
        ),
        // One bad attestation does not hide a good one.
        (
            require(false, false, true),
            Evidence {
                provenance: Ok(vec![
                    Err("no configured key verifies it".to_owned()),
                    provenance_by("local", SHA),
                ]),
                ..complete()
            },
            Ok(Some("provenance built by local")),
        ),
        // The store unreachable: refused, never passed (fail closed).
        (
            require(false, true, false),
            Evidence {
                sbom: Err("connection refused".to_owned()),
                ..complete()
            },
            Err("cannot read the supply-chain evidence"),
        ),
        (
            require(true, false, false),
            Evidence {
                signatures: Err("connection refused".to_owned()),
                ..complete()
            },
            Err("connection refused"),
        ),
        (
            require(false, false, true),
            Evidence {
                provenance: Err("connection refused".to_owned()),
                ..complete()
            },
            Err("connection refused"),
        ),
        (
            require(true, true, true),
            Evidence::not_read(digest('a')),
            Err("not read"),
        ),
        // Evidence about another digest never vouches for this one.
        (
            require(false, true, false),
            Evidence {
                digest: digest('c'),
                ..complete()
            },
            Err("the evidence read is for sha256:cccc"),
        ),
    ] {
        check(required, evidence, expected);
    }
}
