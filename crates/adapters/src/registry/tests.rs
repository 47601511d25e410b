use super::*;

#[test]
fn hosts_are_told_from_paths() {
    let check = |r: &str, expected: Option<(&str, &str)>| {
        let repo: Repository = r.parse().expect("repository");
        assert_eq!(split_host(&repo), expected, "{r}");
    };
    check("paktech-app", None);
    check("team/paktech-app", None);
    check(
        "127.0.0.1:5000/paktech-app",
        Some(("127.0.0.1:5000", "paktech-app")),
    );
    check(
        "paktech.azurecr.io/apps/paktech-app",
        Some(("paktech.azurecr.io", "apps/paktech-app")),
    );
    check("localhost/app", Some(("localhost", "app")));
}

/// `(scheme, params, token68)` per challenge.
type Expected<'a> = &'a [(&'a str, &'a [(&'a str, &'a str)], Option<&'a str>)];

fn check_challenges(headers: &[&str], expected: Expected<'_>) {
    let parsed =
        parse_challenges(headers.iter().copied()).unwrap_or_else(|e| panic!("{headers:?}: {e}"));
    let want: Vec<Challenge> = expected
        .iter()
        .map(|(scheme, params, token68)| Challenge {
            scheme: (*scheme).to_owned(),
            params: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            token68: token68.map(str::to_owned),
        })
        .collect();
    assert_eq!(parsed, want, "{headers:?}");
}

#[test]
fn challenges_are_parsed_as_rfc_7235_says() {
    // distribution's own challenge (registry/auth/token/accesscontroller.go).
    check_challenges(
        &[
            r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/app:pull""#,
        ],
        &[(
            "Bearer",
            &[
                ("realm", "https://auth.example.com/token"),
                ("service", "registry.example.com"),
                ("scope", "repository:team/app:pull"),
            ],
            None,
        )],
    );
    // Quoted values with commas, and an escaped quote and backslash.
    check_challenges(
        &[
            r#"Bearer realm="https://a/token", scope="repository:x:pull,push", error="say \"hi\" \\ bye""#,
        ],
        &[(
            "Bearer",
            &[
                ("realm", "https://a/token"),
                ("scope", "repository:x:pull,push"),
                ("error", r#"say "hi" \ bye"#),
            ],
            None,
        )],
    );
    // Case-insensitive scheme and names; unquoted values; spaces around "=" (BWS).
    check_challenges(
        &[r#"bearer REALM = "https://a/token" , Service=reg"#],
        &[(
            "bearer",
            &[("realm", "https://a/token"), ("service", "reg")],
            None,
        )],
    );
    // RFC 7235 §4.1's own example: several challenges in one header.
    check_challenges(
        &[r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#],
        &[
            (
                "Newauth",
                &[
                    ("realm", "apps"),
                    ("type", "1"),
                    ("title", r#"Login to "apps""#),
                ],
                None,
            ),
            ("Basic", &[("realm", "simple")], None),
        ],
    );
    // Several headers; a scheme alone; token68 with padding; empty list elements.
    check_challenges(
        &[
            "Negotiate, Other abc+/9==",
            r#", Basic realm="x",, Bearer realm="y""#,
        ],
        &[
            ("Negotiate", &[], None),
            ("Other", &[], Some("abc+/9==")),
            ("Basic", &[("realm", "x")], None),
            ("Bearer", &[("realm", "y")], None),
        ],
    );
    check_challenges(&[""], &[]);
}

#[test]
fn malformed_challenges_are_refused() {
    for header in [
        r#"Bearer realm="unterminated"#,
        "=realm",
        r#"Bearer realm="a" scope="b""#,
        "Bearer\"realm\"",
        "Bearer abc def",
    ] {
        let err = parse_challenges([header]).expect_err(header);
        assert!(
            err.to_string()
                .starts_with("malformed WWW-Authenticate header"),
            "{err}"
        );
    }
}

#[test]
fn the_challenge_helpers_ignore_case() {
    let challenges = parse_challenges([r#"BEARER Realm="r""#]).expect("valid");
    assert!(challenges[0].is("Bearer"));
    assert_eq!(challenges[0].param("REALM"), Some("r"));
    assert_eq!(challenges[0].param("scope"), None);
}

#[test]
fn credentials_go_to_a_realm_only_over_https_or_locally() {
    assert!(check_realm("r.io", "https://r.io/oauth2/token").is_ok());
    assert!(check_realm("127.0.0.1:5000", "http://127.0.0.1:9/token").is_ok());
    assert!(check_realm("r.io", "http://r.io/oauth2/token").is_err());
    assert!(check_realm("r.io", "ftp://r.io/token").is_err());
    assert!(check_realm("r.io", "http://127.0.0.1.evil.io/token").is_err());
    assert!(check_realm("r.io", "http://localhost.evil.io/token").is_err());
    assert!(check_realm("r.io", "http://localhost:8080/token").is_ok());
    assert!(check_realm("r.io", "http://[::1]:8080/token").is_ok());
}

#[tokio::test]
async fn no_client_is_an_error_not_a_client_without_timeouts() {
    let registry = Distribution {
        client: reqwest::Client::builder()
            .user_agent("bad\nagent")
            .build()
            .map_err(|e| cause_chain(&e)),
        credentials: None,
    };
    let err = registry
        .digest("127.0.0.1:9", "app", "latest")
        .await
        .expect_err("no client");
    assert!(matches!(err, Error::Client { .. }), "{err}");
    assert!(
        err.to_string().starts_with("cannot build the HTTP client"),
        "{err}"
    );
}
