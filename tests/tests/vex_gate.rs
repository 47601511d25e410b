//! The scan gate with the repository's VEX statements, on grype's own report: a signed,
//! current `not_affected` statement from an accepted author turns a failing gate into a
//! pass; an expired, malformed, unsigned or other author's statement is refused, naming the
//! file, the statement and why.

use std::path::Path;
use std::time::Duration;

use ::supply_chain::cosign::SigningKey;
use ::supply_chain::vex;
use chrono::{DateTime, Utc};
use config::{ScanPolicy, SupplyChainConfig};
use flow::Clock;
use flow::scan::vex_documents;
use model::scan::{Severity, parse_grype};
use policy::{ScanVerdict, scan_gate};

const AUTHOR: &str = "security@paktech.example";
const DIGEST: &str = "sha256:ca738abb87a8d58f112d3400ebb079b61ceae7dc290beb34bda735be4b1941d5";

/// A document by `author` dated `days` before `now` with one statement about CVE-1999-0002 in
/// package-2 of any paktech-app build (grype's fixture names that package so).
fn document(now: DateTime<Utc>, author: &str, days: u64, status_fields: &str) -> String {
    let issued = (now - Duration::from_secs(days * 86_400)).to_rfc3339();
    format!(
        r#"{{"@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://paktech.example/vex/paktech-app-1",
  "author": "{author}",
  "timestamp": "{issued}",
  "version": 1,
  "statements": [{{
    "vulnerability": {{"name": "CVE-1999-0002", "aliases": ["GHSA-xxxx-yyyy-zzzz"]}},
    "products": [{{"@id": "pkg:oci/paktech-app",
                   "subcomponents": [{{"@id": "pkg:deb/package-2"}}]}}],
    {status_fields}
  }}]
}}"#
    )
}

const NOT_AFFECTED: &str = r#""status": "not_affected", "justification": "vulnerable_code_not_in_execute_path",
    "impact_statement": "package-2 ships in the base image; nothing in the app loads it""#;

/// Writes `text` as `security/vex/app.json` under `workspace`, signed by `key` when given.
fn write(workspace: &Path, text: &str, key: Option<&SigningKey>) {
    let dir = workspace.join("security/vex");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("app.json"), text).expect("vex");
    let sig = dir.join("app.json.sig");
    match key {
        Some(key) => std::fs::write(&sig, key.sign(text.as_bytes())).expect("sig"),
        None => {
            let _ = std::fs::remove_file(&sig);
        }
    }
    // Not a VEX document: ignored.
    std::fs::write(dir.join("README.md"), "how to write one").expect("readme");
}

#[test]
fn a_not_affected_statement_passes_the_gate_and_bad_statements_are_refused() {
    let Some(shared) = tests::shared_or_skip("vex_gate") else {
        return;
    };
    let report =
        std::fs::read(shared.join("fixtures/grype/TestJsonImgsPresenter.json")).expect("fixture");
    let scan = parse_grype("TestJsonImgsPresenter.json", &report).expect("grype's report");
    let policy = ScanPolicy {
        fail_on: Some(Severity::Critical),
        only_fixed: false,
    };
    assert_eq!(
        scan_gate(&policy, Some(&scan)),
        ScanVerdict::Fail {
            reason: "1 critical finding(s) at or above critical".to_owned()
        },
        "without VEX the gate fails"
    );

    let key = SigningKey::generate();
    let mut chain = SupplyChainConfig {
        keys: vec![key.public_key()],
        ..SupplyChainConfig::default()
    };
    chain.vex.authors = vec![AUTHOR.to_owned()];
    let workspace = tempfile::tempdir().expect("tempdir");
    let image = vex::Image {
        repository: "paktech-app",
        tag: "0123456789abcdef0123456789abcdef01234567",
        digest: DIGEST,
    };
    let now = Clock::System.now();

    // No directory: nothing applies, nothing is needed.
    assert_eq!(
        vex_documents(workspace.path(), &chain, now).expect("none"),
        []
    );

    write(
        workspace.path(),
        &document(now, AUTHOR, 10, NOT_AFFECTED),
        Some(&key),
    );
    let documents = vex_documents(workspace.path(), &chain, now).expect("admitted");
    let applied = vex::apply(&documents, &image, scan.clone());
    assert_eq!(scan_gate(&policy, Some(&applied)), ScanVerdict::Pass);
    assert_eq!(
        vex::applied(&applied),
        ["security/vex/app.json#0 CVE-1999-0002"]
    );
    assert_eq!(applied.suppressed.len(), 1);
    assert_eq!(applied.suppressed[0].finding.package, "package-2");
    assert_eq!(applied.findings.len(), 1, "the Low finding stays");
    // Another image is not named by the statement: the gate still fails.
    let other = vex::Image {
        repository: "other-app",
        ..image
    };
    let not_ours = vex::apply(&documents, &other, scan.clone());
    assert!(matches!(
        scan_gate(&policy, Some(&not_ours)),
        ScanVerdict::Fail { .. }
    ));

    let other_key = SigningKey::generate();
    let refusals: [(String, Option<&SigningKey>, &str); 5] = [
        (
            document(now, AUTHOR, 200, NOT_AFFECTED),
            Some(&key),
            "security/vex/app.json#0: VEX refused: made 200d",
        ),
        (
            document(now, AUTHOR, 10, r#""status": "not_affected""#),
            Some(&key),
            "security/vex/app.json#0: VEX refused: status not_affected needs a justification or an impact_statement",
        ),
        (
            document(now, AUTHOR, 10, NOT_AFFECTED),
            None,
            "security/vex/app.json: VEX refused: unsigned: no security/vex/app.json.sig beside it",
        ),
        (
            document(now, AUTHOR, 10, NOT_AFFECTED),
            Some(&other_key),
            "security/vex/app.json: VEX refused: its signature security/vex/app.json.sig is refused: no configured key verifies it",
        ),
        (
            document(now, "intern@paktech.example", 10, NOT_AFFECTED),
            Some(&key),
            "security/vex/app.json: VEX refused: its author \"intern@paktech.example\" is not one of supply_chain.vex.authors (security@paktech.example)",
        ),
    ];
    for (text, signer, expected) in refusals {
        write(workspace.path(), &text, signer);
        let err = vex_documents(workspace.path(), &chain, now).expect_err("refused");
        assert!(matches!(err, flow::Error::Vex(_)), "a VEX refusal: {err:?}");
        let message = err.to_string();
        assert!(
            message.starts_with(expected),
            "{message}\nexpected: {expected}"
        );
    }
}
