//! One cell of the environments: a lane (what runs, its replicas, why its build is trusted),
//! a move between two lanes and why it stops, and where each is written ([`Place`]). The
//! matrix and the one-app rows both draw their cells here.

use std::fmt::Write;

use crate::board::{Lane, Move, MoveState, Stop};
use crate::html::{escape, short};
use crate::trust::Trust;

/// Where a lane or a move is written: its element id and what names it, as a heading or (in
/// a matrix cell, whose row and column name it) as a label only.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub id: &'a str,
    pub label: &'a str,
    pub titled: bool,
}

impl Place<'_> {
    /// The element's opening tag and, when titled, its heading.
    pub fn open(&self, out: &mut String, element: &str, class: &str) {
        let id = escape(self.id);
        let label = escape(self.label);
        if self.titled {
            let _ = writeln!(
                out,
                "<{element} class=\"{class}\" id=\"{id}\" aria-labelledby=\"{id}-h\">\n<h3 id=\"{id}-h\">{label}</h3>"
            );
        } else {
            let _ = writeln!(
                out,
                "<{element} class=\"{class}\" id=\"{id}\" aria-label=\"{label}\">"
            );
        }
    }
}

pub fn write_lane(out: &mut String, lane: &Lane, place: Place<'_>) {
    if !place.titled {
        return write_cell(out, lane, place);
    }
    let env = escape(&lane.env);
    place.open(out, "article", if place.titled { "lane" } else { "cell" });
    out.push_str("<dl>\n");
    if lane.sha.is_empty() {
        out.push_str("<dt>Build</dt><dd class=\"build\">none deployed yet</dd>\n");
    } else {
        let _ = writeln!(
            out,
            "<dt>Build</dt><dd class=\"build\"><code class=\"sha\" data-sha=\"{0}\" title=\"{0}\">{1}</code></dd>\n<dt>Digest</dt><dd><code title=\"{2}\">{3}</code></dd>",
            escape(&lane.sha),
            escape(short(&lane.sha)),
            escape(&lane.digest),
            escape(lane.digest.get(..19).unwrap_or(&lane.digest)),
        );
    }
    let (class, word) = readiness(lane);
    let _ = writeln!(
        out,
        "<dt>Replicas</dt><dd class=\"ready\"><span class=\"state {class}\">{}/{} {word}</span></dd>",
        lane.ready, lane.desired
    );
    if let Some(scan) = &lane.scan {
        let _ = writeln!(out, "<dt>Scan</dt><dd>{}</dd>", escape(scan));
    }
    if let Some(t) = &lane.trust {
        write_trust(out, t);
    }
    if let Some(c) = &lane.last_change {
        let _ = writeln!(
            out,
            "<dt>Last change</dt><dd class=\"last\"><a href=\"/commit/{0}\"><code>{1}</code></a> by {2} at <time datetime=\"{3}\">{3}</time>: {4}</dd>",
            escape(&c.revision),
            escape(short(&c.revision)),
            escape(&c.author),
            escape(&c.time),
            escape(&c.subject),
        );
    }
    out.push_str("</dl>\n");
    if !lane.replicas.is_empty() {
        let _ = writeln!(out, "<ul class=\"replicas\" aria-label=\"{env} replicas\">");
        for r in &lane.replicas {
            let (class, word) = replica_state(r, &lane.sha);
            let _ = write!(
                out,
                "<li><span class=\"state {class}\">{word}</span> {} runs <code>{}</code>",
                escape(&r.name),
                escape(r.build.as_deref().map(short).unwrap_or("unknown")),
            );
            if let Some(problem) = &r.problem {
                let _ = write!(out, ": {}", escape(problem));
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n");
    }
    for url in &lane.urls {
        let _ = writeln!(out, "<p><a href=\"{0}\">{0}</a></p>", escape(url));
    }
    out.push_str("</article>\n");
}

/// A lane in a cell of the matrix, whose row and column name it: the same facts as a lane of
/// its own, each on one line, with the details in titles (on hover, no script needed), so
/// two apps by three environments fit one screen.
fn write_cell(out: &mut String, lane: &Lane, place: Place<'_>) {
    place.open(out, "article", "cell");
    out.push_str("<dl>\n");
    if lane.sha.is_empty() {
        out.push_str("<dt>Build</dt><dd class=\"build\">none deployed yet</dd>\n");
    } else {
        let _ = writeln!(
            out,
            "<dt>Build</dt><dd class=\"build\"><code class=\"sha\" data-sha=\"{0}\" title=\"{0}&#10;{2}\">{1}</code></dd>",
            escape(&lane.sha),
            escape(short(&lane.sha)),
            escape(&lane.digest),
        );
    }
    // Each replica in the title; one badge more only for a replica that is not healthy on
    // the lane's build, so a cell whose replicas are all well reads as one line.
    let detail = |r: &crate::board::Replica| {
        let mut detail = format!(
            "{} runs {}",
            r.name,
            r.build.as_deref().map(short).unwrap_or("unknown")
        );
        if let Some(problem) = &r.problem {
            detail.push_str(": ");
            detail.push_str(problem);
        }
        detail
    };
    let all: Vec<String> = lane.replicas.iter().map(detail).collect();
    let (class, word) = readiness(lane);
    let _ = write!(
        out,
        "<dt>Replicas</dt><dd class=\"ready\"><span class=\"state {class}\" title=\"{}\">{}/{} {word}</span>",
        escape(&all.join("\n")),
        lane.ready,
        lane.desired
    );
    for r in &lane.replicas {
        let (class, word) = replica_state(r, &lane.sha);
        if class != "ok" {
            let _ = write!(
                out,
                " <span class=\"badge {class}\" title=\"{}\">{word}</span>",
                escape(&detail(r))
            );
        }
    }
    for url in &lane.urls {
        let shown = url.rsplit_once(':').map_or(url.as_str(), |(_, port)| port);
        let _ = write!(
            out,
            " <a href=\"{0}\" title=\"{0}\">:{1}</a>",
            escape(url),
            escape(shown)
        );
    }
    out.push_str("</dd>\n");
    if let Some(scan) = &lane.scan {
        // The counts that decide first; the whole summary in the title.
        let head: Vec<&str> = scan.split_whitespace().take(2).collect();
        let _ = writeln!(
            out,
            "<dt>Scan</dt><dd title=\"{}\">{}</dd>",
            escape(scan),
            escape(&head.join(" "))
        );
    }
    if let Some(t) = &lane.trust {
        write_trust(out, t);
    }
    if let Some(c) = &lane.last_change {
        let _ = writeln!(
            out,
            "<dt>Changed</dt><dd class=\"last\"><a href=\"/commit/{0}\" title=\"{4} (by {2} at {3})\"><code>{1}</code></a> <time datetime=\"{3}\">{5}</time></dd>",
            escape(&c.revision),
            escape(short(&c.revision)),
            escape(&c.author),
            escape(&c.time),
            escape(&c.subject),
            escape(&c.time.get(5..16).unwrap_or(&c.time).replace('T', " ")),
        );
    }
    out.push_str("</dl>\n</article>\n");
}

/// The lane's replicas ready of desired: its class and its words.
fn readiness(lane: &Lane) -> (&'static str, &'static str) {
    match (lane.ready, lane.desired) {
        (_, 0) => ("idle", "nothing to run"),
        (r, d) if r >= d as usize => ("ok", "all ready"),
        (0, _) => ("bad", "none ready"),
        _ => ("warn", "partly ready"),
    }
}

/// A check's name as its badge shows it.
fn label(check: &str) -> &str {
    match check {
        "signature" => "signed",
        "provenance" => "prov",
        other => other,
    }
}

/// A replica's state: its class and its word.
fn replica_state(r: &crate::board::Replica, sha: &str) -> (&'static str, &'static str) {
    match (r.healthy, r.build.as_deref()) {
        (true, Some(b)) if b == sha => ("ok", "healthy"),
        (true, _) => ("warn", "healthy, other build"),
        (false, _) => ("bad", "unhealthy"),
    }
}

pub fn write_move(out: &mut String, m: &Move, place: Place<'_>, replanning: bool) {
    place.open(out, "section", "move");
    if replanning {
        out.push_str(
            "<p><span class=\"state idle\">re-planning</span> after the latest change; as planned before it:</p>\n",
        );
    }
    let build = m
        .sha
        .as_deref()
        .map(|s| format!("<code>{}</code>", escape(short(s))))
        .unwrap_or_else(|| "no build".to_owned());
    match &m.state {
        MoveState::UpToDate => {
            let _ = writeln!(
                out,
                "<p><span class=\"state idle\">up to date</span> {} runs {build}</p>",
                escape(&m.to)
            );
        }
        MoveState::Ready => {
            let _ = writeln!(
                out,
                "<p><span class=\"state ok\">can move</span> {build} may be promoted now</p>"
            );
        }
        MoveState::Stopped(stops) => {
            let _ = writeln!(out, "<p>{build} waits:</p>\n<ul>");
            for stop in stops {
                out.push_str("<li class=\"stop\">");
                write_stop(out, stop);
                out.push_str("</li>\n");
            }
            out.push_str("</ul>\n");
        }
    }
    out.push_str("</section>\n");
}

pub fn write_stop(out: &mut String, stop: &Stop) {
    let _ = match stop {
        Stop::Approval {
            have,
            need,
            may_approve,
            requested,
        } => write!(
            out,
            "<span class=\"state warn\">approval pending</span> {} of {need} given{}; may approve: {}{}",
            have.len(),
            if have.is_empty() {
                String::new()
            } else {
                format!(" ({})", escape(&have.join(", ")))
            },
            escape(may_approve),
            if *requested {
                ""
            } else {
                " (nobody has asked to promote it yet)"
            }
        ),
        Stop::Window { by, opens_at } => write!(
            out,
            "<span class=\"state warn\">window closed</span> until <time datetime=\"{0}\">{0}</time> ({1})",
            escape(opens_at),
            escape(by)
        ),
        Stop::Blocked { by, at, reason } => write!(
            out,
            "<span class=\"state bad\">blocked by a rollback</span> {0} at <time datetime=\"{1}\">{1}</time>: {2}",
            escape(by),
            escape(at),
            escape(reason)
        ),
        Stop::Refused { kind, reason } => write!(
            out,
            "<span class=\"state bad\">{}</span> {}",
            escape(kind),
            escape(reason)
        ),
        Stop::Unknown { reason } => write!(
            out,
            "<span class=\"state warn\">unknown</span> the registry did not answer: {}",
            escape(reason)
        ),
    };
}

/// Why the lane's build is trusted: one badge per check `verify` makes for this environment,
/// coloured by its state (passed; failed where the environment requires it; absent where it
/// does not), its detail in the badge's title (on hover, no script needed), then the last
/// watch. `data-*` attributes carry the check's fields as `verify --json` names them.
fn write_trust(out: &mut String, t: &Trust) {
    out.push_str("<dt class=\"trust\">Trusted</dt><dd class=\"trust\">");
    match &t.checks {
        Err(why) => {
            let _ = write!(
                out,
                "<span class=\"badge bad\" title=\"{}\">not checked</span>",
                escape(why)
            );
        }
        Ok(checks) => {
            for check in checks {
                let (state, mark) = match (check.passed, check.required) {
                    (true, _) => ("ok", "✓"),
                    (false, true) => ("bad", "✗"),
                    (false, false) => ("idle", "–"),
                };
                let mut detail = check.detail.clone();
                for other in &check.others {
                    detail.push_str("; ");
                    detail.push_str(other);
                }
                let _ = write!(
                    out,
                    "<span class=\"badge {state}\" data-check=\"{}\" data-passed=\"{}\" data-required=\"{}\" title=\"{}\">{} {mark}</span> ",
                    check.check,
                    check.passed,
                    check.required,
                    escape(&detail),
                    label(check.check),
                );
            }
        }
    }
    let (state, detail) = match &t.watch {
        Some(failed) => ("bad", failed.as_str()),
        None => ("ok", "no failed watch recorded here"),
    };
    let _ = write!(
        out,
        "<span class=\"badge {state}\" data-check=\"watch\" title=\"{}\">watch</span>",
        escape(detail)
    );
    if let Some(refused) = &t.refused {
        let _ = write!(
            out,
            " <span class=\"badge bad\" data-check=\"gate\" title=\"{}\">gate refuses</span>",
            escape(refused)
        );
    }
    out.push_str("</dd>\n");
}
