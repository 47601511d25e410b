//! Parsing, admission and matching, table-driven.
//!
//! Longer than 400 lines: a table of cases per rule of the OpenVEX spec and go-vex (parsing,
//! admission, matching); the tables are data, and one file keeps the shared documents and keys in
//! one place.

use chrono::{DateTime, Utc};

use super::*;
use crate::cosign::SigningKey;
use model::scan::{Finding, ImageScan, Severity, parse_grype};

const NOW: &str = "2026-12-01T00:00:00Z";
const DIGEST: &str = "sha256:ca738abb87a8d58f112d3400ebb079b61ceae7dc290beb34bda735be4b1941d5";
const DOC_AFFIX: &str = "; expected an OpenVEX v0.2.0 document (openvex/spec OPENVEX-SPEC.md)";

fn now() -> DateTime<Utc> {
    NOW.parse().expect("now")
}

/// A document by `author`, issued at `timestamp`, with `statements` (a JSON array's content).
fn document_by(author: &str, timestamp: &str, statements: &str) -> String {
    format!(
        r#"{{"@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://paktech.example/vex/app-1",
            "author": "{author}", "role": "maintainer",
            "timestamp": "{timestamp}", "version": 1,
            "tooling": "hand-written",
            "statements": [{statements}]}}"#
    )
}

fn document(statements: &str) -> String {
    document_by(
        "security@paktech.example",
        "2026-11-01T10:00:00-06:00",
        statements,
    )
}

/// A `not_affected` statement about `vulnerability` for every paktech-app build.
const NOT_AFFECTED: &str = r#"{"vulnerability": {"name": "CVE-1999-0002"},
    "products": [{"@id": "pkg:oci/paktech-app"}],
    "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}"#;

fn check_parse(statements: &str, expected: Result<usize, &str>) {
    let got = document::parse("a.json", document(statements).as_bytes())
        .map(|d| d.statements.len())
        .map_err(|e| e.to_string());
    assert_eq!(
        got,
        expected.map_err(|e| format!("{e}{DOC_AFFIX}")),
        "{statements}"
    );
}

#[test]
fn statements_are_parsed_and_validated_as_the_spec_and_go_vex_require() {
    check_parse(NOT_AFFECTED, Ok(1));
    check_parse(
        r#"{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:oci/a"}],
            "status": "not_affected", "impact_statement": "the code is never called"}"#,
        Ok(1),
    );
    check_parse(
        &format!(
            r#"{NOT_AFFECTED}, {{"vulnerability": {{"name": "CVE-2"}}, "products": [{{"@id": "x"}}],
            "status": "affected", "action_statement": "upgrade"}}"#
        ),
        Ok(2),
    );
    check_parse(
        r#"{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:oci/a"}], "status": "not_affected"}"#,
        Err(
            "a.json#0: VEX refused: status not_affected needs a justification or an impact_statement",
        ),
    );
    check_parse(
        &format!(
            r#"{NOT_AFFECTED}, {{"vulnerability": {{"name": "CVE-1"}}, "products": [{{"@id": "x"}}], "status": "maybe"}}"#
        ),
        Err(
            "a.json#1: VEX refused: status \"maybe\" is not one of not_affected, affected, fixed, under_investigation",
        ),
    );
    check_parse(
        r#"{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "x"}], "status": "not_affected", "justification": "trust_me"}"#,
        Err(
            "a.json#0: VEX refused: justification \"trust_me\" is not one of component_not_present, vulnerable_code_not_present, vulnerable_code_not_in_execute_path, vulnerable_code_cannot_be_controlled_by_adversary, inline_mitigations_already_exist",
        ),
    );
    check_parse(
        r#"{"products": [{"@id": "x"}], "status": "fixed"}"#,
        Err("a.json#0: VEX refused: no vulnerability"),
    );
    check_parse(
        r#"{"vulnerability": {"@id": "https://nvd.nist.gov/vuln/detail/CVE-1"}, "products": [{"@id": "x"}], "status": "fixed"}"#,
        Err("a.json#0: VEX refused: vulnerability has no name"),
    );
    // The v0.0.1 shape (a bare string) is not v0.2.0.
    check_parse(
        r#"{"vulnerability": "CVE-1", "products": [{"@id": "x"}], "status": "fixed"}"#,
        Err(
            "a.json#0: VEX refused: not an OpenVEX statement: invalid type: string \"CVE-1\", expected struct RawVulnerability",
        ),
    );
    check_parse(
        r#"{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "x"}], "status": "fixed", "timestamp": "yesterday"}"#,
        Err(
            "a.json#0: VEX refused: timestamp \"yesterday\" is not an RFC 3339 time (premature end of input)",
        ),
    );
    check_parse(
        r#"{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "x"}], "status": "affected"}"#,
        Err("a.json#0: VEX refused: status affected needs an action_statement"),
    );
    check_parse(
        r#"{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "x"}], "status": "fixed", "justification": "component_not_present"}"#,
        Err("a.json#0: VEX refused: justification must not be set when status is fixed"),
    );
    check_parse(
        r#"{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "x"}], "status": "not_affected",
            "justification": "component_not_present", "action_statement": "none"}"#,
        Err("a.json#0: VEX refused: action_statement must not be set when status is not_affected"),
    );
    check_parse(
        r#"{"vulnerability": {"name": "CVE-1"}, "status": "under_investigation"}"#,
        Err(
            "a.json#0: VEX refused: names no product (a statement here has no encapsulating document to inherit one from)",
        ),
    );
    check_parse(
        r#"{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "x", "subcomponents": [{}]}], "status": "fixed"}"#,
        Err(
            "a.json#0: VEX refused: products[0].subcomponents[0] has no @id, identifiers or hashes",
        ),
    );
    check_parse("", Err("a.json: VEX refused: no statements"));
}

fn check_document(text: &str, expected: &str) {
    let err = document::parse("a.json", text.as_bytes()).expect_err("refused");
    assert_eq!(err.to_string(), expected, "{text}");
}

#[test]
fn malformed_documents_are_refused_naming_the_file() {
    let good = document(NOT_AFFECTED);
    check_document(
        &good[..good.len() / 2],
        "a.json: VEX refused: not JSON at line 5, column 3: EOF while parsing a value",
    );
    check_document(
        &good.replace("/ns/v0.2.0", "/ns"),
        &format!(
            "a.json: VEX refused: @context is \"https://openvex.dev/ns\", not \"https://openvex.dev/ns/v0.2.0\"{DOC_AFFIX}"
        ),
    );
    check_document(
        &good.replace("\"version\": 1", "\"version\": \"1\""),
        &format!("a.json: VEX refused: version is \"1\", expected an integer from 1{DOC_AFFIX}"),
    );
    check_document(
        &good.replace("\"author\": \"security@paktech.example\",", ""),
        &format!("a.json: VEX refused: no author{DOC_AFFIX}"),
    );
    check_document(
        &good.replace("2026-11-01T10:00:00-06:00", "2026-11-01"),
        &format!(
            "a.json: VEX refused: timestamp \"2026-11-01\" is not an RFC 3339 time (premature end of input){DOC_AFFIX}"
        ),
    );
}

/// How a test document is signed.
#[derive(Debug, Clone, Copy)]
enum Sig {
    None,
    Trusted,
    OtherKey,
    /// By the trusted key, over other bytes.
    Altered,
}

fn check_admit(
    text: &str,
    sig: Sig,
    authors: &[&str],
    max_age_days: u64,
    expected: Result<(), &str>,
) {
    let trusted = SigningKey::generate();
    let keys = [trusted.public_key()];
    let signature = match sig {
        Sig::None => None,
        Sig::Trusted => Some(trusted.sign(text.as_bytes())),
        Sig::OtherKey => Some(SigningKey::generate().sign(text.as_bytes())),
        Sig::Altered => Some(trusted.sign(format!("{text} ").as_bytes())),
    };
    let authors: Vec<String> = authors.iter().map(|a| (*a).to_owned()).collect();
    let trust = Trust {
        authors: &authors,
        max_age: std::time::Duration::from_secs(max_age_days * 86_400),
        require_signature: true,
        keys: &keys,
    };
    let got = admit(
        "security/vex/a.json",
        text.as_bytes(),
        signature.as_deref(),
        &trust,
        now(),
    )
    .map(drop)
    .map_err(|e| e.to_string());
    let expected = expected.map_err(|e| e.replace("{key}", &keys[0].to_string()));
    assert_eq!(got, expected, "{sig:?} {authors:?} {max_age_days}\n{text}");
}

#[test]
fn documents_are_admitted_only_signed_by_a_trusted_key_from_an_accepted_author_and_current() {
    let good = document(NOT_AFFECTED);
    let author = ["security@paktech.example"];
    check_admit(&good, Sig::Trusted, &author, 180, Ok(()));
    check_admit(&good, Sig::Trusted, &[], 180, Ok(()));
    check_admit(
        &good,
        Sig::None,
        &author,
        180,
        Err(
            "security/vex/a.json: VEX refused: unsigned: no security/vex/a.json.sig beside it, and supply_chain.vex.require_signature is true (sign it with `cargo xtask vex sign security/vex/a.json`)",
        ),
    );
    let other_key = "security/vex/a.json: VEX refused: its signature security/vex/a.json.sig is refused: no configured key verifies it (made with another key, or its payload was altered); keys tried: {key}";
    check_admit(&good, Sig::OtherKey, &author, 180, Err(other_key));
    check_admit(&good, Sig::Altered, &author, 180, Err(other_key));
    check_admit(
        &good,
        Sig::Trusted,
        &["someone@else.example"],
        180,
        Err(
            "security/vex/a.json: VEX refused: its author \"security@paktech.example\" is not one of supply_chain.vex.authors (someone@else.example)",
        ),
    );
    // 2026-11-01T16:00Z to 2026-12-01T00:00Z: 29 days 8 hours.
    check_admit(
        &good,
        Sig::Trusted,
        &author,
        20,
        Err(
            "security/vex/a.json#0: VEX refused: made 29d 8h ago (2026-11-01T16:00:00+00:00), older than supply_chain.vex.max_age 20d: review it and issue it again",
        ),
    );
    // A statement's own last update keeps it current.
    let updated = NOT_AFFECTED.replace(
        "\"status\"",
        "\"last_updated\": \"2026-11-28T00:00:00Z\", \"status\"",
    );
    check_admit(&document(&updated), Sig::Trusted, &author, 20, Ok(()));
    // Its own timestamp overrides the document's (here: older, so expired).
    let old = NOT_AFFECTED.replace(
        "\"status\"",
        "\"timestamp\": \"2025-01-01T00:00:00Z\", \"status\"",
    );
    check_admit(
        &document(&format!("{NOT_AFFECTED}, {old}")),
        Sig::Trusted,
        &author,
        180,
        Err(
            "security/vex/a.json#1: VEX refused: made 699d ago (2025-01-01T00:00:00+00:00), older than supply_chain.vex.max_age 180d: review it and issue it again",
        ),
    );
    let ahead = |t: &str| document_by("security@paktech.example", t, NOT_AFFECTED);
    check_admit(
        &ahead("2026-12-01T00:04:00Z"),
        Sig::Trusted,
        &author,
        180,
        Ok(()),
    );
    check_admit(
        &ahead("2026-12-01T01:00:00Z"),
        Sig::Trusted,
        &author,
        180,
        Err(
            "security/vex/a.json: VEX refused: dated 2026-12-01T01:00:00+00:00, in the future (now 2026-12-01T00:00:00+00:00)",
        ),
    );
    // A malformed document is refused after its signature checks out.
    check_admit(
        &document(
            r#"{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "x"}], "status": "gone"}"#,
        ),
        Sig::Trusted,
        &author,
        180,
        Err(
            "security/vex/a.json#0: VEX refused: status \"gone\" is not one of not_affected, affected, fixed, under_investigation; expected an OpenVEX v0.2.0 document (openvex/spec OPENVEX-SPEC.md)",
        ),
    );
}

fn finding(id: &str, related: &[&str], purl: &str) -> Finding {
    Finding {
        id: id.to_owned(),
        severity: Severity::Critical,
        package: "openssl".to_owned(),
        version: "3.0.1".to_owned(),
        fixed_in: Vec::new(),
        purl: purl.to_owned(),
        related: related.iter().map(|r| (*r).to_owned()).collect(),
    }
}

/// Whether `statements` suppress `finding` in the image `repository:tag@DIGEST`; the
/// statement that did, as `file#index`.
fn check_apply(repository: &str, statements: &str, finding: Finding, expected: Option<&str>) {
    let doc = document::parse("v.json", document(statements).as_bytes()).expect("valid");
    let scan = ImageScan {
        target: "t".to_owned(),
        counts: parse_grype("r", br#"{"matches": []}"#)
            .expect("empty")
            .counts,
        fixable: 0,
        findings: vec![finding.clone()],
        suppressed: Vec::new(),
    };
    let image = Image {
        repository,
        tag: "0123456789abcdef0123456789abcdef01234567",
        digest: DIGEST,
    };
    let applied = apply(&[doc], &image, scan);
    let by = applied.suppressed.first().map(|s| s.by.statement.as_str());
    assert_eq!(by, expected, "{repository} {finding:?}\n{statements}");
    assert_eq!(
        applied.findings.len() + applied.suppressed.len(),
        1,
        "a finding is kept or suppressed"
    );
    assert_eq!(applied.counts.critical, u64::from(expected.is_none()));
}

fn statement(vulnerability: &str, products: &str, status: &str) -> String {
    let extra = match status {
        "not_affected" => r#", "justification": "component_not_present""#,
        "affected" => r#", "action_statement": "upgrade""#,
        _ => "",
    };
    format!(
        r#"{{"vulnerability": {vulnerability}, "products": {products}, "status": "{status}"{extra}}}"#
    )
}

#[test]
fn a_statement_suppresses_a_finding_when_it_names_the_vulnerability_and_the_image() {
    let cve = r#"{"name": "CVE-1999-0002"}"#;
    let app = "paktech-app";
    let openssl = "pkg:deb/debian/openssl@3.0.1?arch=amd64&distro=debian-12";
    let plain = finding("CVE-1999-0002", &[], openssl);
    let on = |products: &str| statement(cve, products, "not_affected");
    let hex = DIGEST.trim_start_matches("sha256:");
    // The image by any of the identifiers grype derives for it.
    for products in [
        r#"[{"@id": "pkg:oci/paktech-app"}]"#.to_owned(),
        format!(r#"[{{"@id": "pkg:oci/paktech-app@sha256%3A{hex}"}}]"#),
        format!(r#"[{{"@id": "paktech-app@{DIGEST}"}}]"#),
        r#"[{"@id": "paktech-app:0123456789abcdef0123456789abcdef01234567"}]"#.to_owned(),
        r#"[{"@id": "pkg:oci/paktech-app?tag=0123456789abcdef0123456789abcdef01234567"}]"#
            .to_owned(),
        r#"[{"identifiers": {"purl": "pkg:oci/paktech-app"}}]"#.to_owned(),
        format!(r#"[{{"hashes": {{"sha-256": "{hex}"}}}}]"#),
        r#"[{"@id": "pkg:oci/other"}, {"@id": "pkg:oci/paktech-app"}]"#.to_owned(),
    ] {
        check_apply(app, &on(&products), plain.clone(), Some("v.json#0"));
    }
    // Not this image.
    for products in [
        r#"[{"@id": "pkg:oci/other-app"}]"#.to_owned(),
        format!(
            r#"[{{"@id": "pkg:oci/paktech-app@sha256%3A{}"}}]"#,
            "0".repeat(64)
        ),
        r#"[{"@id": "pkg:oci/paktech-app?tag=feedface"}]"#.to_owned(),
        r#"[{"@id": "paktech-app"}]"#.to_owned(),
    ] {
        check_apply(app, &on(&products), plain.clone(), None);
    }
    // In a registry, the digest purl carries the repository's location.
    let in_registry = "127.0.0.1:5000/team/paktech-app";
    let located = |url: &str| {
        on(&format!(
            r#"[{{"@id": "pkg:oci/paktech-app@sha256%3A{hex}?repository_url={url}"}}]"#
        ))
    };
    check_apply(
        in_registry,
        &located("127.0.0.1:5000/team"),
        plain.clone(),
        Some("v.json#0"),
    );
    check_apply(in_registry, &located("ghcr.io/team"), plain.clone(), None);
    check_apply(
        in_registry,
        &on(r#"[{"@id": "pkg:oci/paktech-app"}]"#),
        plain.clone(),
        Some("v.json#0"),
    );

    // The vulnerability by name, alias, or an id grype relates to the finding.
    let image = r#"[{"@id": "pkg:oci/paktech-app"}]"#;
    let aliased = r#"{"name": "GHSA-aaaa-bbbb-cccc", "aliases": ["CVE-1999-0002"]}"#;
    check_apply(
        app,
        &statement(aliased, image, "not_affected"),
        plain.clone(),
        Some("v.json#0"),
    );
    let ghsa = finding("GHSA-aaaa-bbbb-cccc", &["CVE-1999-0002"], openssl);
    check_apply(app, &on(image), ghsa, Some("v.json#0"));
    check_apply(
        app,
        &on(image),
        finding("CVE-1999-0001", &[], openssl),
        None,
    );

    // Subcomponents: the finding's package must be one of them; without a purl it is not.
    let sub = |purl: &str| {
        on(&format!(
            r#"[{{"@id": "pkg:oci/paktech-app", "subcomponents": [{{"@id": "{purl}"}}]}}]"#
        ))
    };
    check_apply(
        app,
        &sub("pkg:deb/debian/openssl"),
        plain.clone(),
        Some("v.json#0"),
    );
    check_apply(
        app,
        &sub("pkg:deb/debian/openssl@3.0.1"),
        plain.clone(),
        Some("v.json#0"),
    );
    check_apply(
        app,
        &sub("pkg:deb/debian/openssl?arch=amd64"),
        plain.clone(),
        Some("v.json#0"),
    );
    check_apply(
        app,
        &sub("pkg:deb/debian/openssl@3.0.2"),
        plain.clone(),
        None,
    );
    check_apply(
        app,
        &sub("pkg:deb/debian/openssl?arch=arm64"),
        plain.clone(),
        None,
    );
    check_apply(app, &sub("pkg:deb/debian/zlib"), plain.clone(), None);
    check_apply(
        app,
        &sub("pkg:deb/debian/openssl"),
        finding("CVE-1999-0002", &[], ""),
        None,
    );

    // Statuses: fixed suppresses, affected and under_investigation do not; the newest decides.
    check_apply(
        app,
        &statement(cve, image, "fixed"),
        plain.clone(),
        Some("v.json#0"),
    );
    check_apply(app, &statement(cve, image, "affected"), plain.clone(), None);
    check_apply(
        app,
        &statement(cve, image, "under_investigation"),
        plain.clone(),
        None,
    );
    let at = |s: String, t: &str| s.replacen('{', &format!(r#"{{"timestamp": "{t}", "#), 1);
    let older_not_affected = at(on(image), "2026-10-01T00:00:00Z");
    let newer_affected = at(statement(cve, image, "affected"), "2026-11-15T00:00:00Z");
    check_apply(
        app,
        &format!("{older_not_affected}, {newer_affected}"),
        plain.clone(),
        None,
    );
    check_apply(
        app,
        &format!("{newer_affected}, {older_not_affected}"),
        plain.clone(),
        None,
    );
    let newer_fixed = at(statement(cve, image, "fixed"), "2026-11-20T00:00:00Z");
    check_apply(
        app,
        &format!("{newer_fixed}, {newer_affected}"),
        plain,
        Some("v.json#0"),
    );
}

#[test]
fn the_applied_statements_are_listed_once_each() {
    let doc = document::parse("v.json", document(NOT_AFFECTED).as_bytes()).expect("valid");
    let report = br#"{"matches": [
        {"vulnerability": {"id": "CVE-1999-0002", "severity": "Critical"}, "artifact": {"name": "a", "purl": "pkg:deb/a@1"}},
        {"vulnerability": {"id": "CVE-1999-0002", "severity": "Critical"}, "artifact": {"name": "b", "purl": "pkg:deb/b@1"}},
        {"vulnerability": {"id": "CVE-1999-0003", "severity": "High", "fix": {"versions": ["2"]}}, "artifact": {"name": "c"}}]}"#;
    let scan = parse_grype("r.json", report).expect("scan");
    let image = Image {
        repository: "paktech-app",
        tag: "t",
        digest: DIGEST,
    };
    let applied_scan = apply(&[doc], &image, scan);
    assert_eq!(applied(&applied_scan), ["v.json#0 CVE-1999-0002"]);
    assert_eq!(
        applied_scan.counts.to_string(),
        "critical=0 high=1 medium=0 low=0 negligible=0 unknown=0"
    );
    assert_eq!(applied_scan.fixable, 1);
    assert_eq!(applied_scan.suppressed.len(), 2);
    let json = serde_json::to_value(&applied_scan).expect("json");
    assert_eq!(json["suppressed"][1]["package"], "b");
    assert_eq!(json["suppressed"][1]["by"]["statement"], "v.json#0");
    assert_eq!(
        json["suppressed"][1]["by"]["justification"],
        "vulnerable_code_not_in_execute_path"
    );
}

/// A purl's type, namespace, name, version and qualifiers.
type Parts<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    &'a [(&'a str, &'a str)],
);

fn check_purl(text: &str, expected: Option<Parts<'_>>) {
    let got = Purl::parse(text);
    let expected = expected.map(|(kind, namespace, name, version, qualifiers)| Purl {
        kind: kind.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        version: version.map(str::to_owned),
        qualifiers: qualifiers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        subpath: None,
    });
    assert_eq!(got, expected, "{text}");
}

#[test]
fn package_urls_parse_as_the_purl_spec_says() {
    check_purl(
        "pkg:deb/debian/openssl@3.0.1?arch=amd64&distro=debian-12",
        Some((
            "deb",
            "debian",
            "openssl",
            Some("3.0.1"),
            &[("arch", "amd64"), ("distro", "debian-12")],
        )),
    );
    check_purl(
        "pkg:oci/paktech-app@sha256%3Aabc?repository_url=127.0.0.1:5000/team",
        Some((
            "oci",
            "",
            "paktech-app",
            Some("sha256:abc"),
            &[("repository_url", "127.0.0.1:5000/team")],
        )),
    );
    check_purl(
        "pkg:npm/%40angular/core@1.0.0",
        Some(("npm", "@angular", "core", Some("1.0.0"), &[])),
    );
    check_purl("pkg:Cargo/serde", Some(("cargo", "", "serde", None, &[])));
    check_purl("CVE-1", None);
    check_purl("pkg:deb", None);
    check_purl("pkg:deb/a%zz", None);
}
