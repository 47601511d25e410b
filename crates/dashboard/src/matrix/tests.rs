//! The matrix and the release line as HTML: order, words for each state, one app unchanged,
//! escaping.

use super::super::board::{Lane, Move, MoveState, ReleaseApp, Stop};
use super::super::view::{fragment, page};
use super::*;

const OLD: &str = "1111111111111111111111111111111111111111";
const NEW: &str = "2222222222222222222222222222222222222222";

fn lane(app: &str, env: &str, sha: &str) -> Lane {
    Lane {
        app: app.to_owned(),
        env: env.to_owned(),
        sha: sha.to_owned(),
        digest: String::new(),
        ready: 1,
        desired: 2,
        replicas: Vec::new(),
        urls: Vec::new(),
        last_change: None,
        scan: None,
        trust: None,
    }
}

fn moved(app: &str, from: &str, to: &str, state: MoveState) -> Move {
    Move {
        app: app.to_owned(),
        from: from.to_owned(),
        to: to.to_owned(),
        sha: Some(NEW.to_owned()),
        state,
    }
}

/// Two apps (`api` before `gateway`, which depends on it) in dev, staging and prod.
fn board(releases: Vec<Release>) -> Board {
    let mut lanes = Vec::new();
    let mut moves = Vec::new();
    for app in ["api", "gateway"] {
        lanes.push(lane(app, "dev", NEW));
        lanes.push(lane(app, "staging", OLD));
        lanes.push(lane(app, "prod", ""));
        moves.push(moved(app, "dev", "staging", MoveState::Ready));
        moves.push(moved(app, "staging", "prod", MoveState::UpToDate));
    }
    Board {
        target: "local".to_owned(),
        gitops_url: "/tmp/gitops.git".to_owned(),
        tip: "e".repeat(40),
        lanes,
        moves,
        releases,
        timeline: Vec::new(),
        scans: Vec::new(),
        replanning: false,
        delivery: None,
    }
}

fn release(to: &str, apps: &[&str], state: ReleaseState) -> Release {
    Release {
        from: if to == "staging" { "dev" } else { "staging" }.to_owned(),
        to: to.to_owned(),
        apps: apps
            .iter()
            .map(|a| ReleaseApp {
                app: (*a).to_owned(),
                from: OLD.to_owned(),
                to: NEW.to_owned(),
            })
            .collect(),
        state,
    }
}

/// The element with `id`, up to the end of its `element`.
fn part<'a>(html: &'a str, id: &str, element: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("{id} missing from {html}"));
    let rest = &html[start..];
    &rest[..rest.find(&format!("</{element}>")).expect("closed")]
}

#[test]
fn several_apps_are_rows_in_dependency_order_and_environments_are_columns() {
    let html = fragment(&board(Vec::new()));
    assert!(html.contains("<table class=\"matrix\">"), "{html}");
    let header = part(&html, "envs", "thead");
    let columns: Vec<usize> = [
        "<th scope=\"col\">dev</th>",
        "dev → staging</th>",
        "<th scope=\"col\">staging</th>",
        "staging → prod</th>",
        "<th scope=\"col\">prod</th>",
    ]
    .iter()
    .map(|c| header.find(c).unwrap_or_else(|| panic!("{c} in {header}")))
    .collect();
    assert!(columns.windows(2).all(|w| w[0] < w[1]), "{header}");
    let api = html.find("id=\"app-api\"").expect("api's row");
    let gateway = html.find("id=\"app-gateway\"").expect("gateway's row");
    assert!(api < gateway, "dependency order");
    // Within a row: dev's cell, what moves into staging, staging's cell, ..., prod's cell.
    let cells: Vec<usize> = [
        "lane-gateway-dev",
        "move-gateway-staging",
        "lane-gateway-staging",
        "move-gateway-prod",
        "lane-gateway-prod",
    ]
    .iter()
    .map(|id| html.find(&format!("id=\"{id}\"")).expect(id))
    .collect();
    assert!(gateway < cells[0] && cells.windows(2).all(|w| w[0] < w[1]));
    let cell = part(&html, "lane-api-dev", "article");
    assert!(cell.contains(&format!("data-sha=\"{NEW}\"")), "{cell}");
    assert!(cell.contains("1/2 partly ready"), "{cell}");
    assert!(cell.contains("aria-label=\"api in dev\""), "{cell}");
    assert!(part(&html, "lane-api-prod", "article").contains("none deployed yet"));
    assert!(part(&html, "move-api-staging", "section").contains("can move"));
    assert!(part(&html, "move-api-prod", "section").contains("up to date"));
    assert!(
        !html.contains("<h3"),
        "cells are named by their row and column"
    );
}

#[test]
fn the_release_line_lists_each_apps_build_from_and_to_or_says_up_to_date() {
    let html = fragment(&board(vec![
        release("staging", &["api", "gateway"], ReleaseState::Ready),
        release("prod", &[], ReleaseState::UpToDate),
    ]));
    let footer = &html[html.find("<tfoot>").expect("the release row")..];
    assert!(footer.starts_with("<tfoot><tr><th scope=\"row\">Release of every app</th>"));
    assert!(footer.contains("id=\"release-staging\"") && footer.contains("id=\"release-prod\""));
    let staging = part(&html, "release-staging", "section");
    for text in [
        "can move",
        "<code>promote --env staging</code> would write 2 apps as one release now",
        "<li>api <code>111111111111</code> → <code title=\"2222222222222222222222222222222222222222\">222222222222</code></li>",
        "<li>gateway <code>111111111111</code>",
    ] {
        assert!(staging.contains(text), "{text:?} missing from {staging}");
    }
    let prod = part(&html, "release-prod", "section");
    assert!(prod.contains("up to date</span> prod runs every app's build of staging"));
    // The releases sit under the pair's column, after every app's row.
    let last_row = html.find("id=\"app-gateway\"").expect("row");
    assert!(last_row < html.find("id=\"release-staging\"").expect("release"));
}

#[test]
fn a_refused_release_names_the_app_and_a_waiting_one_its_stops() {
    let html = fragment(&board(vec![
        release(
            "staging",
            &["api", "gateway"],
            ReleaseState::Refused {
                app: Some("gateway".to_owned()),
                stop: Stop::Refused {
                    kind: "not run before",
                    reason: "2222 never ran in dev".to_owned(),
                },
            },
        ),
        release(
            "prod",
            &["api"],
            ReleaseState::Stopped(vec![
                Stop::Window {
                    by: "deny 0 22 * * *".to_owned(),
                    opens_at: "2026-11-27T06:00:00+00:00".to_owned(),
                },
                Stop::Approval {
                    have: Vec::new(),
                    need: 1,
                    may_approve: "anyone but the requester".to_owned(),
                    requested: false,
                },
            ]),
        ),
    ]));
    let staging = part(&html, "release-staging", "section");
    assert!(
        staging.contains("is refused for <strong class=\"app\">gateway</strong>"),
        "{staging}"
    );
    assert!(staging.contains("not run before</span> 2222 never ran in dev"));
    let prod = part(&html, "release-prod", "section");
    for text in [
        "would move 1 app as one release; it waits",
        "window closed</span> until",
        "approval pending</span> 0 of 1 given",
    ] {
        assert!(prod.contains(text), "{text:?} missing from {prod}");
    }
}

#[test]
fn one_app_keeps_its_row_of_lanes_with_only_its_name_added() {
    let mut b = board(Vec::new());
    b.lanes.retain(|l| l.app == "api");
    b.moves.retain(|m| m.app == "api");
    let html = fragment(&b);
    assert!(!html.contains("matrix"), "{html}");
    assert!(!html.contains("release"), "{html}");
    assert!(html.contains("<p>App <strong>api</strong>, GitOps revision"));
    let dev = html.find("id=\"lane-dev\"").expect("dev");
    let between = html.find("id=\"move-staging\"").expect("move");
    let staging = html.find("id=\"lane-staging\"").expect("staging");
    assert!(dev < between && between < staging);
    assert!(html.contains("<h3 id=\"lane-dev-h\">dev</h3>"));
    assert!(html.contains("<h3 id=\"move-staging-h\">dev → staging</h3>"));
}

#[test]
fn app_names_and_release_lines_are_escaped_and_replanning_is_said_once() {
    let mut b = board(vec![release(
        "staging",
        &["<b>api</b>"],
        ReleaseState::Refused {
            app: Some("<i>gw</i>".to_owned()),
            stop: Stop::Unknown {
                reason: "<script>".to_owned(),
            },
        },
    )]);
    b.lanes[0].app = "<b>api</b>".to_owned();
    b.replanning = true;
    let html = page(&b, None);
    assert!(!html.contains("<b>api") && !html.contains("<i>gw") && !html.contains("<script>\""));
    assert!(html.contains("&lt;b&gt;api&lt;/b&gt;"));
    assert_eq!(html.matches("re-planning").count(), 1, "{html}");
}
