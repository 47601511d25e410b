//! The environments section of the page. One app: its lanes in a row with what can move
//! between them, as the page always showed it. Several apps: a matrix, one row per app in
//! dependency order and one column per environment in promotion order, each cell the app's
//! build there with its replicas and their health; between two environment columns, per app,
//! what of it can move, and below the rows, per pair, the release line: what
//! `promote --env <to>` without `--app` would move as one release, or what stops it.

use std::fmt::Write;

use super::board::{Board, Release, ReleaseState};
use crate::cells::{Place, write_lane, write_move, write_stop};
use crate::html::{escape, short};

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
mod tests;
