use super::*;
use crate::board::{Change, Lane, Move, MoveState, Replica, ScanLine, Stop};

const DEV: &str = "0123456789abcdef0123456789abcdef01234567";

fn lane(env: &str, sha: &str) -> Lane {
    Lane {
        app: "paktech-app".to_owned(),
        env: env.to_owned(),
        sha: sha.to_owned(),
        digest: if sha.is_empty() {
            String::new()
        } else {
            format!("sha256:{}", "a".repeat(64))
        },
        ready: usize::from(!sha.is_empty()),
        desired: u32::from(!sha.is_empty()),
        replicas: if sha.is_empty() {
            Vec::new()
        } else {
            vec![Replica {
                name: format!("paktech-app-{env}-1"),
                healthy: true,
                build: Some(sha.to_owned()),
                problem: None,
            }]
        },
        urls: Vec::new(),
        last_change: Some(Change {
            revision: "f".repeat(40),
            time: "2026-11-26T12:00:00+00:00".to_owned(),
            author: "ci".to_owned(),
            subject: format!("deploy({env})"),
        }),
        scan: None,
        trust: None,
    }
}

fn board(moves: Vec<Move>) -> Board {
    Board {
        target: "local".to_owned(),
        gitops_url: "/tmp/gitops.git".to_owned(),
        tip: "e".repeat(40),
        lanes: vec![lane("dev", DEV), lane("staging", ""), lane("prod", "")],
        moves,
        releases: Vec::new(),
        timeline: vec![Event {
            time: "2026-11-26T12:00:00+00:00".to_owned(),
            app: None,
            action: "deploy".to_owned(),
            env: "dev".to_owned(),
            sha: DEV.to_owned(),
            by: "ci".to_owned(),
            detail: "Scan-Summary: critical=0".to_owned(),
            revision: "f".repeat(40),
        }],
        scans: vec![ScanLine {
            app: "paktech-app".to_owned(),
            sha: DEV.to_owned(),
            time: "2026-11-26T12:00:00+00:00".to_owned(),
            summary: "critical=0 high=1".to_owned(),
        }],
        replanning: false,
        delivery: None,
    }
}

fn moved(to: &str, state: MoveState) -> Move {
    Move {
        app: "paktech-app".to_owned(),
        from: "dev".to_owned(),
        to: to.to_owned(),
        sha: Some(DEV.to_owned()),
        state,
    }
}

/// Renders `stop` between dev and staging and checks the move's text holds `expected`.
fn check(stop: Stop, expected: &[&str]) {
    let html = fragment(&board(vec![moved(
        "staging",
        MoveState::Stopped(vec![stop]),
    )]));
    let start = html.find("id=\"move-staging\"").expect("the move is shown");
    let section = &html[start..];
    let section = &section[..section.find("</section>").expect("closed")];
    for text in expected {
        assert!(section.contains(text), "{text:?} missing from {section}");
    }
}

#[test]
fn every_stop_is_said_in_words_not_only_colour() {
    check(
        Stop::Approval {
            have: vec!["bob".to_owned()],
            need: 2,
            may_approve: "anyone but alice".to_owned(),
            requested: true,
        },
        &["approval pending", "1 of 2 given (bob)", "anyone but alice"],
    );
    check(
        Stop::Approval {
            have: Vec::new(),
            need: 1,
            may_approve: "anyone but the requester".to_owned(),
            requested: false,
        },
        &["0 of 1 given", "nobody has asked to promote it yet"],
    );
    check(
        Stop::Window {
            by: "deny 0 22 * * *".to_owned(),
            opens_at: "2026-11-27T06:00:00+00:00".to_owned(),
        },
        &["window closed", "until", "2026-11-27T06:00:00+00:00"],
    );
    check(
        Stop::Blocked {
            by: "oncall".to_owned(),
            at: "2026-11-26T12:05:00+00:00".to_owned(),
            reason: "health checks fail".to_owned(),
        },
        &["blocked by a rollback", "oncall", "health checks fail"],
    );
    check(
        Stop::Refused {
            kind: "scan evidence missing",
            reason: "no scan recorded".to_owned(),
        },
        &["scan evidence missing", "no scan recorded"],
    );
}

#[test]
fn lanes_come_in_promotion_order_with_the_build_and_its_replicas() {
    let html = page(
        &board(vec![
            moved("staging", MoveState::Ready),
            Move {
                app: "paktech-app".to_owned(),
                from: "staging".to_owned(),
                to: "prod".to_owned(),
                sha: None,
                state: MoveState::UpToDate,
            },
        ]),
        None,
    );
    let dev = html.find("id=\"lane-dev\"").expect("dev");
    let staging = html.find("id=\"lane-staging\"").expect("staging");
    let prod = html.find("id=\"lane-prod\"").expect("prod");
    let between = html.find("id=\"move-staging\"").expect("move");
    assert!(dev < between && between < staging && staging < prod);
    assert!(html.contains(&format!("data-sha=\"{DEV}\"")));
    assert!(html.contains(">0123456789ab<"));
    assert!(html.contains("1/1 all ready"));
    assert!(html.contains("healthy</span> paktech-app-dev-1"));
    assert!(html.contains("can move"));
    assert!(html.contains("none deployed yet"));
    assert!(html.contains("critical=0 high=1"));
    assert!(html.contains(&format!("href=\"/commit/{}\"", "f".repeat(40))));
}

#[test]
fn the_page_has_landmarks_headings_and_works_without_script() {
    let html = page(&board(Vec::new()), None);
    for needle in [
        "<html lang=\"en\">",
        "<header>",
        "<main id=\"board\"",
        "<footer>",
        "<h1>",
        "<h2 id=\"envs\">",
        "<h2 id=\"timeline\">",
        "<h2 id=\"scans\">",
        "<noscript><meta http-equiv=\"refresh\"",
        "<a href=\"/\">Refresh</a>",
        "new EventSource('/events')",
    ] {
        assert!(html.contains(needle), "{needle} missing");
    }
}

#[test]
fn moves_planned_before_the_latest_change_say_so() {
    let mut b = board(vec![moved("staging", MoveState::Ready)]);
    assert!(!fragment(&b).contains("re-planning"));
    b.replanning = true;
    let html = fragment(&b);
    assert!(html.contains("re-planning</span> after the latest change"));
    assert!(
        html.contains("can move"),
        "the previous verdict stays visible"
    );
}

#[test]
fn a_break_glass_promotion_is_named_in_the_timeline() {
    let mut b = board(Vec::new());
    b.timeline[0].action = "promote".to_owned();
    b.timeline[0].detail = "Break-Glass: prod is down".to_owned();
    let html = fragment(&b);
    assert!(
        html.contains("<span class=\"state warn\">break-glass</span>: Break-Glass: prod is down"),
        "{html}"
    );
}

#[test]
fn a_lane_shows_verifys_checks_as_badges_with_their_details() {
    let mut b = board(Vec::new());
    let check = |check, required, passed, detail: &str| flow::verify::Check {
        check,
        required,
        passed,
        detail: detail.to_owned(),
        others: Vec::new(),
    };
    let mut sbom = check("sbom", true, false, "no SBOM attestation passes");
    sbom.others.push("rejected: signed by <unknown>".to_owned());
    b.lanes[0].trust = Some(crate::trust::Trust {
        app: "paktech-app".to_owned(),
        env: "dev".to_owned(),
        sha: DEV.to_owned(),
        checks: Ok(vec![
            check("signature", true, true, "signed by local <key>"),
            sbom,
            check("provenance", false, false, "no provenance"),
        ]),
        refused: Some("dev requires an SBOM".to_owned()),
        watch: None,
    });
    let html = fragment(&b);
    for expected in [
        "<dt class=\"trust\">Trusted</dt><dd class=\"trust\">",
        "<span class=\"badge ok\" data-check=\"signature\" data-passed=\"true\" data-required=\"true\" title=\"signed by local &lt;key&gt;\">signed ✓</span>",
        "<span class=\"badge bad\" data-check=\"sbom\" data-passed=\"false\" data-required=\"true\" title=\"no SBOM attestation passes; rejected: signed by &lt;unknown&gt;\">sbom ✗</span>",
        "<span class=\"badge idle\" data-check=\"provenance\" data-passed=\"false\" data-required=\"false\" title=\"no provenance\">prov –</span>",
        "<span class=\"badge ok\" data-check=\"watch\" title=\"no failed watch recorded here\">watch</span>",
        "<span class=\"badge bad\" data-check=\"gate\" title=\"dev requires an SBOM\">gate refuses</span>",
    ] {
        assert!(html.contains(expected), "{expected}\n{html}");
    }

    b.lanes[0].trust = Some(crate::trust::Trust {
        app: "paktech-app".to_owned(),
        env: "dev".to_owned(),
        sha: DEV.to_owned(),
        checks: Err("the registry did not answer".to_owned()),
        refused: None,
        watch: Some("verdict bad at 2026-12-01T00:00:00+00:00 (rolled back)".to_owned()),
    });
    let html = fragment(&b);
    assert!(
        html.contains(
            "<span class=\"badge bad\" title=\"the registry did not answer\">not checked</span>"
        ),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"badge bad\" data-check=\"watch\" title=\"verdict bad at 2026-12-01T00:00:00+00:00 (rolled back)\">watch</span>"),
        "{html}"
    );
}

#[test]
fn every_string_is_escaped() {
    let mut b = board(vec![moved(
        "staging",
        MoveState::Stopped(vec![Stop::Blocked {
            by: "<b>eve</b>".to_owned(),
            at: "\"now\"".to_owned(),
            reason: "it's <script>alert(1)</script> & more".to_owned(),
        }]),
    )]);
    b.timeline[0].by = "<img src=x onerror=alert(1)>".to_owned();
    b.lanes[0].replicas[0].name = "<i>r</i>".to_owned();
    b.gitops_url = "<u>url</u>".to_owned();
    let html = page(&b, Some("<x>"));
    assert!(html.contains("&lt;x&gt;"));
    assert!(!html.contains("<b>eve"));
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("<img"));
    assert!(!html.contains("<i>r"));
    assert!(!html.contains("<u>url"));
    assert!(html.contains("it&#39;s &lt;script&gt;alert(1)&lt;/script&gt; &amp; more"));
    assert!(html.contains("&quot;now&quot;"));
}
