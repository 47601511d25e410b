use super::*;

const PROJECT: &str = r#"
spec:
  syncWindows:
    - kind: "deny"
      schedule: "0 22 * * *"
      duration: "8h"
      timeZone: "UTC"
      applications:
        - "paktech-app-prod"
      manualSync: true
"#;

fn windows(text: &str) -> Vec<SyncWindow> {
    windows_from_appproject(&Document::parse("appproject.yaml", text).expect("yaml"))
        .expect("windows")
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

fn check(text: &str, app: &str, now: &str, purpose: SyncPurpose, expected: &str) {
    let got = match decide(&windows(text), app, "paktech-prod", at(now), purpose) {
        WindowDecision::Open => "open".to_owned(),
        WindowDecision::OpenForRollback { .. } => "open for rollback".to_owned(),
        WindowDecision::Closed { opens_at, .. } => {
            format!("closed until {}", opens_at.format("%Y-%m-%dT%H:%M"))
        }
    };
    assert_eq!(got, expected, "{app} at {now} ({purpose:?})");
}

#[test]
fn the_prod_freeze() {
    use SyncPurpose::*;
    check(
        PROJECT,
        "paktech-app-prod",
        "2026-11-26T21:59:59Z",
        Promotion,
        "open",
    );
    check(
        PROJECT,
        "paktech-app-prod",
        "2026-11-26T22:00:00Z",
        Promotion,
        "closed until 2026-11-27T06:00",
    );
    check(
        PROJECT,
        "paktech-app-prod",
        "2026-11-26T23:00:00Z",
        Promotion,
        "closed until 2026-11-27T06:00",
    );
    check(
        PROJECT,
        "paktech-app-prod",
        "2026-11-27T05:59:00Z",
        Promotion,
        "closed until 2026-11-27T06:00",
    );
    check(
        PROJECT,
        "paktech-app-prod",
        "2026-11-27T06:00:00Z",
        Promotion,
        "open",
    );
    check(
        PROJECT,
        "paktech-app-prod",
        "2026-11-26T23:00:00Z",
        Rollback,
        "open for rollback",
    );
    check(
        PROJECT,
        "paktech-app-staging",
        "2026-11-26T23:00:00Z",
        Promotion,
        "open",
    );
}

#[test]
fn deny_wins_over_allow_and_allow_windows_close_the_rest() {
    use SyncPurpose::*;
    let both = r#"
spec:
  syncWindows:
    - kind: allow
      schedule: "0 9 * * 1-5"
      duration: 8h
      applications: ["*-prod"]
    - kind: deny
      schedule: "0 12 * * *"
      duration: 1h
      applications: ["*"]
"#;
    // Thursday 2026-11-26.
    check(
        both,
        "paktech-app-prod",
        "2026-11-26T10:00:00Z",
        Promotion,
        "open",
    );
    check(
        both,
        "paktech-app-prod",
        "2026-11-26T12:30:00Z",
        Promotion,
        "closed until 2026-11-26T13:00",
    );
    check(
        both,
        "paktech-app-prod",
        "2026-11-26T18:00:00Z",
        Promotion,
        "closed until 2026-11-27T09:00",
    );
    // Friday evening: the next allow window is Monday.
    check(
        both,
        "paktech-app-prod",
        "2026-11-27T18:00:00Z",
        Promotion,
        "closed until 2026-11-30T09:00",
    );
}

#[test]
fn time_zones_are_honoured() {
    let london = PROJECT.replace("\"UTC\"", "\"Europe/London\"");
    // 2026-07-01: London is UTC+1, so the freeze starts at 21:00 UTC.
    check(
        &london,
        "paktech-app-prod",
        "2026-07-01T21:30:00Z",
        SyncPurpose::Promotion,
        "closed until 2026-07-02T05:00",
    );
}

#[test]
fn bad_windows_name_the_field() {
    let err = windows_from_appproject(
        &Document::parse("p.yaml", PROJECT.replace("8h", "all night")).expect("yaml"),
    )
    .expect_err("refused");
    assert_eq!(
        err.to_string(),
        "p.yaml: spec.syncWindows[0].duration is \"all night\": expected a duration such as 8h or 30m"
    );
    let err = windows_from_appproject(
        &Document::parse("p.yaml", PROJECT.replace("0 22 * * *", "at ten")).expect("yaml"),
    )
    .expect_err("refused");
    assert!(err.to_string().contains("schedule is \"at ten\""), "{err}");
}

#[test]
fn globs() {
    assert!(glob("*", "x"));
    assert!(glob("*-prod", "paktech-app-prod"));
    assert!(glob("paktech-*-prod", "paktech-app-prod"));
    assert!(!glob("*-prod", "paktech-app-staging"));
    assert!(glob("exact", "exact"));
}
