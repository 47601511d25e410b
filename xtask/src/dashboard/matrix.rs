//! The environments section of the page. One app: its lanes in a row with what can move
//! between them, as the page always showed it. Several apps: a matrix, one row per app in
//! dependency order and one column per environment in promotion order, each cell the app's
//! build there with its replicas and their health; between two environment columns, per app,
//! what of it can move, and below the rows, per pair, the release line: what
//! `promote --env <to>` without `--app` would move as one release, or what stops it.

use std::fmt::Write;

use super::board::{Board, Release, ReleaseState};
use super::view::{Place, escape, short, write_lane, write_move, write_stop};

/// Writes the environments section of `board`.
pub fn write(out: &mut String, board: &Board) {
    let apps = apps(board);
    let _ = writeln!(
        out,
        "<section aria-labelledby=\"envs\">\n<h2 id=\"envs\">Environments, in promotion order</h2>"
    );
    if let [app] = apps.as_slice() {
        let _ = write!(out, "<p>App <strong>{}</strong>, ", escape(app));
    } else {
        out.push_str("<p>");
    }
    let _ = writeln!(
        out,
        "GitOps revision <a href=\"/commit/{0}\"><code>{1}</code></a></p>",
        escape(&board.tip),
        escape(short(&board.tip))
    );
    if apps.len() > 1 {
        matrix(out, board, &apps);
    } else {
        row(out, board);
    }
    out.push_str("</section>\n");
}

/// The apps of the lanes, in their order (dependency order).
fn apps(board: &Board) -> Vec<&str> {
    let mut apps: Vec<&str> = Vec::new();
    for lane in &board.lanes {
        if !apps.contains(&lane.app.as_str()) {
            apps.push(&lane.app);
        }
    }
    apps
}

/// The environments of the lanes, in promotion order.
fn envs(board: &Board) -> Vec<&str> {
    let mut envs: Vec<&str> = Vec::new();
    for lane in &board.lanes {
        if !envs.contains(&lane.env.as_str()) {
            envs.push(&lane.env);
        }
    }
    envs
}

/// One app: lanes in a row, each move between the lanes it joins.
fn row(out: &mut String, board: &Board) {
    out.push_str("<div class=\"lanes\">\n");
    for (i, lane) in board.lanes.iter().enumerate() {
        let id = format!("lane-{}", lane.env);
        let place = Place {
            id: &id,
            label: &lane.env,
            titled: true,
        };
        write_lane(out, lane, place);
        if let Some(m) = board.moves.get(i) {
            let id = format!("move-{}", m.to);
            let label = format!("{} → {}", m.from, m.to);
            let place = Place {
                id: &id,
                label: &label,
                titled: true,
            };
            write_move(out, m, place, board.replanning);
        }
    }
    out.push_str("</div>\n");
}

/// Several apps: the table of apps by environments, the release lines in its footer.
fn matrix(out: &mut String, board: &Board, apps: &[&str]) {
    let envs = envs(board);
    if board.replanning {
        out.push_str(
            "<p><span class=\"state idle\">re-planning</span> after the latest change; the moves and releases are as planned before it.</p>\n",
        );
    }
    out.push_str(
        "<div class=\"scroll\">\n<table class=\"matrix\">\n<thead><tr><th scope=\"col\">App</th>",
    );
    for (i, env) in envs.iter().enumerate() {
        if i > 0 {
            let _ = write!(
                out,
                "<th scope=\"col\" class=\"between\">{} → {}</th>",
                escape(envs[i - 1]),
                escape(env)
            );
        }
        let _ = write!(out, "<th scope=\"col\">{}</th>", escape(env));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for app in apps {
        let _ = writeln!(
            out,
            "<tr id=\"app-{0}\"><th scope=\"row\">{0}</th>",
            escape(app)
        );
        for (i, env) in envs.iter().enumerate() {
            if i > 0 {
                out.push_str("<td class=\"move\">");
                match board.moves.iter().find(|m| m.app == *app && m.to == *env) {
                    Some(m) => {
                        let id = format!("move-{app}-{env}");
                        let label = format!("{app}: {} → {env}", m.from);
                        let place = Place {
                            id: &id,
                            label: &label,
                            titled: false,
                        };
                        write_move(out, m, place, false);
                    }
                    None => out.push_str("not planned"),
                }
                out.push_str("</td>\n");
            }
            out.push_str("<td>");
            match board.lanes.iter().find(|l| l.app == *app && l.env == *env) {
                Some(lane) => {
                    let id = format!("lane-{app}-{env}");
                    let label = format!("{app} in {env}");
                    let place = Place {
                        id: &id,
                        label: &label,
                        titled: false,
                    };
                    write_lane(out, lane, place);
                }
                None => out.push_str("not read"),
            }
            out.push_str("</td>\n");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n<tfoot><tr><th scope=\"row\">Release of every app</th>");
    for (i, env) in envs.iter().enumerate() {
        if i > 0 {
            out.push_str("<td class=\"release\">");
            if let Some(release) = board.releases.iter().find(|r| r.to == *env) {
                write_release(out, release);
            }
            out.push_str("</td>");
        }
        out.push_str("<td></td>");
    }
    out.push_str("</tr></tfoot>\n</table>\n</div>\n");
}

/// One release line: its apps from → to, and whether it can move, waits or is refused.
pub fn write_release(out: &mut String, release: &Release) {
    let id = format!("release-{}", escape(&release.to));
    let _ = writeln!(
        out,
        "<section id=\"{id}\" aria-label=\"release {} → {}\">",
        escape(&release.from),
        escape(&release.to)
    );
    let command = format!("<code>promote --env {}</code>", escape(&release.to));
    match &release.state {
        ReleaseState::UpToDate => {
            let _ = writeln!(
                out,
                "<p><span class=\"state idle\">up to date</span> {} runs every app's build of {}</p>",
                escape(&release.to),
                escape(&release.from)
            );
        }
        ReleaseState::Ready => {
            let _ = writeln!(
                out,
                "<p><span class=\"state ok\">can move</span> {command} would write {} as one release now:</p>",
                count(release.apps.len())
            );
        }
        ReleaseState::Stopped(_) => {
            let _ = writeln!(
                out,
                "<p>{command} would move {} as one release; it waits:</p>",
                count(release.apps.len())
            );
        }
        ReleaseState::Refused { app, .. } => {
            let _ = writeln!(
                out,
                "<p>{command} is refused{}:</p>",
                app.as_deref()
                    .map(|a| format!(" for <strong class=\"app\">{}</strong>", escape(a)))
                    .unwrap_or_default()
            );
        }
    }
    let stops = match &release.state {
        ReleaseState::Stopped(stops) => stops.as_slice(),
        ReleaseState::Refused { stop, .. } => std::slice::from_ref(stop),
        _ => &[],
    };
    if !stops.is_empty() {
        out.push_str("<ul>\n");
        for stop in stops {
            out.push_str("<li class=\"stop\">");
            write_stop(out, stop);
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n");
    }
    if !release.apps.is_empty() {
        out.push_str("<ul class=\"release-apps\">\n");
        for a in &release.apps {
            let from = if a.from.is_empty() {
                "nothing".to_owned()
            } else {
                format!("<code>{}</code>", escape(short(&a.from)))
            };
            let _ = writeln!(
                out,
                "<li>{} {from} → <code title=\"{}\">{}</code></li>",
                escape(&a.app),
                escape(&a.to),
                escape(short(&a.to))
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

fn count(apps: usize) -> String {
    match apps {
        1 => "1 app".to_owned(),
        n => format!("{n} apps"),
    }
}

#[cfg(test)]
mod tests {
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
        assert!(
            footer.contains("id=\"release-staging\"") && footer.contains("id=\"release-prod\"")
        );
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
        assert!(
            !html.contains("<b>api") && !html.contains("<i>gw") && !html.contains("<script>\"")
        );
        assert!(html.contains("&lt;b&gt;api&lt;/b&gt;"));
        assert_eq!(html.matches("re-planning").count(), 1, "{html}");
    }
}
