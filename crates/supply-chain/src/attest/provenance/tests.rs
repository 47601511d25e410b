use super::*;
use crate::attest::dsse::{Envelope, IN_TOTO};
use crate::keys::SigningKey;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const CI: &str =
    "https://github.com/paktech/paktech-gitops/.github/workflows/ci.yml@refs/heads/main";

fn digest(c: char) -> Digest {
    format!("sha256:{}", c.to_string().repeat(64))
        .parse()
        .expect("digest")
}

fn github(workflow_ref: &str) -> Builder {
    Builder::from_vars(|name| {
        let value = match name {
            "GITHUB_ACTIONS" => "true",
            "GITHUB_SERVER_URL" => "https://github.com",
            "GITHUB_REPOSITORY" => "paktech/paktech-gitops",
            "GITHUB_WORKFLOW_REF" => workflow_ref,
            "GITHUB_REF" => "refs/heads/main",
            "GITHUB_RUN_ID" => "4242",
            "GITHUB_RUN_ATTEMPT" => "2",
            _ => return None,
        };
        Some(value.to_owned())
    })
}

fn made_by(builder: &Builder, commit: &str) -> Statement {
    sample(builder, &commit.parse().expect("sha"), &digest('a'))
}

#[test]
fn the_builder_is_the_workflow_run_in_github_actions_and_local_elsewhere() {
    let ci = github("paktech/paktech-gitops/.github/workflows/ci.yml@refs/heads/main");
    assert_eq!(ci.id, CI);
    assert_eq!(
        ci.invocation.as_deref(),
        Some("https://github.com/paktech/paktech-gitops/actions/runs/4242/attempts/2")
    );
    assert_eq!(
        ci.source.as_deref(),
        Some("git+https://github.com/paktech/paktech-gitops@refs/heads/main")
    );
    assert_eq!(
        ci.workflow.as_ref().expect("workflow")["path"],
        ".github/workflows/ci.yml"
    );
    let local = Builder::from_vars(|_| None);
    assert_eq!(local.id, LOCAL_BUILDER);
    assert_eq!(local.invocation, None);
    // GITHUB_* variables in a workstation's shell do not make it CI.
    let pretend = Builder::from_vars(|name| {
        (name == "GITHUB_WORKFLOW_REF")
            .then(|| "x/y/.github/workflows/ci.yml@refs/heads/main".into())
    });
    assert_eq!(pretend.id, LOCAL_BUILDER);
}

#[test]
fn the_statement_names_the_image_the_commit_the_lockfile_and_the_builder() {
    let s = made_by(
        &github("paktech/paktech-gitops/.github/workflows/ci.yml@refs/heads/main"),
        SHA,
    );
    let json: serde_json::Value = serde_json::from_slice(&s.to_json()).expect("json");
    assert_eq!(json["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(json["predicateType"], PREDICATE_TYPE);
    assert_eq!(json["subject"][0]["name"], "paktech-app");
    assert_eq!(json["subject"][0]["digest"]["sha256"], "a".repeat(64));
    let definition = &json["predicate"]["buildDefinition"];
    assert_eq!(definition["buildType"], BUILD_TYPE);
    assert_eq!(
        definition["resolvedDependencies"][0]["digest"]["gitCommit"],
        SHA
    );
    assert_eq!(definition["resolvedDependencies"][1]["name"], "Cargo.lock");
    assert_eq!(
        definition["resolvedDependencies"][1]["digest"]["sha256"],
        "c".repeat(64)
    );
    assert_eq!(
        definition["externalParameters"]["workflow"]["ref"],
        "refs/heads/main"
    );
    assert_eq!(json["predicate"]["runDetails"]["builder"]["id"], CI);
}

#[test]
fn the_consumer_check_passes_only_the_expected_commit_from_an_accepted_builder() {
    let ci = github("paktech/paktech-gitops/.github/workflows/ci.yml@refs/heads/main");
    let branch = github("paktech/paktech-gitops/.github/workflows/ci.yml@refs/heads/feature");
    let local = Builder::from_vars(|_| None);
    let other_sha = "f".repeat(40);
    let accepted = [CI.to_owned()];
    let check_one = |statement: Statement, builders: &[String], expected: Result<&str, &str>| {
        let got = check(&statement, &SHA.parse().expect("sha"), builders);
        match (&got, expected) {
            (Ok(proven), Ok(want)) => {
                let text = proven.to_string();
                assert!(text.contains(want), "{text}\nexpected: {want}");
            }
            (Err(rejection), Err(want)) => {
                let text = rejection.to_string();
                assert!(text.contains(want), "{text}\nexpected: {want}");
            }
            _ => panic!("got {got:?}, expected {expected:?}"),
        }
    };
    check_one(
        made_by(&ci, SHA),
        &accepted,
        Ok(
            "built by https://github.com/paktech/paktech-gitops/.github/workflows/ci.yml@refs/heads/main from git+https://github.com/paktech/paktech-gitops@refs/heads/main at 0123456789abcdef",
        ),
    );
    check_one(
        made_by(&ci, SHA),
        &accepted,
        Ok("actions/runs/4242/attempts/2"),
    );
    check_one(
        made_by(&local, SHA),
        &["local".to_owned()],
        Ok("built by local"),
    );
    // Prod accepts only CI's workflow on main: a workstation, or the workflow on a branch, is refused.
    check_one(
        made_by(&local, SHA),
        &accepted,
        Err("its builder \"local\" is not one this environment accepts"),
    );
    check_one(
        made_by(&branch, SHA),
        &accepted,
        Err("refs/heads/feature\" is not one"),
    );
    check_one(made_by(&ci, SHA), &[], Err("accepts (none)"));
    check_one(
        made_by(&ci, &other_sha),
        &accepted,
        Err("built from commit ffff"),
    );
    let mut no_source = made_by(&ci, SHA);
    no_source.predicate["buildDefinition"]["resolvedDependencies"] = serde_json::json!([]);
    check_one(no_source, &accepted, Err("records no source commit"));
    let mut not_slsa = made_by(&ci, SHA);
    not_slsa.predicate = serde_json::json!({"buildType": "x"});
    check_one(
        not_slsa,
        &accepted,
        Err("not a SLSA provenance v1 predicate"),
    );
}

#[test]
fn reading_a_signed_statement_checks_its_type_and_subject() {
    let key = SigningKey::generate();
    let statement = made_by(&Builder::from_vars(|_| None), SHA);
    let sign = |payload_type: &str, payload: Vec<u8>| Envelope::sign(payload_type, payload, &key);
    let read = |envelope: &Envelope, predicate: &'static str, subject: char| {
        Statement::read(envelope, predicate, &digest(subject)).map_err(|e| e.to_string())
    };
    let good = sign(IN_TOTO, statement.to_json());
    assert_eq!(read(&good, PREDICATE_TYPE, 'a').expect("reads"), statement);
    let refused = |got: Result<Statement, String>, want: &str| {
        let err = got.expect_err("refused");
        assert!(err.contains(want), "{err}\nexpected: {want}");
    };
    refused(
        read(&good, PREDICATE_TYPE, 'b'),
        &format!("do not include sha256:{}", "b".repeat(64)),
    );
    refused(
        read(&good, crate::attest::sbom::PREDICATE_TYPE, 'a'),
        "predicateType is \"https://slsa.dev/provenance/v1\"",
    );
    refused(
        read(
            &sign("text/plain", statement.to_json()),
            PREDICATE_TYPE,
            'a',
        ),
        "payloadType is \"text/plain\"",
    );
    refused(
        read(&sign(IN_TOTO, b"[]".to_vec()), PREDICATE_TYPE, 'a'),
        "not an in-toto Statement v1",
    );
    let mut v01 = statement;
    v01.kind = "https://in-toto.io/Statement/v0.1".to_owned();
    refused(
        read(&sign(IN_TOTO, v01.to_json()), PREDICATE_TYPE, 'a'),
        "_type is",
    );
}

#[test]
fn an_sbom_statement_vouches_only_for_the_document_it_signed() {
    let sbom = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[]}"#;
    let statement =
        crate::attest::sbom::statement("paktech-app", &digest('a'), sbom).expect("json");
    assert_eq!(statement.predicate_type, "https://cyclonedx.org/bom");
    // The same document, serialised with other spacing, is the same SBOM.
    let spaced = br#"{ "components": [], "specVersion": "1.6", "bomFormat": "CycloneDX" }"#;
    crate::attest::sbom::check(&statement, spaced).expect("same document");
    let swapped =
        br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"name":"evil"}]}"#;
    let err = crate::attest::sbom::check(&statement, swapped).expect_err("differs");
    assert!(
        err.to_string().contains("not the SBOM the build signed"),
        "{err}"
    );
    assert!(crate::attest::sbom::statement("x", &digest('a'), b"not json").is_err());
}
