//! The page as a pure function of a [`Board`]: server-rendered HTML, every string escaped.
//! The `#board` fragment is what server-sent events replace; the page around it carries the
//! few lines of script that do it, and a refresh for browsers without script.

use std::fmt::Write;

use crate::board::{Board, Event};
use crate::html::{escape, short};
use crate::matrix;

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
.badge{display:inline-block;border-radius:4px;padding:0 .3rem;margin:0 .1rem .1rem 0;font-size:.78rem;font-weight:600;cursor:help}\
table.matrix .cell dl{font-size:.9rem;gap:0 .5rem}table.matrix .cell dd{overflow-wrap:normal}\
table.matrix .cell dd.trust{grid-column:1/-1}\
table.matrix .cell dt.trust{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}\
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
mod tests;
