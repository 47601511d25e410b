//! The page as a pure function of a [`Board`]: server-rendered HTML, every string escaped.
//! The `#board` fragment is what server-sent events replace; the page around it carries the
//! few lines of script that do it, and a refresh for browsers without script.

use std::fmt::Write;

use super::board::{Board, Event, Lane, Move, MoveState, Stop};
use super::matrix::{self, Place};

/// `s` with the characters HTML gives meaning to escaped (text and attribute values alike).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(super) fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}\
header,main,footer{padding:0 1.5rem}header{background:#1b2a41;color:#fff;padding:.8rem 1.5rem}\
header h1{margin:0;font-size:1.4rem}header p{margin:.2rem 0 0}header a{color:#cde}\
h2{font-size:1.15rem;margin:1.2rem 0 .5rem}h3{margin:0 0 .4rem;font-size:1.05rem}\
.lanes{display:flex;gap:.5rem;align-items:stretch;flex-wrap:wrap}\
.lane{background:#fff;border:1px solid #ccd;border-radius:6px;padding:.7rem;flex:1 1 16rem;min-width:14rem}\
.move{flex:0 1 12rem;align-self:center;padding:.5rem;font-size:.9rem}\
.move h3{font-size:.95rem}.move ul{padding-left:1rem;margin:.2rem 0}\
dl{display:grid;grid-template-columns:auto 1fr;gap:.1rem .6rem;margin:0 0 .4rem}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}\
code{font-size:.85em}ul.replicas{list-style:none;padding:0;margin:.3rem 0}\
.state{display:inline-block;border-radius:4px;padding:0 .35rem;font-weight:600}\
.ok{background:#d8f3dc;color:#14532d}.warn{background:#fff1c2;color:#6b4e00}.bad{background:#fde0e0;color:#8a1020}.idle{background:#e6e8ec;color:#333}\
ol.timeline{padding-left:1.2rem}ol.timeline li{margin:.15rem 0}\
table{border-collapse:collapse;background:#fff}th,td{border:1px solid #ccd;padding:.2rem .5rem;text-align:left}\
.scroll{overflow-x:auto}table.matrix td,table.matrix th{vertical-align:top}table.matrix .cell{min-width:12rem}\
table.matrix td.move,table.matrix td.release{font-size:.9rem;background:#f6f7f9;min-width:9rem}table.matrix tfoot th,table.matrix tfoot td{border-top:2px solid #1b2a41}\
footer{color:#555;font-size:.85rem;padding-bottom:1rem}\
.charts{display:flex;flex-wrap:wrap;gap:.4rem}figure.chart{margin:0;font-size:.8rem}figure.chart svg{display:block;background:#f6f7f9}";

/// How often a browser without script reloads the page, in seconds.
const NOSCRIPT_REFRESH: u32 = 5;

/// The whole page; `error` says why the latest read failed, when it did.
pub fn page(board: &Board, error: Option<&str>) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>PakTech delivery</title>\n\
<noscript><meta http-equiv=\"refresh\" content=\"{NOSCRIPT_REFRESH}\"></noscript>\n\
<style>{STYLE}</style>\n</head>\n<body>\n\
<header>\n<h1>PakTech delivery</h1>\n<p>Target <strong>{}</strong>, GitOps repository {} (read-only view). <a href=\"/\">Refresh</a></p>\n</header>\n\
<main id=\"board\" aria-live=\"polite\">\n{}</main>\n\
<footer>\n<p>Read-only: approve, promote and roll back with <code>cargo xtask</code>. Updates arrive live; without script the page reloads every {NOSCRIPT_REFRESH} s.</p>\n</footer>\n\
<script>if(window.EventSource){{new EventSource('/events').addEventListener('board',function(e){{document.getElementById('board').innerHTML=e.data;}});}}</script>\n\
</body>\n</html>\n",
        escape(&board.target),
        escape(&board.gitops_url),
        alert(error) + &fragment(board),
    );
    out
}

/// A notice that the latest read failed (empty when it did not).
pub fn alert(error: Option<&str>) -> String {
    error
        .map(|e| {
            format!(
                "<p role=\"alert\" class=\"state bad\">The latest read failed: {}; this is what was read before.</p>\n",
                escape(e)
            )
        })
        .unwrap_or_default()
}

/// The part of the page that changes: the environments (one app's lanes in a row, several
/// apps' as a matrix, `matrix.rs`) and what moves between them, the delivery figures
/// (`delivery.rs`), the timeline, the scans.
pub fn fragment(board: &Board) -> String {
    let mut out = String::with_capacity(16 * 1024);
    matrix::write(&mut out, board);
    super::delivery::write(&mut out, board.delivery.as_ref());
    write_timeline(&mut out, &board.timeline);
    write_scans(&mut out, board);
    out
}

pub(super) fn write_lane(out: &mut String, lane: &Lane, place: Place<'_>) {
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
    let (class, word) = match (lane.ready, lane.desired) {
        (_, 0) => ("idle", "nothing to run"),
        (r, d) if r >= d as usize => ("ok", "all ready"),
        (0, _) => ("bad", "none ready"),
        _ => ("warn", "partly ready"),
    };
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
            let (class, word) = match (r.healthy, r.build.as_deref()) {
                (true, Some(b)) if b == lane.sha => ("ok", "healthy"),
                (true, _) => ("warn", "healthy, other build"),
                (false, _) => ("bad", "unhealthy"),
            };
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

pub(super) fn write_move(out: &mut String, m: &Move, place: Place<'_>, replanning: bool) {
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

pub(super) fn write_stop(out: &mut String, stop: &Stop) {
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

/// Why the lane's build is trusted, in words: signer, provenance, SBOM, scan, last watch.
fn write_trust(out: &mut String, t: &super::trust::Trust) {
    let recorded = |v: &Option<String>| v.as_deref().unwrap_or("not recorded").to_owned();
    let _ = writeln!(
        out,
        "<dt>Trusted</dt><dd class=\"trust\">{}; provenance: {}; SBOM: {}; scan: {}; watch: {}</dd>",
        escape(&t.signed),
        escape(&t.provenance),
        escape(&recorded(&t.sbom)),
        escape(&recorded(&t.scan)),
        escape(
            t.watch
                .as_deref()
                .unwrap_or("no failed watch recorded here")
        ),
    );
}

fn write_timeline(out: &mut String, events: &[Event]) {
    out.push_str(
        "<section aria-labelledby=\"timeline\">\n<h2 id=\"timeline\">Timeline (from the GitOps history, newest first)</h2>\n",
    );
    if events.is_empty() {
        out.push_str("<p>Nothing has happened yet.</p>\n</section>\n");
        return;
    }
    out.push_str("<ol class=\"timeline\">\n");
    for e in events {
        let class = match e.action.as_str() {
            "rollback" | "block" => "bad",
            "unblock" => "warn",
            _ => "idle",
        };
        let _ = write!(
            out,
            "<li><time datetime=\"{0}\">{0}</time> <span class=\"state {class}\">{1}</span> {2} <code>{3}</code> by {4}",
            escape(&e.time),
            escape(&e.action),
            escape(&e.env),
            escape(short(&e.sha)),
            escape(&e.by),
        );
        if e.detail.contains("Break-Glass:") {
            out.push_str(" <span class=\"state warn\">break-glass</span>");
        }
        if !e.detail.is_empty() {
            let _ = write!(out, ": {}", escape(&e.detail));
        }
        let _ = writeln!(
            out,
            " <a href=\"/commit/{0}\">commit {1}</a></li>",
            escape(&e.revision),
            escape(short(&e.revision))
        );
    }
    out.push_str("</ol>\n</section>\n");
}

fn write_scans(out: &mut String, board: &Board) {
    out.push_str("<section aria-labelledby=\"scans\">\n<h2 id=\"scans\">Scans per build</h2>\n");
    if board.scans.is_empty() {
        out.push_str("<p>No scan recorded yet.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<table>\n<thead><tr><th scope=\"col\">Build</th><th scope=\"col\">Recorded</th><th scope=\"col\">Summary</th></tr></thead>\n<tbody>\n",
    );
    for s in &board.scans {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            escape(short(&s.sha)),
            escape(&s.time),
            escape(&s.summary)
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// A commit's page: what the timeline links to.
pub fn commit(record: &model::audit::CommitRecord) -> String {
    let mut trailers = String::new();
    for (k, v) in &record.trailers {
        let _ = writeln!(trailers, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(v));
    }
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Commit {0}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
<header>\n<h1>Commit <code>{0}</code></h1>\n<p><a href=\"/\">Back to the dashboard</a></p>\n</header>\n\
<main>\n<h2>{1}</h2>\n<p>by {2} at {3}</p>\n<dl>\n{4}</dl>\n</main>\n</body>\n</html>\n",
        escape(record.revision.as_str()),
        escape(&record.subject),
        escape(&record.author),
        escape(
            &chrono::DateTime::from_timestamp(record.time, 0)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default()
        ),
        trailers,
    )
}

#[cfg(test)]
mod tests {
    use super::super::board::{Change, Replica, ScanLine};
    use super::*;

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
            html.contains(
                "<span class=\"state warn\">break-glass</span>: Break-Glass: prod is down"
            ),
            "{html}"
        );
    }

    #[test]
    fn a_lane_says_why_its_build_is_trusted() {
        let mut b = board(Vec::new());
        b.lanes[0].trust = Some(super::super::trust::Trust {
            app: "paktech-app".to_owned(),
            env: "dev".to_owned(),
            sha: DEV.to_owned(),
            signed: "signed by local <key>".to_owned(),
            sbom: Some("sha256:5b0m".to_owned()),
            scan: None,
            watch: None,
            provenance: "built by local from git+https://github.com/paktech/paktech-gitops"
                .to_owned(),
        });
        let html = fragment(&b);
        assert!(
            html.contains("<dt>Trusted</dt><dd class=\"trust\">signed by local &lt;key&gt;; provenance: built by local from git+https://github.com/paktech/paktech-gitops; SBOM: sha256:5b0m; scan: not recorded; watch: no failed watch recorded here</dd>"),
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
}
