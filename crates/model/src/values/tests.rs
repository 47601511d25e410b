use super::*;

const TRICKY: &str = r#"# Values for dev.   Trailing spaces kept.   
image:
  # the repository
  repository: paktech-app   # inline comment
  tag: "0000000000000000000000000000000000000000"

  digest: ''
replicaCount:    1
env: { APP_ENV: 'dev', EXTRA: "a \"quoted\" ☃" }
list:
  - name: first
    value: x
  - name: second
"#;

fn doc() -> Document {
    Document::parse("values.yaml", TRICKY).expect("parse")
}

#[test]
fn reads_every_scalar_by_path() {
    let d = doc();
    assert_eq!(d.get("image.repository"), Some("paktech-app"));
    assert_eq!(
        d.get("image.tag"),
        Some("0000000000000000000000000000000000000000")
    );
    assert_eq!(d.get("image.digest"), Some(""));
    assert_eq!(d.get("replicaCount"), Some("1"));
    assert_eq!(d.get("env.APP_ENV"), Some("dev"));
    assert_eq!(d.get("env.EXTRA"), Some("a \"quoted\" ☃"));
    assert_eq!(d.get("list[1].name"), Some("second"));
    assert_eq!(d.get("image"), None);
}

#[test]
fn edit_changes_only_the_named_scalars() {
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let digest = format!("sha256:{}", "a".repeat(64));
    let edited = doc()
        .with(&[
            ("image.tag", Scalar::str(sha)),
            ("image.digest", Scalar::str(&digest)),
            ("replicaCount", Scalar::Int(3)),
            ("env.APP_ENV", Scalar::str("it's")),
        ])
        .expect("edit");
    let expected = TRICKY
        .replace("0000000000000000000000000000000000000000", sha)
        .replace("digest: ''", &format!("digest: '{digest}'"))
        .replace("replicaCount:    1", "replicaCount:    3")
        .replace("APP_ENV: 'dev'", "APP_ENV: 'it''s'");
    assert_eq!(edited.text(), expected);
    assert_eq!(edited.get("env.APP_ENV"), Some("it's"));
}

#[test]
fn unchanged_values_leave_the_text_identical() {
    let d = doc();
    let same = d
        .with(&[("image.repository", Scalar::str("paktech-app"))])
        .expect("edit");
    assert_eq!(same.text(), TRICKY);
}

#[test]
fn plain_scalars_that_would_change_type_get_quoted() {
    let d = Document::parse("v.yaml", "a: x\nb: y\nc: z\nd: w\n").expect("parse");
    let e = d
        .with(&[
            ("a", Scalar::str("1234567890123456789012345678901234567e89")),
            ("b", Scalar::str("true")),
            ("c", Scalar::str("abc123")),
            ("d", Scalar::str("two words: here")),
        ])
        .expect("edit");
    assert_eq!(
        e.text(),
        "a: \"1234567890123456789012345678901234567e89\"\nb: \"true\"\nc: abc123\nd: \"two words: here\"\n"
    );
}

fn check_error(text: &str, expected: &str) {
    let err = Document::parse("bad.yaml", text).expect_err("refused");
    assert_eq!(err.to_string(), expected);
}

#[test]
fn refusals_name_the_file_and_what_was_expected() {
    check_error(
        "- a\n- b\n",
        "bad.yaml: expected a mapping at the top level, found a sequence",
    );
    check_error(
        "just text\n",
        "bad.yaml: expected a mapping at the top level, found a scalar",
    );
    check_error(
        "",
        "bad.yaml: expected a mapping at the top level, found an empty document",
    );
    check_error(
        "image:\n  tag: a\n  tag: b\n",
        "bad.yaml: key image.tag appears twice (lines 2 and 3)",
    );
    check_error(
        "a: 1\n---\nb: 2\n",
        "bad.yaml: holds more than one YAML document; expected exactly one",
    );
    let err = Document::parse("bad.yaml", "a: [1, 2\n").expect_err("refused");
    assert!(
        err.to_string()
            .starts_with("bad.yaml: not valid YAML at line"),
        "{err}"
    );
}

#[test]
fn editing_a_missing_key_is_an_error() {
    let err = doc()
        .with(&[("image.nope", Scalar::str("x"))])
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        "values.yaml: has no scalar at image.nope (expected an existing scalar to replace)"
    );
}
