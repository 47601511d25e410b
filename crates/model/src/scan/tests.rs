use super::*;

#[test]
fn counts_by_severity_and_fixability() {
    let report = br#"{"matches":[
            {"vulnerability":{"id":"CVE-1","severity":"High","fix":{"versions":["1.2"],"state":"fixed"}},"artifact":{"name":"a","version":"1.0"}},
            {"vulnerability":{"id":"CVE-2","severity":"Critical","fix":{"versions":[],"state":"not-fixed"}},"artifact":{"name":"b","version":"2.0"}},
            {"vulnerability":{"id":"CVE-3","severity":"weird"},"artifact":{"name":"c"}}
        ],"source":{"type":"image","target":{"userInput":"paktech-app:abc"}}}"#;
    let scan = parse_grype("r.json", report).expect("parse");
    assert_eq!(scan.target, "paktech-app:abc");
    assert_eq!(
        scan.counts.to_string(),
        "critical=1 high=1 medium=0 low=0 negligible=0 unknown=1"
    );
    assert_eq!(scan.fixable, 1);
    assert_eq!(scan.fixable_counts().high, 1);
    assert_eq!(scan.counts.total(), 3);
    assert_eq!(
        Counts::parse(&scan.counts.to_string()),
        Some(scan.counts.clone())
    );
    assert_eq!(Counts::parse("critical=1"), None);
    assert_eq!(Counts::parse("not scanned"), None);
}

#[test]
fn malformed_reports_name_the_source_and_position() {
    let err =
        parse_grype("r.json", b"{\"matches\": [\n  {\"vulnerability\": ").expect_err("refused");
    assert_eq!(
        err.to_string(),
        "r.json: not a grype JSON report at line 2, column 20: EOF while parsing a value"
    );
    let err = parse_grype("r.json", br#"{"matches": 5}"#).expect_err("refused");
    assert!(
        err.to_string()
            .starts_with("r.json: not a grype JSON report at line 1"),
        "{err}"
    );
    let err = parse_checkov("c.json", b"Passed checks: 3").expect_err("refused");
    assert!(
        err.to_string()
            .starts_with("c.json: not a Checkov JSON report"),
        "{err}"
    );
}

#[test]
fn checkov_one_or_many_frameworks() {
    let one = br#"{"check_type":"terraform","results":{},"summary":{"passed":5,"failed":1,"skipped":2,"parsing_errors":0,"resource_count":3}}"#;
    let scan = parse_checkov("c.json", one).expect("parse");
    assert_eq!(scan["terraform"].failed, 1);
    let many = br#"[{"check_type":"kubernetes","summary":{"passed":1,"failed":0,"skipped":0}},
                        {"check_type":"dockerfile","summary":{"passed":2,"failed":3,"skipped":1}}]"#;
    let scan = parse_checkov("c.json", many).expect("parse");
    assert_eq!(scan.len(), 2);
    assert_eq!(scan["dockerfile"].skipped, 1);
    let stream = br#"{"passed":0,"failed":0,"skipped":0}
            {"check_type":"terraform","summary":{"passed":28,"failed":1,"skipped":9}}
            [{"check_type":"terraform","summary":{"passed":2,"failed":0,"skipped":0}},
             {"check_type":"helm","summary":{"passed":5,"failed":0,"skipped":0}}]"#;
    let scan = parse_checkov("c.json", stream).expect("parse a stream of documents");
    assert_eq!(
        (scan["terraform"].passed, scan["terraform"].failed),
        (30, 1)
    );
    assert_eq!(scan["helm"].passed, 5);
    assert!(parse_checkov("c.json", b"").is_err());
    let empty = br#"{"passed":0,"failed":0,"skipped":0,"parsing_errors":0,"resource_count":0,"checkov_version":"3"}"#;
    assert!(parse_checkov("c.json", empty).expect("parse").is_empty());
}
